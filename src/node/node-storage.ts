/**
 * One node's handle on the stores (DESIGN §6): a single database connection
 * (PostgreSQL from `--db`, else embedded PGlite under the node's data dir),
 * migrated once, shared by Urza, Tezzeret, Urabrask and Karn; and the artifact
 * store (JetStream Object Store in a cluster, the filesystem when embedded).
 * Opened lazily, on the first actor that needs it; closed when the node stops.
 */
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { FsArtifactStore, ObjectStoreArtifactStore, type ArtifactStore } from '../actors/urza/index.ts';
import { UrzaLibrary } from '../actors/urza/index.ts';
import { openDatabase, type Database } from '../infra/db/index.ts';
import { migrate } from '../infra/db/migrate.ts';
import type { Logger } from '../infra/logger.ts';
import { raiseReplicasOn } from '../actors/oona/index.ts';

export interface NodeStorageOptions {
  dbUrl: string | undefined;
  localDataDir: string;
  /** The NATS connection in cluster mode (artifacts go to its Object Store). */
  connection: NatsConnection | undefined;
  subjectPrefix: string;
  logger: Logger;
  /** Replicas of the artifact object store (cluster mode; an existing store with fewer is raised). @default 1 */
  replicas?: number;
}

export class NodeStorage {
  readonly #options: NodeStorageOptions;
  #db: Promise<Database> | undefined;
  #artifacts: Promise<ArtifactStore> | undefined;

  constructor(options: NodeStorageOptions) {
    this.#options = options;
  }

  /** The migrated database. Retries on the next call after a failure. */
  database(): Promise<Database> {
    this.#db ??= (async () => {
      const db = await openDatabase({ url: this.#options.dbUrl, dataDir: this.#options.localDataDir, logger: this.#options.logger });
      await migrate(db, { logger: this.#options.logger });
      return db;
    })();
    this.#db.catch(() => {
      this.#db = undefined;
    });
    return this.#db;
  }

  /**
   * The database for one actor incarnation: closing it (as an actor's
   * terminate does) leaves the shared connection open for the others.
   */
  async borrowDatabase(): Promise<Database> {
    const db = await this.database();
    return {
      kind: db.kind,
      schema: db.schema,
      query: (sql, params) => db.query(sql, params),
      exec: (sql) => db.exec(sql),
      transaction: (fn) => db.transaction(fn),
      close: () => Promise.resolve(),
    };
  }

  async library(): Promise<UrzaLibrary> {
    return new UrzaLibrary(await this.database());
  }

  artifacts(): Promise<ArtifactStore> {
    const { connection, localDataDir, subjectPrefix } = this.#options;
    this.#artifacts ??=
      connection === undefined
        ? Promise.resolve(new FsArtifactStore(join(localDataDir, 'artifacts')))
        : this.#openObjectStore(connection, `${subjectPrefix.replace(/\./g, '_')}_artifacts`);
    // A failed open (the cluster electing a leader) is retried by the next call instead of being cached.
    this.#artifacts.catch(() => {
      this.#artifacts = undefined;
    });
    return this.#artifacts;
  }

  async #openObjectStore(connection: NatsConnection, bucket: string): Promise<ArtifactStore> {
    const replicas = this.#options.replicas ?? 1;
    const store = await ObjectStoreArtifactStore.open(connection, { bucket, bucketOptions: { replicas } });
    // An existing store keeps its config on open: raise it (its stream is OBJ_<bucket>).
    if (replicas > 1) await raiseReplicasOn(connection, `OBJ_${bucket}`, replicas);
    return store;
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await (await db?.catch(() => undefined))?.close();
  }
}
