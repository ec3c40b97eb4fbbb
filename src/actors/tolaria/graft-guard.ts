/**
 * Tolaria's graft guard (DESIGN §2 rollback; digest: "any stage → rolled
 * back on a Tolaria stability breach"): a pure judge of one epoch trained
 * with a seed grafting (BLENDING, or HOLDING at α = 1). The governor catches
 * NaN, divergence and a return to chance; a graft can do less and still undo
 * most of what the host had learned (784-5-8-10 at SGD 0.2 fell 60.2 → 19.0 %
 * in the epoch its seed blended at α = ⅔, and never recovered to its static
 * twin). The guard asks for a rollback when the epoch's validation accuracy
 * fell below the previous epoch's by more than each of:
 *
 * - `minDropPct` percent of the accuracy before it (the design's "< 5 %
 *   degradation during a graft", measured as the growth goal measures it);
 * - `sigma` binomial standard errors of the previous accuracy p on the n
 *   validation examples, 100·√(p(1−p)/n) points: a fall a small validation
 *   split (spirals: 200 examples) shows by chance is not a collapse;
 * - `noiseMultiple` × the largest fall of an epoch without a graft so far:
 *   a run whose host already falls that far between epochs (plain SGD at a
 *   high rate) is noisy, not broken by the graft.
 *
 * It also asks that
 *
 * - (`lossMustRise`) the epoch's mean training loss rose: a graft that breaks
 *   a network upsets its optimisation (784-5-8-10 at SGD 0.2: 1.234 → 1.353
 *   as it fell 54.3 → 42.7 %), where a plain-SGD host's validation accuracy
 *   also falls 4–5 points on a falling loss (784-16-12-10 at SGD 0.15: 75.7 →
 *   71.1 % on 0.675 → 0.652, its static twin falling up to 12 % over the
 *   same epochs);
 * - the rollback wins back at least half the fall. It restores the boundary
 *   before the epoch and prunes the live seeds, so it leaves the previous
 *   accuracy less what the grafting seeds contributed then (their
 *   counterfactual contribution, measured with α = 0 at that epoch's end): a
 *   seed that already carries the network (HOLDING at α = 1 on spirals: 76.0 %
 *   with it, 65.0 % without) is not pruned for a fall that pruning deepens.
 *   Such an epoch may be retried instead (`retry`, opt-in): rolled back with
 *   the seeds kept and trained again on the next epoch's batches, as a large
 *   model's training restarts from a checkpoint before a loss spike and skips
 *   the batches that caused it; never twice in a row.
 */
import type { RunGraftGuardSpec } from '../../contracts/run.ts';

/** One recorded epoch, as the guard reads the run's history. */
export interface GuardedEpoch {
  /** Validation accuracy in [0, 1]. */
  validationAccuracy: number;
  /** Trained with a seed grafting (or the first epoch after a grafting seed was pruned). */
  grafting: boolean;
}

/** The epoch to judge. */
export interface GraftGuardInput {
  /** Validation accuracy before the epoch (the previous epoch's), in [0, 1]. */
  previousAccuracy: number;
  /** Validation accuracy after it, in [0, 1]. */
  accuracy: number;
  /** Mean training loss of the epoch before, and of this one. */
  previousTrainLoss: number;
  trainLoss: number;
  /** Examples in the validation split. */
  validationSize: number;
  /** Validation accuracy the rollback would leave, in [0, 1]: the previous one less the grafting seeds' contribution then. */
  restoredAccuracy: number;
  /** The run's epochs so far, oldest first (the judged one not included). */
  history: readonly GuardedEpoch[];
  /** The epoch before was itself retried by the guard (no second retry in a row). */
  retriedBefore: boolean;
}

/**
 * What the guard asks for: nothing; a rollback that prunes the grafting seeds
 * (it wins back at least half the fall); or a retry — the epoch rolled back
 * with the seeds kept, to be trained again on the next batches — where pruning
 * would not (the seed carries the network), once in a row.
 */
export type GraftGuardAction = 'none' | 'prune' | 'retry';

/** The guard's verdict with the numbers behind it (points). */
export interface GraftGuardVerdict {
  /** True for either rollback ({@link GraftGuardVerdict.action} not 'none'). */
  rollback: boolean;
  action: GraftGuardAction;
  /** previous − now, percentage points (negative: it rose). */
  dropPp: number;
  /** The fall that rolls back: the largest of the three bounds. */
  thresholdPp: number;
  bounds: { minDropPp: number; binomialPp: number; noisePp: number };
  /** What the rollback would win back: restored − now, percentage points (it must be at least half the fall). */
  recoveredPp: number;
  /** Whether the epoch's mean training loss rose over the previous epoch's (it must have). */
  lossRose: boolean;
  reason: string;
}

/** Largest fall between consecutive epochs where the later one had no graft, percentage points (0 without one). */
export function largestUngraftedFallPp(history: readonly GuardedEpoch[]): number {
  let largest = 0;
  for (let i = 1; i < history.length; i++) {
    if (history[i]!.grafting) continue;
    largest = Math.max(largest, (history[i - 1]!.validationAccuracy - history[i]!.validationAccuracy) * 100);
  }
  return largest;
}

/** Judges one grafting epoch; `config.enabled` false never rolls back. */
export function judgeGraftEpoch(config: RunGraftGuardSpec, input: GraftGuardInput): GraftGuardVerdict {
  const p = input.previousAccuracy;
  const dropPp = (p - input.accuracy) * 100;
  const binomialPp = input.validationSize > 0 ? config.sigma * 100 * Math.sqrt((p * (1 - p)) / input.validationSize) : Number.POSITIVE_INFINITY;
  const noisePp = config.noiseMultiple * largestUngraftedFallPp(input.history);
  const bounds = { minDropPp: config.minDropPct * p, binomialPp, noisePp };
  const thresholdPp = Math.max(bounds.minDropPp, bounds.binomialPp, bounds.noisePp);
  const recoveredPp = (input.restoredAccuracy - input.accuracy) * 100;
  const lossRose = input.trainLoss > input.previousTrainLoss;
  const fell = config.enabled && dropPp > thresholdPp && (lossRose || !config.lossMustRise);
  const action: GraftGuardAction = !fell ? 'none' : recoveredPp >= dropPp / 2 ? 'prune' : config.retry && !input.retriedBefore ? 'retry' : 'none';
  const reason =
    `graft epoch: validation accuracy ${(p * 100).toFixed(2)} → ${(input.accuracy * 100).toFixed(2)} % (fall ${dropPp.toFixed(2)} pts; ` +
    `bound ${thresholdPp.toFixed(2)}: min ${bounds.minDropPp.toFixed(2)}, ${config.sigma}σ of ${input.validationSize} examples ${binomialPp.toFixed(2)}, ${config.noiseMultiple}× largest ungrafted fall ${noisePp.toFixed(2)}; ` +
    `training loss ${input.previousTrainLoss.toFixed(4)} → ${input.trainLoss.toFixed(4)}; a rollback leaves ${(input.restoredAccuracy * 100).toFixed(2)} %)`;
  return { rollback: action !== 'none', action, dropPp, thresholdPp, bounds, recoveredPp, lossRose, reason };
}
