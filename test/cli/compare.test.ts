/**
 * `esper run --compare` (issue 11, item 5): the static rule, topologies and
 * parameter counts, parameter efficiency, the `--repeats` statistics and
 * tables, the orchestration of the baselines (with a fake trainer), and the
 * report's comparison section. The end-to-end run is in compare-e2e.test.ts.
 */
import { expect } from 'chai';
import { RunResultsSchema, RunSpecSchema, type RunRepeat, type RunResults, type RunSpec, type RunSpecInput } from '../../src/contracts/run.ts';
import type { HostSpec } from '../../src/contracts/training-spec.ts';
import { ConfigError } from '../../src/errors/index.ts';
import { compareBaselines, compareRepeats } from '../../src/cli/compare.ts';
import {
  chooseStaticModel,
  dataShape,
  describeHost,
  describeTopology,
  hostParams,
  mlpParams,
  parameterMatchedHost,
  sameHost,
  sweepHosts,
} from '../../src/cli/compare-models.ts';
import { median, parameterEfficiency, repeatStats, summarizeRepeats, tailAccuracy } from '../../src/cli/compare-stats.ts';
import { compareRows, repeatsTable, undefinedResolutionNote } from '../../src/cli/compare-table.ts';
import { compareRepeatCount } from '../../src/cli/run.ts';
import { largestDropPct } from '../../src/actors/tolaria/index.ts';
import { renderReport } from '../../src/cli/report/report-html.ts';
import { formatCompact, logTicks, renderLineChart } from '../../src/cli/report/svg-chart.ts';
import { selectBackend } from '../../src/tensor/backend.ts';
import { cnnHost } from '../../src/tensor/hosts/cnn-host.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { throwsWith } from '../helpers/rejects-with.ts';
import { repeatRow } from '../helpers/run-repeat.ts';

const SPIRALS: RunSpecInput = {
  name: 'compare test',
  epochs: 3,
  training: { seed: 7, dataset: { kind: 'spirals', n: 200 }, host: { kind: 'mlp', hidden: [3, 3] }, slots: [{ id: 'h1', afterLayer: 1 }] },
};

/** Results of a run of `spec`: accuracy, parameters, fossils and topology as given. */
function fakeResults(options: {
  spec?: RunSpec;
  runId?: string;
  accuracy: number;
  host?: number;
  seeds?: number;
  testAccuracy?: number;
  fossil?: { slotId: string; params: number };
  topology?: RunResults['topology'];
}): RunResults {
  const spec = options.spec ?? RunSpecSchema.parse(SPIRALS);
  const host = options.host ?? hostParams(spec.training.host, dataShape(spec));
  const seeds = options.seeds ?? 0;
  const fossil = options.fossil;
  return RunResultsSchema.parse({
    runId: options.runId ?? 'run-c',
    spec,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:02.500Z',
    backend: 'wasm',
    epochs: [{ epoch: 1, trainLoss: 0.7, validationLoss: 0.6, validationAccuracy: options.accuracy, durationMs: 5, seeds: [] }],
    seeds:
      fossil === undefined
        ? []
        : [
            {
              seedId: `seed-${fossil.slotId}`,
              slotId: fossil.slotId,
              blueprintId: 'mlp_deep',
              history: [{ epoch: 2, from: 'HOLDING', to: 'FOSSILIZED', cause: { reason: 'earned its keep' } }],
              paramsAdded: fossil.params,
            },
          ],
    finalAccuracy: options.accuracy,
    ...(options.testAccuracy === undefined ? {} : { testAccuracy: options.testAccuracy }),
    parameterCount: { host, seeds, total: host + seeds },
    weightsHash: 'ab'.repeat(32),
    rollbacks: [],
    maxGraftDropPct: 1.5,
    ...(options.topology === undefined ? {} : { topology: options.topology }),
  });
}

describe('esper run --compare (issue 11)', () => {
  describe('models: topology, parameters, the static rule', () => {
    it('counts parameters of MLP and CNN hosts as the tensor hosts build them', async () => {
      await selectBackend('cpu');
      expect(mlpParams([784, 4, 10])).to.equal(784 * 4 + 4 + 4 * 10 + 10);
      const shape = { input: [28, 28, 1], classes: 10 };
      const convs = [{ filters: 4 }, { filters: 8, kernelSize: 5 }];
      const host: HostSpec = { kind: 'cnn', convs, dense: [16] };
      const model = cnnHost({ inputShape: [28, 28, 1], convs, dense: [16], classes: 10, rng: new Rng(1) });
      try {
        expect(hostParams(host, shape)).to.equal(model.hostParams.reduce((n, p) => n + p.size, 0));
      } finally {
        model.dispose();
      }
    });

    it('describes topologies in one line: MLP, CNN, depth fossils', () => {
      expect(describeHost({ kind: 'mlp', hidden: [12] }, { input: [784], classes: 10 })).to.equal('784-12-10');
      expect(describeHost({ kind: 'cnn', convs: [{ filters: 8 }, { filters: 16, kernelSize: 5 }], dense: [32] }, { input: [28, 28, 1], classes: 10 })).to.equal('28x28x1-c8-c16k5-32-10');
      const topology = { host: { kind: 'mlp' as const, hidden: [3, 3] }, depthSeeds: [{ slotId: 'h1', blueprintId: 'mlp_deep', params: 771 }] };
      expect(describeTopology(topology, { input: [2], classes: 2 })).to.equal('2-3-3-2 + mlp_deep@h1');
      expect(dataShape(RunSpecSchema.parse({ ...SPIRALS, training: { ...SPIRALS.training, dataset: { kind: 'fashion-mnist', layout: 'image' } } })).input).to.deep.equal([28, 28, 1]);
    });

    it('static = the final topology, exactly, when no depth seed fossilized', () => {
      const widened = fakeResults({ accuracy: 0.9, topology: { host: { kind: 'mlp', hidden: [36, 3] }, depthSeeds: [] } });
      expect(chooseStaticModel(widened)).to.deep.include({ rule: 'final-topology', host: { kind: 'mlp', hidden: [36, 3] } });
      // Nothing grown and no topology recorded (older loops): the spec's host.
      expect(chooseStaticModel(fakeResults({ accuracy: 0.7 }))).to.deep.include({ rule: 'final-topology', host: { kind: 'mlp', hidden: [3, 3] } });
    });

    it('static = parameter-matched with depth fossils: the final host scaled until it reaches the grown parameter count (the rule before issue 11)', () => {
      // The spirals example as shipped: 29 host + 771 seed parameters; the old staticHidden gave an 834-parameter MLP.
      const grown = fakeResults({ accuracy: 0.98, seeds: 771, fossil: { slotId: 'h1', params: 771 } });
      const choice = chooseStaticModel(grown);
      expect(choice.rule).to.equal('parameter-matched');
      expect(choice.grown.depthSeeds).to.deep.equal([{ slotId: 'h1', blueprintId: 'mlp_deep', params: 771 }]);
      expect(hostParams(choice.host, { input: [2], classes: 2 })).to.equal(834);
      // With a recorded topology, the widened host is the starting point.
      const both = fakeResults({ accuracy: 0.98, seeds: 771, topology: { host: { kind: 'mlp', hidden: [9, 3] }, depthSeeds: [{ slotId: 'h2', params: 771 }] } });
      const matched = chooseStaticModel(both).host;
      expect(matched.kind === 'mlp' && matched.hidden[0]! >= 9).to.equal(true);
      expect(hostParams(matched, { input: [2], classes: 2 })).to.be.at.least(both.parameterCount.total);
      expect(parameterMatchedHost({ kind: 'mlp', hidden: [3] }, { input: [2], classes: 2 }, 1)).to.deep.equal({ kind: 'mlp', hidden: [3] });
    });

    it('falls back to parameter-matched when a width seed fossilized but no topology was recorded', () => {
      const spec = RunSpecSchema.parse({ ...SPIRALS, training: { ...SPIRALS.training, slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }] } });
      expect(chooseStaticModel(fakeResults({ spec, accuracy: 0.9, fossil: { slotId: 'w1', params: 40 } })).rule).to.equal('parameter-matched');
    });

    it('sweeps the host at ×1, ×2, ×4, ×8 width (CNN: filters and dense widths)', () => {
      expect(sweepHosts({ kind: 'mlp', hidden: [4, 2] }).map((p) => [p.factor, p.host])).to.deep.equal([
        [1, { kind: 'mlp', hidden: [4, 2] }],
        [2, { kind: 'mlp', hidden: [8, 4] }],
        [4, { kind: 'mlp', hidden: [16, 8] }],
        [8, { kind: 'mlp', hidden: [32, 16] }],
      ]);
      expect(sweepHosts({ kind: 'cnn', convs: [{ filters: 2, kernelSize: 5 }], dense: [8] })[2]?.host).to.deep.equal({ kind: 'cnn', convs: [{ filters: 8, kernelSize: 5 }], dense: [32] });
      expect(sameHost({ kind: 'cnn', convs: [{ filters: 2 }], dense: [] }, { kind: 'cnn', convs: [{ filters: 2, kernelSize: 3 }], dense: [] })).to.equal(true);
      expect(sameHost({ kind: 'mlp', hidden: [2] }, { kind: 'mlp', hidden: [3] })).to.equal(false);
    });
  });

  describe('statistics', () => {
    it('median, minimum and maximum over the defined values', () => {
      expect(median([3, 1, 2])).to.equal(2);
      expect(median([4, 1, 3, 2])).to.equal(2.5);
      expect(median([])).to.be.NaN;
      expect(repeatStats([0.9, null, 0.5, undefined, 1.1])).to.deep.equal({ n: 3, median: 0.9, min: 0.5, max: 1.1 });
      expect(repeatStats([null, null])).to.equal(undefined);
    });

    it('parameter efficiency: static parameters for the grown accuracy, log-linear between static models, over the parameters added', () => {
      const host = { params: 100, accuracy: 0.7, topology: '2-3-2' };
      const statics = [host, { params: 1000, accuracy: 0.9 }];
      const e = parameterEfficiency(statics, { params: 150, accuracy: 0.8 }, host);
      expect(e.staticParamsNeeded).to.be.closeTo(Math.sqrt(100 * 1000), 1e-6);
      expect(e.paramsAdded).to.equal(50);
      expect(e.value).to.be.closeTo(Math.sqrt(1e5) / 50, 1e-9);
      expect(e.note).to.include('log-linear between 2-3-2 (70.00%)').and.include('growth added 50');
      // The first crossing counts, on a curve that is not monotone.
      const bumpy = parameterEfficiency([host, { params: 400, accuracy: 0.85 }, { params: 800, accuracy: 0.78 }, { params: 1600, accuracy: 0.9 }], { params: 150, accuracy: 0.8 }, host);
      expect(bumpy.staticParamsNeeded).to.be.closeTo(Math.exp(Math.log(100) + (2 / 3) * Math.log(4)), 1e-6);
    });

    it('parameter efficiency is n/a, with the reason, when undefined', () => {
      const host = { params: 100, accuracy: 0.7 };
      const never = parameterEfficiency([host, { params: 1000, accuracy: 0.8, topology: '2-30-2' }], { params: 150, accuracy: 0.85 }, host);
      expect(never).to.deep.include({ value: null, staticParamsNeeded: null, paramsAdded: 50 });
      expect(never.note).to.equal('n/a: no static model reaches the grown accuracy 85.00% (best: 2-30-2 (80.00%))');
      expect(parameterEfficiency([host], { params: 100, accuracy: 0.9 }, host).note).to.equal('n/a: growth added no parameters');
      expect(parameterEfficiency([host], { params: 150, accuracy: 0.7 }, host).note).to.include('no better than the host');
    });

    it('summarises repeats: median and min resolution over the seeds where it is defined', () => {
      const row = (seed: number, resolution: number | null, grown: number): Parameters<typeof summarizeRepeats>[0][number] => ({
        seed,
        runId: `run-${seed}`,
        hostAccuracy: 0.6,
        grownAccuracy: grown,
        staticAccuracy: 0.9,
        bottleneckResolution: resolution,
        grownTestAccuracy: grown - 0.01,
        maxGraftDropPct: seed,
        hostParams: 29,
        grownParams: 800,
        staticParams: 834,
        staticRule: 'parameter-matched',
        grownTopology: '2-3-3-2 + mlp_deep@h1',
        staticTopology: '2-19-19-2',
        parameterEfficiency: null,
        weightsHash: 'cd'.repeat(32),
      });
      const rows = [{ ...row(7, 0.97, 0.98), tailBottleneckResolution: 0.9 }, { ...row(8, null, 0.6), tailBottleneckResolution: null }, { ...row(9, 0.5, 0.75), staticDropInGraftEpochsPct: 4, tailBottleneckResolution: 0.8 }];
      const summary = summarizeRepeats(rows);
      expect(summary.tailBottleneckResolution).to.deep.include({ n: 2, min: 0.8, max: 0.9 });
      expect(summary.tailBottleneckResolution?.median).to.be.closeTo(0.85, 1e-12);
      expect(summary).to.deep.include({ repeats: 3, undefinedResolutions: 1, bottleneckResolution: { n: 2, median: 0.735, min: 0.5, max: 0.97 } });
      expect(summary.grownAccuracy).to.deep.equal({ n: 3, median: 0.75, min: 0.6, max: 0.98 });
      expect(summary.maxGraftDropPct).to.deep.equal({ n: 3, median: 8, min: 7, max: 9 });
      expect(summary.grownTestAccuracy?.median).to.be.closeTo(0.74, 1e-12);
      expect(summary.hostTestAccuracy).to.equal(undefined);
      expect(summary.parameterEfficiency).to.equal(undefined);
      const table = repeatsTable(rows, summary);
      expect(table.split('\n')[0]).to.match(/^seed\s+host\s+grown\s+static\s+resolution\s+last 5\s+graft drop\s+test h\/g\/s/);
      expect(table).to.match(/\nmedian\s+60\.00%\s+75\.00%\s+90\.00%\s+0\.735\s+0\.850\s+8\.00%/);
      expect(table).to.match(/\nmin\s+60\.00%\s+60\.00%\s+90\.00%\s+0\.500\s+0\.800\s+9\.00% \(static 4\.00%\) \(max\)/);
      expect(table).to.match(/\n9\s.*9\.00% \(static 4\.00%\)/);
      expect(summary.staticDropInGraftEpochsPct).to.deep.equal({ n: 1, median: 4, min: 4, max: 4 });
      expect(table).to.include('1 of 3 seeds: resolution undefined');
      // Each such seed is named, with why: here something grew (800 parameters against the host's 29).
      expect(table).to.include('data seed 8: the static 2-19-19-2 scored what the host did (60.00%)');
    });

    it('names a data seed where nothing grew (a dead host): the static model is the host', () => {
      const dead = repeatRow({ seed: 3, hostAccuracy: 0.0995, grownAccuracy: 0.0995, staticAccuracy: 0.0995, bottleneckResolution: null });
      const rows = [{ ...dead, grownParams: dead.hostParams }, repeatRow({ seed: 4, hostAccuracy: 0.8, grownAccuracy: 0.86, staticAccuracy: 0.86, bottleneckResolution: 1 })];
      const note = undefinedResolutionNote(rows, summarizeRepeats(rows));
      expect(note).to.equal('1 of 2 seeds: resolution undefined, static = host; left out of median and min — data seed 3: nothing grew, so the static model is the host (9.95%)');
    });

    it('summarizes the test-set resolution over the seeds where it is defined, and shows it beside the validation one', () => {
      const row = (seed: number, resolution: number, test: number | null): RunRepeat =>
        repeatRow({ seed, hostAccuracy: 0.8, grownAccuracy: 0.8 + resolution * 0.05, staticAccuracy: 0.85, bottleneckResolution: resolution, testBottleneckResolution: test });
      const rows = [row(0, 0.7, 1.1), row(1, 0.9, null), row(2, 0.8, 0.95), row(3, 1.0, 0.6)];
      const summary = summarizeRepeats(rows);
      expect(summary.testBottleneckResolution).to.deep.equal({ n: 3, median: 0.95, min: 0.6, max: 1.1 });
      expect(summary.bottleneckResolution?.n).to.equal(4);
      const table = repeatsTable(rows, summary);
      expect(table.split('\n')[0]).to.match(/^seed\s+host\s+grown\s+static\s+resolution\s+test res\.\s+graft drop/);
      expect(table).to.match(/\n1\s+80\.00%\s+84\.50%\s+85\.00%\s+0\.900\s+n\/a\s/);
      expect(table).to.match(/\nmedian\s+80\.00%\s+\S+\s+85\.00%\s+0\.850\s+0\.950\s/);
      expect(table).to.match(/\nmin\s+80\.00%\s+\S+\s+85\.00%\s+0\.700\s+0\.600\s/);
    });
  });

  describe('tail accuracy', () => {
    const epoch = (n: number, validationAccuracy: number): RunResults['epochs'][number] => ({ epoch: n, trainLoss: 0.5, validationLoss: 0.5, validationAccuracy, durationMs: 5, seeds: [] });
    it('averages the last 5 epochs (all of a shorter run), each epoch as it ended after a rollback', () => {
      expect(tailAccuracy([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((a, i) => epoch(i + 1, a)))).to.be.closeTo(0.5, 1e-12);
      expect(tailAccuracy([epoch(1, 0.2), epoch(2, 0.4)])).to.be.closeTo(0.3, 1e-12);
      // Epochs 3–4 rolled back and trained again: their second records count, once.
      const rolledBack = [epoch(1, 0.5), epoch(2, 0.5), epoch(3, 0.1), epoch(4, 0.1), epoch(3, 0.6), epoch(4, 0.7), epoch(5, 0.8), epoch(6, 0.9)];
      expect(tailAccuracy(rolledBack)).to.be.closeTo((0.5 + 0.6 + 0.7 + 0.8 + 0.9) / 5, 1e-12);
      expect(tailAccuracy([])).to.equal(undefined);
    });
  });

  describe('baselines (fake trainer)', () => {
    /** A trainer that records what it trained and answers with a fixed accuracy per hidden width. */
    function fakeTrainer(accuracyOf: (host: HostSpec) => number, test?: number): { trained: string[]; train: (spec: RunSpec, runId: string) => Promise<RunResults> } {
      const trained: string[] = [];
      return {
        trained,
        train: (spec, runId) => {
          trained.push(`${runId}:${describeHost(spec.training.host, dataShape(spec))}`);
          expect(spec.training.slots).to.deep.equal([]);
          return Promise.resolve(fakeResults({ spec, runId, accuracy: accuracyOf(spec.training.host), ...(test === undefined ? {} : { testAccuracy: test }) }));
        },
      };
    }
    const width = (host: HostSpec): number => (host.kind === 'mlp' ? (host.hidden[0] ?? 0) : 0);

    it('trains the host and the final topology; a sweep point equal to either is not trained twice', async () => {
      const grown = fakeResults({ accuracy: 0.85, host: 47, testAccuracy: 0.84, topology: { host: { kind: 'mlp', hidden: [6, 3] }, depthSeeds: [] } });
      const trainer = fakeTrainer((h) => Math.min(0.95, 0.6 + width(h) * 0.04), 0.5);
      const compare = await compareBaselines(grown, { train: trainer.train, sweep: true });
      expect(trainer.trained).to.deep.equal(['run-c-host:2-3-3-2', 'run-c-static:2-6-3-2', 'run-c-sweep-x2:2-6-6-2', 'run-c-sweep-x4:2-12-12-2', 'run-c-sweep-x8:2-24-24-2']);
      expect(compare).to.deep.include({
        hostAccuracy: 0.72,
        grownAccuracy: 0.85,
        staticRule: 'final-topology',
        staticHost: { kind: 'mlp', hidden: [6, 3] },
        hostTopology: '2-3-3-2',
        grownTopology: '2-6-3-2',
        staticTopology: '2-6-3-2',
        hostParams: 29,
        grownParams: 47,
        hostTestAccuracy: 0.5,
        grownTestAccuracy: 0.84,
        staticTestAccuracy: 0.5,
        hostLoss: 0.6,
      });
      expect(compare.staticAccuracy).to.be.closeTo(0.84, 1e-12);
      expect(compare.bottleneckResolution).to.be.closeTo(0.13 / 0.12, 1e-9);
      expect(compare.testBottleneckResolution).to.equal(null);
      expect(compare.sweep?.map((p) => [p.factor, p.topology, p.params])).to.deep.equal([
        [1, '2-3-3-2', 29],
        [2, '2-6-6-2', 74],
        [4, '2-12-12-2', 218],
        [8, '2-24-24-2', 722],
      ]);
      expect(compare.parameterEfficiency?.value).to.be.a('number');
      expect(compare.trainingSeconds).to.include({ grown: 2.5 });
      expect(compareRows(compare).map(([k]) => k)).to.include.members(['host alone', 'grown', 'static', 'resolution', 'sweep ×8', 'param efficiency']);
    });

    it("measures the static model's own drop over the grown run's graft epochs, as the graft drop is measured", async () => {
      const curve = (accuracies: number[]): RunResults['epochs'] =>
        accuracies.map((validationAccuracy, i) => ({ epoch: i + 1, trainLoss: 0.5, validationLoss: 0.5, validationAccuracy, durationMs: 5, seeds: [] }));
      // The grown run blended in epochs 3–4; the static model fell 20% at epoch 3 (80 → 64) and 50% at epoch 6, outside the window.
      const grown = RunResultsSchema.parse({ ...fakeResults({ accuracy: 0.85, topology: { host: { kind: 'mlp', hidden: [6, 3] }, depthSeeds: [] } }), graftEpochs: [3, 4] });
      const staticCurve = curve([0.5, 0.8, 0.64, 0.7, 0.9, 0.45]);
      const train = (spec: RunSpec, runId: string): Promise<RunResults> => {
        const results = fakeResults({ spec, runId, accuracy: width(spec.training.host) === 6 ? 0.9 : 0.7 });
        return Promise.resolve(width(spec.training.host) === 6 ? RunResultsSchema.parse({ ...results, epochs: staticCurve }) : results);
      };
      const compare = await compareBaselines(grown, { train });
      expect(compare.staticDropInGraftEpochsPct).to.be.closeTo(20, 1e-9);
      expect(compareRows(compare)).to.deep.include(['static drop', "20.00% over the grown run's graft epochs (the optimizer's own dips there)"]);
      // Without graft epochs (nothing blended, or results of earlier runs) there is nothing to compare.
      const none = await compareBaselines(fakeResults({ accuracy: 0.85, topology: { host: { kind: 'mlp', hidden: [6, 3] }, depthSeeds: [] } }), { train });
      expect(none).to.not.have.property('staticDropInGraftEpochsPct');
      expect(largestDropPct(staticCurve, [6])).to.be.closeTo(50, 1e-9);
      expect(largestDropPct(staticCurve, [1, 2, 5])).to.equal(0);
    });

    it("adds the resolution on each model's mean validation accuracy over its last 5 epochs, beside the final one", async () => {
      const curve = (accuracies: number[]): RunResults['epochs'] =>
        accuracies.map((validationAccuracy, i) => ({ epoch: i + 1, trainLoss: 0.5, validationLoss: 0.5, validationAccuracy, durationMs: 5, seeds: [] }));
      // The static model's last epoch is a high spike (0.90 after 0.86–0.87): the final accuracies say resolution 0.5, the last-5 means 0.9.
      const withCurve = (results: RunResults, accuracies: number[]): RunResults => RunResultsSchema.parse({ ...results, epochs: curve(accuracies), finalAccuracy: accuracies.at(-1) });
      const grown = withCurve(fakeResults({ accuracy: 0.85, topology: { host: { kind: 'mlp', hidden: [6, 3] }, depthSeeds: [] } }), [0.7, 0.84, 0.86, 0.85, 0.86, 0.85]);
      const train = (spec: RunSpec, runId: string): Promise<RunResults> => {
        const results = fakeResults({ spec, runId, accuracy: 0.8 });
        return Promise.resolve(width(spec.training.host) === 6 ? withCurve(results, [0.5, 0.86, 0.87, 0.86, 0.87, 0.9]) : withCurve(results, [0.6, 0.8, 0.8, 0.8, 0.8, 0.8]));
      };
      const compare = await compareBaselines(grown, { train });
      expect(compare.bottleneckResolution).to.be.closeTo(0.5, 1e-9);
      expect(compare.hostTailAccuracy).to.be.closeTo(0.8, 1e-9);
      expect(compare.grownTailAccuracy).to.be.closeTo(0.852, 1e-9);
      expect(compare.staticTailAccuracy).to.be.closeTo(0.872, 1e-9);
      expect(compare.tailBottleneckResolution).to.be.closeTo(0.052 / 0.072, 1e-9);
      expect(compareRows(compare)).to.deep.include(['resolution', '0.500 (last 5 epochs 0.722)']);
    });

    it('trains only the host when nothing grew (static = host, resolution undefined)', async () => {
      const trainer = fakeTrainer(() => 0.7);
      const compare = await compareBaselines(fakeResults({ accuracy: 0.7 }), { train: trainer.train });
      expect(trainer.trained).to.deep.equal(['run-c-host:2-3-3-2']);
      expect(compare).to.deep.include({ staticAccuracy: 0.7, bottleneckResolution: null, staticTopology: '2-3-3-2', trainingSeconds: { host: compare.trainingSeconds!.host, grown: 2.5, static: 0 } });
      expect(compare.parameterEfficiency?.note).to.equal('n/a: growth added no parameters');
      expect(compare).to.not.have.property('sweep');
      expect(compare).to.not.have.property('hostTestAccuracy');
    });

    it('repeats over data seeds spec seed, seed + 1, …, growing each later one', async () => {
      const grownSeeds: number[] = [];
      const trainer = fakeTrainer(() => 0.7);
      const { compare, repeats } = await compareRepeats(fakeResults({ accuracy: 0.8, host: 29, seeds: 20, fossil: { slotId: 'h1', params: 20 } }), {
        repeats: 3,
        train: trainer.train,
        grow: (spec, runId) => {
          grownSeeds.push(spec.training.seed);
          return Promise.resolve(fakeResults({ spec, runId, accuracy: 0.75 }));
        },
      });
      expect(grownSeeds).to.deep.equal([8, 9]);
      expect(repeats.map((r) => [r.seed, r.runId])).to.deep.equal([
        [7, 'run-c'],
        [8, 'run-c-seed8'],
        [9, 'run-c-seed9'],
      ]);
      expect(compare.grownAccuracy).to.equal(0.8);
      expect(trainer.trained.filter((t) => t.startsWith('run-c-seed9-host'))).to.have.length(1);
    });
  });

  describe('flags', () => {
    const spec = RunSpecSchema.parse(SPIRALS);

    it('--repeats and --sweep need --compare; --repeats is a whole number in 1–100', () => {
      expect(compareRepeatCount({}, spec)).to.equal(1);
      expect(compareRepeatCount({ compare: true, repeats: '5' }, spec)).to.equal(5);
      const lonely = throwsWith(() => compareRepeatCount({ repeats: '2', sweep: true }, spec), ConfigError);
      expect(lonely.details?.['issues']).to.have.length(2);
      for (const bad of ['0', '2.5', 'x', '101', '-1']) throwsWith(() => compareRepeatCount({ compare: true, repeats: bad }, spec), ConfigError);
      const late = RunSpecSchema.parse({ ...SPIRALS, training: { ...SPIRALS.training, seed: 2 ** 32 - 1 } });
      throwsWith(() => compareRepeatCount({ compare: true, repeats: '2' }, late), ConfigError);
    });
  });

  describe('report', () => {
    it('log axis: 1-2-5 ticks, compact labels', () => {
      expect(logTicks(Math.log10(29), Math.log10(834)).map((t) => Math.round(10 ** t))).to.deep.equal([50, 100, 200, 500]);
      expect(logTicks(0, 5).map((t) => Math.round(10 ** t))).to.deep.equal([1, 10, 100, 1000, 10000, 100000]);
      expect([850, 1234, 34_000, 2_500_000].map(formatCompact)).to.deep.equal(['850', '1.2k', '34k', '2.5M']);
      const svg = renderLineChart({ title: 't', xScale: 'log', series: [{ name: 's', points: [{ x: 0, y: 1 }, { x: 100, y: 2 }, { x: 1000, y: 3 }] }] });
      expect(svg).to.include('>1k<').and.not.include('NaN');
    });

    it('draws accuracy against parameters and states resolution, efficiency and the repeats with median and minimum', async () => {
      const grown = fakeResults({ accuracy: 0.85, host: 47, testAccuracy: 0.84, topology: { host: { kind: 'mlp', hidden: [6, 3] }, depthSeeds: [] } });
      const trainer = (spec: RunSpec, runId: string): Promise<RunResults> =>
        Promise.resolve(fakeResults({ spec, runId, accuracy: Math.min(0.95, 0.6 + (spec.training.host.kind === 'mlp' ? spec.training.host.hidden[0]! : 0) * 0.04), testAccuracy: Math.min(0.94, 0.59 + (spec.training.host.kind === 'mlp' ? spec.training.host.hidden[0]! : 0) * 0.04) }));
      const { compare, repeats } = await compareRepeats(grown, { repeats: 2, sweep: true, train: trainer, grow: (spec, runId) => Promise.resolve(fakeResults({ spec, runId, accuracy: 0.8, testAccuracy: 0.79 })) });
      const html = renderReport(RunResultsSchema.parse({ ...grown, compare, repeats, repeatSummary: summarizeRepeats(repeats) }));
      const chart = /<svg class="chart params-chart"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
      expect(chart).to.include('Validation accuracy against parameters').and.include('static models, from scratch').and.include('grown (this run)').and.include('static needs ≈');
      expect(html).to.include('Static, final topology').and.include('<code>2-6-3-2</code>').and.include('Sweep ×8').and.include('<th>Test accuracy</th>');
      expect(html).to.include('Parameter efficiency').and.include(`${compare.parameterEfficiency!.value!.toFixed(1)}×`);
      expect(html).to.include('On the test set').and.include('mean validation accuracy over its last 5 epochs');
      const section = /<h2>Repeats over data seeds<\/h2>[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
      expect(section).to.include('<th>Last 5 epochs</th>').and.include('<th>Test resolution</th>');
      const testResolution = summarizeRepeats(repeats).testBottleneckResolution;
      expect(testResolution?.n).to.equal(1); // the second seed grew nothing: static = host, no resolution
      expect(section).to.include(`<td class="num">${testResolution!.median.toFixed(3)}</td>`);
      expect(section).to.include('<th scope="row">median</th>').and.include('<th scope="row">min</th>').and.include('>8</td>');
      expect(html).to.not.include('NaN');
    });
  });
});
