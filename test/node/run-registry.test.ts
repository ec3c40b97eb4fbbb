/**
 * The runs bucket: registration, compare-and-set commits, one winner among
 * nodes claiming an orphan, boundary artifacts verified on load, old
 * checkpoints deleted after each commit.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/memory-bus.ts';
import { FsArtifactStore, type ArtifactStore } from '../../src/actors/urza/artifact-store.ts';
import { isOrphan, RunRegistry, type RunRecord, type VersionedRunRecord } from '../../src/node/run-registry.ts';
import type { RunLoopState } from '../../src/actors/tolaria/run-state.ts';

function record(runId: string, owner: RunRecord['owner']): RunRecord {
  const now = new Date().toISOString();
  return { v: 1, runId, spec: { epochs: 3 }, state: 'running', owner, resumes: 0, epoch: 0, maxEpochs: 3, checkpoint: null, createdAt: now, updatedAt: now };
}

const loop: RunLoopState = {
  v: 1,
  runId: 'r1',
  startedAt: new Date().toISOString(),
  iteration: 2,
  checkpointCount: 2,
  checkpoint: { checkpointId: 'r1-ckpt-1', epoch: 2, globalStep: 40, hash: 'a'.repeat(64), hostWeightsHash: 'h', sizeBytes: 4, createdAt: new Date().toISOString() },
  globalStep: 40,
  hostParams: 29,
  paramsAdded: 0,
  germinations: 0,
  lastAccuracy: 0.5,
  governor: { window: [0.7, 0.6], consecutive: 0, lastEpoch: 2 },
  memory: { lastPacketId: null },
  seedStates: [],
  histories: {},
  lastParams: {},
  blueprintOf: {},
  baseline: {},
  epochs: [],
  rollbacks: [],
  blendingAt: [],
};

describe('run registry', () => {
  const a = { nodeId: 'n1', incarnationId: 'i1' };
  const b = { nodeId: 'n2', incarnationId: 'i2' };

  async function registry(wrap: (store: ArtifactStore) => ArtifactStore = (store) => store): Promise<{ registry: RunRegistry; dir: string; store: FsArtifactStore }> {
    const bus = new MemoryBus();
    const dir = mkdtempSync(join(tmpdir(), 'esper-runs-'));
    const store = new FsArtifactStore(dir);
    const wrapped = wrap(store);
    return { registry: new RunRegistry(await bus.kv('runs'), () => Promise.resolve(wrapped)), dir, store };
  }

  /** One epoch boundary as the run service makes it durable: artifacts, compare-and-set, retention. */
  async function boundary(runs: RunRegistry, current: VersionedRunRecord, n: number): Promise<{ committed: VersionedRunRecord; pruned: Awaited<ReturnType<RunRegistry['pruneCheckpoints']>> }> {
    const id = `r1-ckpt-${n}`;
    const pointer = await runs.saveBoundary('r1', id, 0, new Uint8Array([n, n + 1]), { loop: { ...loop, iteration: n, checkpointCount: n + 1, checkpoint: { ...loop.checkpoint, checkpointId: id } }, pendingEvents: [] });
    const committed = await runs.update(current, { checkpoint: pointer, epoch: n });
    return { committed, pruned: await runs.pruneCheckpoints(committed.record) };
  }
  const ckptKeys = (n: number): string[] => [`runs/r1/r1-ckpt-${n}.r0.ckpt`, `runs/r1/r1-ckpt-${n}.r0.state.json`];

  it('judges orphans: unfinished runs whose owner incarnation is not live, or that have no owner', () => {
    expect(isOrphan(record('r', a), [a])).to.equal(false);
    expect(isOrphan(record('r', a), [b])).to.equal(true);
    expect(isOrphan(record('r', a), [{ nodeId: 'n1', incarnationId: 'restarted' }])).to.equal(true);
    expect(isOrphan(record('r', null), [a])).to.equal(true);
    expect(isOrphan({ ...record('r', a), state: 'completed' }, [])).to.equal(false);
  });

  it('registers a run once and lets exactly one of two claimers win', async () => {
    const { registry: runs } = await registry();
    const created = await runs.create(record('r1', a));
    const again = await runs.create(record('r1', b)).then(
      () => 'created',
      (e: unknown) => (e as { code?: string }).code,
    );
    expect(again).to.equal('ESPER_CONFLICT');
    // Both claimers read the same revision; only one compare-and-set lands.
    const seen = (await runs.get('r1'))!;
    expect(seen.revision).to.equal(created.revision);
    const outcomes = await Promise.allSettled([runs.update(seen, { owner: b, resumes: 1 }), runs.update(seen, { owner: { nodeId: 'n3', incarnationId: 'i3' }, resumes: 1 })]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
    // The old owner's next commit is fenced off.
    const fenced = await runs.update(created, { epoch: 2 }).then(
      () => 'committed',
      (e: unknown) => (e as { code?: string }).code,
    );
    expect(fenced).to.equal('ESPER_CONFLICT');
    expect((await runs.list()).map((r) => r.record.resumes)).to.deep.equal([1]);
  });

  it('a retried write whose first try landed (reply lost in a leader election) finds its own record, not a conflict (issue 13)', async () => {
    const { registry: runs } = await registry();
    const first = record('r1', a);
    const created = await runs.create(first);
    expect((await runs.create(first)).revision, 'create retried').to.equal(created.revision);
    const committed = await runs.update(created, { epoch: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2));
    const retried = await runs.update(created, { epoch: 1 });
    expect(retried.revision).to.equal(committed.revision);
    // A different write from the same stale revision is still a conflict.
    const other = await runs.update(created, { epoch: 2 }).then(
      () => 'committed',
      (e: unknown) => (e as { code?: string }).code,
    );
    expect(other).to.equal('ESPER_CONFLICT');
  });

  it('writes boundary artifacts and reads them back verified; a tampered artifact is refused', async () => {
    const { registry: runs, dir } = await registry();
    const pointer = await runs.saveBoundary('r1', 'r1-ckpt-1', 0, new Uint8Array([1, 2, 3, 4]), { loop, pendingEvents: [] });
    const back = await runs.loadBoundary(pointer);
    expect([...back.tensors]).to.deep.equal([1, 2, 3, 4]);
    expect(back.state.loop.governor.window).to.deep.equal([0.7, 0.6]);
    // Corrupt the stored state file: the digest check refuses it.
    const stateFile = readdirSync(join(dir, 'objects', 'runs', 'r1')).find((f) => f.endsWith('.state.json'))!;
    writeFileSync(join(dir, 'objects', 'runs', 'r1', stateFile), '{"tampered":true}');
    const refused = await runs.loadBoundary(pointer).then(
      () => 'loaded',
      (e: unknown) => (e as { code?: string }).code,
    );
    expect(refused).to.equal('ESPER_ARTIFACT_CORRUPT');
  });

  it("after N committed boundaries only the record's checkpoint is stored, and it still loads", async () => {
    const { registry: runs, store } = await registry();
    let current = await runs.create(record('r1', a));
    for (let n = 0; n < 6; n++) {
      current = (await boundary(runs, current, n)).committed;
      expect(await store.list('runs/r1/'), `after boundary ${n}`).to.deep.equal(ckptKeys(n));
    }
    const back = await runs.loadBoundary(current.record.checkpoint!);
    expect([...back.tensors]).to.deep.equal([5, 6]);
    for (let n = 0; n < 5; n++) expect(await store.has(`runs/r1/r1-ckpt-${n}.r0.ckpt`)).to.equal(false);
  });

  it('a finished run keeps its final checkpoint and results.json only', async () => {
    const { registry: runs, store } = await registry();
    let current = await runs.create(record('r1', a));
    for (let n = 0; n < 3; n++) current = (await boundary(runs, current, n)).committed;
    // An uncommitted leftover of a later boundary (a crash between its artifacts and its commit).
    await store.put('runs/r1/r1-ckpt-3.ckpt', new Uint8Array([7]));
    const results = await runs.saveResults('r1', { ok: true });
    current = await runs.update(current, { state: 'completed', results });
    // Before the final commit nothing newer than the record's checkpoint went.
    expect(await store.has('runs/r1/r1-ckpt-3.ckpt')).to.equal(true);
    const pruned = await runs.pruneCheckpoints(current.record);
    expect(pruned.deleted).to.deep.equal(['runs/r1/r1-ckpt-3.ckpt']);
    expect(await store.list('runs/r1/')).to.deep.equal([...ckptKeys(2), 'runs/r1/results.json']);
  });

  it('a failed deletion is reported and retried by the next commit, which deletes everything older', async () => {
    let failing = true;
    const flaky = (inner: ArtifactStore): ArtifactStore => ({
      kind: inner.kind,
      put: (key, bytes) => inner.put(key, bytes),
      get: (key, sha) => inner.get(key, sha),
      has: (key) => inner.has(key),
      list: (prefix) => inner.list(prefix),
      delete: (key) => (failing ? Promise.reject(new Error('object store unavailable')) : inner.delete(key)),
    });
    const { registry: runs, store } = await registry(flaky);
    let current = await runs.create(record('r1', a));
    current = (await boundary(runs, current, 0)).committed;
    const first = await boundary(runs, current, 1);
    current = first.committed;
    expect(first.pruned.deleted).to.deep.equal([]);
    expect(first.pruned.failed.map((f) => f.key)).to.deep.equal(ckptKeys(0));
    current = (await boundary(runs, current, 2)).committed;
    expect(await store.list('runs/r1/')).to.deep.equal([...ckptKeys(0), ...ckptKeys(1), ...ckptKeys(2)]);
    failing = false;
    const healed = await boundary(runs, current, 3);
    expect(healed.pruned.deleted).to.deep.equal([...ckptKeys(0), ...ckptKeys(1), ...ckptKeys(2)]);
    expect(await store.list('runs/r1/')).to.deep.equal(ckptKeys(3));
  });
});
