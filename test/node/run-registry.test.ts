/**
 * The runs bucket: registration, compare-and-set commits, one winner among
 * nodes claiming an orphan, boundary artifacts verified on load.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/memory-bus.ts';
import { FsArtifactStore } from '../../src/actors/urza/artifact-store.ts';
import { isOrphan, RunRegistry, type RunRecord } from '../../src/node/run-registry.ts';
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

  async function registry(): Promise<{ registry: RunRegistry; dir: string }> {
    const bus = new MemoryBus();
    const dir = mkdtempSync(join(tmpdir(), 'esper-runs-'));
    const store = new FsArtifactStore(dir);
    return { registry: new RunRegistry(await bus.kv('runs'), () => Promise.resolve(store)), dir };
  }

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

  it('writes boundary artifacts and reads them back verified; a tampered artifact is refused', async () => {
    const { registry: runs, dir } = await registry();
    const pointer = await runs.saveBoundary('r1', 'r1-ckpt-1', new Uint8Array([1, 2, 3, 4]), { loop, pendingEvents: [] });
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
});
