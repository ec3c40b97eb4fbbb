import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { FsArtifactStore } from '../../../src/actors/urza/index.ts';
import { expectDeletedKeyFree, rejectsWith } from './library-contract.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function listAll(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('FsArtifactStore', () => {
  let dir: string;
  let store: FsArtifactStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'esper-artifacts-'));
    store = new FsArtifactStore(dir);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips bytes and returns a reference with size and sha256', async () => {
    const bytes = new Uint8Array(randomBytes(70_000));
    const ref = await store.put('kernels/k-1/model.bin', bytes);
    expect(ref).to.deep.equal({ store: 'fs', key: 'kernels/k-1/model.bin', sizeBytes: 70_000, sha256: sha256(bytes) });
    expect(await store.has('kernels/k-1/model.bin')).to.equal(true);
    expect(await store.has('kernels/k-2/model.bin')).to.equal(false);
    expect(Buffer.from(await store.get('kernels/k-1/model.bin', ref.sha256)).equals(Buffer.from(bytes))).to.equal(true);
    const empty = await store.put('empty', new Uint8Array(0));
    expect(empty.sizeBytes).to.equal(0);
    expect((await store.get('empty')).length).to.equal(0);
  });

  it('writes atomically: no temporary file is left, and the same bytes again is a no-op', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    await store.put('a/b.bin', bytes);
    await store.put('a/b.bin', bytes);
    const files = (await listAll(dir)).map((f) => f.slice(dir.length + 1)).sort();
    expect(files).to.deep.equal(['meta/a/b.bin.json', 'objects/a/b.bin']);
  });

  it('refuses other bytes under a stored key (artifacts are immutable)', async () => {
    await store.put('k.bin', new Uint8Array([1]));
    await rejectsWith(store.put('k.bin', new Uint8Array([2])), 'ESPER_CONFLICT');
    expect(Array.from(await store.get('k.bin'))).to.deep.equal([1]);
  });

  it('verifies the sha256 on every get: tampered bytes or an unexpected digest are ESPER_ARTIFACT_CORRUPT', async () => {
    const bytes = new Uint8Array(randomBytes(1024));
    const ref = await store.put('ckpt/r1/e3.bin', bytes);
    await rejectsWith(store.get('ckpt/r1/e3.bin', 'f'.repeat(64)), 'ESPER_ARTIFACT_CORRUPT');
    const tampered = Buffer.from(bytes);
    tampered[17] = (tampered[17]! + 1) % 256;
    await writeFile(join(dir, 'objects', 'ckpt/r1/e3.bin'), tampered);
    const error = await rejectsWith(store.get('ckpt/r1/e3.bin'), 'ESPER_ARTIFACT_CORRUPT');
    expect(error.details).to.include({ key: 'ckpt/r1/e3.bin', expected: ref.sha256, actual: sha256(tampered) });
  });

  it('deletes: the key is then absent (get is ESPER_NOT_FOUND), a second delete returns false, the key can be put again', async () => {
    await store.put('runs/r1/r1-ckpt-0.ckpt', new Uint8Array([1, 2]));
    await store.put('runs/r1/results.json', new Uint8Array([3]));
    expect(await store.delete('runs/r1/r1-ckpt-0.ckpt')).to.equal(true);
    // Neither the bytes nor the digest file stay behind; the other artifact is untouched.
    expect((await listAll(dir)).map((f) => f.slice(dir.length + 1)).sort()).to.deep.equal(['meta/runs/r1/results.json.json', 'objects/runs/r1/results.json']);
    await expectDeletedKeyFree(store);
  });

  it('lists the keys under a folder prefix, sorted, without temporary files or other folders', async () => {
    await store.put('runs/r1/b.state.json', new Uint8Array([1]));
    await store.put('runs/r1/a.ckpt', new Uint8Array([2]));
    await store.put('runs/r1/deep/c.bin', new Uint8Array([3]));
    await store.put('runs/r10/a.ckpt', new Uint8Array([4]));
    await store.put('kernels/k.bin', new Uint8Array([5]));
    await writeFile(join(dir, 'meta', 'runs', 'r1', 'x.ckpt.json.1a2b.tmp'), '{}');
    expect(await store.list('runs/r1/')).to.deep.equal(['runs/r1/a.ckpt', 'runs/r1/b.state.json', 'runs/r1/deep/c.bin']);
    expect(await store.list('runs/')).to.have.length(4);
    expect(await store.list('nothing/here/')).to.deep.equal([]);
    await store.delete('runs/r1/a.ckpt');
    expect(await store.list('runs/r1/')).to.deep.equal(['runs/r1/b.state.json', 'runs/r1/deep/c.bin']);
    await rejectsWith(store.list('runs/r1'), 'ESPER_SCHEMA_VIOLATION');
    await rejectsWith(store.list('../'), 'ESPER_SCHEMA_VIOLATION');
  });

  it('answers ESPER_NOT_FOUND for a missing key and ESPER_SCHEMA_VIOLATION for a key that escapes', async () => {
    await rejectsWith(store.get('nope.bin'), 'ESPER_NOT_FOUND');
    for (const key of ['../etc/passwd', '/abs/path', 'a/../../b', 'spaces are bad', '']) {
      await rejectsWith(store.put(key, new Uint8Array([1])), 'ESPER_SCHEMA_VIOLATION');
    }
  });
});
