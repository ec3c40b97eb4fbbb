/**
 * The `--compare` part of report.html (pure): the table of host, grown,
 * static and sweep models (topology, parameters, validation and test
 * accuracy, loss, training time), bottleneck resolution, parameter
 * efficiency, the accuracy-against-parameters chart (log parameters), and
 * with `--repeats N` the table of data seeds with median and minimum.
 */
import type { RepeatStats, RunCompare, RunResults } from '../../contracts/run.ts';
import { graftDropText, undefinedResolutionNote } from '../compare-table.ts';
import { growthGoals, verdictText } from '../growth-goals.ts';
import { escapeHtml, formatBottleneckResolution, formatCount, formatDeltaPp, formatDuration, formatPercent } from './format.ts';
import { type ChartMarker, type ChartSeries, renderLineChart } from './svg-chart.ts';

/** One model of the comparison. */
interface ModelRow {
  name: string;
  topology: string | undefined;
  params: number;
  accuracy: number;
  testAccuracy: number | undefined;
  loss: number | undefined;
  seconds: number | undefined;
  cls?: string;
}

/** The models of the comparison, host first (fields absent in older results fall back to the run's own counts). */
function modelRows(results: RunResults, c: RunCompare): ModelRow[] {
  const seconds = c.trainingSeconds;
  const rows: ModelRow[] = [
    { name: 'Host alone', topology: c.hostTopology, params: c.hostParams ?? results.parameterCount.host, accuracy: c.hostAccuracy, testAccuracy: c.hostTestAccuracy, loss: c.hostLoss, seconds: seconds?.host },
    {
      name: 'Grown (this run)',
      topology: c.grownTopology,
      params: c.grownParams ?? results.parameterCount.total,
      accuracy: c.grownAccuracy,
      testAccuracy: c.grownTestAccuracy,
      loss: c.grownLoss,
      seconds: seconds?.grown,
      cls: 'highlight',
    },
    {
      name: c.staticRule === 'parameter-matched' ? 'Static, parameter-matched' : 'Static, final topology',
      topology: c.staticTopology,
      params: c.staticParams,
      accuracy: c.staticAccuracy,
      testAccuracy: c.staticTestAccuracy,
      loss: c.staticLoss,
      seconds: seconds?.static === 0 ? undefined : seconds?.static,
    },
  ];
  for (const p of c.sweep ?? []) {
    rows.push({ name: `Sweep ×${p.factor}`, topology: p.topology, params: p.params, accuracy: p.accuracy, testAccuracy: p.testAccuracy, loss: p.loss, seconds: undefined, cls: 'sweep' });
  }
  return rows;
}

/** What the static rule means, in a sentence. */
function staticRuleNote(c: RunCompare): string {
  const topology = c.staticTopology === undefined ? '' : ` (${c.staticTopology})`;
  if (c.staticRule === 'final-topology') return `Static baseline: the grown model's final topology${topology} trained from scratch.`;
  if (c.staticRule === 'parameter-matched') {
    return (
      `Static baseline: parameter-matched${topology}. Depth seeds fossilized, which a plain host cannot express, so the final host's widths ` +
      `were scaled (steps of 1/16) until its parameter count reached the grown model's.`
    );
  }
  return 'Static baseline: a model of the grown model\'s size.';
}

/** The accuracy-against-parameters chart: the static models as a curve, the host, the grown model and the static baseline as points. */
function paramsChart(rows: readonly ModelRow[], c: RunCompare): string {
  // The host is also sweep ×1: each static architecture once on the curve.
  const statics = rows
    .filter((r, i) => r.cls !== 'highlight' && rows.findIndex((o) => o.cls !== 'highlight' && o.params === r.params && o.accuracy === r.accuracy) === i)
    .sort((a, b) => a.params - b.params);
  const grown = rows.find((r) => r.cls === 'highlight');
  const point = (r: ModelRow | undefined): { x: number; y: number }[] => (r === undefined ? [] : [{ x: r.params, y: r.accuracy * 100 }]);
  const xs = rows.map((r) => r.params).filter((p) => p > 0);
  const series: ChartSeries[] = [
    { name: 'static models, from scratch', points: statics.map((r) => ({ x: r.params, y: r.accuracy * 100 })), color: '#009e73' },
    { name: 'host alone', points: point(rows[0]), color: '#6b7280', pointRadius: 5 },
    { name: 'static baseline', points: point(rows[2]), color: '#007a5a', pointRadius: 5 },
    { name: 'grown (this run)', points: point(grown), color: '#0072b2', pointRadius: 6 },
  ];
  if (grown !== undefined && xs.length > 0) {
    series.push({ name: 'grown accuracy', points: [{ x: Math.min(...xs), y: grown.accuracy * 100 }, { x: Math.max(...xs), y: grown.accuracy * 100 }], dashed: true, color: '#0072b2' });
  }
  const needed = c.parameterEfficiency?.staticParamsNeeded;
  const markers: ChartMarker[] = needed === null || needed === undefined ? [] : [{ x: needed, label: `static needs ≈ ${formatCount(needed)}`, color: '#7a5a00' }];
  return renderLineChart({
    title: 'Validation accuracy against parameters',
    series,
    xLabel: 'trainable parameters (log scale)',
    yLabel: 'accuracy (%)',
    xScale: 'log',
    yClamp: [0, 100],
    markers,
    className: 'params-chart',
  });
}

/** The parameter-efficiency sentence. */
function efficiencyLine(c: RunCompare): string {
  const e = c.parameterEfficiency;
  if (e === undefined) return '';
  const value = e.value === null ? 'n/a' : `${e.value.toFixed(1)}×`;
  return (
    `<p class="efficiency">Parameter efficiency <span class="formula">(parameters a static model needs for the grown accuracy) / (parameters growth added); the design brief asks for 10–100×</span>: ` +
    `<strong>${escapeHtml(value)}</strong> — ${escapeHtml(e.note)}.</p>`
  );
}

/** The `--compare` section. */
export function compareSection(results: RunResults, c: RunCompare): string {
  const rows = modelRows(results, c);
  const hasTest = rows.some((r) => r.testAccuracy !== undefined);
  const line = (r: ModelRow): string =>
    `<tr${r.cls === undefined ? '' : ` class="${r.cls}"`}><th scope="row">${escapeHtml(r.name)}</th><td><code>${escapeHtml(r.topology ?? '—')}</code></td>` +
    `<td class="num">${formatCount(r.params)}</td><td class="num">${formatPercent(r.accuracy)}</td><td class="num">${formatDeltaPp(c.hostAccuracy, r.accuracy)}</td>` +
    (hasTest ? `<td class="num">${formatPercent(r.testAccuracy)}</td>` : '') +
    `<td class="num">${r.loss === undefined ? '—' : r.loss.toFixed(4)}</td><td class="num">${r.seconds === undefined ? '—' : escapeHtml(formatDuration(r.seconds * 1000))}</td></tr>`;
  const testResolution =
    c.testBottleneckResolution === undefined ? '' : `<br>On the test set: <strong>${escapeHtml(formatBottleneckResolution(c.testBottleneckResolution))}</strong>`;
  const tailResolution =
    c.tailBottleneckResolution === undefined
      ? ''
      : `<br>On each model's mean validation accuracy over its last 5 epochs (${formatPercent(c.hostTailAccuracy)} / ${formatPercent(c.grownTailAccuracy)} / ${formatPercent(c.staticTailAccuracy)}, less at the mercy of one epoch's fluctuation): <strong>${escapeHtml(formatBottleneckResolution(c.tailBottleneckResolution))}</strong>`;
  return (
    `<section><h2>Comparison</h2>\n<p class="note">Each model trained from scratch with the same epochs, optimizer, batch size and data seed (${results.spec.training.seed}). ` +
    `${escapeHtml(staticRuleNote(c))}${hasTest ? '' : ' The dataset has no test set.'}</p>\n` +
    `<table class="grid compare"><thead><tr><th>Model</th><th>Topology</th><th>Parameters</th><th>Validation accuracy</th><th>vs host</th>` +
    `${hasTest ? '<th>Test accuracy</th>' : ''}<th>Validation loss</th><th>Training time</th></tr></thead><tbody>\n` +
    rows.map(line).join('\n') +
    `\n</tbody></table>\n<p class="resolution">Bottleneck resolution <span class="formula">(grown − host) / (static − host)</span>: <strong>${escapeHtml(
      formatBottleneckResolution(c.bottleneckResolution),
    )}</strong>${testResolution}${tailResolution}</p>\n${efficiencyLine(c)}\n` +
    `<div class="charts"><figure>${paramsChart(rows, c)}</figure></div>` +
    (c.sweep === undefined ? `<p class="note">Run with <code>--sweep</code> to add static models of the host at ×2, ×4 and ×8 width to the curve.</p>` : '') +
    `</section>`
  );
}

/** `--repeats N` (N > 1): one row per data seed, then median and minimum. */
export function repeatsSection(results: RunResults): string {
  const repeats = results.repeats ?? [];
  const summary = results.repeatSummary;
  if (repeats.length < 2 || summary === undefined) return '';
  const hasTest = repeats.some((r) => r.grownTestAccuracy !== undefined);
  const hasTail = repeats.some((r) => r.tailBottleneckResolution !== undefined);
  const hasTestResolution = repeats.some((r) => r.testBottleneckResolution !== undefined);
  const resolution = (value: number | null | undefined): string => (value === null || value === undefined ? 'n/a' : value.toFixed(3));
  const efficiency = (value: number | null | undefined): string => (value === null || value === undefined ? 'n/a' : `${value.toFixed(1)}×`);
  const body = repeats
    .map(
      (r) =>
        `<tr><td class="num">${r.seed}</td><td class="num">${formatPercent(r.hostAccuracy)}</td><td class="num">${formatPercent(r.grownAccuracy)}</td>` +
        `<td class="num">${formatPercent(r.staticAccuracy)}</td><td class="num">${resolution(r.bottleneckResolution)}</td>${hasTail ? `<td class="num">${resolution(r.tailBottleneckResolution)}</td>` : ''}${hasTestResolution ? `<td class="num">${resolution(r.testBottleneckResolution)}</td>` : ''}<td class="num">${escapeHtml(graftDropText(r.maxGraftDropPct, r.staticDropInGraftEpochsPct))}</td>` +
        (hasTest ? `<td class="num">${formatPercent(r.hostTestAccuracy)} / ${formatPercent(r.grownTestAccuracy)} / ${formatPercent(r.staticTestAccuracy)}</td>` : '') +
        `<td class="num">${efficiency(r.parameterEfficiency)}</td><td><code>${escapeHtml(r.grownTopology)}</code></td><td><code>${escapeHtml(r.staticTopology)}</code></td></tr>`,
    )
    .join('\n');
  const stat = (which: 'median' | 'min'): string => {
    const v = (s: RepeatStats | undefined): number | undefined => s?.[which];
    const worst = which === 'median' ? 'median' : 'max';
    const drop = graftDropText(summary.maxGraftDropPct[worst], summary.staticDropInGraftEpochsPct?.[worst]);
    return (
      `<tr class="summary"><th scope="row">${which}</th><td class="num">${formatPercent(v(summary.hostAccuracy))}</td><td class="num">${formatPercent(v(summary.grownAccuracy))}</td>` +
      `<td class="num">${formatPercent(v(summary.staticAccuracy))}</td><td class="num"><strong>${resolution(v(summary.bottleneckResolution))}</strong></td>` +
      (hasTail ? `<td class="num">${resolution(v(summary.tailBottleneckResolution))}</td>` : '') +
      (hasTestResolution ? `<td class="num">${resolution(v(summary.testBottleneckResolution))}</td>` : '') +
      `<td class="num">${escapeHtml(drop)}${which === 'min' ? ' (max)' : ''}</td>` +
      (hasTest ? `<td class="num">${formatPercent(v(summary.hostTestAccuracy))} / ${formatPercent(v(summary.grownTestAccuracy))} / ${formatPercent(v(summary.staticTestAccuracy))}</td>` : '') +
      `<td class="num">${efficiency(v(summary.parameterEfficiency))}</td><td></td><td></td></tr>`
    );
  };
  const undefinedNote =
    summary.undefinedResolutions === 0 ? '' : ` ${undefinedResolutionNote(repeats, summary)}.`;
  return (
    `<section><h2>Repeats over data seeds</h2>\n<p class="note">The comparison on ${summary.repeats} data seeds (<code>training.seed</code>); the first is this run.${escapeHtml(undefinedNote)}</p>\n` +
    `<table class="grid repeats"><thead><tr><th>Seed</th><th>Host</th><th>Grown</th><th>Static</th><th>Resolution</th>${hasTail ? '<th>Last 5 epochs</th>' : ''}${hasTestResolution ? '<th>Test resolution</th>' : ''}<th>Graft drop</th>` +
    `${hasTest ? '<th>Test host / grown / static</th>' : ''}<th>Efficiency</th><th>Grown topology</th><th>Static topology</th></tr></thead>` +
    `<tbody>\n${body}\n${stat('median')}\n${stat('min')}\n</tbody></table></section>`
  );
}

/** Whether the comparison meets the growth goals (docs/growth.md "Goals"): over the repeats when there are several, else this data seed. */
export function goalsSection(results: RunResults): string {
  const goals = growthGoals(results);
  if (goals === undefined) return '';
  const seeds = (results.repeats?.length ?? 0) > 1 ? `${results.repeats?.length ?? 0} data seeds` : 'this data seed';
  const body = goals
    .map(
      (g) =>
        `<tr class="${g.met === null ? 'na' : g.met ? 'met' : 'unmet'}"><th scope="row">${escapeHtml(g.label)}</th><td class="num">${escapeHtml(g.measured)}</td>` +
        `<td class="num">${escapeHtml(g.required)}</td><td><strong>${verdictText(g.met)}</strong>${g.note === undefined ? '' : ` <span class="cause">${escapeHtml(g.note)}</span>`}</td></tr>`,
    )
    .join('\n');
  return (
    `<section><h2>Growth goals</h2>\n<p class="note">Over ${seeds}. The static − host gap says whether the growth is real: below 3 points the resolution divides by a gap the size of the noise.</p>\n` +
    `<table class="grid goals"><thead><tr><th>Goal</th><th>Measured</th><th>Required</th><th>Verdict</th></tr></thead><tbody>\n${body}\n</tbody></table></section>`
  );
}
