/**
 * `DIR/report.html` of `esper run` (DESIGN §9): one self-contained page
 * (inline CSS and SVG; no scripts, fonts, images or links to fetch) with the
 * run summary, the `--compare` comparison (compare-section.ts: models, accuracy
 * against parameters, parameter efficiency, `--repeats`), accuracy and loss per epoch, the seed
 * lifecycle bands and every seed's history. Pure: results in, HTML out;
 * every string from the results is HTML-escaped.
 */
import type { SeedStage } from '../../contracts/kasmina.ts';
import type { RunResults, SeedResult } from '../../contracts/run.ts';
import { STAGE_COLORS, renderSeedBands, seedLanes } from './seed-bands.ts';
import { type ChartMarker, type ChartSeries, renderLineChart } from './svg-chart.ts';
import { compareSection, goalsSection, repeatsSection } from './compare-section.ts';
import { escapeHtml, formatCount, formatDuration, formatPercent, kvRows } from './format.ts';

export { escapeHtml, formatBottleneckResolution, formatCount, formatDuration, formatPercent } from './format.ts';

/** A stage as a coloured chip. */
function stageChip(stage: SeedStage): string {
  return `<span class="stage" style="background:${STAGE_COLORS[stage]}">${stage}</span>`;
}

/** Counts of seeds reaching the terminal outcomes, and germinations. */
function seedCounts(seeds: readonly SeedResult[]): { germinated: number; fossilized: number; pruned: number } {
  const transitionsTo = (stage: SeedStage): number => seeds.reduce((n, s) => n + s.history.filter((h) => h.to === stage).length, 0);
  return { germinated: transitionsTo('GERMINATED'), fossilized: transitionsTo('FOSSILIZED'), pruned: transitionsTo('PRUNED') };
}

/** A seed's stage after its last transition. */
function finalStage(seed: SeedResult): SeedStage {
  return seed.history.at(-1)?.to ?? 'DORMANT';
}

/** A host network in one line, e.g. `MLP hidden [6, 6]`. */
function describeHost(results: RunResults): string {
  const host = results.spec.training.host;
  if (host.kind === 'mlp') return `MLP, hidden [${host.hidden.join(', ')}]`;
  const convs = host.convs.map((c) => `${c.filters}${c.kernelSize === undefined ? '' : `@${c.kernelSize}`}`).join(', ');
  return `CNN, convs [${convs}]${host.dense.length > 0 ? `, dense [${host.dense.join(', ')}]` : ''}`;
}

/** The dataset in one line, e.g. `spirals (n = 1,000)`. */
function describeDataset(results: RunResults): string {
  const data = results.spec.training.dataset;
  switch (data.kind) {
    case 'spirals':
      return `spirals (n = ${formatCount(data.n)}, noise ${data.noise}, ${data.turns} turns)`;
    case 'xor':
      return `xor (n = ${formatCount(data.n)}, noise ${data.noise})`;
    case 'fashion-mnist':
      return `fashion-mnist (${data.limit === undefined ? 'all' : `first ${formatCount(data.limit)}`} training examples, ${data.layout})`;
  }
}

function summarySection(results: RunResults): string {
  const counts = seedCounts(results.seeds);
  const p = results.parameterCount;
  const spec = results.spec;
  const durationMs = Date.parse(results.finishedAt) - Date.parse(results.startedAt);
  const lastEpoch = results.epochs.at(-1);
  const entries: [string, string][] = [
    ['Run id', `<code>${escapeHtml(results.runId)}</code>`],
    ['Backend', escapeHtml(results.backendFallbackReason === undefined ? results.backend : `${results.backend} (${results.backendFallbackReason})`)],
    ['Dataset', escapeHtml(describeDataset(results))],
    ['Host', escapeHtml(describeHost(results))],
    ['Slots', spec.training.slots.length === 0 ? 'none' : spec.training.slots.map((s) => `<code>${escapeHtml(s.id)}</code> after layer ${s.afterLayer}`).join(', ')],
    ['Epochs', `${formatCount(results.epochs.length)} run of ${formatCount(spec.epochs)}`],
    ['Started / finished', `${escapeHtml(results.startedAt)} → ${escapeHtml(results.finishedAt)} (${escapeHtml(formatDuration(durationMs))})`],
    ['Final validation accuracy', `<strong>${formatPercent(results.finalAccuracy)}</strong>`],
    ['Test accuracy', formatPercent(results.testAccuracy)],
    ['Final validation loss', lastEpoch === undefined ? '—' : lastEpoch.validationLoss.toFixed(4)],
    ['Parameters', `${formatCount(p.total)} total = ${formatCount(p.host)} host + ${formatCount(p.seeds)} seeds`],
    ['Seeds', `${counts.germinated} germinated, ${counts.fossilized} fossilized, ${counts.pruned} pruned`],
    ['Rollbacks', String(results.rollbacks.length)],
    ...(results.revivals === undefined ? [] : [['Dead layers revived', results.revivals.map(describeRevival).join('; ')] as [string, string]]),
    ['Largest graft drop', `${results.maxGraftDropPct.toFixed(2)}%`],
    ['Weights hash', `<code class="hash">${escapeHtml(results.weightsHash)}</code>`],
  ];
  return `<section><h2>Summary</h2>\n<table class="kv">\n${kvRows(entries)}\n</table></section>`;
}

function chartsSection(results: RunResults, markers: readonly ChartMarker[]): string {
  const epochs = results.epochs;
  const accuracy: ChartSeries[] = [{ name: 'validation accuracy', points: epochs.map((e) => ({ x: e.epoch, y: e.validationAccuracy * 100 })) }];
  const compare = results.compare;
  if (compare !== undefined && epochs.length > 0) {
    const first = epochs[0]?.epoch ?? 0;
    const last = epochs.at(-1)?.epoch ?? first;
    const flat = (y: number): { x: number; y: number }[] => [
      { x: first, y: y * 100 },
      { x: last, y: y * 100 },
    ];
    accuracy.push({ name: 'host alone (final)', points: flat(compare.hostAccuracy), dashed: true, color: '#6b7280' });
    accuracy.push({ name: 'static (final)', points: flat(compare.staticAccuracy), dashed: true, color: '#009e73' });
  }
  const accuracyChart = renderLineChart({
    title: 'Validation accuracy per epoch',
    series: accuracy,
    xLabel: 'epoch',
    yLabel: 'accuracy (%)',
    integerX: true,
    yClamp: [0, 100],
    markers,
    className: 'accuracy-chart',
  });
  const lossChart = renderLineChart({
    title: 'Loss per epoch',
    series: [
      { name: 'training loss', points: epochs.map((e) => ({ x: e.epoch, y: e.trainLoss })) },
      { name: 'validation loss', points: epochs.map((e) => ({ x: e.epoch, y: e.validationLoss })) },
    ],
    xLabel: 'epoch',
    yLabel: 'cross-entropy',
    integerX: true,
    yClamp: [0, Infinity],
    markers,
    className: 'loss-chart',
  });
  return `<section><h2>Training</h2>\n<div class="charts"><figure>${accuracyChart}</figure><figure>${lossChart}</figure></div></section>`;
}

function bandsSection(results: RunResults, markers: readonly ChartMarker[]): string {
  const epochs = results.epochs.map((e) => e.epoch);
  const first = epochs.length === 0 ? 0 : Math.min(...epochs);
  const last = epochs.length === 0 ? 0 : Math.max(...epochs);
  const svg = renderSeedBands({ lanes: seedLanes(results), firstEpoch: first, lastEpoch: last, markers });
  return `<section><h2>Seed lifecycle</h2>\n<figure class="wide">${svg}</figure></section>`;
}

function historyList(seed: SeedResult): string {
  if (seed.history.length === 0) return '<span class="muted">no transitions</span>';
  const items = seed.history.map((h) => {
    const detail = [h.cause.gate, h.blueprintId === undefined ? undefined : `blueprint ${h.blueprintId}`, h.cause.reason].filter((s) => s !== undefined);
    return `<li><span class="epoch">epoch ${h.epoch}</span> ${stageChip(h.from)} → ${stageChip(h.to)} <span class="cause">${escapeHtml(detail.join(' · '))}</span></li>`;
  });
  return `<ol class="history">${items.join('')}</ol>`;
}

function seedsSection(results: RunResults): string {
  if (results.seeds.length === 0) return '<section><h2>Seeds</h2><p class="muted">No seeds.</p></section>';
  const body = results.seeds
    .map(
      (s) =>
        `<tr><td><code>${escapeHtml(s.seedId)}</code></td><td><code>${escapeHtml(s.slotId)}</code></td>` +
        `<td>${s.blueprintId === undefined ? '—' : escapeHtml(s.blueprintId)}</td>` +
        `<td>${s.kernelId === undefined ? '—' : `<code class="hash" title="${escapeHtml(s.kernelId)}">${escapeHtml(s.kernelId.length > 16 ? `${s.kernelId.slice(0, 12)}…` : s.kernelId)}</code>`}</td>` +
        `<td>${stageChip(finalStage(s))}</td><td class="num">${formatCount(s.paramsAdded)}</td><td>${historyList(s)}</td></tr>`,
    )
    .join('\n');
  return (
    `<section><h2>Seeds</h2>\n<table class="grid seeds"><thead><tr><th>Seed</th><th>Slot</th><th>Blueprint</th><th>Kernel</th><th>Final stage</th><th>Params added</th><th>History</th></tr></thead>` +
    `<tbody>\n${body}\n</tbody></table></section>`
  );
}

function kernelsSection(results: RunResults): string {
  const kernels = results.kernels ?? [];
  if (kernels.length === 0) return '';
  const body = kernels
    .map(
      (k) =>
        `<tr><td>${escapeHtml(k.blueprintId)}</td><td><code>${escapeHtml(k.interface)}</code></td>` +
        `<td><code class="hash" title="${escapeHtml(k.kernelId)}">${escapeHtml(k.kernelId.slice(0, 12))}…</code></td>` +
        `<td>${escapeHtml(k.status)}</td><td class="num">${k.riskScore.toFixed(3)}</td><td class="num">${formatCount(k.paramCount)}</td>` +
        `<td class="num">${k.latencyP50Ms.toFixed(3)}</td><td>${escapeHtml(k.reasons.join('; '))}</td></tr>`,
    )
    .join('\n');
  return (
    `<section><h2>Kernels</h2>\n<p class="note">Compiled (Tezzeret) and validated (Urabrask) at the start of the run; Tamiyo chose among the VALIDATED ones.</p>\n` +
    `<table class="grid"><thead><tr><th>Blueprint</th><th>Interface</th><th>Kernel</th><th>Status</th><th>Risk</th><th>Params</th><th>Latency p50 (ms)</th><th>Reasons</th></tr></thead>` +
    `<tbody>\n${body}\n</tbody></table></section>`
  );
}

function fieldReportsSection(results: RunResults): string {
  const reports = results.fieldReports ?? [];
  if (reports.length === 0) return '';
  const metric = (value: number | undefined, unit: string): string => (value === undefined ? '—' : `${value.toFixed(1)}${unit}`);
  const body = reports
    .map(
      (r) =>
        `<tr><td><code>${escapeHtml(r.seedId)}</code></td><td>${escapeHtml(r.blueprintId)}</td><td>${escapeHtml(r.outcome)}</td>` +
        `<td class="num">${r.observationWindow.fromEpoch}–${r.observationWindow.toEpoch}</td>` +
        `<td class="num">${metric(r.metrics['improvementPp'], ' pp')}</td><td class="num">${metric(r.metrics['contributionPp'], ' pp')}</td>` +
        `<td class="num">${metric(r.metrics['lossContributionPct'], ' %')}</td>` +
        `<td class="num">${formatCount(r.metrics['paramsAdded'] ?? 0)}</td></tr>`,
    )
    .join('\n');
  return (
    `<section><h2>Field reports</h2>\n<p class="note">How each seed Tamiyo germinated ended, as filed for Karn.</p>\n` +
    `<table class="grid"><thead><tr><th>Seed</th><th>Blueprint</th><th>Outcome</th><th>Epochs</th><th>Improvement</th><th>Contribution</th><th>Loss contribution</th><th>Params added</th></tr></thead>` +
    `<tbody>\n${body}\n</tbody></table></section>`
  );
}

/** `L2–L3 (4 units) after epoch 1`: one revival of dead layers. */
function describeRevival(revival: NonNullable<RunResults['revivals']>[number]): string {
  return escapeHtml(`${revival.layers.map((l) => `L${l}`).join('–')} (${revival.units} units) after epoch ${revival.epoch}`);
}

function rollbacksSection(results: RunResults): string {
  if (results.rollbacks.length === 0) return '';
  const body = results.rollbacks
    .map(
      (r) =>
        `<tr><td class="num">${r.epoch}</td><td>${escapeHtml(r.cause)}</td><td class="num">${r.toEpoch === undefined ? '—' : r.toEpoch}</td>` +
        `<td><code>${escapeHtml(r.checkpointId)}</code></td><td>${r.reason === undefined ? '' : escapeHtml(r.reason)}</td></tr>`,
    )
    .join('\n');
  return (
    `<section><h2>Rollbacks</h2>\n<table class="grid"><thead><tr><th>Epoch</th><th>Cause</th><th>Restored epoch</th><th>Checkpoint</th><th>Detail</th></tr></thead>` +
    `<tbody>\n${body}\n</tbody></table></section>`
  );
}

function specSection(results: RunResults): string {
  return `<section><details><summary>Run specification</summary><pre>${escapeHtml(JSON.stringify(results.spec, null, 2))}</pre></details></section>`;
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #fff; }
main { max-width: 1180px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e5e7eb; }
p.subtitle { margin: 0; color: #57606a; }
table { border-collapse: collapse; }
table.kv th { text-align: left; font-weight: 500; color: #57606a; padding: 3px 18px 3px 0; vertical-align: top; white-space: nowrap; }
table.kv td { padding: 3px 0; }
table.grid { width: 100%; }
table.grid th, table.grid td { border: 1px solid #e5e7eb; padding: 5px 8px; text-align: left; vertical-align: top; }
table.grid thead th { background: #f6f8fa; font-weight: 600; }
table.compare { width: auto; min-width: 520px; }
tr.highlight th, tr.highlight td { background: #f0f7ff; font-weight: 600; }
table.grid td.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code.hash { overflow-wrap: anywhere; }
.note, .muted { color: #6b7280; }
p.resolution, p.efficiency { margin-top: 10px; }
tr.summary th, tr.summary td { background: #f6f8fa; }
tr.sweep th, tr.sweep td { color: #57606a; }
.formula { color: #6b7280; font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; flex: 1 1 540px; min-width: 0; }
figure svg { display: block; max-width: 100%; height: auto; }
figure.wide svg { width: 100%; }
.stage { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 11px; line-height: 18px; color: #111; border: 1px solid #00000022; }
ol.history { margin: 0; padding-left: 18px; }
ol.history li { margin: 1px 0; }
.epoch { display: inline-block; min-width: 62px; color: #57606a; font-variant-numeric: tabular-nums; }
.cause { color: #57606a; font-size: 12px; }
details pre { background: #f6f8fa; padding: 12px; overflow: auto; font-size: 12px; }
table.goals tr.met strong { color: #1a7f37; }
table.goals tr.unmet strong { color: #cf222e; }
footer { margin-top: 32px; color: #8b949e; font-size: 12px; }
`;

/** The whole report page for `results`. */
export function renderReport(results: RunResults): string {
  const markers: ChartMarker[] = [
    ...results.rollbacks.map((r) => ({ x: r.epoch, label: `rollback: ${r.cause}` })),
    ...(results.revivals ?? []).map((r) => ({ x: r.epoch, label: `revived ${r.layers.map((l) => `L${l}`).join('–')}` })),
  ];
  const title = `Esper run report: ${results.spec.name}`;
  const sections = [
    summarySection(results),
    results.compare === undefined ? '' : compareSection(results, results.compare),
    repeatsSection(results),
    goalsSection(results),
    chartsSection(results, markers),
    bandsSection(results, markers),
    seedsSection(results),
    fieldReportsSection(results),
    kernelsSection(results),
    rollbacksSection(results),
    specSection(results),
  ].filter((s) => s !== '');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(results.spec.name)}</h1>
<p class="subtitle">Esper run <code>${escapeHtml(results.runId)}</code> · ${escapeHtml(describeDataset(results))} · ${escapeHtml(describeHost(results))} · final accuracy ${formatPercent(results.finalAccuracy)}</p>
</header>
${sections.join('\n')}
<footer>Generated by Esper from results.json (${escapeHtml(results.finishedAt)}).</footer>
</main>
</body>
</html>
`;
}
