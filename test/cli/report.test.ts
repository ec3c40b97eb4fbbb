import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { RunResultsSchema, RunSpecSchema, SEED_STAGES, type RunResults, type SeedStage } from '../../src/contracts/index.ts';
import { formatBottleneckResolution, formatCount, formatDuration, formatPercent, renderReport } from '../../src/cli/report/report-html.ts';
import { renderSeedBands, seedLanes } from '../../src/cli/report/seed-bands.ts';
import { escapeXml, niceTicks, renderLineChart } from '../../src/cli/report/svg-chart.ts';

const EPOCHS = 16;
const EVIL_NAME = '<script>alert("pwned")</script> spirals & co';

/** Stages per epoch (1-based) of the two seeds of the synthetic run. */
const H1: SeedStage[] = ['DORMANT', 'DORMANT', 'GERMINATED', 'TRAINING', 'TRAINING', 'BLENDING', 'BLENDING', 'BLENDING', 'HOLDING', 'FOSSILIZED'];
const H2: SeedStage[] = ['DORMANT', 'DORMANT', 'DORMANT', 'DORMANT', 'GERMINATED', 'TRAINING', 'TRAINING', 'PRUNED', 'EMBARGOED', 'EMBARGOED', 'RESETTING', 'DORMANT'];
const stageAt = (stages: SeedStage[], epoch: number): SeedStage => stages[Math.min(epoch, stages.length) - 1]!;

/** Transitions implied by a per-epoch stage list. */
function history(stages: SeedStage[]): RunResults['seeds'][number]['history'] {
  const out: RunResults['seeds'][number]['history'] = [];
  for (let i = 1; i < stages.length; i++) {
    const from = stages[i - 1]!;
    const to = stages[i]!;
    if (from === to) continue;
    out.push({
      epoch: i + 1,
      from,
      to,
      cause: to === 'GERMINATED' ? { gate: 'G0', reason: 'plateau <3> epochs', commandId: 'cmd-1' } : { reason: `reached ${to}` },
      ...(to === 'GERMINATED' ? { blueprintId: 'mlp_small', kernelId: 'k'.repeat(40) } : {}),
    });
  }
  return out;
}

function syntheticResults(overrides: Partial<RunResults> = {}): RunResults {
  const spec = RunSpecSchema.parse({
    name: EVIL_NAME,
    epochs: 20,
    training: {
      dataset: { kind: 'spirals', n: 1000 },
      host: { kind: 'mlp', hidden: [6, 6] },
      slots: [
        { id: 'h1', afterLayer: 1 },
        { id: 'h2', afterLayer: 2 },
      ],
    },
  });
  const epochs = Array.from({ length: EPOCHS }, (_, i) => {
    const epoch = i + 1;
    const s1 = stageAt(H1, epoch);
    const s2 = stageAt(H2, epoch);
    const alpha1 = s1 === 'BLENDING' ? (epoch - 5) / 3 : s1 === 'HOLDING' || s1 === 'FOSSILIZED' ? 1 : 0;
    return {
      epoch,
      trainLoss: 1.1 * Math.exp(-epoch / 6) + 0.08,
      validationLoss: 1.15 * Math.exp(-epoch / 6) + 0.1 + (epoch === 7 ? 0.3 : 0),
      validationAccuracy: Math.min(0.99, 0.45 + 0.4 * (1 - Math.exp(-epoch / 4)) + (epoch >= 9 ? 0.05 : 0)),
      durationMs: 120 + epoch,
      // h2 has no snapshots after epoch 10: its lane is inferred from its history.
      seeds: [{ seedId: 'seed-h1', slotId: 'h1', stage: s1, alpha: alpha1 }, ...(epoch <= 10 ? [{ seedId: 'seed-h2', slotId: 'h2', stage: s2, alpha: 0 }] : [])],
    };
  });
  const results: RunResults = {
    runId: 'run-20250101-abc',
    spec,
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:02:05.000Z',
    backend: 'wasm',
    epochs,
    seeds: [
      { seedId: 'seed-h1', slotId: 'h1', blueprintId: 'mlp_small', kernelId: 'k'.repeat(40), history: history(H1), paramsAdded: 150 },
      { seedId: 'seed-h2', slotId: 'h2', blueprintId: 'mlp_small', kernelId: 'k'.repeat(40), history: history(H2), paramsAdded: 0 },
    ],
    finalAccuracy: 0.8512,
    testAccuracy: 0.831,
    parameterCount: { host: 1234, seeds: 150, total: 1384 },
    weightsHash: 'ab'.repeat(32),
    rollbacks: [{ epoch: 7, cause: 'divergence', checkpointId: 'ckpt-6', toEpoch: 6, reason: 'validation loss > 3× best' }],
    maxGraftDropPct: 1.25,
    compare: { hostAccuracy: 0.7, grownAccuracy: 0.85, staticAccuracy: 0.9, staticParams: 1402, bottleneckResolution: 0.75 },
    ...overrides,
  };
  return RunResultsSchema.parse(results);
}

const count = (haystack: string, needle: string | RegExp): number => haystack.split(needle).length - 1;

/** The `<svg …>…</svg>` element whose class list contains `cls`. */
function svgWithClass(html: string, cls: string): string {
  const match = new RegExp(`<svg class="[^"]*\\b${cls}\\b[^"]*"[\\s\\S]*?</svg>`).exec(html);
  expect(match, `an <svg> of class ${cls}`).to.not.equal(null);
  return match![0];
}

describe('cli/report', () => {
  describe('svg-chart', () => {
    it('escapes the five XML specials', () => {
      expect(escapeXml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    });

    it('chooses round ticks that cover the range', () => {
      expect(niceTicks(0, 1, 5)).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
      expect(niceTicks(43.2, 91.7, 5)).to.deep.equal([40, 50, 60, 70, 80, 90, 100]);
      expect(niceTicks(1, 36, 6, true)).to.deep.equal([0, 10, 20, 30, 40]);
      expect(niceTicks(1, 3, 10, true)).to.deep.equal([1, 2, 3]);
      expect(niceTicks(5, 5, 5)).to.include.members([5]);
    });

    it('draws one path per series (broken at non-finite points), escaped labels and a legend', () => {
      const svg = renderLineChart({
        title: 'a <b> chart',
        xLabel: 'epoch & co',
        yLabel: 'loss',
        series: [
          { name: 'train <loss>', points: [{ x: 1, y: 1 }, { x: 2, y: 0.5 }, { x: 3, y: NaN }, { x: 4, y: 0.2 }, { x: 5, y: 0.1 }] },
          { name: 'ref', points: [{ x: 1, y: 0.3 }, { x: 5, y: 0.3 }], dashed: true },
        ],
        markers: [{ x: 3, label: 'rollback' }],
      });
      expect(svg.startsWith('<svg')).to.equal(true);
      expect(svg).to.not.include('<b>');
      expect(svg).to.include('a &lt;b&gt; chart').and.include('epoch &amp; co').and.include('train &lt;loss&gt;');
      expect(count(svg, '<path ')).to.equal(3);
      expect(count(svg, 'stroke-dasharray="6 4"')).to.equal(1);
      expect(svg).to.include('class="marker"').and.include('rollback');
      expect(svg).to.match(/<g class="legend">.*train &lt;loss&gt;.*ref/);
      expect(svg).to.not.include('NaN');
    });

    it('says so when there is no data', () => {
      const svg = renderLineChart({ title: 'empty', series: [{ name: 's', points: [] }] });
      expect(svg).to.include('no data').and.not.include('NaN');
    });
  });

  describe('seed-bands', () => {
    it('derives per-slot stage segments from snapshots, and from histories where snapshots are missing', () => {
      const lanes = seedLanes(syntheticResults());
      expect(lanes.map((l) => l.slotId)).to.deep.equal(['h1', 'h2']);
      expect(lanes[0]!.segments).to.deep.equal([
        { fromEpoch: 1, toEpoch: 2, stage: 'DORMANT' },
        { fromEpoch: 3, toEpoch: 3, stage: 'GERMINATED' },
        { fromEpoch: 4, toEpoch: 5, stage: 'TRAINING' },
        { fromEpoch: 6, toEpoch: 8, stage: 'BLENDING' },
        { fromEpoch: 9, toEpoch: 9, stage: 'HOLDING' },
        { fromEpoch: 10, toEpoch: 16, stage: 'FOSSILIZED' },
      ]);
      expect(lanes[1]!.segments).to.deep.equal([
        { fromEpoch: 1, toEpoch: 4, stage: 'DORMANT' },
        { fromEpoch: 5, toEpoch: 5, stage: 'GERMINATED' },
        { fromEpoch: 6, toEpoch: 7, stage: 'TRAINING' },
        { fromEpoch: 8, toEpoch: 8, stage: 'PRUNED' },
        { fromEpoch: 9, toEpoch: 10, stage: 'EMBARGOED' },
        { fromEpoch: 11, toEpoch: 11, stage: 'RESETTING' },
        { fromEpoch: 12, toEpoch: 16, stage: 'DORMANT' },
      ]);
      expect(lanes[0]!.alpha.at(-1)).to.deep.equal({ x: 16, y: 1 });
    });

    it('lists a slot without seeds as one DORMANT lane, and says so when there are no slots', () => {
      const base = syntheticResults();
      const lanes = seedLanes({ ...base, seeds: [], epochs: base.epochs.map((e) => ({ ...e, seeds: [] })) });
      expect(lanes.map((l) => l.segments)).to.deep.equal([[{ fromEpoch: 1, toEpoch: 16, stage: 'DORMANT' }], [{ fromEpoch: 1, toEpoch: 16, stage: 'DORMANT' }]]);
      const empty = renderSeedBands({ lanes: [], firstEpoch: 1, lastEpoch: 5 });
      expect(empty).to.include('no seed slots');
      expect(count(empty, 'class="lane"')).to.equal(0);
    });
  });

  describe('renderReport', () => {
    const results = syntheticResults();
    const html = renderReport(results);

    before(() => {
      // For a look in a browser (`chromium --headless --screenshot … file:///tmp/esper-report-test.html`).
      writeFileSync(join(tmpdir(), 'esper-report-test.html'), html);
    });

    it('is one self-contained HTML page: no scripts, no external references', () => {
      expect(html.startsWith('<!DOCTYPE html>')).to.equal(true);
      expect(html).to.include('<style>');
      expect(html).to.not.match(/https?:\/\//);
      expect(html).to.not.match(/<script/i);
      expect(html).to.not.match(/<link|<img|<iframe|\bsrc=|url\(|@import/i);
    });

    it('escapes user strings (the run name, causes)', () => {
      expect(html).to.include('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; spirals &amp; co');
      expect(html).to.include('plateau &lt;3&gt; epochs');
      expect(html).to.not.include('plateau <3>');
      expect(html).to.include(`<title>Esper run report: ${escapeXml(EVIL_NAME)}</title>`);
    });

    it('has an accuracy chart, a loss chart and the seed bands, one lane per slot (and, with --compare, the parameters chart)', () => {
      expect(count(html, '<svg')).to.equal(4);
      const accuracy = svgWithClass(html, 'accuracy-chart');
      const loss = svgWithClass(html, 'loss-chart');
      expect(accuracy).to.include('validation accuracy').and.include('host alone (final)').and.include('static (final)');
      expect(loss).to.include('training loss').and.include('validation loss');
      expect(accuracy).to.include('rollback: divergence');
      const bands = svgWithClass(html, 'seed-bands');
      expect(count(bands, 'class="lane"')).to.equal(2);
      expect(bands).to.include('data-slot="h1"').and.include('data-slot="h2"');
      const legend = /<g class="legend">[\s\S]*?<\/g>/.exec(bands)?.[0] ?? '';
      for (const stage of SEED_STAGES) expect(legend, stage).to.include(`>${stage}<`);
    });

    it('shows the summary numbers and the comparison', () => {
      expect(html).to.include(formatPercent(0.8512)).and.include('85.12%');
      expect(html).to.include('83.10%');
      expect(html).to.include('1,384 total = 1,234 host + 150 seeds');
      expect(html).to.include('2 germinated, 1 fossilized, 1 pruned');
      expect(html).to.match(/Rollbacks<\/th><td>1</);
      expect(html).to.include('1.25%');
      expect(html).to.include(results.weightsHash);
      expect(html).to.include('0.75 (75% of the host→static gap closed)');
      expect(html).to.include('Host alone').and.include('70.00%').and.include('90.00%').and.include('1,402');
      expect(html).to.include('+15.00 pp');
      expect(html).to.include('16 run of 20');
      expect(html).to.include('(2 min 5 s)');
    });

    it('lists every seed with its history', () => {
      const seeds = /<table class="grid seeds">[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
      expect(count(seeds, '<tr>')).to.equal(3);
      expect(seeds).to.include('seed-h1').and.include('seed-h2').and.include('mlp_small');
      expect(count(seeds, '<li>')).to.equal(results.seeds.reduce((n, s) => n + s.history.length, 0));
      expect(seeds).to.include('G0 · blueprint mlp_small · plateau &lt;3&gt; epochs');
      expect(html).to.include('ckpt-6').and.include('validation loss &gt; 3× best');
    });

    it('lists the run’s kernels with their verdicts, and leaves the section out when there are none', () => {
      const withKernels = renderReport(
        syntheticResults({
          kernels: [
            { kernelId: 'a'.repeat(64), blueprintId: 'mlp_deep', interface: 'dense:3->3:float32', status: 'VALIDATED', riskScore: 0.0001, latencyP50Ms: 0.21, paramCount: 771, reasons: [] },
            { kernelId: 'b'.repeat(64), blueprintId: 'attention_se', interface: 'dense:3->3:float32', status: 'REJECTED', riskScore: 0.4, latencyP50Ms: 0.3, paramCount: 8, reasons: ['risk <0.4> ≥ 0.3'] },
          ],
        }),
      );
      const section = /<h2>Kernels<\/h2>[\s\S]*?<\/table>/.exec(withKernels)?.[0] ?? '';
      expect(count(section, '<tr>')).to.equal(3);
      expect(section).to.include('mlp_deep').and.include('REJECTED').and.include('risk &lt;0.4&gt; ≥ 0.3').and.include('aaaaaaaaaaaa…');
      expect(html).to.not.include('<h2>Kernels</h2>');
    });

    it('lists the field reports with outcome, window and metrics, and leaves the section out when there are none', () => {
      const withReports = renderReport(
        syntheticResults({
          fieldReports: [
            { commandId: 'c1', runId: 'run-1', seedId: 'seed-h1', blueprintId: 'mlp_deep', outcome: 'SUCCESS', metrics: { improvementPp: 18, contributionPp: 11, lossContributionPct: 42.5, paramsAdded: 771 }, observationWindow: { fromEpoch: 5, toEpoch: 13 }, policyVersion: 'heuristic@1' },
            { commandId: 'c2', runId: 'run-1', seedId: 'seed-h2', blueprintId: 'lora_r4', outcome: 'REGRESSION', metrics: { improvementPp: -1.5 }, observationWindow: { fromEpoch: 2, toEpoch: 7 }, policyVersion: 'heuristic@1' },
          ],
        }),
      );
      const section = /<h2>Field reports<\/h2>[\s\S]*?<\/table>/.exec(withReports)?.[0] ?? '';
      expect(count(section, '<tr>')).to.equal(3);
      expect(section).to.include('SUCCESS').and.include('5–13').and.include('18.0 pp').and.include('11.0 pp').and.include('42.5 %').and.include('771');
      expect(section).to.include('REGRESSION').and.include('-1.5 pp').and.include('—');
      expect(html).to.not.include('<h2>Field reports</h2>');
    });

    it('leaves the comparison out without --compare, and formats an undefined resolution', () => {
      const plain = renderReport(syntheticResults({ compare: undefined, rollbacks: [] }));
      expect(plain).to.not.include('Bottleneck resolution').and.not.include('<h2>Rollbacks</h2>');
      expect(count(plain, '<svg')).to.equal(3);
      const flat = renderReport(syntheticResults({ compare: { hostAccuracy: 0.8, grownAccuracy: 0.82, staticAccuracy: 0.8, staticParams: 10, bottleneckResolution: null } }));
      expect(flat).to.include(escapeXml(formatBottleneckResolution(null)));
    });

    it('renders a run with no epochs without NaN', () => {
      const empty = renderReport(syntheticResults({ epochs: [], seeds: [], rollbacks: [], compare: undefined }));
      expect(empty).to.not.include('NaN').and.not.include('Infinity');
      expect(count(empty, '<svg')).to.equal(3);
    });
  });

  describe('formatters', () => {
    it('format percentages, counts, durations and resolutions', () => {
      expect(formatPercent(0.5)).to.equal('50.00%');
      expect(formatPercent(undefined)).to.equal('—');
      expect(formatCount(1234567)).to.equal('1,234,567');
      expect(formatCount(12)).to.equal('12');
      expect(formatDuration(450)).to.equal('450 ms');
      expect(formatDuration(12_340)).to.equal('12.3 s');
      expect(formatDuration(125_000)).to.equal('2 min 5 s');
      expect(formatBottleneckResolution(1.25)).to.equal('1.25 (125% of the host→static gap closed)');
    });
  });
});
