/**
 * A run hosted by the run service (in process: memory bus, filesystem
 * artifacts) keeps only the checkpoint its record points at: each commit
 * deletes the older ones, operator rollback still reaches its in-memory
 * window, a finished run keeps its final checkpoint and results, and an owner
 * fenced off by another node's claim deletes nothing.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/memory-bus.ts';
import { FsArtifactStore, type ArtifactStore } from '../../src/actors/urza/artifact-store.ts';
import { ensureEventsStream } from '../../src/actors/nissa/event-stream.ts';
import { RunSpecSchema, type RunSpec } from '../../src/contracts/run.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { RunRegistry, type RunRecord } from '../../src/node/run-registry.ts';
import { RunService, type RunServiceOptions } from '../../src/node/run-service.ts';
import { untilDefined } from '../helpers/until.ts';

function spiralsSpec(epochs: number): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return RunSpecSchema.parse({ ...raw, epochs, policy: { ...(raw['policy'] as object), minEpochBeforeGerminate: 1000 } });
}

/** The filesystem store, with a hook before every put and a log of what was deleted. */
class ObservedStore implements ArtifactStore {
  readonly kind = 'fs' as const;
  readonly deleted: string[] = [];
  /** Prefixes listed, in order. */
  readonly listed: string[] = [];
  /** Makes the next deletion of a key for which it returns true fail. */
  failDelete: (key: string) => boolean = () => false;
  beforePut: (key: string) => Promise<void> = () => Promise.resolve();
  constructor(readonly inner: FsArtifactStore) {}
  async put(key: string, bytes: Uint8Array): ReturnType<ArtifactStore['put']> {
    await this.beforePut(key);
    return this.inner.put(key, bytes);
  }
  get(key: string, expectedSha256?: string): Promise<Uint8Array> {
    return this.inner.get(key, expectedSha256);
  }
  has(key: string): Promise<boolean> {
    return this.inner.has(key);
  }
  list(prefix: string): Promise<string[]> {
    this.listed.push(prefix);
    return this.inner.list(prefix);
  }
  async delete(key: string): Promise<boolean> {
    if (this.failDelete(key)) throw new Error(`delete ${key} refused (test)`);
    const removed = await this.inner.delete(key);
    this.deleted.push(key);
    return removed;
  }
}


const keysOf = (runId: string, n: number, attempt = 0): string[] => [`runs/${runId}/${runId}-ckpt-${n}.r${attempt}.ckpt`, `runs/${runId}/${runId}-ckpt-${n}.r${attempt}.state.json`];

describe('run service: checkpoint retention', function () {
  this.timeout(120_000);
  const prefix = 'rs';
  let dir: string;
  let bus: MemoryBus;
  let store: ObservedStore;
  let registry: RunRegistry;
  let service: RunService;

  /** A run service of node `nodeId` that sees only itself alive. */
  const serviceOf = (nodeId: string, incarnationId: string, sweepMs: number, extra: Partial<RunServiceOptions> = {}): RunService =>
    new RunService({
      ...extra,
      bus,
      prefix,
      nodeId,
      incarnationId,
      logger: createLogger({ level: 'silent' }),
      maxPayloadBytes: 1 << 20,
      registry: () => Promise.resolve(registry),
      liveNodes: () => Promise.resolve([{ nodeId, incarnationId }]),
      sweepMs,
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'esper-run-service-'));
    bus = new MemoryBus();
    await ensureEventsStream(bus, prefix);
    store = new ObservedStore(new FsArtifactStore(dir));
    registry = new RunRegistry(await bus.kv('runs'), () => Promise.resolve(store));
    service = serviceOf('n1', 'i1', 60_000);
  });

  afterEach(async () => {
    await service.drain().catch(() => undefined);
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  });

  type Reply = { ok: boolean; data?: Record<string, unknown>; error?: { code: string } };
  const control = async (runId: string, verb: string, body: unknown = {}): Promise<Reply> => {
    const decoded = (await bus.request(`${prefix}.ctl.run.${runId}.${verb}`, body, { timeoutMs: 60_000 })).json();
    if (!decoded.ok) throw new Error(`undecodable reply to ${verb}`);
    return decoded.value as Reply;
  };

  type Published = { type: string; data: Record<string, unknown> };
  /** Every event of `runId` the bus carries from now on (`sub.unsubscribe()` ends it). */
  const eventsOf = (runId: string): { seen: Published[]; sub: { unsubscribe(): void } } => {
    const seen: Published[] = [];
    const sub = bus.subscribe(`${prefix}.evt.${runId}.>`, (message) => {
      const decoded = message.json();
      if (decoded.ok) seen.push(decoded.value as Published);
    });
    return { seen, sub };
  };

  const finished = (runId: string): Promise<RunRecord> =>
    untilDefined(async () => {
      const found = await registry.get(runId);
      return found !== null && ['completed', 'failed', 'stopped'].includes(found.record.state) ? found.record : undefined;
    });

  /**
   * The run's end as its owner finishes it: the record says it ended before the owner's final retention sweep
   * runs, and the owner's status shows the end only after that sweep, so tests that look at the store wait for both.
   */
  const ended = async (runId: string, owner: RunService = service): Promise<RunRecord> => {
    const record = await finished(runId);
    await untilDefined(() => (owner.statuses().find((s) => s.runId === runId)?.state === record.state ? true : undefined));
    return record;
  };

  it('keeps only the committed checkpoint at every boundary; rollback still reaches deleted ones (memory); the end keeps the final checkpoint and results', async () => {
    const runId = 'keep';
    // What is stored when each boundary starts writing: only the previous boundary's checkpoint.
    const seen: Array<{ writing: string; stored: string[] }> = [];
    store.beforePut = async (key) => {
      if (!key.endsWith('.ckpt')) return;
      seen.push({ writing: key, stored: await store.list(`runs/${runId}/`) });
      if (key === keysOf(runId, 3)[0]) expect((await control(runId, 'pause')).ok).to.equal(true); // pauses at this boundary
    };
    await service.start(spiralsSpec(6), runId);

    await untilDefined(() => (service.statuses()[0]?.state === 'paused' ? true : undefined));
    const paused = (await registry.get(runId))!.record;
    expect(paused.checkpoint?.checkpointId).to.equal(`${runId}-ckpt-3`);
    expect(await store.list(`runs/${runId}/`)).to.deep.equal(keysOf(runId, 3));
    // ckpt-1's artifacts are gone, yet it is in the run loop's rollback window (held in memory).
    expect(await store.has(keysOf(runId, 1)[0]!)).to.equal(false);
    const rolledBack = await control(runId, 'rollback', { reason: 'test', checkpointId: `${runId}-ckpt-1` });
    expect(rolledBack.ok, JSON.stringify(rolledBack.error)).to.equal(true);
    expect(rolledBack.data?.['checkpointId']).to.equal(`${runId}-ckpt-1`);
    // The rollback was followed by a new checkpoint, committed; the one before it went.
    expect((await registry.get(runId))!.record.checkpoint?.checkpointId).to.equal(`${runId}-ckpt-4`);
    expect(await store.list(`runs/${runId}/`)).to.deep.equal(keysOf(runId, 4));
    expect((await control(runId, 'resume')).ok).to.equal(true);

    const record = await ended(runId);
    expect(record.state).to.equal('completed');
    const last = Number(record.checkpoint!.checkpointId.split('-').pop());
    expect(last).to.be.greaterThan(5);
    expect(await store.list(`runs/${runId}/`)).to.deep.equal([...keysOf(runId, last), `runs/${runId}/results.json`]);
    const boundary = await registry.loadBoundary(record.checkpoint!);
    expect(boundary.state.loop.checkpoint.checkpointId).to.equal(record.checkpoint!.checkpointId);
    // Every boundary found the previous one's checkpoint only (none before the first).
    expect(seen.length).to.equal(last + 1);
    seen.forEach(({ writing, stored }, n) => {
      expect(writing).to.equal(keysOf(runId, n)[0]);
      expect(stored, `when writing ckpt-${n}`).to.deep.equal(n === 0 ? [] : keysOf(runId, n - 1));
    });
  });

  it('records a pause that arrives after its boundary committed: the runs bucket says paused while it waits; resumed, the run completes', async () => {
    const runId = 'late-pause';
    const update = registry.update.bind(registry);
    let sent = false;
    // The pause lands between the boundary's commit (which recorded `running`) and the boundary's check for it.
    registry.update = async (current, patch) => {
      const updated = await update(current, patch);
      if (!sent && patch.checkpoint?.checkpointId === `${runId}-ckpt-2`) {
        sent = true;
        expect((await control(runId, 'pause')).ok).to.equal(true);
      }
      return updated;
    };
    await service.start(spiralsSpec(6), runId);
    await untilDefined(() => (service.statuses()[0]?.state === 'paused' ? true : undefined));
    const recorded = await untilDefined(async () => ((await registry.get(runId))?.record.state === 'paused' ? true : undefined), 10_000).catch(() => false);
    expect(recorded, 'the record says paused').to.equal(true);
    expect((await registry.get(runId))!.record.checkpoint?.checkpointId).to.equal(`${runId}-ckpt-2`);
    expect((await control(runId, 'resume')).ok).to.equal(true);
    expect((await finished(runId)).state).to.equal('completed');
  });

  it('lists the run’s artifacts only on its first commit, after a failed deletion and at the end; otherwise deletes just the superseded checkpoint', async () => {
    const runId = 'cheap';
    let failed = false;
    store.failDelete = (key) => {
      if (failed || key !== keysOf(runId, 2)[0]) return false;
      failed = true;
      return true;
    };
    const listedAtCommit: number[] = [];
    store.beforePut = (key) => {
      if (key.endsWith('.ckpt')) listedAtCommit.push(store.listed.length);
      return Promise.resolve();
    };
    await service.start(spiralsSpec(6), runId);
    const record = await ended(runId);
    expect(record.state).to.equal('completed');
    // Before writing ckpt-n, the passes of commits 0…n-1 have run: commit 0 swept (first commit),
    // commits 1 and 2 deleted one checkpoint each, commit 3's deletion of ckpt-2 failed, so commit 4 swept.
    expect(listedAtCommit.slice(0, 6)).to.deep.equal([0, 1, 1, 1, 1, 2]);
    expect(store.listed.length, 'one more sweep at the end').to.equal(listedAtCommit.at(-1)! + 1);
    const last = Number(record.checkpoint!.checkpointId.split('-').pop());
    expect(await store.list(`runs/${runId}/`)).to.deep.equal([...keysOf(runId, last), `runs/${runId}/results.json`]);
  });

  it('records pause, resume and stop in the run’s event log, whoever sent them (issue 14: the audit trail of nats req)', async () => {
    const runId = 'audited';
    const { seen, sub } = eventsOf(runId);
    try {
      await service.start(spiralsSpec(4), runId);
      expect((await control(runId, 'pause', { reason: 'look at the graft' })).ok).to.equal(true);
      await untilDefined(() => (service.statuses()[0]?.state === 'paused' ? true : undefined));
      expect((await control(runId, 'resume')).ok).to.equal(true);
      expect((await finished(runId)).state).to.equal('completed');
      const actions = seen.filter((e) => e.type === 'nissa.operator.action').map((e) => e.data);
      expect(actions.map((a) => a['verb'])).to.deep.equal(['pause', 'resume']);
      expect(actions[0]).to.include({ subject: `${prefix}.ctl.run.${runId}.pause`, runId, reason: 'look at the graft', via: 'node n1', ok: true });
      expect(actions[1]).to.not.have.property('reason');
      // status is not an action: it leaves no record.
      await control(runId, 'status');
      expect(seen.filter((e) => e.type === 'nissa.operator.action')).to.have.length(2);
    } finally {
      sub.unsubscribe();
    }
  });

  it('publishes a pause that arrived while its boundary committed before the run waits, not after the resume', async () => {
    const runId = 'mid-commit';
    const actions: Array<Record<string, unknown>> = [];
    const sub = bus.subscribe(`${prefix}.evt.${runId}.>`, (message) => {
      const decoded = message.json();
      if (decoded.ok && (decoded.value as { type: string }).type === 'nissa.operator.action') actions.push((decoded.value as { data: Record<string, unknown> }).data);
    });
    try {
      // The pause lands after boundary 1 took its events and before it commits: its record misses that publish.
      store.beforePut = async (key) => {
        if (key === keysOf(runId, 1)[0]) expect((await control(runId, 'pause', { reason: 'mid-commit' })).ok).to.equal(true);
      };
      await service.start(spiralsSpec(4), runId);
      await untilDefined(() => (service.statuses()[0]?.state === 'paused' ? true : undefined));
      await untilDefined(() => (actions.length > 0 ? true : undefined), 10_000);
      expect(actions.map((a) => a['verb'])).to.deep.equal(['pause']);
      expect(service.statuses()[0]?.state, 'still paused: the record came before any resume').to.equal('paused');
      expect((await control(runId, 'resume')).ok).to.equal(true);
      expect((await finished(runId)).state).to.equal('completed');
      expect(actions.map((a) => a['verb'])).to.deep.equal(['pause', 'resume']);
    } finally {
      sub.unsubscribe();
    }
  });

  it('keeps an operator record sent while an epoch trained when the training worker dies in that epoch; the loop’s events are published once', async () => {
    const runId = 'worker-killed';
    const { seen, sub } = eventsOf(runId);
    try {
      await service.drain();
      // The drill: as epoch 2 trains (its boundary committed), the operator pauses the run, then the worker dies.
      service = serviceOf('n1', 'i1', 60_000, {
        faults: (id) =>
          id === runId
            ? { killWorker: { atEpoch: 2, onKill: async () => void expect((await control(runId, 'pause', { reason: 'during the crash' })).ok).to.equal(true) } }
            : undefined,
      });
      await service.start(spiralsSpec(4), runId);
      // The restarted loop stops at the boundary it resumes from, before epoch 2 trains again: the pause, held across the restart, takes effect.
      await untilDefined(() => (service.statuses()[0]?.state === 'paused' ? true : undefined));
      const actions = (): Array<Record<string, unknown>> => seen.filter((e) => e.type === 'nissa.operator.action').map((e) => e.data);
      await untilDefined(() => (actions().length > 0 ? true : undefined), 10_000);
      expect(actions().map((a) => a['verb'])).to.deep.equal(['pause']);
      expect(actions()[0]).to.include({ reason: 'during the crash', ok: true });
      expect(service.statuses()[0]?.epoch, 'paused after epoch 1').to.equal(1);
      expect((await control(runId, 'resume')).ok).to.equal(true);
      const record = await finished(runId);
      expect(record.state).to.equal('completed');
      expect(actions().map((a) => a['verb'])).to.deep.equal(['pause', 'resume']);
      const packets = seen.filter((e) => e.type === 'tolaria.state.published').map((e) => e.data['epoch']);
      expect(packets, 'one state packet per epoch').to.deep.equal([1, 2, 3, 4]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('refuses a spec whose blueprints the run could not compile before registering anything', async () => {
    const spec = { ...spiralsSpec(3), seedModules: { blueprints: ['mlp_huge'], kernels: [] } };
    try {
      await service.start(spec, 'bad');
      expect.fail('start should refuse');
    } catch (error) {
      expect((error as { code?: string }).code).to.equal('ESPER_CONFIG_INVALID');
      expect((error as Error).message).to.include('invalid run spec');
    }
    expect(await registry.get('bad')).to.equal(null);
    expect(service.runIds()).to.deep.equal([]);
  });

  it('an owner fenced off by another node claiming the run deletes nothing', async () => {
    const runId = 'fenced';
    let deletedAtClaim: number | undefined;
    store.beforePut = async (key) => {
      if (key !== keysOf(runId, 2)[0]) return;
      // Another node takes the run over while this one writes boundary 2: its commit will lose the compare-and-set.
      const current = (await registry.get(runId))!;
      await registry.update(current, { owner: { nodeId: 'n3', incarnationId: 'i3' }, resumes: current.record.resumes + 1 });
      deletedAtClaim = store.deleted.length;
    };
    await service.start(spiralsSpec(6), runId);
    await untilDefined(() => (service.statuses()[0]?.state === 'stopped' ? true : undefined));
    expect(deletedAtClaim).to.equal(2); // ckpt-0's two artifacts, after ckpt-1 was committed
    expect(store.deleted).to.have.length(2);
    const record = (await registry.get(runId))!.record;
    expect(record.owner).to.deep.equal({ nodeId: 'n3', incarnationId: 'i3' });
    expect(record.checkpoint?.checkpointId).to.equal(`${runId}-ckpt-1`);
    // The claimer's checkpoint is intact (and loads), the fenced owner's uncommitted boundary was left alone.
    expect(await store.list(`runs/${runId}/`)).to.deep.equal([...keysOf(runId, 1), ...keysOf(runId, 2)]);
    await registry.loadBoundary(record.checkpoint!);

    // n3 never comes up; n2 claims the orphan and resumes it from ckpt-1. Its boundary 2 must not
    // collide with the fenced owner's uncommitted ckpt-2 (artifacts are immutable): keys carry the attempt.
    store.beforePut = () => Promise.resolve();
    const taker = serviceOf('n2', 'i2', 50);
    try {
      taker.listen();
      const done = await ended(runId, taker);
      expect(done.state).to.equal('completed');
      expect(done.resumes).to.equal(2);
      expect(done.owner).to.deep.equal({ nodeId: 'n2', incarnationId: 'i2' });
      const last = Number(done.checkpoint!.checkpointId.split('-').pop());
      expect(await store.list(`runs/${runId}/`)).to.deep.equal([...keysOf(runId, last, 2), `runs/${runId}/results.json`]);
    } finally {
      await taker.drain();
    }
  });
});
