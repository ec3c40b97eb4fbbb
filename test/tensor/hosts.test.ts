import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../src/errors/index.ts';
import { quietCpuBackend, selectBackend } from '../../src/tensor/backend.ts';
import { BatchCursor, toTensors, twoSpirals } from '../../src/tensor/datasets/index.ts';
import { cnnHost } from '../../src/tensor/hosts/cnn-host.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import type { HostModel, SlotSpec } from '../../src/tensor/hosts/model.ts';
import { Optimizer, trainStep } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { convAdapter, forkSeedRng, residualDenseAdapter, type SeedModule, type SlotMode } from '../../src/tensor/seed-slot.ts';

function bytesOf(vars: readonly tf.Variable[]): Buffer {
  return Buffer.concat(vars.map((v) => {
    const data = v.dataSync() as Float32Array;
    return Buffer.from(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }));
}

function outputBytes(model: HostModel, x: tf.Tensor): Buffer {
  return tf.tidy(() => {
    const data = model.forward(x).dataSync() as Float32Array;
    return Buffer.from(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  });
}

function randomTensor(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

/** Tiny images: class 1 when the left half is brighter than the right. */
function imageBatch(rng: Rng, n: number, side: number): { xs: tf.Tensor4D; ys: tf.Tensor1D } {
  const xs = new Float32Array(n * side * side);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) xs[i * side * side + r * side + c] = rng.normal() * 0.3 + ((c < side / 2) === (label === 1) ? 1 : 0);
    }
    ys[i] = label;
  }
  return { xs: tf.tensor4d(xs, [n, side, side, 1]), ys: tf.tensor1d(ys, 'int32') };
}

const MLP_SLOTS: SlotSpec[] = [
  { id: 's1', afterLayer: 1 },
  { id: 's2', afterLayer: 2 },
];

interface IsolationRun {
  host: Buffer;
  seedBefore: Buffer;
  seedAfter: Buffer;
}

/**
 * Trains a 2-16-16-2 MLP for `steps` Adam steps on spirals (same data order
 * and Rng every time), with slot s1 in `mode` holding a residual adapter
 * (or empty and DORMANT when `mode` is undefined).
 */
function runMlp(mode: SlotMode | undefined, steps: number, alpha?: number): IsolationRun {
  const rng = new Rng(11);
  const model = mlpHost({ widths: [2, 16, 16, 2], rng, slots: MLP_SLOTS });
  let seed: SeedModule | undefined;
  if (mode !== undefined) {
    seed = residualDenseAdapter(16, 8, forkSeedRng(rng, 's1'));
    model.slot('s1').attach(seed);
    model.slot('s1').setMode(mode, alpha);
  }
  const cursor = new BatchCursor(twoSpirals(new Rng(5), { n: 96 }), { batchSize: 32, rng: new Rng(6) });
  const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.02 }, model.paramGroups());
  const seedBefore = bytesOf(seed?.params ?? []);
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const { xs, ys } = toTensors(cursor.next());
      trainStep(model, optimizer, xs, ys);
    });
  }
  const run = { host: bytesOf(model.hostParams), seedBefore, seedAfter: bytesOf(seed?.params ?? []) };
  optimizer.dispose();
  model.dispose();
  return run;
}

describe('hosts (issue 4, item 3)', () => {
  before(async () => {
    quietCpuBackend();
    await selectBackend('cpu');
  });

  it('builds an MLP whose slots take the hidden activations and whose weights come only from the Rng', () => {
    const a = mlpHost({ widths: [784, 32, 16, 10], rng: new Rng(1), slots: [{ id: 'x', afterLayer: 2 }] });
    const b = mlpHost({ widths: [784, 32, 16, 10], rng: new Rng(1) });
    const c = mlpHost({ widths: [784, 32, 16, 10], rng: new Rng(2) });
    expect(a.slot('x').shape).to.deep.equal([16]);
    expect(a.hostParams.map((p) => p.shape)).to.deep.equal([[784, 32], [32], [32, 16], [16], [16, 10], [10]]);
    expect(bytesOf(a.hostParams).equals(bytesOf(b.hostParams))).to.equal(true);
    expect(bytesOf(a.hostParams).equals(bytesOf(c.hostParams))).to.equal(false);
    expect(a.classes).to.equal(10);
    for (const m of [a, b, c]) m.dispose();
  });

  it('with every slot DORMANT (empty or germinated) gives outputs bit-identical to the host without slots', () => {
    const x = randomTensor(new Rng(9), [8, 2]);
    const bare = mlpHost({ widths: [2, 16, 16, 2], rng: new Rng(3) });
    const slotted = mlpHost({ widths: [2, 16, 16, 2], rng: new Rng(3), slots: MLP_SLOTS });
    expect(outputBytes(slotted, x).equals(outputBytes(bare, x))).to.equal(true);
    // A germinated seed whose output is not zero is still skipped while DORMANT.
    const seed = residualDenseAdapter(16, 4, new Rng(4));
    slotted.slot('s1').attach(seed);
    const w2 = seed.params[2] as tf.Variable;
    tf.tidy(() => w2.assign(tf.onesLike(w2)));
    expect(outputBytes(slotted, x).equals(outputBytes(bare, x))).to.equal(true);
    // …and counts once it is blended in: the comparison can fail.
    slotted.slot('s1').setMode('BLENDING', 0.5);
    expect(outputBytes(slotted, x).equals(outputBytes(bare, x))).to.equal(false);
    for (const m of [bare, slotted]) m.dispose();
    x.dispose();
  });

  it('builds a CNN whose slots sit after conv blocks and dense layers, DORMANT slots changing nothing', () => {
    const opts = { inputShape: [12, 12, 1] as const, convs: [{ filters: 4 }, { filters: 6, kernelSize: 3 }], dense: [8], classes: 3 };
    const slotted = cnnHost({ ...opts, rng: new Rng(1), slots: [{ id: 'c1', afterLayer: 1 }, { id: 'c2', afterLayer: 2 }, { id: 'd1', afterLayer: 3 }] });
    const bare = cnnHost({ ...opts, rng: new Rng(1) });
    expect(slotted.slots.map((s) => s.shape)).to.deep.equal([[6, 6, 4], [3, 3, 6], [8]]);
    const x = randomTensor(new Rng(2), [2, 12, 12, 1]);
    expect(tf.tidy(() => slotted.forward(x).shape)).to.deep.equal([2, 3]);
    expect(outputBytes(slotted, x).equals(outputBytes(bare, x))).to.equal(true);
    for (const m of [bare, slotted]) m.dispose();
    x.dispose();
  });

  it('rejects slots after no hidden layer, duplicate slot ids and inputs of the wrong shape', () => {
    const build = (slots: SlotSpec[]) => () => mlpHost({ widths: [2, 4, 2], rng: new Rng(1), slots });
    expect(build([{ id: 'a', afterLayer: 2 }])).to.throw(EsperError, /not a hidden layer/).with.property('code', 'ESPER_CONFIG_INVALID');
    expect(build([{ id: 'a', afterLayer: 1 }, { id: 'a', afterLayer: 1 }])).to.throw(EsperError, /used twice/);
    expect(build([{ id: 'a', afterLayer: 1, options: { trainingForward: 'live' } }])).to.throw(EsperError, /trainingForward is an option of width slots/).with.property('code', 'ESPER_CONFIG_INVALID');
    const model = mlpHost({ widths: [2, 4, 2], rng: new Rng(1) });
    expect(() => model.slot('nope')).to.throw(EsperError).with.property('code', 'ESPER_NOT_FOUND');
    expect(() => tf.tidy(() => model.forward(tf.zeros([1, 3])))).to.throw(RangeError, /not \[batch, 2\]/);
    model.dispose();
  });

  it('gradient isolation: 20 steps with a TRAINING seed leave the host bit-identical to 20 steps with the slot DORMANT, while the seed learns', () => {
    const dormant = runMlp(undefined, 20);
    const germinated = runMlp('DORMANT', 20);
    const training = runMlp('TRAINING', 20);
    expect(germinated.host.equals(dormant.host)).to.equal(true);
    expect(training.host.equals(dormant.host)).to.equal(true);
    expect(training.seedAfter.equals(training.seedBefore)).to.equal(false);
    expect(germinated.seedAfter.equals(germinated.seedBefore)).to.equal(true);
    // Control: a blended seed does change the host's trajectory, so the comparison can fail.
    const blending = runMlp('BLENDING', 20, 0.5);
    expect(blending.host.equals(dormant.host)).to.equal(false);
  });

  it('gradient isolation holds for a CNN with a conv seed in TRAINING', () => {
    const run = (withSeed: boolean): { host: Buffer; seedMoved: boolean } => {
      const rng = new Rng(21);
      const model = cnnHost({ inputShape: [8, 8, 1], convs: [{ filters: 3 }], dense: [6], classes: 2, rng, slots: [{ id: 'c1', afterLayer: 1 }] });
      let seed: SeedModule | undefined;
      if (withSeed) {
        seed = convAdapter(3, forkSeedRng(rng, 'c1'), { hidden: 2 });
        model.slot('c1').attach(seed);
        model.slot('c1').setMode('TRAINING');
      }
      const before = bytesOf(seed?.params ?? []);
      const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 });
      const data = new Rng(22);
      for (let i = 0; i < 4; i++) {
        tf.tidy(() => {
          const { xs, ys } = imageBatch(data, 8, 8);
          trainStep(model, optimizer, xs, ys);
        });
      }
      const result = { host: bytesOf(model.hostParams), seedMoved: !bytesOf(seed?.params ?? []).equals(before) };
      optimizer.dispose();
      model.dispose();
      return result;
    };
    const without = run(false);
    const withSeed = run(true);
    expect(withSeed.host.equals(without.host)).to.equal(true);
    expect(withSeed.seedMoved).to.equal(true);
  });

  it('an epoch of training leaves tf.memory().numTensors unchanged', () => {
    const rng = new Rng(31);
    const model = mlpHost({ widths: [2, 16, 16, 2], rng, slots: MLP_SLOTS });
    model.slot('s1').attach(residualDenseAdapter(16, 8, forkSeedRng(rng, 's1')));
    model.slot('s1').setMode('TRAINING');
    model.slot('s2').attach(residualDenseAdapter(16, 4, forkSeedRng(rng, 's2')));
    model.slot('s2').setMode('BLENDING', 0.3);
    const cursor = new BatchCursor(twoSpirals(new Rng(5), { n: 64 }), { batchSize: 16, rng: new Rng(6) });
    const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 }, model.paramGroups());
    const before = tf.memory().numTensors;
    for (let i = 0; i < cursor.batchesPerEpoch; i++) {
      tf.tidy(() => {
        const { xs, ys } = toTensors(cursor.next());
        trainStep(model, optimizer, xs, ys);
      });
    }
    expect(tf.memory().numTensors).to.equal(before);
    optimizer.dispose();
    model.dispose();
  });

  it('a small CNN with a conv seed blending in trains on the wasm backend (loss decreases)', async function () {
    this.timeout(60_000);
    await selectBackend('wasm');
    try {
      const rng = new Rng(41);
      const model = cnnHost({ inputShape: [12, 12, 1], convs: [{ filters: 4 }, { filters: 4 }], classes: 2, rng, slots: [{ id: 'c1', afterLayer: 1 }] });
      model.slot('c1').attach(convAdapter(4, forkSeedRng(rng, 'c1')));
      model.slot('c1').setMode('BLENDING', 0.5);
      const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 });
      const { xs, ys } = imageBatch(new Rng(42), 16, 12);
      const before = tf.memory().numTensors;
      const losses: number[] = [];
      for (let i = 0; i < 8; i++) losses.push(trainStep(model, optimizer, xs, ys).loss);
      const seedGroup = optimizer.exportState().groups.find((g) => g.id === 'seed:c1');
      expect(seedGroup?.step).to.equal(8);
      expect(tf.getBackend()).to.equal('wasm');
      expect(losses.every(Number.isFinite)).to.equal(true);
      expect(losses[7]).to.be.lessThan((losses[0] as number) * 0.9);
      // Only the optimizer's buffers (created on the first step: 2 per parameter) were added.
      const params = model.paramGroups().reduce((n, g) => n + g.params.length, 0);
      expect(tf.memory().numTensors).to.equal(before + 2 * params);
      optimizer.dispose();
      model.dispose();
      xs.dispose();
      ys.dispose();
    } finally {
      await selectBackend('cpu');
    }
  });
});
