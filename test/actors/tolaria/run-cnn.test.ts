/**
 * Seeds in a CNN host, end to end (issue 11, item 4): `runTraining` on
 * Fashion-MNIST images (the real files limited to 1,200 images where
 * /usr/share/datasets/fashion-mnist exists, else a fake 28×28 IDX directory)
 * with a 2-channel conv block flattened into the logits and one growth site
 * on it. The policy is tuned to grow at once and the gates to let a seed
 * through, so a conv seed germinates, blends and, for a width seed,
 * fossilizes: the block ends wider and `results.topology` says so. Then
 * each conv depth blueprint of the catalog grows after the block under the
 * heuristic policy (its host-stability latch loosened: on 1,200 images the
 * training loss never settles within ±5 % for three epochs).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { catalogEntry } from '../../../src/actors/karn/index.ts';
import { heuristicPolicy } from '../../../src/actors/tamiyo/index.ts';
import { runTraining } from '../../../src/actors/tolaria/index.ts';
import { runSlots } from '../../../src/actors/tolaria/run-slots.ts';
import { RunResultsSchema, RunSpecSchema, type RunSpec } from '../../../src/contracts/run.ts';
import { writeFakeFashionMnist } from '../../helpers/fake-fashion-mnist.ts';

const REAL = '/usr/share/datasets/fashion-mnist';
const LATER = new Set(['BLENDING', 'HOLDING', 'FOSSILIZED']);

/**
 * The example spec: a 28×28×1 → c2 → 10 CNN, a growth site on its conv block, 7 epochs. `overrides` replace top-level
 * sections, except `training`, whose fields they replace one by one.
 */
function cnnSpec(dir: string | undefined, overrides: { training?: Record<string, unknown>; [section: string]: unknown } = {}): RunSpec {
  const { training, ...sections } = overrides;
  return RunSpecSchema.parse({
    name: 'cnn: a 2-channel conv block grows',
    epochs: 7,
    training: {
      seed: 0,
      dataset: { kind: 'fashion-mnist', limit: 1200, layout: 'image', ...(dir === undefined ? {} : { dir }) },
      host: { kind: 'cnn', convs: [{ filters: 2 }], dense: [] },
      slots: [{ id: 'b1', afterLayer: 1 }],
      optimizer: { kind: 'adam', learningRate: 0.005 },
      batchSize: 64,
      ...training,
    },
    // Grow from epoch 1 whatever the block's saturation, merging as late as the last epoch; fossilize whatever the contribution.
    policy: { growFromEpoch: 1, growUntilFraction: 0.9, mergeByFraction: 1, saturation: 0, fossilizeContributionPp: -100 },
    gates: { g2: { minTrainingEpochs: 1, minImprovementPp: -100 }, g5: { minContributionPp: -100 } },
    seedModules: { blueprints: 'catalog' },
    budgets: { maxSeeds: 1 },
    ...sections,
  });
}

/**
 * A 9-epoch spec with two growth sites (after layers 1 and 2, ids `slotIds`) on `host`, growth from epoch 1 wherever a
 * layer could grow, two seeds at most; `policy` adds to the example spec's policy.
 */
function twoSiteSpec(dir: string | undefined, name: string, host: Record<string, unknown>, slotIds: [string, string], policy: Record<string, unknown>): RunSpec {
  return cnnSpec(dir, {
    name,
    epochs: 9,
    training: { host, slots: slotIds.map((id, i) => ({ id, afterLayer: i + 1 })) },
    policy: { growFromEpoch: 1, growUntilFraction: 0.9, mergeByFraction: 1, saturation: 0, fossilizeContributionPp: -100, ...policy },
    budgets: { maxSeeds: 2 },
  });
}

/** The real Fashion-MNIST directory's default, or a fake 28×28 one where it is missing. */
function dataDir(): string | undefined {
  if (existsSync(join(REAL, 'train-images-idx3-ubyte.gz')) || existsSync(join(REAL, 'train-images-idx3-ubyte'))) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'esper-cnn-'));
  writeFakeFashionMnist(dir, { train: 1200, test: 200 }, [28, 28]);
  return dir;
}

describe('esper run on a CNN host (issue 11, item 4)', function () {
  this.timeout(180_000);

  it('grows a conv seed through blending in a real CNN run; a fossilized width seed widens the block in results.topology', async () => {
    const spec = cnnSpec(dataDir());
    expect(runSlots(spec).map((s) => [s.slotId, s.role])).to.deep.equal([
      ['b1', 'depth'],
      ['b1-w1', 'width'],
    ]);
    const results = RunResultsSchema.parse(await runTraining(spec, { runId: 'run-cnn-e2e' }));

    // Every conv kernel was compiled and validated for the slots' interfaces.
    const kernels = results.kernels ?? [];
    const widthKernels = kernels.filter((k) => k.blueprintId.startsWith('widen_conv_'));
    expect(widthKernels.map((k) => [k.blueprintId, k.interface, k.status])).to.deep.equal([
      ['widen_conv_x1', 'conv2d:28x28x1->15x15x10:float32', 'VALIDATED'],
      ['widen_conv_x2', 'conv2d:28x28x1->15x15x10:float32', 'VALIDATED'],
      ['widen_conv_x4', 'conv2d:28x28x1->15x15x10:float32', 'VALIDATED'],
      ['widen_conv_x8', 'conv2d:28x28x1->15x15x10:float32', 'VALIDATED'],
    ]);
    // Ψ [3, 3, 1, k] + b + the flatten dense [14·14·k, 10]: the seed's parameters.
    expect(widthKernels.map((k) => k.paramCount)).to.deep.equal([2, 4, 8, 16].map((k) => 9 * k + k + 196 * k * 10));
    for (const name of ['conv_light', 'depthwise', 'bottleneck', 'attention_se']) {
      expect(kernels.find((k) => k.blueprintId === name)?.interface, name).to.equal('conv2d:14x14x2->14x14x2:float32');
    }
    expect(kernels.some((k) => k.blueprintId.startsWith('widen_x'))).to.equal(false);

    // A conv seed germinated and reached BLENDING or later.
    const grown = results.seeds.filter((s) => s.history.some((h) => LATER.has(h.to)));
    expect(grown.map((s) => s.slotId), JSON.stringify(results.seeds.map((s) => [s.slotId, s.history.map((h) => h.to)]))).to.not.deep.equal([]);
    const width = results.seeds.find((s) => s.slotId === 'b1-w1');
    const fossil = width?.history.some((h) => h.to === 'FOSSILIZED') === true;
    const entry = catalogEntry(width?.blueprintId ?? '');
    const added = fossil && entry?.role === 'width' ? entry.factor * 2 : 0;
    expect(results.topology?.host).to.deep.equal({ kind: 'cnn', convs: [{ filters: 2 + added, kernelSize: 3 }], dense: [] });
    if (fossil) expect(added).to.be.greaterThan(0);
    expect(results.finalAccuracy).to.be.greaterThan(0.1);
    expect(results.testAccuracy).to.be.a('number');
  });

  it('grows each conv depth blueprint (conv_light, depthwise, bottleneck, attention_se) after the block through blending', async () => {
    const dir = dataDir();
    const policy = heuristicPolicy({
      minEpoch: 1,
      plateauEpochs: 1,
      plateauThresholdPp: 50,
      stability: { epochs: 1, minChange: -1, maxChange: 1 },
      advanceTrainingEpochs: 1,
      blend: { curve: 'linear', tempoEpochs: 3 },
    });
    for (const name of ['conv_light', 'depthwise', 'bottleneck', 'attention_se']) {
      const spec = cnnSpec(dir, { epochs: 6, policy: { kind: 'heuristic' }, seedModules: { blueprints: [name] } });
      expect(runSlots(spec).map((s) => [s.slotId, s.role, s.interface.inputShape])).to.deep.equal([['b1', 'depth', [14, 14, 2]]]);
      const results = RunResultsSchema.parse(await runTraining(spec, { runId: `run-cnn-${name}`, tamiyo: { decide: (p, m, c) => policy.decide(p, m, c) } }));
      const seed = results.seeds.find((s) => s.slotId === 'b1');
      expect(seed?.blueprintId, name).to.equal(name);
      expect(seed?.history.map((h) => h.to), name).to.include('BLENDING');
      expect(results.kernels?.map((k) => [k.blueprintId, k.interface, k.status]), name).to.deep.equal([[name, 'conv2d:14x14x2->14x14x2:float32', 'VALIDATED']]);
      expect(Number.isFinite(results.finalAccuracy), name).to.equal(true);
    }
  });
});

/** Epochs [germinated, left the live stages) of a seed; undefined if it never germinated. */
function liveSpan(seed: { history: readonly { epoch: number; to: string }[] } | undefined): [number, number] | undefined {
  const start = seed?.history.find((h) => h.to === 'GERMINATED')?.epoch;
  if (start === undefined) return undefined;
  const end = seed?.history.find((h) => h.to === 'FOSSILIZED' || h.to === 'PRUNED')?.epoch ?? Number.POSITIVE_INFINITY;
  return [start, end];
}

/** True when both seeds germinated and their live spans overlap. */
function spansOverlap(a: [number, number] | undefined, b: [number, number] | undefined): boolean {
  return a !== undefined && b !== undefined && Math.max(a[0], b[0]) < Math.min(a[1], b[1]);
}

/** The width factor of a seed's catalog blueprint (0 when it is not a width blueprint). */
function widthFactorOf(seed: { blueprintId?: string | undefined } | undefined): number {
  const entry = catalogEntry(seed?.blueprintId ?? '');
  return entry?.role === 'width' ? entry.factor : 0;
}

describe('esper run on a two-block CNN host (conv blocks grow side by side since bottleneck@15)', function () {
  this.timeout(300_000);

  /** 28×28×1 → c2 → c2 → 10, a growth site on each block, growth from epoch 1 wherever a block could grow. */
  function twoBlockSpec(dir: string | undefined, maxLiveConvWidthSeeds: number): RunSpec {
    return twoSiteSpec(dir, 'cnn: two 2-channel conv blocks grow', { kind: 'cnn', convs: [{ filters: 2 }, { filters: 2 }], dense: [] }, ['b1', 'b2'], { maxLiveConvWidthSeeds });
  }

  it('widens the first block while the second one grows, and both fossilize into the topology; one at a time with maxLiveConvWidthSeeds 1', async () => {
    const dir = dataDir();
    for (const limit of [2, 1]) {
      const results = RunResultsSchema.parse(await runTraining(twoBlockSpec(dir, limit), { runId: `run-cnn-two-blocks-${limit}` }));
      const width = ['b1-w1', 'b2-w1'].map((id) => results.seeds.find((s) => s.slotId === id));
      const story = JSON.stringify(results.seeds.map((s) => [s.slotId, s.history.map((h) => `${h.epoch}:${h.to}`)]));
      const [first, second] = width.map(liveSpan);
      // The narrower second block (2 × 49 values against 2 × 196) grows first.
      expect(second, story).to.not.equal(undefined);
      if (limit === 1) {
        // One at a time, the first block's turn comes after that merge, too late to merge within the run: it does not grow.
        expect(first, story).to.equal(undefined);
        continue;
      }
      // Side by side: the first block germinates while the second block's seed is live.
      expect(spansOverlap(first, second), story).to.equal(true);
      // Both merged: the blocks end wider by their kernels' factors, and the static baseline would train exactly this.
      const factors = width.map((s) => {
        expect(s?.history.at(-1)?.to, story).to.equal('FOSSILIZED');
        return widthFactorOf(s);
      });
      expect(factors.every((f) => f > 0), story).to.equal(true);
      expect(results.topology?.host, story).to.deep.equal({ kind: 'cnn', convs: factors.map((f) => ({ filters: 2 + f * 2, kernelSize: 3 })), dense: [] });
      expect(results.finalAccuracy).to.be.greaterThan(0.1);
    }
  });
});

describe('esper run on a CNN host with a dense layer (bottleneck@16: the dense layer grows beside the conv block)', function () {
  this.timeout(300_000);

  it('widens the dense layer and the conv block with overlapping live spans, and both fossilize into the topology; germinated in one decision with germinateTogether', async () => {
    const dir = dataDir();
    // bottleneck@17 (one growth per decision), germinateTogether, and the default (@18: the dense layer grows with the conv block).
    const modes = [
      { name: 'one-per-decision', policy: { denseGrowsWithConv: false }, starts: (conv: number, dense: number) => conv !== dense },
      { name: 'together', policy: { germinateTogether: true, denseGrowsWithConv: false }, starts: (conv: number, dense: number) => conv === dense },
      { name: 'default', policy: {}, starts: (conv: number, dense: number) => dense <= conv },
    ];
    for (const mode of modes) {
      // 28×28×1 → c2 → dense 4 → 10, a growth site on each, growth from epoch 1 wherever a layer could grow.
      const spec = twoSiteSpec(dir, 'cnn: a conv block and a dense layer grow', { kind: 'cnn', convs: [{ filters: 2 }], dense: [4] }, ['b1', 'd1'], mode.policy);
      const results = RunResultsSchema.parse(await runTraining(spec, { runId: `run-cnn-conv-and-dense-${mode.name}` }));
      const [conv, dense] = ['b1-w1', 'd1-w1'].map((id) => results.seeds.find((s) => s.slotId === id));
      const story = JSON.stringify(results.seeds.map((s) => [s.slotId, s.history.map((h) => `${h.epoch}:${h.to}`)]));
      const [convSpan, denseSpan] = [conv, dense].map(liveSpan);
      // Under bottleneck@15 a live width seed on one kind kept the other waiting: the spans could not overlap.
      expect(spansOverlap(convSpan, denseSpan), story).to.equal(true);
      // One growth per decision under @17 (the second one an epoch later); both in the first decision with germinateTogether; by
      // default the dense layer no later than the block (with it, when the block goes first).
      expect(mode.starts(convSpan?.[0] ?? -1, denseSpan?.[0] ?? -1), `${mode.name}: ${story}`).to.equal(true);
      const [convFactor, denseFactor] = [conv, dense].map((s) => {
        expect(s?.history.at(-1)?.to, story).to.equal('FOSSILIZED');
        return widthFactorOf(s);
      }) as [number, number];
      expect(convFactor > 0 && denseFactor > 0, story).to.equal(true);
      expect(results.topology?.host, story).to.deep.equal({ kind: 'cnn', convs: [{ filters: 2 + convFactor * 2, kernelSize: 3 }], dense: [4 + denseFactor * 4] });
      expect(results.finalAccuracy).to.be.greaterThan(0.1);
    }
  });
});
