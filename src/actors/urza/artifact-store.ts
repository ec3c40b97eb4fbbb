/**
 * Artifact repositories (DESIGN §6): kernel weights and checkpoint bytes,
 * addressed by a relative key, behind one interface with a filesystem and a
 * JetStream Object Store implementation (an S3 one can follow).
 *
 * Every `put` records the bytes' sha256 and every `get` verifies it (and the
 * caller's expected digest, when given): corrupted bytes are never returned,
 * they fail with ESPER_ARTIFACT_CORRUPT. Artifacts are immutable: putting
 * other bytes under a stored key is ESPER_CONFLICT; the same bytes again is
 * a no-op. An artifact can be deleted (retention of run checkpoints,
 * `src/node/checkpoint-retention.ts`); after that the key is absent and may
 * be put again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { NatsConnection, ObjectStore, ObjectStoreOptions } from 'nats';
import { ArtifactRefSchema, type ArtifactRef } from '../../contracts/index.ts';
import { EsperError, InputError } from '../../errors/index.ts';
import { toStorageError } from '../../infra/db/database.ts';
import { sha256Hex } from '../../infra/content-hash.ts';
import { parseOrThrow } from './rows.ts';

/** A repository of immutable byte artifacts. */
export interface ArtifactStore {
  /** Which kind of store (the `store` of an ArtifactRef). */
  readonly kind: ArtifactRef['store'];
  /** Stores `bytes` under `key` and returns the reference to keep (size and sha256). */
  put(key: string, bytes: Uint8Array): Promise<ArtifactRef>;
  /**
   * The bytes of `key`, verified against the sha256 recorded at `put` and,
   * when given, `expectedSha256` (e.g. an ArtifactRef's). ESPER_NOT_FOUND
   * when absent, ESPER_ARTIFACT_CORRUPT when a digest or the size differs.
   */
  get(key: string, expectedSha256?: string): Promise<Uint8Array>;
  /** True when `key` is stored. */
  has(key: string): Promise<boolean>;
  /**
   * Removes `key`: true when it was stored, false when it was absent
   * (deleting twice is harmless). A `get` afterwards is ESPER_NOT_FOUND.
   */
  delete(key: string): Promise<boolean>;
  /**
   * The stored keys under a folder-like `prefix` (ending in `/`, e.g.
   * `runs/r1/`; deeper keys included), sorted. Empty when none.
   */
  list(prefix: string): Promise<string[]>;
}

/** Checks a key: relative, `[A-Za-z0-9_./-]`, no `..` (ArtifactRefSchema's rule). */
export function checkArtifactKey(key: string): string {
  return parseOrThrow(ArtifactRefSchema.shape.key, key, 'artifact key');
}

/** Checks a listing prefix: a valid key followed by `/`. */
export function checkArtifactPrefix(prefix: string): string {
  if (!prefix.endsWith('/')) throw new InputError('ESPER_SCHEMA_VIOLATION', `artifact prefix ${JSON.stringify(prefix)} must end with '/'`, { details: { prefix } });
  checkArtifactKey(prefix.slice(0, -1));
  return prefix;
}

function corrupt(store: string, key: string, expected: string, actual: string, sizeBytes: number): EsperError {
  return new EsperError('ESPER_ARTIFACT_CORRUPT', `artifact ${key} in the ${store} store is corrupt: sha256 ${actual}, expected ${expected}`, {
    details: { store, key, expected, actual, sizeBytes },
  });
}

function verify(store: string, key: string, bytes: Uint8Array, recorded: string, expectedSha256: string | undefined): Uint8Array {
  const actual = sha256Hex(bytes);
  if (actual !== recorded) throw corrupt(store, key, recorded, actual, bytes.length);
  if (expectedSha256 !== undefined && actual !== expectedSha256) throw corrupt(store, key, expectedSha256, actual, bytes.length);
  return bytes;
}

function conflict(store: string, key: string, stored: string, offered: string): EsperError {
  return new EsperError('ESPER_CONFLICT', `artifact ${key} is already stored in the ${store} store with other bytes (artifacts are immutable)`, {
    details: { store, key, stored, offered },
  });
}

function missing(store: string, key: string): InputError {
  return new InputError('ESPER_NOT_FOUND', `artifact ${key} is not in the ${store} store`, { details: { store, key } });
}

// ------------------------------------------------------------ filesystem

/** Recorded next to each artifact file. */
interface FsMeta {
  sha256: string;
  sizeBytes: number;
}

/**
 * Artifacts as files under a directory: the bytes in `objects/<key>`, their
 * digest in `meta/<key>.json`. Writes are atomic (a temporary file, fsync,
 * rename), the digest last, so a crash leaves either nothing or a complete
 * artifact; an orphan object without digest is rewritten by the next put.
 */
export class FsArtifactStore implements ArtifactStore {
  readonly kind = 'fs' as const;
  /** The directory (absolute). */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  #paths(key: string): { object: string; meta: string } {
    checkArtifactKey(key);
    const object = join(this.root, 'objects', key);
    const meta = join(this.root, 'meta', `${key}.json`);
    // The key rule already forbids escaping; this guards against a future change of it.
    if (!object.startsWith(this.root + sep) || !meta.startsWith(this.root + sep)) throw new RangeError(`artifact key ${key} escapes the store`);
    return { object, meta };
  }

  async put(key: string, bytes: Uint8Array): Promise<ArtifactRef> {
    const paths = this.#paths(key);
    const sha256 = sha256Hex(bytes);
    const stored = await this.#meta(paths.meta);
    if (stored !== undefined) {
      if (stored.sha256 !== sha256) throw conflict('fs', key, stored.sha256, sha256);
      return { store: 'fs', key, sizeBytes: bytes.length, sha256 };
    }
    try {
      await atomicWrite(paths.object, bytes);
      await atomicWrite(paths.meta, Buffer.from(JSON.stringify({ sha256, sizeBytes: bytes.length } satisfies FsMeta)));
    } catch (error) {
      throw toStorageError(error, 'artifact store (fs)');
    }
    return { store: 'fs', key, sizeBytes: bytes.length, sha256 };
  }

  async get(key: string, expectedSha256?: string): Promise<Uint8Array> {
    const paths = this.#paths(key);
    const meta = await this.#meta(paths.meta);
    if (meta === undefined) throw missing('fs', key);
    let bytes: Buffer;
    try {
      bytes = await readFile(paths.object);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt('fs', key, meta.sha256, 'missing', 0);
      throw toStorageError(error, 'artifact store (fs)');
    }
    return verify('fs', key, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), meta.sha256, expectedSha256);
  }

  async has(key: string): Promise<boolean> {
    const paths = this.#paths(key);
    if ((await this.#meta(paths.meta)) === undefined) return false;
    try {
      await stat(paths.object);
      return true;
    } catch {
      return false;
    }
  }

  /** Removes the digest first (the artifact is then absent), then the bytes; a crash in between leaves an orphan object, as a crashed put does. */
  async delete(key: string): Promise<boolean> {
    const paths = this.#paths(key);
    try {
      const existed = await unlinkIfPresent(paths.meta);
      await unlinkIfPresent(paths.object);
      return existed;
    } catch (error) {
      throw toStorageError(error, 'artifact store (fs)');
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkArtifactPrefix(prefix);
    const metaRoot = join(this.root, 'meta');
    let entries;
    try {
      entries = await readdir(join(metaRoot, prefix), { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw toStorageError(error, 'artifact store (fs)');
    }
    const keys: string[] = [];
    for (const entry of entries) {
      // Digest files only (`<key>.json`); temporary files of a write in progress end in `.tmp`.
      if (!entry.isFile() || !entry.name.endsWith('.json')) continue;
      const key = relative(metaRoot, join(entry.parentPath, entry.name)).split(sep).join('/').slice(0, -'.json'.length);
      if (key.startsWith(prefix)) keys.push(key);
    }
    return keys.sort();
  }

  async #meta(path: string): Promise<FsMeta | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw toStorageError(error, 'artifact store (fs)');
    }
    let meta: Partial<FsMeta> | null = null;
    try {
      meta = JSON.parse(text) as Partial<FsMeta> | null;
    } catch {
      // reported below
    }
    if (meta === null || typeof meta.sha256 !== 'string' || typeof meta.sizeBytes !== 'number') {
      throw new EsperError('ESPER_ARTIFACT_CORRUPT', `artifact metadata ${path} is malformed`, { details: { path } });
    }
    return { sha256: meta.sha256, sizeBytes: meta.sizeBytes };
  }
}

/** Unlinks `path`; false when it did not exist. */
async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Writes a file atomically: a sibling temporary file, fsync, rename. */
async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, path);
}

// ------------------------------------------------------------ JetStream Object Store

/** Options of {@link ObjectStoreArtifactStore.open}. */
export interface ObjectStoreArtifactStoreOptions {
  /** Bucket name (created when missing). @default 'esper_artifacts' */
  bucket?: string;
  /** Bucket settings (replicas, storage, TTL…) used when creating it. */
  bucketOptions?: Partial<ObjectStoreOptions>;
}

/** The default bucket of artifacts. */
export const DEFAULT_ARTIFACT_BUCKET = 'esper_artifacts';

/** sha256 hex from an Object Store digest (`SHA-256=<base64url>`). */
export function objectDigestHex(digest: string): string {
  const value = digest.startsWith('SHA-256=') ? digest.slice('SHA-256='.length) : digest;
  return Buffer.from(value, 'base64').toString('hex');
}

/**
 * Artifacts in a JetStream Object Store bucket (cluster mode). The store
 * chunks large objects and records a SHA-256 digest per object, which `get`
 * checks (as nats.js does while reading).
 */
export class ObjectStoreArtifactStore implements ArtifactStore {
  readonly kind = 'objectstore' as const;
  readonly bucket: string;
  readonly #os: ObjectStore;

  private constructor(bucket: string, os: ObjectStore) {
    this.bucket = bucket;
    this.#os = os;
  }

  /** Binds (creating when missing) the bucket on a NATS connection with JetStream. */
  static async open(nc: NatsConnection, options: ObjectStoreArtifactStoreOptions = {}): Promise<ObjectStoreArtifactStore> {
    const bucket = options.bucket ?? DEFAULT_ARTIFACT_BUCKET;
    try {
      const os = await nc.jetstream().views.os(bucket, options.bucketOptions ?? {});
      return new ObjectStoreArtifactStore(bucket, os);
    } catch (error) {
      throw objectStoreError(error);
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<ArtifactRef> {
    checkArtifactKey(key);
    const sha256 = sha256Hex(bytes);
    const existing = await this.#info(key);
    if (existing !== null) {
      const stored = objectDigestHex(existing.digest);
      if (stored !== sha256) throw conflict('objectstore', key, stored, sha256);
      return { store: 'objectstore', key, sizeBytes: bytes.length, sha256 };
    }
    try {
      const info = await this.#os.putBlob({ name: key }, bytes);
      if (objectDigestHex(info.digest) !== sha256) throw corrupt('objectstore', key, sha256, objectDigestHex(info.digest), bytes.length);
    } catch (error) {
      throw objectStoreError(error);
    }
    return { store: 'objectstore', key, sizeBytes: bytes.length, sha256 };
  }

  async get(key: string, expectedSha256?: string): Promise<Uint8Array> {
    checkArtifactKey(key);
    const info = await this.#info(key);
    if (info === null) throw missing('objectstore', key);
    const recorded = objectDigestHex(info.digest);
    let bytes: Uint8Array | null;
    try {
      bytes = await this.#os.getBlob(key);
    } catch (error) {
      if (error instanceof Error && /digests do not match|corrupt/i.test(error.message)) {
        throw new EsperError('ESPER_ARTIFACT_CORRUPT', `artifact ${key} in the objectstore store is corrupt: ${error.message}`, {
          cause: error,
          details: { store: 'objectstore', key, expected: recorded },
        });
      }
      throw objectStoreError(error);
    }
    if (bytes === null) throw missing('objectstore', key);
    if (bytes.length !== info.size) throw corrupt('objectstore', key, recorded, `size ${bytes.length} (expected ${info.size})`, bytes.length);
    return verify('objectstore', key, bytes, recorded, expectedSha256);
  }

  async has(key: string): Promise<boolean> {
    checkArtifactKey(key);
    return (await this.#info(key)) !== null;
  }

  /** Marks the object deleted and purges its chunks (nats.js `ObjectStore.delete`). */
  async delete(key: string): Promise<boolean> {
    checkArtifactKey(key);
    if ((await this.#info(key)) === null) return false;
    try {
      await this.#os.delete(key);
    } catch (error) {
      throw objectStoreError(error);
    }
    return true;
  }

  /** Reads every object's metadata in the bucket (the Object Store has no prefix query) and keeps those under `prefix`. */
  async list(prefix: string): Promise<string[]> {
    checkArtifactPrefix(prefix);
    let infos: Awaited<ReturnType<ObjectStore['list']>>;
    try {
      infos = await this.#os.list();
    } catch (error) {
      throw objectStoreError(error);
    }
    return infos
      .filter((info) => !info.deleted && info.name.startsWith(prefix))
      .map((info) => info.name)
      .sort();
  }

  /** Deletes the bucket and everything in it (tests, operators). */
  async destroy(): Promise<void> {
    try {
      await this.#os.destroy();
    } catch (error) {
      throw objectStoreError(error);
    }
  }

  async #info(key: string): Promise<Awaited<ReturnType<ObjectStore['info']>>> {
    try {
      const info = await this.#os.info(key);
      return info === null || info.deleted ? null : info;
    } catch (error) {
      throw objectStoreError(error);
    }
  }
}

function objectStoreError(error: unknown): EsperError {
  if (error instanceof EsperError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new EsperError('ESPER_STORAGE_UNAVAILABLE', `artifact store (objectstore): ${message}`, { cause: error, details: { store: 'objectstore' } });
}
