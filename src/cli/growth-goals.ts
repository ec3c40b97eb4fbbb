/**
 * Whether a `--compare` run meets Esper's growth goals (DESIGN's key metric,
 * the fair protocol of docs/growth.md "Goals"): the bottleneck resolution
 * (median ≥ 0.9 and minimum ≥ 0.75 over the data seeds), the largest graft
 * drop (≤ 5 %), and that the growth is real — the static model of the grown
 * topology beats the host by ≥ 3 points, otherwise the resolution divides by
 * a gap the size of the noise. Pure: read off results.json.
 */
import type { RunCompare, RunRepeat, RunRepeatSummary, RunResults } from '../contracts/run.ts';
import { num } from './compare-table.ts';

/** The thresholds. */
export const GROWTH_GOALS = {
  /** Median bottleneck resolution over the data seeds (one run: its resolution). */
  medianResolution: 0.9,
  /** Lowest bottleneck resolution over the data seeds (`--repeats` only). */
  minResolution: 0.75,
  /** Largest graft drop, percent of the validation accuracy before the epoch. */
  maxGraftDropPct: 5,
  /** Static model of the grown topology minus the host, validation accuracy points (median over the data seeds). */
  minStaticGainPts: 3,
} as const;

export type GrowthGoalId = 'medianResolution' | 'minResolution' | 'graftDrop' | 'staticGain';

/** One goal: what was measured against what is asked; `met` null when the measure is undefined (no resolution: static = host). */
export interface GrowthGoalCheck {
  goal: GrowthGoalId;
  label: string;
  /** The measure, as text (`0.955`, `7.40%`, `6.65 pts (min 4.10)`). */
  measured: string;
  /** The requirement, as text (`≥ 0.90`). */
  required: string;
  met: boolean | null;
  /** Context that does not change the verdict (the static model's own drop over the same epochs). */
  note?: string;
}

/** Accuracies are fractions of a validation set: 0.83 − 0.8 is 0.0299999…; a value this close to its threshold meets it. */
const TOLERANCE = 1e-9;
const atLeast = (value: number, threshold: number): boolean => value >= threshold - TOLERANCE;

const pts = (fraction: number): string => `${(fraction * 100).toFixed(2)} pts`;

function resolutionCheck(goal: 'medianResolution' | 'minResolution', label: string, value: number | null | undefined, threshold: number): GrowthGoalCheck {
  const defined = value !== null && value !== undefined && Number.isFinite(value);
  return { goal, label, measured: num(value, 3), required: `≥ ${threshold.toFixed(2)}`, met: defined ? atLeast(value, threshold) : null };
}

function dropCheck(dropPct: number, staticSameEpochsPct: number | undefined, seed?: number): GrowthGoalCheck {
  const where = seed === undefined ? '' : `data seed ${seed}; `;
  return {
    goal: 'graftDrop',
    label: 'largest graft drop',
    measured: `${dropPct.toFixed(2)}%`,
    required: `≤ ${GROWTH_GOALS.maxGraftDropPct}%`,
    met: atLeast(GROWTH_GOALS.maxGraftDropPct, dropPct),
    ...(staticSameEpochsPct === undefined ? (seed === undefined ? {} : { note: `data seed ${seed}` }) : { note: `${where}the static model's own drop over the same epochs: ${staticSameEpochsPct.toFixed(2)}%` }),
  };
}

function gainCheck(medianGain: number, minGain: number | undefined): GrowthGoalCheck {
  return {
    goal: 'staticGain',
    label: 'static − host',
    measured: `${pts(medianGain)}${minGain === undefined ? '' : ` (min ${pts(minGain)})`}`,
    required: `≥ ${GROWTH_GOALS.minStaticGainPts} pts`,
    met: atLeast(medianGain * 100, GROWTH_GOALS.minStaticGainPts),
  };
}

/** The goals of one comparison (one data seed). */
export function singleRunGoals(compare: RunCompare, maxGraftDropPct: number): GrowthGoalCheck[] {
  return [
    resolutionCheck('medianResolution', 'resolution', compare.bottleneckResolution, GROWTH_GOALS.medianResolution),
    dropCheck(maxGraftDropPct, compare.staticDropInGraftEpochsPct),
    gainCheck(compare.staticAccuracy - compare.hostAccuracy, undefined),
  ];
}

/**
 * The goals over `--repeats` data seeds: median and minimum resolution, the
 * largest graft drop of any seed (with that seed's static model's own drop
 * over the same epochs), the median static − host gap.
 */
export function repeatGoals(repeats: readonly RunRepeat[], summary: RunRepeatSummary): GrowthGoalCheck[] {
  const worst = repeats.reduce<RunRepeat | undefined>((w, r) => (w === undefined || r.maxGraftDropPct > w.maxGraftDropPct ? r : w), undefined);
  const gain = summary.staticGainPts;
  const medianGain = gain === undefined ? summary.staticAccuracy.median - summary.hostAccuracy.median : gain.median / 100;
  return [
    resolutionCheck('medianResolution', 'median resolution', summary.bottleneckResolution?.median, GROWTH_GOALS.medianResolution),
    resolutionCheck('minResolution', 'minimum resolution', summary.bottleneckResolution?.min, GROWTH_GOALS.minResolution),
    dropCheck(summary.maxGraftDropPct.max, worst?.staticDropInGraftEpochsPct, worst?.seed),
    gainCheck(medianGain, gain === undefined ? undefined : gain.min / 100),
  ];
}

/** The goals of a run's results: over its repeats when it has more than one, else of its comparison; undefined without `--compare`. */
export function growthGoals(results: Pick<RunResults, 'compare' | 'repeats' | 'repeatSummary' | 'maxGraftDropPct'>): GrowthGoalCheck[] | undefined {
  const repeats = results.repeats ?? [];
  if (repeats.length > 1 && results.repeatSummary !== undefined) return repeatGoals(repeats, results.repeatSummary);
  return results.compare === undefined ? undefined : singleRunGoals(results.compare, results.maxGraftDropPct);
}

/** `met`, `NOT met` or `n/a`. */
export function verdictText(met: boolean | null): string {
  return met === null ? 'n/a' : met ? 'met' : 'NOT met';
}

/** The goals as aligned text lines (terminal). */
export function growthGoalsText(checks: readonly GrowthGoalCheck[]): string {
  const table = checks.map((c) => [c.label, c.measured, c.required, `${verdictText(c.met)}${c.note === undefined ? '' : ` (${c.note})`}`]);
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((row) => (row[i] as string).length)));
  return table.map((row) => `  ${row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] as number) : cell)).join('  ')}`.trimEnd()).join('\n');
}
