/**
 * Crash recovery and operator control at epoch boundaries, in process: a run
 * resumed from a boundary's (state, checkpoint) pair ends exactly as the
 * uninterrupted run does; operator seed commands and rollbacks go through
 * Kasmina's gates and into the event log.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { Envelope } from '../../../src/contracts/envelope.ts';
import { RunSpecSchema, type RunResults, type RunSpec } from '../../../src/contracts/run.ts';
import { runTraining, type EpochBoundary } from '../../../src/actors/tolaria/run-loop.ts';
import { RunLoopStateSchema, type RunLoopState } from '../../../src/actors/tolaria/run-state.ts';

function spiralsSpec(epochs: number, germinate = true): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return RunSpecSchema.parse({
    ...raw,
    epochs,
    policy: germinate ? { ...(raw['policy'] as object), minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 } : { ...(raw['policy'] as object), minEpochBeforeGerminate: 1000 },
    gates: { g2: { minTrainingEpochs: 1, minImprovementPp: -100 }, g5: { minContributionPp: -100 } },
  });
}

/** The spec's first allowed blueprint (a kernel the run compiles and validates at its start). */
function firstBlueprint(spec: RunSpec): string {
  const blueprints = spec.seedModules.blueprints;
  if (blueprints === 'catalog') return 'mlp_small';
  return blueprints[0] ?? 'mlp_small';
}

/** Event fingerprint without ids and clocks: type, epoch and seed facts. */
function fingerprint(e: Envelope): string {
  const d = e.data as Record<string, unknown>;
  return JSON.stringify([e.type, d['epoch'], d['seedId'], d['from'], d['to'], d['validationAccuracy']]);
}

const transitionsOf = (results: RunResults): string[] =>
  results.seeds.flatMap((seed) => seed.history.map((h) => `${seed.slotId}@${h.epoch}:${h.from}->${h.to}`));

describe('esper run: resuming from an epoch boundary (crash recovery)', function () {
  this.timeout(90_000);

  it('a run resumed from boundary 5 ends with the same seeds, events and final weights as the uninterrupted run', async () => {
    const spec = spiralsSpec(9);
    const events: Envelope[] = [];
    let saved: { state: RunLoopState; checkpoint: Uint8Array; eventsBefore: number } | undefined;
    const whole = await runTraining(spec, {
      runId: 'resume-a',
      events: (e) => events.push(e),
      boundary: (b: EpochBoundary) => {
        if (b.state.iteration === 5) saved = { state: RunLoopStateSchema.parse(JSON.parse(JSON.stringify(b.state))), checkpoint: b.checkpoint.bytes.slice(), eventsBefore: events.length };
        return Promise.resolve();
      },
    });
    expect(saved, 'boundary 5 was reached').to.not.equal(undefined);
    if (saved === undefined) return;
    expect(transitionsOf(whole).length, 'the run grew something to compare').to.be.greaterThan(0);

    const resumedEvents: Envelope[] = [];
    const resumed = await runTraining(spec, { runId: 'resume-a', resume: { state: saved.state, checkpoint: saved.checkpoint }, events: (e) => resumedEvents.push(e) });
    expect(resumed.weightsHash).to.equal(whole.weightsHash);
    expect(transitionsOf(resumed)).to.deep.equal(transitionsOf(whole));
    expect(resumed.epochs.map((e) => e.validationAccuracy)).to.deep.equal(whole.epochs.map((e) => e.validationAccuracy));
    expect(resumed.startedAt).to.equal(whole.startedAt);
    // The resumed run emits exactly the events the original emitted after the boundary.
    expect(resumedEvents.map(fingerprint)).to.deep.equal(events.slice(saved.eventsBefore).map(fingerprint));
  });

  it('refuses a resume state of another run', async () => {
    const spec = spiralsSpec(2, false);
    let state: RunLoopState | undefined;
    let bytes: Uint8Array | undefined;
    await runTraining(spec, {
      runId: 'resume-b',
      boundary: (b) => {
        state = b.state;
        bytes = b.checkpoint.bytes;
        return Promise.resolve();
      },
    });
    const error = await runTraining(spec, { runId: 'resume-c', resume: { state: state!, checkpoint: bytes! } }).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(error?.code).to.equal('ESPER_CONFIG_INVALID');
  });
});

describe('esper run: operator control at epoch boundaries', function () {
  this.timeout(90_000);

  it('germinates and prunes a seed on request (Tamiyo bypassed), logs the commands, and rolls back to the previous checkpoint', async () => {
    const spec = spiralsSpec(6, false);
    const events: Envelope[] = [];
    const log: string[] = [];
    let rollbackHash: { target: string; restored?: string } | undefined;
    const results = await runTraining(spec, {
      runId: 'operator-a',
      events: (e) => events.push(e),
      boundary: async (b) => {
        const iteration = b.state.iteration;
        if (iteration === 1) {
          const slot = b.seeds()[0]!;
          const done = await b.command(slot.seedId, { op: 'GERMINATE', blueprintId: firstBlueprint(spec) }, { requestId: 'req-1', reason: 'manual test' });
          log.push(`germinate:${done.seed.stage}`);
          const refused = await b.command(slot.seedId, { op: 'FOSSILIZE' }, { requestId: 'req-2', reason: 'too early' }).then(
            () => 'accepted',
            (e: unknown) => (e as { code?: string }).code ?? 'no code',
          );
          log.push(`fossilize:${refused}`);
          await b.recheckpoint();
        }
        if (iteration === 3) {
          const unknown = await b.command('nope', { op: 'PRUNE' }, { requestId: 'req-3', reason: 'x' }).then(
            () => 'accepted',
            (e: unknown) => (e as { code?: string }).code ?? 'no code',
          );
          log.push(`unknown:${unknown}`);
          const slot = b.seeds()[0]!;
          const done = await b.command(slot.seedId, { op: 'PRUNE' }, { requestId: 'req-4', reason: 'operator prune' });
          log.push(`prune:${done.seed.stage}`);
          await b.recheckpoint();
        }
        if (iteration === 4) {
          const previous = b.state.checkpoint.checkpointId;
          const rolled = await b.rollback('operator drill');
          log.push(`rollback:${rolled.toEpoch}`);
          expect(rolled.checkpointId).to.not.equal(previous);
          rollbackHash = { target: rolled.checkpointId };
          await b.recheckpoint();
          rollbackHash.restored = b.checkpoint.hostWeightsHash;
        }
      },
    });
    expect(log).to.deep.equal(['germinate:GERMINATED', 'fossilize:ESPER_INVALID_TRANSITION', 'unknown:ESPER_NOT_FOUND', 'prune:PRUNED', 'rollback:3']);
    expect(results.rollbacks.map((r) => r.cause)).to.deep.equal(['operator']);
    const commands = events.filter((e) => e.type === 'tamiyo.command.issued').map((e) => (e.data as { annotations: { policy: string }; seedOperation: { op: string } }));
    expect(commands.map((c) => `${c.annotations.policy}:${c.seedOperation.op}`)).to.include.members(['operator:GERMINATE', 'operator:PRUNE']);
    const transitions = events.filter((e) => e.type === 'kasmina.seed.transitioned').map((e) => (e.data as { to: string }).to);
    expect(transitions.slice(0, 1)).to.deep.equal(['GERMINATED']);
    expect(transitions).to.include('PRUNED');
    expect(rollbackHash?.restored).to.be.a('string');
  });

  it('refuses a rollback to a checkpoint taken before a seed fossilized (its merge cannot be undone); a later checkpoint is allowed', async () => {
    const spec = spiralsSpec(14);
    const log: string[] = [];
    let fossilSeen = false;
    await runTraining(spec, {
      runId: 'operator-fossil',
      boundary: async (b) => {
        const fossil = b.seeds().find((s) => s.stage === 'FOSSILIZED');
        if (fossil === undefined || fossilSeen) return;
        fossilSeen = true;
        // The checkpoint before this boundary's was taken while the seed was still live.
        const refused = await b.rollback('undo the graft').then(
          () => 'accepted',
          (e: unknown) => (e as { code?: string }).code ?? 'no code',
        );
        log.push(`before-fossil:${refused}`, `stage:${b.seeds().find((s) => s.seedId === fossil.seedId)?.stage ?? 'gone'}`);
        const rolled = await b.rollback('back to this boundary', b.checkpoint.checkpointId);
        log.push(`this-boundary:${rolled.toEpoch === b.state.iteration}`, `stage:${b.seeds().find((s) => s.seedId === fossil.seedId)?.stage ?? 'gone'}`);
        await b.recheckpoint();
      },
    });
    expect(fossilSeen, 'no seed fossilized: the test proves nothing').to.equal(true);
    expect(log).to.deep.equal(['before-fossil:ESPER_CONFLICT', 'stage:FOSSILIZED', 'this-boundary:true', 'stage:FOSSILIZED']);
  });
});
