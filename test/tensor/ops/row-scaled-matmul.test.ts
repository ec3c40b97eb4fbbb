import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { denseMatMul } from '../../../src/tensor/ops/dense-matmul.ts';
import { rowScaledMatMul } from '../../../src/tensor/ops/row-scaled-matmul.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { useTestBackend } from '../../helpers/test-backend.ts';

function random(rng: Rng, shape: [number, number]): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()), shape);
}

/** Value, dx and dw of `f(x, w)` under the loss Σ (f ⊙ target). */
function withGrads(f: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor2D, target: tf.Tensor2D): Float32Array[] {
  return tf.tidy(() => {
    const value = f(x, w);
    const { grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor2D, b as tf.Tensor2D), target)))([x, w]);
    return [value, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

describe('rowScaledMatMul (the layer after a resident blending width seed, issue 11)', () => {
  const rng = new Rng(5);
  let x: tf.Tensor2D;
  let w: tf.Tensor2D;
  let scale: tf.Tensor2D;
  let target: tf.Tensor2D;

  before(async function () {
    await useTestBackend(this, 'native');
    x = random(rng, [9, 20]);
    w = random(rng, [20, 6]);
    // Host rows 1, the seed's 16 rows α = 0.3 (as rowScale builds it).
    scale = tf.tensor2d(Float32Array.from({ length: 20 }, (_, r) => (r < 4 ? 1 : 0.3)), [20, 1]);
    target = random(rng, [9, 6]);
  });
  after(() => tf.dispose([x, w, scale, target]));

  it('computes x · (w ⊙ s) and the gradients of x and w bit-identically to the tfjs ops it replaces', () => {
    const fused = withGrads((a, b) => rowScaledMatMul(a, b, scale), x, w, target);
    const ops = withGrads((a, b) => denseMatMul(a, tf.mul(b, scale)), x, w, target);
    for (const [i, name] of ['value', 'dx', 'dw'].entries()) expect(Array.from(fused[i]!), name).to.deep.equal(Array.from(ops[i]!));
    // And it is the product it claims: a seed row at α = 0.3 contributes 0.3 of its weight.
    const [value] = withGrads((a, b) => denseMatMul(a, b), x, tf.mul<tf.Tensor2D>(w, scale), target);
    expect(Array.from(fused[0]!)).to.deep.equal(Array.from(value!));
  });

  it('is one kernel forward, and the input-gradient matmul plus one kernel backward, on the native backend (no multiply or cast)', async function () {
    if (tf.getBackend() !== 'native') this.skip();
    // tf.profile also lists custom-gradient scopes; they dispatch nothing.
    const kernels = (info: { kernels: { name: string }[] }): string[] => info.kernels.map((k) => k.name).filter((n) => !n.endsWith('scope'));
    expect(kernels(await tf.profile(() => tf.tidy(() => void rowScaledMatMul(x, w, scale))))).to.deep.equal(['EsperRowScaledMatMul']);
    const step = await tf.profile(() => tf.tidy(() => void tf.grads((a: tf.Tensor, b: tf.Tensor) => rowScaledMatMul(a as tf.Tensor2D, b as tf.Tensor2D, scale))([x, w], target)));
    // Identities: tf.grads's own around the output gradient, and the matmul's reshapes.
    expect(kernels(step).filter((n) => n !== 'Identity')).to.deep.equal(['EsperRowScaledMatMul', 'BatchMatMul', 'EsperRowScaledMatMulGradW']);
  });

  it('names the op and the shapes when they do not fit', () => {
    expect(() => rowScaledMatMul(x, w, tf.ones<tf.Rank.R2>([6, 1]))).to.throw(RangeError, /rowScaledMatMul: x \[9,20\], w \[20,6\], scale \[6,1\]/);
  });

  it('leaks no tensor', () => {
    const before = tf.memory().numTensors;
    withGrads((a, b) => rowScaledMatMul(a, b, scale), x, w, target);
    expect(tf.memory().numTensors).to.equal(before);
  });
});
