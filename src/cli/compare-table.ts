/**
 * Text of `esper run --compare` for the terminal: the comparison rows of the
 * final table and the `--repeats` table (one row per data seed, then median
 * and minimum). Pure.
 */
import type { RepeatStats, RunCompare, RunRepeat, RunRepeatSummary } from '../contracts/run.ts';

const pct = (fraction: number | undefined): string => (fraction === undefined ? '—' : `${(fraction * 100).toFixed(2)}%`);
/** A number to `digits` decimals, or `n/a` when undefined or not finite. */
export const num = (value: number | null | undefined, digits: number): string => (value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits));

/** `(test x%)` when a test accuracy is known. */
const withTest = (test: number | undefined): string => (test === undefined ? '' : `, test ${pct(test)}`);

/** A graft drop, with the static model's own drop over the same epochs when known: `0.79% (static 0.50%)`. */
export function graftDropText(grown: number, staticSameEpochs: number | undefined): string {
  return `${grown.toFixed(2)}%${staticSameEpochs === undefined ? '' : ` (static ${staticSameEpochs.toFixed(2)}%)`}`;
}

/** `(test x, last 5 epochs y)`: the resolution on test accuracy and on the last-5-epoch mean accuracies, when known (of a comparison or of one repeat). */
export function resolutionNotes(c: Pick<RunCompare, 'testBottleneckResolution' | 'tailBottleneckResolution'>): string {
  const notes = [
    ...(c.testBottleneckResolution === undefined ? [] : [`test ${num(c.testBottleneckResolution, 3)}`]),
    ...(c.tailBottleneckResolution === undefined ? [] : [`last 5 epochs ${num(c.tailBottleneckResolution, 3)}`]),
  ];
  return notes.length === 0 ? '' : ` (${notes.join(', ')})`;
}

/** Rows (label, value) of the comparison for the final table. */
export function compareRows(c: RunCompare): [string, string][] {
  const rows: [string, string][] = [
    ['host alone', `${pct(c.hostAccuracy)}${withTest(c.hostTestAccuracy)}  ${c.hostTopology ?? ''} (${c.hostParams ?? '?'} params)`],
    ['grown', `${pct(c.grownAccuracy)}${withTest(c.grownTestAccuracy)}  ${c.grownTopology ?? ''} (${c.grownParams ?? '?'} params)`],
    ['static', `${pct(c.staticAccuracy)}${withTest(c.staticTestAccuracy)}  ${c.staticTopology ?? ''} (${c.staticParams} params, ${c.staticRule ?? 'parameter-matched'})`],
    ['resolution', `${num(c.bottleneckResolution, 3)}${resolutionNotes(c)}`],
  ];
  if (c.staticDropInGraftEpochsPct !== undefined) rows.push(['static drop', `${c.staticDropInGraftEpochsPct.toFixed(2)}% over the grown run's graft epochs (the optimizer's own dips there)`]);
  for (const point of c.sweep ?? []) rows.push([`sweep ×${point.factor}`, `${pct(point.accuracy)}${withTest(point.testAccuracy)}  ${point.topology} (${point.params} params)`]);
  const e = c.parameterEfficiency;
  if (e !== undefined) rows.push(['param efficiency', e.value === null ? e.note : `${e.value.toFixed(1)}× — ${e.note}`]);
  return rows;
}

/** Left-aligned columns separated by two spaces. */
function columns(table: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of table) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** The `--repeats` table: one row per data seed, then the median and minimum rows. */
export function repeatsTable(repeats: readonly RunRepeat[], summary: RunRepeatSummary): string {
  const hasTest = repeats.some((r) => r.grownTestAccuracy !== undefined);
  const hasTail = repeats.some((r) => r.tailBottleneckResolution !== undefined);
  const hasTestResolution = repeats.some((r) => r.testBottleneckResolution !== undefined);
  const header = ['seed', 'host', 'grown', 'static', 'resolution', ...(hasTail ? ['last 5'] : []), ...(hasTestResolution ? ['test res.'] : []), 'graft drop', ...(hasTest ? ['test h/g/s'] : []), 'efficiency', 'grown topology', 'static topology'];
  const body = repeats.map((r) => [
    String(r.seed),
    pct(r.hostAccuracy),
    pct(r.grownAccuracy),
    pct(r.staticAccuracy),
    num(r.bottleneckResolution, 3),
    ...(hasTail ? [num(r.tailBottleneckResolution, 3)] : []),
    ...(hasTestResolution ? [num(r.testBottleneckResolution, 3)] : []),
    graftDropText(r.maxGraftDropPct, r.staticDropInGraftEpochsPct),
    ...(hasTest ? [`${pct(r.hostTestAccuracy)} / ${pct(r.grownTestAccuracy)} / ${pct(r.staticTestAccuracy)}`] : []),
    r.parameterEfficiency === null ? 'n/a' : `${r.parameterEfficiency.toFixed(1)}×`,
    r.grownTopology,
    `${r.staticTopology}${r.staticRule === 'parameter-matched' ? ' (param-matched)' : ''}`,
  ]);
  const stat = (which: 'median' | 'min'): string[] => {
    const s = (stats: RepeatStats | undefined): number | undefined => stats?.[which];
    const worst = which === 'median' ? 'median' : 'max';
    const drop = graftDropText(summary.maxGraftDropPct[worst], summary.staticDropInGraftEpochsPct?.[worst]);
    return [
      which === 'median' ? 'median' : 'min',
      pct(s(summary.hostAccuracy)),
      pct(s(summary.grownAccuracy)),
      pct(s(summary.staticAccuracy)),
      num(s(summary.bottleneckResolution), 3),
      ...(hasTail ? [num(s(summary.tailBottleneckResolution), 3)] : []),
      ...(hasTestResolution ? [num(s(summary.testBottleneckResolution), 3)] : []),
      `${drop}${which === 'min' ? ' (max)' : ''}`,
      ...(hasTest ? [`${pct(s(summary.hostTestAccuracy))} / ${pct(s(summary.grownTestAccuracy))} / ${pct(s(summary.staticTestAccuracy))}`] : []),
      summary.parameterEfficiency === undefined ? 'n/a' : `${summary.parameterEfficiency[which].toFixed(1)}×`,
      '',
      '',
    ];
  };
  const note = summary.undefinedResolutions > 0 ? `\n(${undefinedResolutionNote(repeats, summary)})` : '';
  return `${columns([header, ...body, stat('median'), stat('min')])}${note}`;
}

/**
 * Why some data seeds have no resolution (the static model scored exactly
 * what the host did), naming each: where nothing grew the static model is
 * the host itself — e.g. a host that was not a bottleneck, or whose revived
 * layers died again after their revivals (docs/growth.md, rules 7–8).
 */
export function undefinedResolutionNote(repeats: readonly RunRepeat[], summary: RunRepeatSummary): string {
  const why = repeats
    .filter((r) => r.bottleneckResolution === null)
    .map((r) =>
      r.grownParams === r.hostParams
        ? `data seed ${r.seed}: nothing grew, so the static model is the host (${pct(r.hostAccuracy)})`
        : `data seed ${r.seed}: the static ${r.staticTopology} scored what the host did (${pct(r.hostAccuracy)})`,
    );
  return `${summary.undefinedResolutions} of ${summary.repeats} seeds: resolution undefined, static = host; left out of median and min — ${why.join('; ')}`;
}
