import { expect } from 'chai';
import { startRun } from '../../../src/actors/tolaria/run-actor.ts';
import { runSupervisionPolicy } from '../../../src/actors/tolaria/run-supervision.ts';
import { runTraining } from '../../../src/actors/tolaria/run-loop.ts';
import type { Envelope } from '../../../src/contracts/envelope.ts';
import type { RunResults } from '../../../src/contracts/run.ts';
import { EsperError } from '../../../src/errors/index.ts';
import { startSupervisor, type Supervisor } from '../../../src/supervision/index.ts';
import { describeTree } from '../../../src/node/weatherlight.ts';
import { quickSpiralsSpec } from '../../helpers/spirals-spec.ts';

const spiralsSpec = quickSpiralsSpec;

const transitionsOf = (results: RunResults): string[] => results.seeds.flatMap((seed) => seed.history.map((h) => `${seed.slotId}@${h.epoch}:${h.from}->${h.to}`));

/** Event fingerprint without ids and clocks. */
function fingerprint(e: Envelope): string {
  const d = e.data as Record<string, unknown>;
  return JSON.stringify([e.type, d['epoch'], d['seedId'], d['from'], d['to'], d['validationAccuracy']]);
}

async function tolariaRoot(): Promise<Supervisor> {
  return startSupervisor({ id: 'tolaria', strategy: 'one_for_one', intensity: { maxRestarts: 5, periodMs: 10_000 }, backoff: { initialMs: 10, maxMs: 100, factor: 2, jitter: 0 }, children: [] });
}

describe('Tolaria: a run as a supervised actor subtree', function () {
  this.timeout(120_000);

  it('runs under its supervisor with its loop, its Kasmina seed actors and its Tamiyo, and leaves nothing behind', async () => {
    const root = await tolariaRoot();
    const seen: string[][] = [];
    const handle = await startRun(root, spiralsSpec(4), {
      runId: 'tree-a',
      onEpoch: () => {
        seen.push(describeTree(root).map((line) => `${line.path} ${line.subsystem} ${line.status}`));
      },
    });
    const results = await handle.finished;
    expect(results.epochs).to.have.length(4);
    const during = seen[1] ?? [];
    expect(during).to.include.members([
      'tolaria/run-tree-a tolaria running',
      'tolaria/run-tree-a/tolaria tolaria running',
      'tolaria/run-tree-a/kasmina-tree-a kasmina running',
      'tolaria/run-tree-a/kasmina-tree-a/seed-h1 kasmina running',
      'tolaria/run-tree-a/tamiyo tamiyo running',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(describeTree(root)).to.deep.equal([]);
    await root.stop();
  });

  it('restarts a loop whose training worker died and resumes from the last boundary: same transitions, weights and events as an uninterrupted run', async () => {
    const spec = spiralsSpec(8);
    const reference = await runTraining(spec, { runId: 'restart-a' });
    const root = await tolariaRoot();
    const events: Envelope[] = [];
    let restartsSeen = 0;
    const handle = await startRun(root, spec, {
      runId: 'restart-a',
      faults: { killWorker: { atEpoch: 5 } },
      events: (e) => events.push(e),
      onRestart: () => {
        restartsSeen++;
      },
    });
    const results = await handle.finished;
    expect(handle.restarts).to.equal(1);
    expect(restartsSeen).to.equal(1);
    expect(results.weightsHash).to.equal(reference.weightsHash);
    expect(transitionsOf(results)).to.deep.equal(transitionsOf(reference));
    expect(results.epochs.map((e) => e.validationAccuracy)).to.deep.equal(reference.epochs.map((e) => e.validationAccuracy));
    // Nothing emitted twice: one epoch event per epoch (those of the killed epoch were never emitted).
    const epochEvents = events.filter((e) => e.type === 'tolaria.epoch.completed').map(fingerprint);
    expect(epochEvents).to.have.length(8);
    expect(new Set(epochEvents).size).to.equal(8);
    await root.stop();
  });

  it('ends the run with a non-retryable error at once (no restart)', async () => {
    const root = await tolariaRoot();
    const handle = await startRun(root, spiralsSpec(4), {
      runId: 'final-a',
      boundary: (b) => (b.state.iteration === 2 ? Promise.reject(new Error('operator stop')) : Promise.resolve()),
    });
    const error = await handle.finished.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.equal('operator stop');
    expect(handle.restarts).to.equal(0);
    await root.stop();
  });

  it('gives up when the loop keeps failing past the intensity, rejecting with the cause', async () => {
    const root = await tolariaRoot();
    const handle = await startRun(root, spiralsSpec(4), {
      runId: 'giveup-a',
      boundary: () => Promise.reject(new EsperError('ESPER_TIMEOUT', 'storage unreachable', { retryable: true })),
    });
    const error = await handle.finished.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(EsperError);
    expect((error as EsperError).message).to.match(/gave up|storage unreachable/);
    expect(handle.restarts).to.be.greaterThan(0);
    await root.stop();
  });

  it('policy: Tamiyo is always restarted; the loop follows the default policy', () => {
    const tamiyo = { id: 'tamiyo', path: 'r/tamiyo', restart: 'permanent' as const, subsystem: 'tamiyo', kind: 'worker' as const };
    const loop = { id: 'tolaria', path: 'r/tolaria', restart: 'transient' as const, subsystem: 'tolaria', kind: 'worker' as const };
    expect(runSupervisionPolicy(new TypeError('bug'), tamiyo, [])).to.equal('restart');
    expect(runSupervisionPolicy(new TypeError('bug'), loop, [])).to.equal('escalate');
    expect(runSupervisionPolicy(new EsperError('ESPER_WORKER_CRASHED', 'x'), loop, [])).to.equal('restart');
  });
});
