/**
 * One epoch of a run: (fault injection) → train in the worker → the governor
 * judges (a NaN or divergence rolls the epoch back to the boundary's
 * checkpoint), then the graft guard (a grafting epoch whose accuracy
 * collapsed rolls back too) → Kasmina's seeds observe the epoch → Tamiyo advises → the
 * epoch is recorded and emitted.
 */
import type { RollbackTrigger } from '../../contracts/index.ts';
import type { EpochResult, RunRollbackRecord } from '../../contracts/run.ts';
import type { EpochReport } from '../../tensor/training/training-session.ts';
import { observationFrom, type SeedObservation } from '../kasmina/index.ts';
import { judgeGraftEpoch } from './graft-guard.ts';
import { GOVERNOR_CAUSE_TRIGGER, observe } from './governor.ts';
import { SEED_QUERY_MS, type RunCheckpoints } from './run-checkpoints.ts';
import { GRAFTING_STAGES, LIVE_STAGES, type BoundaryCheckpoint, type RunContext } from './run-context.ts';
import type { EpochTamiyoSummary, TamiyoAdviser } from './tamiyo-adviser.ts';

/** What a governor rollback did (on `onEpoch` only: the run results' schema has no field for the hashes). */
export interface EpochRollbackSummary {
  cause: RunRollbackRecord['cause'];
  reason: string;
  /** Epoch of the checkpoint restored. */
  toEpoch: number;
  /** Host weights hash captured with that checkpoint. */
  checkpointHostWeightsHash: string;
  /** Host weights hash right after the restore (equals the checkpoint's when the rollback restored the host bit for bit). */
  restoredHostWeightsHash: string;
  /** Slots whose live seeds the restore pruned. */
  prunedSlots: string[];
}

/** What `onEpoch` receives after every epoch. */
export interface EpochSummary extends EpochResult {
  /** True when the governor rolled this epoch back. */
  rolledBack: boolean;
  tamiyo?: EpochTamiyoSummary;
  rollback?: EpochRollbackSummary;
}

/** Fault injection (tests, drills). */
export interface EpochFaults {
  /**
   * Epoch (1-based, as reported) whose training starts with every live seed's
   * weights overwritten with NaN; with no live seed then, that epoch is
   * reported non-finite as a NaN epoch would be. Either way the governor rolls it back.
   */
  nanAtEpoch?: number;
  /**
   * A drill: the training worker thread is killed as epoch `atEpoch` starts,
   * once (the flag `fired` is set when it happens, so a resumed loop trains
   * that epoch normally). The loop fails with ESPER_WORKER_CRASHED.
   * `onKill` runs just before the kill, the epoch under way (a drill sends an
   * operator request then, say); the kill waits for it.
   */
  killWorker?: { atEpoch: number; fired?: boolean; onKill?: () => Promise<void> };
}

/** Trains the epoch after `checkpoint`'s boundary and returns its summary (the result is recorded in `ctx`). */
export async function runEpoch(
  ctx: RunContext,
  checkpoint: BoundaryCheckpoint,
  checkpoints: RunCheckpoints,
  adviser: TamiyoAdviser | undefined,
  faults: EpochFaults | undefined,
): Promise<EpochSummary> {
  const started = performance.now();
  const report = await trainWithFaults(ctx, faults);
  ctx.globalStep += report.steps;
  const judged = observe(ctx.governor, { epoch: report.epoch, trainLoss: report.trainLoss, validationLoss: report.validationLoss, numClasses: ctx.numClasses, nonFinite: report.nonFinite });
  ctx.governor = judged.state;
  // A graft epoch: trained with a seed's output in the network and not yet merged (BLENDING, or HOLDING at α = 1), or the first
  // one trained after such a seed was pruned (its output left the network at that boundary) or merged (the network it left).
  const seedGrafting = [...ctx.current.values()].some((s) => GRAFTING_STAGES.has(s.stage));
  const graftingDuring = seedGrafting || graftEndedAt(ctx, report.epoch - 1);
  if (judged.verdict !== 'ok') {
    const verdict = judged.verdict;
    ctx.log?.warn({ runId: ctx.runId, epoch: report.epoch, cause: verdict.cause, reason: verdict.reason }, 'governor: rollback');
    return rollBackEpoch(ctx, checkpoint, checkpoints, report, started, { trigger: GOVERNOR_CAUSE_TRIGGER[verdict.cause], reason: verdict.reason }, graftingDuring);
  }
  const previous = ctx.epochs[ctx.epochs.length - 1];
  if (seedGrafting && ctx.lastAccuracy !== undefined && previous !== undefined) {
    // The rollback prunes the live seeds: it leaves the previous accuracy less what they contributed then (TRAINING seeds: nothing).
    const contributedPp = ctx.liveSeeds().reduce((sum, s) => sum + (GRAFTING_STAGES.has(s.stage) ? (s.contributionPp ?? 0) : 0), 0);
    const guard = judgeGraftEpoch(ctx.spec.graftGuard, {
      previousAccuracy: ctx.lastAccuracy,
      restoredAccuracy: ctx.lastAccuracy - contributedPp / 100,
      accuracy: report.validationAccuracy,
      previousTrainLoss: previous.trainLoss,
      trainLoss: report.trainLoss,
      validationSize: report.validationSize,
      history: ctx.epochs.map((e, i) => ({ validationAccuracy: e.validationAccuracy, grafting: ctx.graftingAt[i] ?? false })),
      retriedBefore: ctx.rollbacks.some((r) => r.epoch === report.epoch - 1 && r.seedsKept === true),
    });
    if (guard.action !== 'none') {
      const retry = guard.action === 'retry';
      ctx.log?.warn({ runId: ctx.runId, epoch: report.epoch, action: guard.action, dropPp: guard.dropPp, thresholdPp: guard.thresholdPp, reason: guard.reason }, 'graft guard: rollback');
      // The epoch stays a graft epoch: what it records (the restored model, without the seed or, retried, with it) is measured against the epoch before.
      const reason = retry ? `${RETRY_REASON}${guard.reason}` : guard.reason;
      return rollBackEpoch(ctx, checkpoint, checkpoints, report, started, { trigger: 'graft_regression', reason }, true, retry);
    }
  }

  // A merged width fossil reports 0 parameters afterwards: keep what it had (its units are counted in the host now).
  for (const slot of report.slots) if (slot.seedParams > 0) ctx.lastParams.set(slot.slotId, slot.seedParams);
  const observations: Record<string, SeedObservation> = {};
  for (const slot of report.slots) observations[slot.slotId] = observationFrom(slot, report.validationAccuracy, ctx.baseline.get(slot.slotId));
  if (ctx.interfaces.size > 0) for (const next of await ctx.seeds.epochEnded(report.epoch, observations, SEED_QUERY_MS)) await ctx.apply(next);
  ctx.lastAccuracy = report.validationAccuracy;
  const tamiyo = adviser === undefined ? undefined : await adviser.advise(report);
  const result: EpochResult = {
    epoch: report.epoch,
    trainLoss: report.trainLoss,
    validationLoss: report.validationLoss,
    validationAccuracy: report.validationAccuracy,
    durationMs: performance.now() - started,
    seeds: ctx.snapshot(),
  };
  ctx.recordEpoch(result, graftingDuring, {});
  return { ...result, rolledBack: false, ...(tamiyo === undefined ? {} : { tamiyo }) };
}

/** How a guard retry's rollback reason starts, for the reader (the record's `seedsKept` says it for code). */
const RETRY_REASON = 'retried, seeds kept: ';

/** Restores the boundary's checkpoint after a bad epoch (live seeds pruned, or kept for a retry) and records the epoch with the restored model's numbers. */
async function rollBackEpoch(
  ctx: RunContext,
  checkpoint: BoundaryCheckpoint,
  checkpoints: RunCheckpoints,
  report: EpochReport,
  started: number,
  cause: { trigger: RollbackTrigger; reason: string },
  graftingDuring: boolean,
  keepSeeds = false,
): Promise<EpochSummary> {
  const done = await checkpoints.rollbackTo(checkpoint, report.epoch, cause.trigger, cause.reason, { keepSeeds });
  const result: EpochResult = {
    epoch: report.epoch,
    trainLoss: done.evaluation.loss,
    validationLoss: done.evaluation.loss,
    validationAccuracy: done.evaluation.accuracy,
    durationMs: performance.now() - started,
    seeds: ctx.snapshot(),
  };
  ctx.recordEpoch(result, graftingDuring, { rolledBack: 1 });
  return {
    ...result,
    rolledBack: true,
    rollback: {
      cause: done.record.cause,
      reason: cause.reason,
      toEpoch: checkpoint.epoch,
      checkpointHostWeightsHash: checkpoint.hostWeightsHash,
      restoredHostWeightsHash: done.restoredHostWeightsHash,
      prunedSlots: done.prunedSlots,
    },
  };
}

async function trainWithFaults(ctx: RunContext, faults: EpochFaults | undefined): Promise<EpochReport> {
  let forceNonFinite = false;
  if (faults?.nanAtEpoch === ctx.iteration + 1) {
    let poisoned = 0;
    for (const state of ctx.current.values()) {
      if (LIVE_STAGES.has(state.stage) && (await ctx.client.request('poisonSeed', { slotId: state.slotId })).poisoned) poisoned++;
    }
    forceNonFinite = poisoned === 0;
    ctx.log?.warn({ runId: ctx.runId, epoch: ctx.iteration + 1, poisoned }, 'fault injection: NaN epoch');
  }
  const kill = faults?.killWorker;
  if (kill !== undefined && kill.fired !== true && kill.atEpoch === ctx.iteration + 1) {
    kill.fired = true;
    await kill.onKill?.();
    ctx.log?.warn({ runId: ctx.runId, epoch: ctx.iteration + 1 }, 'fault injection: training worker killed');
    await ctx.client.terminate();
  }
  const report = await ctx.client.request('runEpoch', null);
  return forceNonFinite ? { ...report, trainLoss: Number.NaN, nonFinite: true } : report;
}

/**
 * True when a graft ended at the boundary after `epoch`: a seed left BLENDING or HOLDING for PRUNED (its output left the network) or
 * FOSSILIZED (merged: a width seed's units joined the host, the host's optimizer state restarted, and on a CNN the network was shrunk
 * and perturbed once its growth phase ended). The epoch after it is the first trained with what the graft left.
 */
function graftEndedAt(ctx: RunContext, epoch: number): boolean {
  return [...ctx.histories.values()].some((history) => history.some((t) => t.epoch === epoch && (t.to === 'PRUNED' || t.to === 'FOSSILIZED') && GRAFTING_STAGES.has(t.from)));
}
