import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { quietCpuBackend, selectBackend } from '../../src/tensor/backend.ts';
import { denseMatMul } from '../../src/tensor/ops/dense-matmul.ts';
import { Rng } from '../../src/tensor/rng.ts';

const BATCH = 16;
const SIDE = 12;
const CLASSES = 3;

function normals(rng: Rng, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** A tiny CNN: conv 3×3 → relu → maxpool 2 → depthwise 3×3 stride 2 → relu → avgpool 2 (valid) → dense → softmax cross-entropy. */
function buildModel(rng: Rng): tf.Variable[] {
  return [
    tf.variable(tf.tensor4d(normals(rng, 3 * 3 * 1 * 4, 0.5), [3, 3, 1, 4]), true, 'conv'),
    tf.variable(tf.tensor1d(new Float32Array(4)), true, 'convBias'),
    tf.variable(tf.tensor4d(normals(rng, 3 * 3 * 4 * 2, 0.3), [3, 3, 4, 2]), true, 'depthwise'),
    tf.variable(tf.tensor2d(normals(rng, 8 * CLASSES, 0.3), [8, CLASSES]), true, 'dense'),
    tf.variable(tf.tensor1d(new Float32Array(CLASSES)), true, 'denseBias'),
  ];
}

function loss(vars: tf.Variable[], xs: tf.Tensor4D, ys: tf.Tensor2D): tf.Scalar {
  const [conv, convBias, depthwise, dense, denseBias] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  let h = tf.relu(tf.add<tf.Tensor4D>(tf.conv2d(xs, conv as tf.Tensor4D, 1, 'same'), convBias));
  h = tf.maxPool(h, 2, 2, 'valid'); // [b, 6, 6, 4]
  h = tf.relu(tf.depthwiseConv2d(h, depthwise as tf.Tensor4D, 2, 'same')); // [b, 3, 3, 8]
  h = tf.avgPool(h, 2, 2, 'same'); // [b, 2, 2, 8]
  const pooled = tf.mean<tf.Tensor2D>(h, [1, 2]); // [b, 8]
  const logits = tf.add<tf.Tensor2D>(denseMatMul(pooled, dense as tf.Tensor2D), denseBias);
  return tf.losses.softmaxCrossEntropy<tf.Tensor2D, tf.Scalar>(ys, logits);
}

/** Three SGD steps on `backend`; returns the loss before each step. */
async function train(backend: 'wasm' | 'cpu'): Promise<number[]> {
  await selectBackend(backend);
  if (backend === 'cpu') quietCpuBackend();
  const rng = new Rng(42);
  // Class k images carry a bright k-th third of rows: learnable in a few steps.
  const images = normals(rng, BATCH * SIDE * SIDE, 0.1);
  const labels = new Int32Array(BATCH);
  for (let b = 0; b < BATCH; b++) {
    const k = b % CLASSES;
    labels[b] = k;
    for (let r = k * 4; r < k * 4 + 4; r++) for (let c = 0; c < SIDE; c++) images[(b * SIDE + r) * SIDE + c]! += 1;
  }
  const vars = buildModel(rng);
  const optimizer = tf.train.sgd(0.5);
  const losses: number[] = [];
  const before = tf.memory().numTensors;
  for (let step = 0; step < 3; step++) {
    const value = tf.tidy(() => {
      const xs = tf.tensor4d(images, [BATCH, SIDE, SIDE, 1]);
      const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat() as tf.Tensor2D;
      const { value: l, grads } = tf.variableGrads(() => loss(vars, xs, ys), vars);
      for (const name of Object.keys(grads)) expect(grads[name]!.shape, name).to.deep.equal(vars.find((v) => v.name === name)!.shape);
      optimizer.applyGradients(grads);
      return l.dataSync()[0]!;
    });
    losses.push(value);
  }
  expect(tf.memory().numTensors, 'tensors leaked by the training steps').to.equal(before);
  optimizer.dispose();
  tf.dispose(vars);
  return losses;
}

describe('a tiny CNN on the wasm backend', function () {
  this.timeout(60_000);

  after(async () => {
    await selectBackend('wasm');
  });

  it('trains: conv → relu → maxpool → depthwise → avgpool → dense takes 3 steps and its loss decreases', async () => {
    const losses = await train('wasm');
    expect(losses).to.have.length(3);
    for (const l of losses) expect(Number.isFinite(l)).to.equal(true);
    expect(losses[1]!).to.be.below(losses[0]!);
    expect(losses[2]!).to.be.below(losses[1]!);
  });

  it('follows the same loss trajectory as the cpu backend', async () => {
    const cpu = await train('cpu');
    const wasm = await train('wasm');
    for (let i = 0; i < 3; i++) expect(Math.abs(wasm[i]! - cpu[i]!), `step ${i}`).to.be.below(1e-4);
  });
});
