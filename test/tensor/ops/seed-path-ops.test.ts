import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/tensor/backend.ts';
import { denseMatMul, detachedInputMatMul } from '../../../src/tensor/ops/dense-matmul.ts';
import { stopGradient } from '../../../src/tensor/ops/stop-gradient.ts';
import { straightThrough } from '../../../src/tensor/ops/straight-through.ts';
import { Rng } from '../../../src/tensor/rng.ts';

function randomVariable(rng: Rng, shape: [number, number]): tf.Variable<tf.Rank.R2> {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => tf.variable(tf.tensor2d(Float32Array.from({ length: size }, () => rng.normal()), shape)));
}

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));
}

describe('seed-path ops (the cheaper isolation terms of width and depth seeds)', () => {
  const rng = new Rng(3);
  let x: tf.Variable<tf.Rank.R2>;
  let w: tf.Variable<tf.Rank.R2>;
  let r: tf.Tensor;

  before(async () => {
    await selectBackend('wasm');
    x = randomVariable(rng, [5, 7]);
    w = randomVariable(rng, [7, 3]);
    r = tf.tidy(() => tf.tensor2d(Float32Array.from({ length: 15 }, () => rng.normal()), [5, 3]));
  });
  after(() => tf.dispose([x, w, r]));

  describe('detachedInputMatMul', () => {
    it('computes x·w and gives w the gradient denseMatMul(stop(x), w) gives it, bit for bit', () => {
      tf.tidy(() => {
        expect(bits(detachedInputMatMul(x, w))).to.deep.equal(bits(tf.matMul(x, w)));
        const cheap = tf.variableGrads(() => tf.sum(tf.mul(detachedInputMatMul(x, w), r)), [w]).grads[w.name] as tf.Tensor;
        const reference = tf.variableGrads(() => tf.sum(tf.mul(denseMatMul(stopGradient(x), w), r)), [w]).grads[w.name] as tf.Tensor;
        expect(bits(cheap)).to.deep.equal(bits(reference));
      });
    });

    it('sends no gradient to x', () => {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.add(tf.sum(tf.mul(detachedInputMatMul(x, w), r)), tf.sum(x)), [x, w]);
        // d/dx of sum(x) alone: ones. Any leak through the matmul would add r·wᵀ.
        expect(Array.from((grads[x.name] as tf.Tensor).dataSync())).to.deep.equal(new Array(35).fill(1));
      });
    });

    it('keeps x for the backward pass when the caller frees it first (a host layer computed in its own tidy)', () => {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          // h lives only inside this tidy; the gradient of w still needs it.
          const out = tf.tidy(() => detachedInputMatMul(tf.relu(x) as tf.Tensor2D, w));
          return tf.sum(tf.mul(out, r));
        }, [w]);
        const expected = tf.matMul(tf.transpose(tf.relu(x)), r);
        expect(bits(grads[w.name] as tf.Tensor)).to.deep.equal(bits(expected));
      });
    });

    it('rejects shapes that do not multiply', () => {
      expect(() => detachedInputMatMul(x, tf.zeros([3, 3]))).to.throw(RangeError, /detachedInputMatMul/);
    });
  });

  describe('straightThrough', () => {
    it('is the forward tensor in value, even when the learner is not finite', () => {
      tf.tidy(() => {
        const z = tf.matMul(x, w);
        expect(bits(straightThrough(z, tf.mul(r, 1e3)))).to.deep.equal(bits(z));
        expect(Array.from(straightThrough(z, tf.fill([5, 3], Infinity)).dataSync()).every(Number.isFinite)).to.equal(true);
      });
    });

    it('passes the upstream gradient to both forward and learner, as forward + (learner − stop(learner)) does', () => {
      tf.tidy(() => {
        const learner = (): tf.Tensor => tf.matMul(tf.relu(x), w);
        const cheap = tf.variableGrads(() => tf.sum(tf.mul(straightThrough(tf.matMul(x, w), learner()), r)), [x, w]).grads;
        const reference = tf.variableGrads(() => {
          const s = learner();
          return tf.sum(tf.mul(tf.add(tf.matMul(x, w), tf.sub(s, stopGradient(s))), r));
        }, [x, w]).grads;
        expect(bits(cheap[x.name] as tf.Tensor)).to.deep.equal(bits(reference[x.name] as tf.Tensor));
        expect(bits(cheap[w.name] as tf.Tensor)).to.deep.equal(bits(reference[w.name] as tf.Tensor));
      });
    });

    it('gives both inputs their own gradient tensor, so gradients that meet upstream add up', () => {
      tf.tidy(() => {
        // forward and learner both depend on x: the engine accumulates dy·2 + dy·3 into x's gradient.
        const { grads } = tf.variableGrads(() => tf.sum(straightThrough(tf.mul(x, 2), tf.mul(x, 3))), [x]);
        expect(Array.from((grads[x.name] as tf.Tensor).dataSync())).to.deep.equal(new Array(35).fill(5));
      });
    });

    it('rejects tensors of different shapes', () => {
      expect(() => straightThrough(tf.zeros([2, 3]), tf.zeros([3, 2]))).to.throw(RangeError, /straightThrough/);
    });
  });
});
