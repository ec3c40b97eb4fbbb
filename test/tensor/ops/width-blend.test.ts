import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { stopGradient } from '../../../src/tensor/ops/stop-gradient.ts';
import { widthBlend } from '../../../src/tensor/ops/width-blend.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { useTestBackend } from '../../helpers/test-backend.ts';

function randomVariable(rng: Rng, shape: number[], scale = 1): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => tf.variable(tf.tensor(Float32Array.from({ length: size }, () => rng.normal() * scale), shape)));
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const av = a.dataSync();
  const bv = b.dataSync();
  let scale = 1;
  for (const v of bv) scale = Math.max(scale, Math.abs(v));
  let max = av.length === bv.length ? 0 : Number.POSITIVE_INFINITY;
  for (let i = 0; i < av.length; i++) max = Math.max(max, Math.abs((av[i] as number) - (bv[i] as number)));
  return max / scale;
}

describe('widthBlend (a BLENDING dense width seed as one op, issue 11)', () => {
  const rng = new Rng(11);
  const vars: Record<'z0' | 'x' | 'psi' | 'bias' | 'omega', tf.Variable> = {} as never;
  let target: tf.Tensor;

  before(async function () {
    await useTestBackend(this, 'wasm');
    vars.x = randomVariable(rng, [9, 7]);
    vars.z0 = randomVariable(rng, [9, 4]);
    vars.psi = randomVariable(rng, [7, 5], 0.6);
    vars.bias = randomVariable(rng, [5], 0.3);
    vars.omega = randomVariable(rng, [5, 4]);
    target = tf.tidy(() => tf.tensor2d(Float32Array.from({ length: 36 }, () => rng.normal()), [9, 4]));
  });
  after(() => tf.dispose([...Object.values(vars), target]));

  /** The branch as width-slot.ts defines it, in plain tfjs ops. */
  const branch = (alpha: number, attach: boolean): tf.Tensor => {
    const input = attach ? vars.x : stopGradient(vars.x);
    const units = tf.relu(tf.add(tf.matMul(input as tf.Tensor2D, vars.psi as tf.Tensor2D), vars.bias));
    return tf.add(vars.z0, tf.mul(tf.matMul(units, vars.omega as tf.Tensor2D), alpha));
  };
  const fused = (alpha: number, attach: boolean): tf.Tensor =>
    widthBlend(vars.z0 as tf.Tensor2D, vars.x as tf.Tensor2D, vars.psi as tf.Tensor2D, vars.bias as tf.Tensor1D, vars.omega as tf.Tensor2D, alpha, { attachInput: attach });

  for (const attach of [false, true]) {
    for (const alpha of [0.3, 1]) {
      it(`α = ${alpha}, ${attach ? 'attached' : 'detached'} input: value and the gradients of z, x, Ψ, b, Ω equal the branch's (≤ 1e-5)`, () => {
        tf.tidy(() => {
          const all = Object.values(vars);
          const loss = (f: () => tf.Tensor) => () => tf.sum<tf.Scalar>(tf.mul(tf.tanh(f()), target));
          const mine = tf.variableGrads(loss(() => fused(alpha, attach)), all);
          const reference = tf.variableGrads(loss(() => branch(alpha, attach)), all);
          expect(maxRelDiff(mine.value, reference.value)).to.be.at.most(1e-5);
          for (const [name, v] of Object.entries(vars)) {
            const got = mine.grads[v.name];
            const want = reference.grads[v.name] as tf.Tensor;
            if (name === 'x' && !attach) {
              // Read through a gradient stop: no path back to x at all (the reference's stop gives zeros).
              expect(got, name).to.equal(undefined);
              expect(maxAbsOf(want)).to.equal(0);
              continue;
            }
            expect(got, name).to.not.equal(undefined);
            expect(maxRelDiff(got as tf.Tensor, want), name).to.be.at.most(1e-5);
          }
        });
      });
    }
  }

  it('α = 0 returns z exactly', () => {
    tf.tidy(() => {
      const out = fused(0, false).dataSync();
      expect(Array.from(out)).to.deep.equal(Array.from(vars.z0.dataSync()));
    });
  });

  it('refuses shapes that do not fit, naming them', () => {
    tf.tidy(() => {
      expect(() => widthBlend(vars.z0 as tf.Tensor2D, vars.x as tf.Tensor2D, vars.omega as tf.Tensor2D, vars.bias as tf.Tensor1D, vars.omega as tf.Tensor2D, 1)).to.throw(RangeError, /Error in widthBlend: .*Ψ \[5,4\]/);
    });
  });
});

function maxAbsOf(t: tf.Tensor): number {
  return Math.max(...Array.from(t.dataSync(), Math.abs));
}
