/**
 * The arithmetic of `esper run --compare` (pure): parameter efficiency
 * interpolated on the static models, and the `--repeats` records and their
 * median / minimum / maximum.
 */
import type { EpochResult, ParameterEfficiency, RepeatStats, RunCompare, RunRepeat, RunRepeatSummary, RunResults } from '../contracts/run.ts';

/** A static model trained from scratch: its parameters and final validation accuracy. */
export interface StaticPoint {
  params: number;
  accuracy: number;
  /** One-line topology, for the note. */
  topology?: string;
}

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Epochs {@link tailAccuracy} averages: a run's last ones. */
export const TAIL_EPOCHS = 5;

/**
 * Mean validation accuracy over the last `count` epochs of a run (each
 * epoch's last record: an epoch trained again after a rollback counts once,
 * as it ended); undefined when the run has no epoch.
 */
export function tailAccuracy(epochs: readonly EpochResult[], count = TAIL_EPOCHS): number | undefined {
  const last = new Map<number, number>();
  for (const e of epochs) last.set(e.epoch, e.validationAccuracy);
  const tail = [...last.entries()].sort((a, b) => a[0] - b[0]).slice(-count);
  if (tail.length === 0) return undefined;
  return tail.reduce((sum, [, accuracy]) => sum + accuracy, 0) / tail.length;
}

/** Median, minimum and maximum of the finite `values`; undefined when there are none. */
export function repeatStats(values: readonly (number | null | undefined)[]): RepeatStats | undefined {
  const finite = values.filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
  if (finite.length === 0) return undefined;
  return { n: finite.length, median: median(finite), min: Math.min(...finite), max: Math.max(...finite) };
}

const pct = (accuracy: number): string => `${(accuracy * 100).toFixed(2)}%`;
const int = (value: number): string => String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const named = (p: StaticPoint): string => `${p.topology ?? `${int(p.params)} params`} (${pct(p.accuracy)})`;

/**
 * Parameter efficiency (see `ParameterEfficiencySchema`): the parameters a
 * static model needs for `grown.accuracy`, over the parameters growth added
 * (`grown.params − hostParams`). The static curve is `statics` sorted by
 * parameters, accuracy interpolated linearly in log(parameters) between
 * neighbours; the first crossing of the grown accuracy counts.
 */
export function parameterEfficiency(statics: readonly StaticPoint[], grown: { params: number; accuracy: number }, host: StaticPoint): ParameterEfficiency {
  const paramsAdded = Math.max(0, Math.round(grown.params - host.params));
  const undefinedBecause = (note: string): ParameterEfficiency => ({ value: null, staticParamsNeeded: null, paramsAdded, note: `n/a: ${note}` });
  if (paramsAdded === 0) return undefinedBecause('growth added no parameters');
  if (grown.accuracy <= host.accuracy) return undefinedBecause(`the grown model (${pct(grown.accuracy)}) is no better than the host alone (${pct(host.accuracy)})`);
  const curve = [...statics].filter((p) => p.params > 0).sort((a, b) => a.params - b.params || a.accuracy - b.accuracy);
  const at = curve.findIndex((p) => p.accuracy >= grown.accuracy);
  if (at < 0) {
    const best = curve.reduce<StaticPoint | undefined>((b, p) => (b === undefined || p.accuracy > b.accuracy ? p : b), undefined);
    return undefinedBecause(`no static model reaches the grown accuracy ${pct(grown.accuracy)}${best === undefined ? '' : ` (best: ${named(best)})`}`);
  }
  const hi = curve[at] as StaticPoint;
  const lo = curve[at - 1];
  let needed: number;
  let how: string;
  if (lo === undefined) {
    needed = hi.params;
    how = `the smallest static model, ${named(hi)}, already reaches it`;
  } else {
    const t = (grown.accuracy - lo.accuracy) / (hi.accuracy - lo.accuracy);
    needed = Math.exp(Math.log(lo.params) + t * (Math.log(hi.params) - Math.log(lo.params)));
    how = `log-linear between ${named(lo)} and ${named(hi)}`;
  }
  return {
    value: needed / paramsAdded,
    staticParamsNeeded: needed,
    paramsAdded,
    note: `a static model needs ≈ ${int(needed)} parameters for the grown accuracy ${pct(grown.accuracy)} (${how}); growth added ${int(paramsAdded)}`,
  };
}

/** One `--repeats` row from a grown run and its comparison. */
export function repeatRecord(grown: RunResults, compare: RunCompare): RunRepeat {
  return {
    seed: grown.spec.training.seed,
    runId: grown.runId,
    hostAccuracy: compare.hostAccuracy,
    grownAccuracy: compare.grownAccuracy,
    staticAccuracy: compare.staticAccuracy,
    bottleneckResolution: compare.bottleneckResolution,
    ...(compare.tailBottleneckResolution === undefined ? {} : { tailBottleneckResolution: compare.tailBottleneckResolution }),
    ...(compare.testBottleneckResolution === undefined ? {} : { testBottleneckResolution: compare.testBottleneckResolution }),
    ...(compare.hostTestAccuracy === undefined ? {} : { hostTestAccuracy: compare.hostTestAccuracy }),
    ...(compare.grownTestAccuracy === undefined ? {} : { grownTestAccuracy: compare.grownTestAccuracy }),
    ...(compare.staticTestAccuracy === undefined ? {} : { staticTestAccuracy: compare.staticTestAccuracy }),
    maxGraftDropPct: grown.maxGraftDropPct,
    ...(compare.staticDropInGraftEpochsPct === undefined ? {} : { staticDropInGraftEpochsPct: compare.staticDropInGraftEpochsPct }),
    hostParams: compare.hostParams ?? grown.parameterCount.host,
    grownParams: compare.grownParams ?? grown.parameterCount.total,
    staticParams: compare.staticParams,
    staticRule: compare.staticRule ?? 'parameter-matched',
    grownTopology: compare.grownTopology ?? '',
    staticTopology: compare.staticTopology ?? '',
    parameterEfficiency: compare.parameterEfficiency?.value ?? null,
    weightsHash: grown.weightsHash,
  };
}

/** Median / min / max of every metric over the repeats. */
export function summarizeRepeats(repeats: readonly RunRepeat[]): RunRepeatSummary {
  const of = (pick: (r: RunRepeat) => number | null | undefined): RepeatStats | undefined => repeatStats(repeats.map(pick));
  const required = (pick: (r: RunRepeat) => number): RepeatStats => of(pick) ?? { n: 0, median: 0, min: 0, max: 0 };
  const optional = <K extends string>(key: K, stats: RepeatStats | undefined): Partial<Record<K, RepeatStats>> =>
    (stats === undefined ? {} : { [key]: stats }) as Partial<Record<K, RepeatStats>>;
  return {
    repeats: repeats.length,
    ...optional('bottleneckResolution', of((r) => r.bottleneckResolution)),
    undefinedResolutions: repeats.filter((r) => r.bottleneckResolution === null).length,
    ...optional('tailBottleneckResolution', of((r) => r.tailBottleneckResolution)),
    ...optional('testBottleneckResolution', of((r) => r.testBottleneckResolution)),
    hostAccuracy: required((r) => r.hostAccuracy),
    grownAccuracy: required((r) => r.grownAccuracy),
    staticAccuracy: required((r) => r.staticAccuracy),
    ...optional('hostTestAccuracy', of((r) => r.hostTestAccuracy)),
    ...optional('grownTestAccuracy', of((r) => r.grownTestAccuracy)),
    ...optional('staticTestAccuracy', of((r) => r.staticTestAccuracy)),
    maxGraftDropPct: required((r) => r.maxGraftDropPct),
    ...optional('staticDropInGraftEpochsPct', of((r) => r.staticDropInGraftEpochsPct)),
    ...optional('staticGainPts', of((r) => (r.staticAccuracy - r.hostAccuracy) * 100)),
    ...optional('parameterEfficiency', of((r) => r.parameterEfficiency)),
  };
}
