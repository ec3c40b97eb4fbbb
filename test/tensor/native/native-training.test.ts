import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { quietCpuBackend, selectBackend } from '../../../src/tensor/backend.ts';
import { cnnHost } from '../../../src/tensor/hosts/cnn-host.ts';
import type { HostModel } from '../../../src/tensor/hosts/model.ts';
import { mlpHost } from '../../../src/tensor/hosts/mlp-host.ts';
import { loadNativeAddon } from '../../../src/tensor/native/native-addon.ts';
import { Optimizer, trainStep } from '../../../src/tensor/optimizer.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { requireNativeBackend } from '../../helpers/test-backend.ts';

const BATCH = 32;

interface Trained {
  losses: number[];
  weights: Float32Array[];
}

type Kind = 'mlp' | 'cnn';

function build(kind: Kind): HostModel {
  const rng = new Rng(7);
  return kind === 'mlp' ? mlpHost({ widths: [784, 64, 32, 10], rng }) : cnnHost({ inputShape: [12, 12, 1], convs: [{ filters: 4 }, { filters: 8 }], classes: 10, rng });
}

/** `steps` Adam steps of a freshly built host on `backend`; returns the losses and the final weights. */
async function train(backend: 'native' | 'cpu', kind: Kind, steps: number): Promise<Trained> {
  await selectBackend(backend);
  const model = build(kind);
  const optimizer = new Optimizer({ kind: 'adam', learningRate: 1e-3 });
  const rng = new Rng(3);
  const shape = kind === 'mlp' ? [BATCH, 784] : [BATCH, 12, 12, 1];
  const xs = tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const ys = tf.tensor1d(Int32Array.from({ length: BATCH }, () => rng.int(10)), 'int32');
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(trainStep(model, optimizer, xs, ys).loss);
  const weights = model.paramGroups().flatMap((g) => g.params.map((p) => (p.dataSync() as Float32Array).slice()));
  optimizer.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return { losses, weights };
}

/** Largest |a − b| / max(1, max |b|) over every weight tensor. */
function maxRelativeDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, k) => {
    const y = b[k]!;
    const scale = Math.max(1, ...Array.from(y, Math.abs));
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / scale);
  });
  return worst;
}

describe('native backend: training', function () {
  this.timeout(60_000);
  before(function () {
    requireNativeBackend(this);
    quietCpuBackend();
  });
  after(async () => {
    await selectBackend('wasm');
  });

  for (const kind of ['mlp', 'cnn'] as const) {
    it(`${kind}: Adam training steps agree with the cpu backend (losses 1e-5, weights 1e-5 relative)`, async () => {
      const native = await train('native', kind, 3);
      const cpu = await train('cpu', kind, 3);
      native.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]!) / Math.abs(cpu.losses[i]!)).to.be.below(1e-5));
      expect(maxRelativeDiff(native.weights, cpu.weights)).to.be.below(1e-5);
    });

    it(`${kind}: is deterministic (two runs bit-identical)`, async () => {
      const first = await train('native', kind, 3);
      const second = await train('native', kind, 3);
      expect(second.losses).to.deep.equal(first.losses);
      second.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(first.weights[i]!.buffer))).to.equal(true));
    });
  }

  it('leaks no tensors over training steps', async () => {
    await selectBackend('native');
    const model = build('mlp');
    const optimizer = new Optimizer({ kind: 'adam', learningRate: 1e-3 });
    const xs = tf.randomNormal([BATCH, 784]);
    const ys = tf.tensor1d(Int32Array.from({ length: BATCH }, (_, i) => i % 10), 'int32');
    trainStep(model, optimizer, xs, ys); // the first step creates the Adam moments
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) trainStep(model, optimizer, xs, ys);
    expect(tf.memory().numTensors).to.equal(before);
    optimizer.dispose();
    model.dispose();
    tf.dispose([xs, ys]);
  });

  it('runs the hot kernels in the addon (counted calls), and the rest on the cpu kernels', async () => {
    await selectBackend('native');
    const addon = loadNativeAddon();
    const names = ['sgemm', 'conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'maxPool', 'maxPoolGrad', 'binary', 'unary', 'reduce', 'transpose'] as const;
    const counts = new Map<string, number>();
    const mutable = addon as unknown as Record<string, unknown>;
    const saved = names.map((n) => [n, mutable[n]] as const);
    for (const [n, f] of saved) {
      mutable[n] = (...args: unknown[]) => {
        counts.set(n, (counts.get(n) ?? 0) + 1);
        return (f as (...a: unknown[]) => unknown).apply(addon, args);
      };
    }
    try {
      await train('native', 'cnn', 1);
      // Dense layers multiply with transpose flags on native (no explicit transpose in a training step): transpose is checked on its own.
      for (const n of names.filter((name) => name !== 'transpose')) expect(counts.get(n) ?? 0, n).to.be.above(0);
      tf.tidy(() => tf.transpose(tf.ones([3, 5])).dataSync());
      expect(counts.get('transpose') ?? 0, 'transpose').to.be.above(0);
      counts.clear();
      tf.tidy(() => tf.add(tf.ones([2, 3, 4]), tf.ones([2, 1, 4])).dataSync()); // a broadcast the addon does not take
      expect(counts.get('binary') ?? 0).to.equal(0);
    } finally {
      for (const [n, f] of saved) mutable[n] = f;
    }
  });
});
