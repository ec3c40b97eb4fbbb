/**
 * Tolaria's stability governor (DESIGN §1, digest §5 `tolaria/governor.py`):
 * a pure watchdog fed one observation per epoch end that says whether the run
 * must roll back. Tolaria owns the rollback; the governor only judges.
 *
 * | cause | when | how fast |
 * |---|---|---|
 * | `non_finite` | the trainer saw a NaN/±Inf (`nonFinite`), or either loss is not finite | at once |
 * | `loss_at_chance` | the loss is back at chance, \|loss − ln C\| < `chance.tolerance`·ln C, after the window's mean had fallen below `chance.learnedFraction`·ln C | at once |
 * | `divergence` | loss > ceiling AND > mean + `sigmaK`·σ AND > `meanMultiple`·mean of the window | after `consecutive` anomalous epochs in a row |
 *
 * - The watched loss is the validation loss by default (`signal`): it is
 *   measured on the weights a checkpoint would keep. Both losses are checked
 *   for finiteness.
 * - The window holds the last `window` *healthy* losses: an anomalous sample
 *   never enters it, so a run of spikes cannot inflate the mean and σ it is
 *   judged against. The statistical checks wait until the window holds
 *   `minSamples` losses.
 * - The **ceiling** scales with the task: `ceiling.absolute` when set (the
 *   digest's 12, or 15 for TinyStories), else
 *   max(`ceiling.min`, `ceiling.chanceMultiple`·ln C) — 3·ln 10 ≈ 6.9 for ten
 *   classes, 3·ln 2 ≈ 2.1 for two: a loss three times worse than guessing.
 *   Without classes (C < 2) it is `ceiling.fallback` (12) and the chance
 *   check is off.
 * - Defaults (window 20, 6σ, 3×, 3 in a row) are the digest's, except
 *   `minSamples` (5, not 10: the governor sees one sample per epoch, and
 *   small tasks run tens of epochs) and the ceiling above.
 * - A rollback verdict clears the consecutive count; the window is kept (it
 *   holds healthy losses only, which the restored weights had reached).
 */
import { z } from 'zod';
import { parseFrozen, type RollbackTrigger } from '../../contracts/index.ts';

/** Configuration of the governor; every field has a default, so `{}` is valid. */
export const GovernorConfigSchema = z
  .object({
    /** Healthy losses kept for the statistics. @default 20 */
    window: z.number().int().min(2).max(10_000).default(20),
    /** Healthy losses needed before divergence and chance checks run. @default 5 */
    minSamples: z.number().int().min(1).default(5),
    /** A divergent loss exceeds mean + sigmaK·σ of the window. @default 6 */
    sigmaK: z.number().min(0).default(6),
    /** A divergent loss exceeds meanMultiple × the window's mean. @default 3 */
    meanMultiple: z.number().min(1).default(3),
    /** Anomalous epochs in a row before a divergence rollback. @default 3 */
    consecutive: z.number().int().min(1).default(3),
    ceiling: z
      .object({
        /** Fixed ceiling (the digest's 12; 15 for TinyStories); when absent the ceiling scales with ln C. */
        absolute: z.number().positive().optional(),
        /** Ceiling = chanceMultiple · ln C (C classes). @default 3 */
        chanceMultiple: z.number().positive().default(3),
        /** Lowest scaled ceiling. @default 1 */
        min: z.number().min(0).default(1),
        /** Ceiling when there are no classes (C < 2). @default 12 */
        fallback: z.number().positive().default(12),
      })
      .strict()
      .prefault({}),
    chance: z
      .object({
        /** The window's mean must have fallen below learnedFraction · ln C for a return to chance to count. @default 0.6 */
        learnedFraction: z.number().positive().max(1).default(0.6),
        /** A loss within tolerance · ln C of ln C is "at chance" (esper-lite: 0.065). @default 0.065 */
        tolerance: z.number().positive().max(1).default(0.065),
      })
      .strict()
      .prefault({}),
    /** Which loss the statistics watch. @default 'validation' */
    signal: z.enum(['validation', 'training']).default('validation'),
  })
  .strict();

/** Parsed, complete governor configuration. */
export type GovernorConfig = z.output<typeof GovernorConfigSchema>;
/** What a caller may write: any subset of the keys. */
export type GovernorConfigInput = z.input<typeof GovernorConfigSchema>;

/** Fills defaults, validates and freezes a governor config; every problem is listed in one ESPER_CONFIG_INVALID. */
export function parseGovernorConfig(input: unknown = {}): GovernorConfig {
  return parseFrozen(GovernorConfigSchema, input, 'stability governor configuration');
}

/** The defaults. */
export const DEFAULT_GOVERNOR_CONFIG: GovernorConfig = parseGovernorConfig({});

/** What the governor remembers (plain data). */
export interface GovernorState {
  /** The last healthy losses, oldest first (at most `window`). */
  readonly window: readonly number[];
  /** Anomalous epochs in a row. */
  readonly consecutive: number;
  /** Epoch of the last observation. */
  readonly lastEpoch: number | null;
}

/** The state before the first epoch. */
export function initialGovernorState(): GovernorState {
  return { window: [], consecutive: 0, lastEpoch: null };
}

/** One epoch's end, as the governor sees it. */
export interface GovernorObservation {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly validationLoss: number;
  /** Classes of the task (C): the chance loss is ln C. Below 2: no chance check, fallback ceiling. */
  readonly numClasses: number;
  /** The trainer saw a NaN or ±Inf (a loss, a gradient, a parameter). */
  readonly nonFinite: boolean;
}

/** Why the governor asks for a rollback. */
export type GovernorCause = 'non_finite' | 'divergence' | 'loss_at_chance';

/** The RollbackTrigger (contracts/tolaria.ts) each cause is recorded as. */
export const GOVERNOR_CAUSE_TRIGGER: Readonly<Record<GovernorCause, RollbackTrigger>> = Object.freeze({
  non_finite: 'non_finite',
  divergence: 'divergence',
  loss_at_chance: 'chance_collapse',
});

/** A rollback verdict: the cause, a human-readable reason and the numbers behind it. */
export interface RollbackVerdict {
  readonly rollback: true;
  readonly cause: GovernorCause;
  readonly reason: string;
  readonly measured: Readonly<Record<string, number | null>>;
}

/** `'ok'`, or a rollback. */
export type GovernorVerdict = 'ok' | RollbackVerdict;

/** Result of {@link observe}. */
export interface GovernorResult {
  readonly state: GovernorState;
  readonly verdict: GovernorVerdict;
  /** True when this epoch met every divergence condition (counted towards `consecutive`). */
  readonly anomalous: boolean;
}

/** Mean and population standard deviation. */
export function windowStats(values: readonly number[]): { mean: number; std: number } {
  if (values.length === 0) return { mean: 0, std: 0 };
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}

/** The divergence ceiling for a task of `numClasses` classes. */
export function divergenceCeiling(numClasses: number, config: GovernorConfig = DEFAULT_GOVERNOR_CONFIG): number {
  if (config.ceiling.absolute !== undefined) return config.ceiling.absolute;
  if (!(numClasses >= 2)) return config.ceiling.fallback;
  return Math.max(config.ceiling.min, config.ceiling.chanceMultiple * Math.log(numClasses));
}

const fmt = (value: number): string => (Number.isFinite(value) ? value.toPrecision(4).replace(/\.?0+$/, '') : String(value));
const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

/** Judges one epoch end. Pure: the same state and observation always give the same result. */
export function observe(state: GovernorState, observation: GovernorObservation, config: GovernorConfig = DEFAULT_GOVERNOR_CONFIG): GovernorResult {
  const { epoch, trainLoss, validationLoss, numClasses, nonFinite } = observation;
  const loss = config.signal === 'validation' ? validationLoss : trainLoss;

  if (nonFinite || !Number.isFinite(trainLoss) || !Number.isFinite(validationLoss)) {
    const what = nonFinite ? 'the trainer reported a non-finite value' : `non-finite loss (train ${fmt(trainLoss)}, validation ${fmt(validationLoss)})`;
    return {
      state: { ...state, consecutive: 0, lastEpoch: epoch },
      anomalous: false,
      verdict: {
        rollback: true,
        cause: 'non_finite',
        reason: `epoch ${epoch}: ${what}`,
        measured: { epoch, trainLoss: finiteOrNull(trainLoss), validationLoss: finiteOrNull(validationLoss) },
      },
    };
  }

  const ready = state.window.length >= config.minSamples;
  const { mean, std } = windowStats(state.window);

  if (ready && numClasses >= 2) {
    const chance = Math.log(numClasses);
    if (mean < config.chance.learnedFraction * chance && Math.abs(loss - chance) < config.chance.tolerance * chance) {
      return {
        state: { ...state, consecutive: 0, lastEpoch: epoch },
        anomalous: false,
        verdict: {
          rollback: true,
          cause: 'loss_at_chance',
          reason: `epoch ${epoch}: loss ${fmt(loss)} is back at chance ln ${numClasses} = ${fmt(chance)} after averaging ${fmt(mean)} (< ${fmt(config.chance.learnedFraction)}·ln C)`,
          measured: { epoch, loss, chance, mean },
        },
      };
    }
  }

  const ceiling = divergenceCeiling(numClasses, config);
  const statistical = mean + config.sigmaK * std;
  const multiple = config.meanMultiple * mean;
  const anomalous = ready && loss > ceiling && loss > statistical && loss > multiple;
  if (!anomalous) {
    const window = [...state.window, loss].slice(-config.window);
    return { state: { window, consecutive: 0, lastEpoch: epoch }, anomalous: false, verdict: 'ok' };
  }
  const consecutive = state.consecutive + 1;
  if (consecutive < config.consecutive) {
    return { state: { ...state, consecutive, lastEpoch: epoch }, anomalous: true, verdict: 'ok' };
  }
  return {
    state: { ...state, consecutive: 0, lastEpoch: epoch },
    anomalous: true,
    verdict: {
      rollback: true,
      cause: 'divergence',
      reason:
        `epoch ${epoch}: loss ${fmt(loss)} diverged ${consecutive} epochs in a row ` +
        `(> ceiling ${fmt(ceiling)}, > mean + ${fmt(config.sigmaK)}σ = ${fmt(statistical)}, > ${fmt(config.meanMultiple)}× mean = ${fmt(multiple)})`,
      measured: { epoch, loss, ceiling, mean, std, statistical, multiple, consecutive },
    },
  };
}
