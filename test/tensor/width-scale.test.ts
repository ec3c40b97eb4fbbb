import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useTestBackend } from '../helpers/test-backend.ts';
import { EsperError } from '../../src/errors/index.ts';
import { symmetricEigenvalues } from '../../src/tensor/linalg/symmetric-eigen.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { forkSeedRng } from '../../src/tensor/seed-slot.ts';
import { initWidthSeed, type WidthInit } from '../../src/tensor/width/width-init.ts';
import { outgoingSharpness, scaleIncoming, sgdScale } from '../../src/tensor/width/width-scale.ts';
import { batchOf, grownHost, INPUT, logits, maxAbsDiff, randomTensor, type HostName } from './width-helpers.ts';

/**
 * The Gauss–Newton matrix of the mean cross-entropy in Ω, built entry by entry, for a seed feeding the logits directly
 * (J = I): Σ_b (u_b ⊗ I)ᵀ H_b (u_b ⊗ I) / B with H_b = diag(p_b) − p_b p_bᵀ; Ω [k, c] flattened row-major.
 */
function gaussNewtonAtLogits(u: Float32Array, p: Float32Array, batch: number, k: number, classes: number): Float64Array {
  const n = k * classes;
  const m = new Float64Array(n * n);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < k; i++) {
      for (let a = 0; a < classes; a++) {
        for (let j = 0; j < k; j++) {
          for (let c = 0; c < classes; c++) {
            const pa = p[b * classes + a] as number;
            const h = (a === c ? pa : 0) - pa * (p[b * classes + c] as number);
            const at = (i * classes + a) * n + j * classes + c;
            m[at] = (m[at] as number) + ((u[b * k + i] as number) * (u[b * k + j] as number) * h) / batch;
          }
        }
      }
    }
  }
  return m;
}

describe('width seeds scaled to what plain SGD takes (width-scale.ts, issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  it('outgoingSharpness is the top eigenvalue of the Gauss–Newton matrix in Ω (checked where J = I: a seed feeding the logits) and leaves Ω as it was', () => {
    const model = grownHost('mlp', 2);
    const slot = model.widthSlot('w2'); // layer 2's units feed layer 3, the logits
    const seed = initWidthSeed(model, slot.layer, slot.geometry, { units: 3 }, new Rng(4));
    const omega = seed.params[2] as tf.Variable;
    tf.tidy(() => omega.assign(randomTensor(new Rng(9), omega.shape)));
    const omegaBefore = omega.dataSync().slice();
    const x = randomTensor(new Rng(3), [32, 6]);
    const { u, p } = tf.tidy(() => ({ u: seed.activate(model.probeLayer(x, 2).input).dataSync() as Float32Array, p: tf.softmax(model.forward(x)).dataSync() as Float32Array }));
    const exact = symmetricEigenvalues(gaussNewtonAtLogits(u, p, 32, 3, 3), 9)[0] as number;
    expect(exact).to.be.greaterThan(0);
    const tensors = tf.memory().numTensors;
    expect(outgoingSharpness(model, 2, seed, x, 60)).to.be.closeTo(exact, 1e-3 * exact);
    expect(tf.memory().numTensors, 'no tensor left behind').to.equal(tensors);
    expect(Array.from(omega.dataSync())).to.deep.equal(Array.from(omegaBefore));
    seed.dispose();
    x.dispose();
    model.dispose();
  });

  it('sgdScale is the largest c ≤ 1 with lr·c²·λ ≤ bound; 1 for silent units; a bad bound or learning rate throws', () => {
    const c = sgdScale(40, 0.2, 2);
    expect(c).to.be.closeTo(0.5, 1e-12);
    expect(0.2 * c * c * 40).to.be.closeTo(2, 1e-12);
    expect(sgdScale(5, 0.1, 2)).to.equal(1); // stable already: never scaled up
    expect(sgdScale(0, 0.1, 2)).to.equal(1);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => sgdScale(1, 0.1, bad)).to.throw(RangeError, /bound/);
      expect(() => sgdScale(1, bad, 2)).to.throw(RangeError, /learningRate/);
    }
  });

  for (const [name, init] of [['mlp', 'random'], ['mlp', 'gradient'], ['cnn', 'select']] as [HostName, WidthInit][]) {
    it(`${name}, ${init} init: under SGD the new units are scaled by one c < 1 to lr·λ = bound, the function at germination unchanged`, () => {
      const sgd = { learningRate: 50, bound: 2 }; // a rate no unscaled seed here is stable at
      const model = grownHost(name, 3);
      const { xs, ys } = batchOf(new Rng(5), 64, INPUT[name], 3);
      const slot = model.widthSlot('w1');
      const before = logits(model, xs);
      const rng = (): Rng => forkSeedRng(new Rng(11), 'w1');
      const plain = initWidthSeed(model, slot.layer, slot.geometry, { units: 6, init }, rng(), { x: xs, y: ys });
      const scaled = initWidthSeed(model, slot.layer, slot.geometry, { units: 6, init, sgd }, rng(), { x: xs, y: ys });
      const lambdaPlain = outgoingSharpness(model, slot.layer, plain, xs);
      const lambdaScaled = outgoingSharpness(model, slot.layer, scaled, xs);
      expect(sgd.learningRate * lambdaPlain, 'the unscaled seed is over the bound (else nothing is tested)').to.be.greaterThan(sgd.bound);
      expect(sgd.learningRate * lambdaScaled).to.be.closeTo(sgd.bound, 0.02 * sgd.bound);
      // One factor for Ψ and b, and λ scales by its square.
      const c = ((scaled.params[0] as tf.Variable).dataSync()[0] as number) / ((plain.params[0] as tf.Variable).dataSync()[0] as number);
      expect(c).to.be.greaterThan(0).and.lessThan(1);
      expect(lambdaScaled).to.be.closeTo(c * c * lambdaPlain, 0.02 * lambdaScaled);
      for (const i of [0, 1]) {
        const expected = tf.tidy(() => tf.mul(plain.params[i] as tf.Variable, c).dataSync());
        expect(maxAbsDiff((scaled.params[i] as tf.Variable).dataSync(), expected)).to.be.at.most(1e-5);
      }
      expect(Array.from((scaled.params[2] as tf.Variable).dataSync()).every((v) => v === 0), 'Ω stays zero').to.equal(true);
      slot.attach(scaled);
      expect(maxAbsDiff(logits(model, xs), before)).to.equal(0);
      plain.dispose();
      for (const t of [xs, ys]) t.dispose();
      model.dispose();
    });
  }

  it('scaleIncoming scales the units by c and leaves Ω alone; scaling for SGD without a batch is a config error', () => {
    const model = grownHost('mlp', 4);
    const slot = model.widthSlot('w2');
    const seed = initWidthSeed(model, slot.layer, slot.geometry, { units: 3 }, new Rng(2));
    const omega = seed.params[2] as tf.Variable;
    tf.tidy(() => omega.assign(randomTensor(new Rng(6), omega.shape)));
    const x = randomTensor(new Rng(7), [5, 4]);
    const u = tf.tidy(() => seed.activate(x).dataSync());
    const omegaBefore = omega.dataSync().slice();
    scaleIncoming(seed, 0.3);
    const scaled = tf.tidy(() => seed.activate(x).dataSync());
    expect(maxAbsDiff(scaled, Float32Array.from(u, (v) => v * 0.3))).to.be.at.most(1e-6);
    expect(Array.from(omega.dataSync())).to.deep.equal(Array.from(omegaBefore));
    let caught: unknown;
    try {
      initWidthSeed(model, slot.layer, slot.geometry, { units: 3, sgd: { learningRate: 0.1, bound: 2 } }, new Rng(2));
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(EsperError);
    expect((caught as EsperError).code).to.equal('ESPER_CONFIG_INVALID');
    seed.dispose();
    x.dispose();
    model.dispose();
  });
});
