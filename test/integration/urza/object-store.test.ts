import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { connect, headers, type NatsConnection } from 'nats';
import { ObjectStoreArtifactStore } from '../../../src/actors/urza/index.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { expectDeletedKeyFree, rejectsWith } from '../../actors/urza/library-contract.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('ObjectStoreArtifactStore (NATS JetStream)', function () {
  let nc: NatsConnection;
  let store: ObjectStoreArtifactStore;
  const bucket = `esper_test_artifacts_${randomBytes(4).toString('hex')}`;

  before(async function () {
    await requireService(this, 'nats');
    nc = await connect({ servers: NATS_URL });
    store = await ObjectStoreArtifactStore.open(nc, { bucket });
  });

  after(async () => {
    if (store !== undefined) await store.destroy();
    if (nc !== undefined) await nc.close();
  });

  it('round-trips a multi-chunk artifact and reports has()', async () => {
    const bytes = new Uint8Array(randomBytes(400_000)); // > 3 chunks of 128 KiB
    const ref = await store.put('kernels/k-1/model.bin', bytes);
    expect(ref).to.deep.equal({ store: 'objectstore', key: 'kernels/k-1/model.bin', sizeBytes: 400_000, sha256: sha256(bytes) });
    expect(await store.has('kernels/k-1/model.bin')).to.equal(true);
    expect(await store.has('kernels/k-2/model.bin')).to.equal(false);
    const back = await store.get('kernels/k-1/model.bin', ref.sha256);
    expect(Buffer.from(back).equals(Buffer.from(bytes))).to.equal(true);
  });

  it('treats the same bytes again as a no-op and other bytes as a conflict', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    await store.put('small.bin', bytes);
    await store.put('small.bin', bytes);
    await rejectsWith(store.put('small.bin', new Uint8Array([3, 2, 1])), 'ESPER_CONFLICT');
    expect(Array.from(await store.get('small.bin'))).to.deep.equal([1, 2, 3]);
  });

  it('verifies sha256: an unexpected digest, or an object whose recorded digest no longer matches, is ESPER_ARTIFACT_CORRUPT', async () => {
    const bytes = new Uint8Array(randomBytes(2048));
    await store.put('ckpt/r1/e1.bin', bytes);
    await rejectsWith(store.get('ckpt/r1/e1.bin', 'f'.repeat(64)), 'ESPER_ARTIFACT_CORRUPT');
    // Corrupt the stored object: rewrite its metadata with another digest, as a damaged store would hold.
    const name = Buffer.from('ckpt/r1/e1.bin').toString('base64');
    const metaSubject = `$O.${bucket}.M.${name.replace(/\+/g, '-').replace(/\//g, '_')}`;
    const jsm = await nc.jetstreamManager();
    const stored = await jsm.streams.getMessage(`OBJ_${bucket}`, { last_by_subj: metaSubject });
    const meta = JSON.parse(new TextDecoder().decode(stored.data)) as { digest: string };
    meta.digest = `SHA-256=${Buffer.from(createHash('sha256').update('other bytes').digest()).toString('base64url')}=`;
    const h = headers();
    h.set('Nats-Rollup', 'sub');
    await nc.jetstream().publish(metaSubject, new TextEncoder().encode(JSON.stringify(meta)), { headers: h });
    await rejectsWith(store.get('ckpt/r1/e1.bin'), 'ESPER_ARTIFACT_CORRUPT');
  });

  it('deletes a multi-chunk artifact: get is then ESPER_NOT_FOUND, a second delete returns false, the key can be put again', async () => {
    const jsm = await nc.jetstreamManager();
    const streamBytes = async (): Promise<number> => (await jsm.streams.info(`OBJ_${bucket}`)).state.bytes;
    const before = await streamBytes();
    const bytes = new Uint8Array(randomBytes(300_000));
    await store.put('runs/r1/r1-ckpt-0.ckpt', bytes);
    expect(await streamBytes()).to.be.greaterThan(before + 300_000);
    await store.put('runs/r1/results.json', new Uint8Array([3]));
    expect(await store.delete('runs/r1/r1-ckpt-0.ckpt')).to.equal(true);
    expect(await store.has('runs/r1/results.json')).to.equal(true);
    // The chunks are purged: only a deletion marker (metadata) stays in the stream.
    expect(await streamBytes()).to.be.lessThan(before + 10_000);
    await expectDeletedKeyFree(store);
  });

  it('lists the keys under a folder prefix, sorted, without deleted objects', async () => {
    await store.put('list/r1/b.state.json', new Uint8Array([1]));
    await store.put('list/r1/a.ckpt', new Uint8Array([2]));
    await store.put('list/r10/a.ckpt', new Uint8Array([4]));
    expect(await store.list('list/r1/')).to.deep.equal(['list/r1/a.ckpt', 'list/r1/b.state.json']);
    expect(await store.delete('list/r1/a.ckpt')).to.equal(true);
    expect(await store.list('list/r1/')).to.deep.equal(['list/r1/b.state.json']);
    expect(await store.list('nothing/here/')).to.deep.equal([]);
    await rejectsWith(store.list('list/r1'), 'ESPER_SCHEMA_VIOLATION');
  });

  it('answers ESPER_NOT_FOUND for a missing key and ESPER_SCHEMA_VIOLATION for a bad key', async () => {
    await rejectsWith(store.get('missing.bin'), 'ESPER_NOT_FOUND');
    await rejectsWith(store.put('../escape', new Uint8Array([1])), 'ESPER_SCHEMA_VIOLATION');
  });
});
