import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { LayerSignalsSchema } from '../../src/contracts/tolaria.ts';
import type { TrainingSpecInput } from '../../src/contracts/training-spec.ts';
import { quietCpuBackend, selectBackend } from '../../src/tensor/backend.ts';
import { cnnHost } from '../../src/tensor/hosts/cnn-host.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import type { HostModel } from '../../src/tensor/hosts/model.ts';
import { effectiveRank, measureLayerSignals } from '../../src/tensor/layer-signals.ts';
import { Optimizer, trainStep } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { TrainingSession } from '../../src/tensor/training/training-session.ts';
import { layerGradients } from '../../src/tensor/width/width-init.ts';
import { batchOf, randomTensor } from './width-helpers.ts';

/** Overwrites host parameter `index` (kernel 2i, bias 2i + 1 of layer i + 1) with `values`. */
function setParam(model: HostModel, index: number, values: number[] | Float32Array): void {
  const p = model.hostParams[index] as tf.Variable;
  tf.tidy(() => p.assign(tf.tensor(values, p.shape)));
}

/** Row-major identity scaled by `scale`. */
function eye(n: number, scale = 1): number[] {
  return Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? scale : 0));
}

/** Labels 0..3: the quadrant of the first two features (needs two directions to separate). */
function quadrants(x: tf.Tensor): tf.Tensor1D {
  const v = x.dataSync();
  const per = x.shape[1] ?? 2;
  return tf.tensor1d(
    Int32Array.from({ length: x.shape[0] ?? 0 }, (_, i) => ((v[i * per] as number) > 0 ? 1 : 0) + ((v[i * per + 1] as number) > 0 ? 2 : 0)),
    'int32',
  );
}

/**
 * σ_max of the linear map ψ ↦ f(ψ) (ψ of `shape`), by power iteration on fᵀf,
 * with fᵀf·ψ = ∇ψ ½‖f(ψ)‖² from autodiff: an estimate independent of the
 * implementation's patch and Gram algebra.
 */
function largestGain(shape: number[], f: (psi: tf.Tensor) => tf.Tensor, iterations = 200): number {
  let psi = tf.tidy(() => {
    const start = randomTensor(new Rng(99), shape);
    return tf.div(start, tf.norm(start));
  });
  for (let i = 0; i < iterations; i++) {
    const next = tf.tidy(() => {
      const g = tf.grad((p: tf.Tensor) => tf.mul(0.5, tf.sum(tf.square(f(p)))))(psi);
      return tf.div(g, tf.norm(g));
    });
    psi.dispose();
    psi = next;
  }
  const gain = tf.tidy(() => tf.norm(f(psi)).dataSync()[0] ?? 0);
  psi.dispose();
  return gain;
}

describe('per-layer signals: effective rank, dead fraction, GradMax gradient score (issue 11 item 3)', () => {
  before(async () => {
    quietCpuBackend();
    await selectBackend('cpu');
  });

  it('effectiveRank: exp of the eigenvalue entropy; 1 for one direction, n for n equal ones, 0 for none', () => {
    expect(effectiveRank([3, 0, 0])).to.equal(1);
    expect(effectiveRank([2, 2, 2, 2])).to.be.closeTo(4, 1e-12);
    const p = [0.5, 0.25, 0.25];
    expect(effectiveRank([2, 1, 1])).to.be.closeTo(Math.exp(-p.reduce((s, v) => s + v * Math.log(v), 0)), 1e-12);
    expect(effectiveRank([0, 0])).to.equal(0);
    expect(effectiveRank([1, -1e-18])).to.equal(1); // rounding below zero is ignored
  });

  it('effective rank ≈ 1 for a layer whose units are copies of one unit, ≈ width for independent units', () => {
    const x = randomTensor(new Rng(3), [2000, 6]);
    const y = tf.zeros([2000], 'int32');
    const copies = mlpHost({ widths: [6, 5, 3], rng: new Rng(1) });
    const column = Array.from({ length: 6 }, (_, i) => Math.sin(i + 1));
    setParam(copies, 0, column.flatMap((v) => [v, v, v, v, v])); // 5 identical columns
    setParam(copies, 1, [2, 2, 2, 2, 2]);
    const [copied] = measureLayerSignals(copies, { x, y });
    expect(copied?.effectiveRank).to.be.closeTo(1, 1e-3);
    expect(copied?.width).to.equal(5);
    const independent = mlpHost({ widths: [6, 6, 3], rng: new Rng(1) });
    setParam(independent, 0, eye(6)); // relu of 6 independent normal features
    const [spread] = measureLayerSignals(independent, { x, y });
    expect(spread?.effectiveRank).to.be.within(5.8, 6);
    // Units 1–3 copy relu(x₁), units 4–6 are relu(x₄..x₆): eigenvalues ∝ [3, 1, 1, 1], exp(entropy) = 2^½·6^½ ≈ 3.46.
    const mixed = mlpHost({ widths: [6, 6, 3], rng: new Rng(1) });
    setParam(mixed, 0, Array.from({ length: 36 }, (_, i) => (i % 6 < 3 ? Number(i < 6) : Number(i % 7 === 0))));
    const [half] = measureLayerSignals(mixed, { x, y });
    expect(half?.effectiveRank).to.be.closeTo(Math.sqrt(12), 0.15);
    for (const t of [x, y]) t.dispose();
    for (const m of [copies, independent, mixed]) m.dispose();
  });

  it('dead fraction counts the units a forced-negative bias keeps at 0 on every example; an all-dead layer has effective rank 0', () => {
    const x = randomTensor(new Rng(4), [300, 4]);
    const y = tf.zeros([300], 'int32');
    const model = mlpHost({ widths: [4, 8, 3], rng: new Rng(2) });
    setParam(model, 1, [-1000, -1000, -1000, 0.5, 0.5, 0.5, 0.5, 0.5]);
    const [signals] = measureLayerSignals(model, { x, y });
    expect(signals?.deadFraction).to.equal(3 / 8);
    expect(signals?.effectiveRank).to.be.within(1, 5 + 1e-6); // the dead units add no direction
    setParam(model, 1, new Array<number>(8).fill(-1000));
    const [dead] = measureLayerSignals(model, { x, y });
    expect(dead).to.include({ deadFraction: 1, effectiveRank: 0 });
    for (const t of [x, y]) t.dispose();
    model.dispose();
  });

  it('gradient score is 0 when the loss gradient is 0 (a perfectly fit toy) and positive when it is not', () => {
    // x one-hot in 2 classes; layers copy it; the logits layer's scale decides the fit.
    const x = tf.tensor2d([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]);
    const y = tf.tensor1d([0, 1, 0, 1], 'int32');
    const fitted = (scale: number): HostModel => {
      const model = mlpHost({ widths: [2, 2, 2, 2], rng: new Rng(1) });
      setParam(model, 0, eye(2));
      setParam(model, 2, eye(2));
      setParam(model, 4, eye(2, scale));
      return model;
    };
    const perfect = fitted(200); // softmax saturates to exactly one-hot in float32: ∂L/∂z = 0 everywhere
    const scores = measureLayerSignals(perfect, { x, y }).map((s) => s.gradientScore);
    expect(scores).to.deep.equal([0, 0]);
    const loose = fitted(1);
    const looseScores = measureLayerSignals(loose, { x, y }).map((s) => s.gradientScore);
    for (const s of looseScores) expect(s).to.be.greaterThan(0.01);
    for (const t of [x, y]) t.dispose();
    for (const m of [perfect, loose]) m.dispose();
  });

  it('gradient score of a dense layer is σ_max(HᵀG) — the best unit-norm new unit’s ‖∂L/∂Ω‖ — matching an independent power iteration', () => {
    const model = mlpHost({ widths: [6, 4, 5, 3], rng: new Rng(5) });
    const { xs, ys } = batchOf(new Rng(6), 40, [6], 3);
    const signals = measureLayerSignals(model, { x: xs, y: ys });
    for (const layer of [1, 2]) {
      const { input, gradient } = layerGradients(model, layer, { x: xs, y: ys });
      // A new unit with incoming ψ (linear at 0) and Ω = 0: ∂L/∂Ω = (Hψ)ᵀG.
      const gain = largestGain([input.shape[1] ?? 0, 1], (psi) => tf.matMul(tf.transpose(tf.matMul(input as tf.Tensor2D, psi as tf.Tensor2D)), gradient));
      expect(signals[layer - 1]?.gradientScore).to.be.closeTo(gain, 1e-4 * gain);
      input.dispose();
      gradient.dispose();
    }
    for (const t of [xs, ys]) t.dispose();
    model.dispose();
  });

  it('is larger at a 1-unit bottleneck than at the wide layer after it, once the wide layer has fit what the bottleneck passes on', () => {
    // 4 quadrants of a 2-D input need two directions; 2-1-16-4 can pass only one through layer 1.
    const x = randomTensor(new Rng(1), [256, 2]);
    const y = quadrants(x);
    const model = mlpHost({ widths: [2, 1, 16, 4], rng: new Rng(11) });
    const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 }, model.paramGroups());
    for (let step = 0; step < 300; step++) tf.tidy(() => void trainStep(model, optimizer, x, y));
    const [bottleneck, wide] = measureLayerSignals(model, { x, y });
    expect(bottleneck?.width).to.equal(1);
    expect(wide?.width).to.equal(16);
    expect(bottleneck?.gradientScore).to.be.greaterThan(20 * (wide?.gradientScore ?? Number.POSITIVE_INFINITY));
    // The wide layer's 16 units are all functions of one number: their activations are (nearly) one direction.
    expect(wide?.effectiveRank).to.be.below(1.2);
    optimizer.dispose();
    model.dispose();
    for (const t of [x, y]) t.dispose();
  });

  it('measures a CNN host: conv blocks by channel, the conv score matching a power iteration through conv2d and average pooling', () => {
    const model = cnnHost({ inputShape: [8, 8, 1], convs: [{ filters: 3, kernelSize: 4 }, { filters: 2 }], dense: [5], classes: 3, rng: new Rng(1) });
    const { xs, ys } = batchOf(new Rng(2), 12, [8, 8, 1], 3);
    const signals = measureLayerSignals(model, { x: xs, y: ys });
    // positions: the pooled pixels per channel (8×8 → 4×4 → 2×2), one for a dense unit.
    expect(signals.map((s) => [s.layer, s.kind, s.width, s.positions])).to.deep.equal([
      [1, 'conv', 3, 16],
      [2, 'conv', 2, 4],
      [3, 'dense', 5, 1],
    ]);
    for (const s of signals) {
      expect(() => LayerSignalsSchema.parse(s)).not.to.throw();
      expect(s.effectiveRank).to.be.at.most(s.width + 1e-9);
      expect(s.gradientScore).to.be.greaterThan(0);
    }
    // Block 1 (4×4 kernel, 'same' pads 1 before and 2 after) feeds block 2: ∂L/∂Ω is the 3×3 filter gradient of conv(u, Ω) against G.
    // Block 2 feeds the flattening dense layer: ∂L/∂Ω = flatten(u)ᵀG.
    const cases: { layer: number; kernel: number[]; omega: (u: tf.Tensor4D, g: tf.Tensor) => tf.Tensor }[] = [
      {
        layer: 1,
        kernel: [4, 4, 1, 1],
        // ∂L/∂Ω[dy, dx, ·, o] = Σ over batch and pixels p of u(p + d − 1)·G(p, o), spelled out shift by shift.
        omega: (u, g) => {
          const padded = tf.pad(u, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]);
          const [, h = 0, w = 0] = u.shape;
          const taps: tf.Tensor[] = [];
          for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) taps.push(tf.sum(tf.mul(tf.slice(padded, [0, dy, dx, 0], [-1, h, w, 1]), g), [0, 1, 2]));
          return tf.stack(taps);
        },
      },
      { layer: 2, kernel: [3, 3, 3, 1], omega: (u, g) => tf.matMul(tf.transpose(tf.reshape(u, [u.shape[0], -1])), g) },
    ];
    for (const { layer, kernel, omega } of cases) {
      const { input, gradient } = layerGradients(model, layer, { x: xs, y: ys });
      const gain = largestGain(kernel, (psi) => omega(tf.avgPool(tf.conv2d(input as tf.Tensor4D, psi as tf.Tensor4D, 1, 'same'), 2, 2, 'valid'), gradient));
      expect(signals[layer - 1]?.gradientScore, `layer ${layer}`).to.be.closeTo(gain, 1e-4 * gain);
      input.dispose();
      gradient.dispose();
    }
    for (const t of [xs, ys]) t.dispose();
    model.dispose();
  });

  it('leaks no tensor and is deterministic (same weights and batch → the same numbers, bit for bit)', () => {
    const build = (): HostModel[] => [
      mlpHost({ widths: [6, 4, 5, 3], rng: new Rng(7), slots: [{ id: 'w', afterLayer: 1, kind: 'width' }] }),
      cnnHost({ inputShape: [8, 8, 1], convs: [{ filters: 3 }, { filters: 2 }], dense: [5], classes: 3, rng: new Rng(7) }),
    ];
    const [mlp, cnn] = build();
    const [mlp2, cnn2] = build();
    const mlpBatch = batchOf(new Rng(8), 30, [6], 3);
    const cnnBatch = batchOf(new Rng(8), 10, [8, 8, 1], 3);
    const pairs: [HostModel, HostModel, { xs: tf.Tensor; ys: tf.Tensor }][] = [
      [mlp as HostModel, mlp2 as HostModel, mlpBatch],
      [cnn as HostModel, cnn2 as HostModel, cnnBatch],
    ];
    for (const [model, twin, { xs, ys }] of pairs) {
      const before = tf.memory().numTensors;
      const first = measureLayerSignals(model, { x: xs, y: ys });
      expect(tf.memory().numTensors).to.equal(before);
      expect(measureLayerSignals(model, { x: xs, y: ys })).to.deep.equal(first);
      expect(measureLayerSignals(twin, { x: xs, y: ys })).to.deep.equal(first);
      expect(first.every((s) => Object.values(s).every((v) => typeof v === 'string' || Number.isFinite(v)))).to.equal(true);
    }
    for (const t of [mlpBatch.xs, mlpBatch.ys, cnnBatch.xs, cnnBatch.ys]) t.dispose();
    for (const m of [mlp, cnn, mlp2, cnn2]) m?.dispose();
  });

  it('the training session reports them each epoch on a fixed validation probe, only when the model has a slot', async () => {
    const spec: TrainingSpecInput = { backend: 'cpu', seed: 2, dataset: { kind: 'spirals', n: 400 }, host: { kind: 'mlp', hidden: [8, 6] }, batchSize: 32 };
    const plain = await TrainingSession.create(spec);
    const slotted = await TrainingSession.create({ ...spec, slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }] });
    try {
      expect(plain.runEpoch()).not.to.have.property('layers');
      const report = slotted.runEpoch();
      expect(report.layers?.map((s) => [s.layer, s.kind, s.width])).to.deep.equal([
        [1, 'dense', 8],
        [2, 'dense', 6],
      ]);
      for (const s of report.layers ?? []) expect(() => LayerSignalsSchema.parse(s)).not.to.throw();
      // The probe is fixed: measuring again without training gives the same numbers; training moves them.
      expect(slotted.layerSignals()).to.deep.equal(report.layers);
      expect(slotted.runEpoch().layers).not.to.deep.equal(report.layers);
    } finally {
      plain.dispose();
      slotted.dispose();
    }
  });

  describe('on the wasm backend (as the training worker runs)', () => {
    before(async () => selectBackend('wasm'));
    after(async () => selectBackend('cpu'));

    it('constant activations have effective rank 0 although the mean subtraction leaves float32 residue; measuring leaks nothing and repeats exactly', () => {
      const x = randomTensor(new Rng(4), [300, 4]);
      const y = tf.zeros([300], 'int32');
      const model = mlpHost({ widths: [4, 8, 3], rng: new Rng(2) });
      setParam(model, 0, new Array<number>(32).fill(0));
      setParam(model, 1, [0.7, 0.1, 1.1, 0.3, 3.3, 0.7, 0.9, 2.1]); // every unit a constant: alive, no variance
      const before = tf.memory().numTensors;
      const [constant] = measureLayerSignals(model, { x, y });
      expect(tf.memory().numTensors).to.equal(before);
      expect(constant).to.include({ deadFraction: 0, effectiveRank: 0 });
      const residue = tf.tidy(() => {
        const a = tf.fill([300, 1], 0.7);
        return tf.sum(tf.square(tf.sub(a, tf.mean(a, 0)))).dataSync()[0];
      });
      expect(residue).to.be.greaterThan(0); // what the variance floor is for
      const trained = mlpHost({ widths: [4, 8, 3], rng: new Rng(3) });
      const first = measureLayerSignals(trained, { x, y });
      expect(first[0]?.effectiveRank).to.be.greaterThan(1);
      expect(measureLayerSignals(trained, { x, y })).to.deep.equal(first);
      for (const t of [x, y]) t.dispose();
      for (const m of [model, trained]) m.dispose();
    });
  });
});
