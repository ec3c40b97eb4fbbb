import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useTestBackend } from '../helpers/test-backend.ts';
import { softmaxCrossEntropy } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { pairStd, pairUp } from '../../src/tensor/width/width-pairs.ts';
import type { WidthSeed } from '../../src/tensor/width/width-seed.ts';
import { batchOf, germinate, grownHost, INPUT, logits, loudOmega, maxAbsDiff } from './width-helpers.ts';

/** The gradient of the mean cross-entropy in the seed's Ψ, with the seed blending at full strength. */
function psiGradient(seed: WidthSeed, loss: () => tf.Scalar): Float32Array {
  return tf.tidy(() => {
    const psi = seed.params[0] as tf.Variable;
    const { grads } = tf.variableGrads(loss, [psi]);
    return (grads[psi.name] as tf.Tensor).dataSync() as Float32Array;
  });
}

describe('cancelling pairs for a width seed under plain SGD (width-pairs.ts, issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  for (const units of [6, 7]) {
    it(`k = ${units}: copies the first ⌊k/2⌋ units, gives them outgoing weights Z and −Z (${units % 2 === 1 ? 'the odd last unit 0, its Ψ kept' : 'no unit left over'}) and leaves the function unchanged`, () => {
      const model = grownHost('mlp');
      const slot = model.widthSlot('w1');
      const seed = germinate(model, 'w1', units);
      slot.setMode('BLENDING', 1);
      const { xs } = batchOf(new Rng(2), 32, INPUT.mlp, 3);
      const before = logits(model, xs);
      const psiBefore = (seed.params[0] as tf.Variable).arraySync() as number[][];
      const tensors = tf.memory().numTensors;

      const pairs = pairUp(seed, 0.5, new Rng(11));

      expect(tf.memory().numTensors, 'no tensor left behind').to.equal(tensors);
      const half = Math.floor(units / 2);
      expect(pairs).to.equal(half);
      const psi = (seed.params[0] as tf.Variable).arraySync() as number[][];
      const bias = Array.from((seed.params[1] as tf.Variable).dataSync());
      const omega = (seed.params[2] as tf.Variable).arraySync() as number[][];
      for (const row of psi) expect(row.slice(half, 2 * half)).to.deep.equal(row.slice(0, half));
      psi.forEach((row, i) => expect(row.slice(0, half)).to.deep.equal(psiBefore[i]?.slice(0, half)));
      expect(bias.slice(half, 2 * half)).to.deep.equal(bias.slice(0, half));
      for (let j = 0; j < half; j++) {
        expect(omega[j]?.some((v) => v !== 0)).to.equal(true);
        expect(omega[j + half]).to.deep.equal(omega[j]?.map((v) => -v));
      }
      if (units % 2 === 1) {
        expect(omega[units - 1]?.every((v) => v === 0)).to.equal(true);
        psi.forEach((row, i) => expect(row[units - 1]).to.equal(psiBefore[i]?.[units - 1]));
      }
      expect(maxAbsDiff(logits(model, xs), before)).to.be.at.most(1e-6);
      xs.dispose();
      model.dispose();
    });
  }

  it("gives the seed's incoming weights a gradient from the first step, opposite within each pair (zero before: Ω = 0)", () => {
    const model = grownHost('mlp');
    const slot = model.widthSlot('w1');
    const seed = germinate(model, 'w1', 4);
    slot.setMode('BLENDING', 1);
    const { xs, ys } = batchOf(new Rng(5), 64, INPUT.mlp, 3);
    const loss = (): tf.Scalar => softmaxCrossEntropy(model.forward(xs), ys);
    expect(Array.from(psiGradient(seed, loss)).every((g) => g === 0)).to.equal(true);
    pairUp(seed, 0.5, new Rng(3));
    const grad = psiGradient(seed, loss);
    expect(Array.from(grad).some((g) => g !== 0)).to.equal(true);
    const [inputs, k] = (seed.params[0] as tf.Variable).shape as [number, number];
    for (let i = 0; i < inputs; i++) {
      for (let j = 0; j < k / 2; j++) expect(grad[i * k + j + k / 2]).to.be.closeTo(-(grad[i * k + j] as number), 1e-6);
    }
    xs.dispose();
    ys.dispose();
    model.dispose();
  });

  it('draws Z from the rng with the standard deviation asked (deterministic for a seeded rng)', () => {
    const draw = (seedValue: number): number[] => {
      const model = grownHost('mlp');
      const seed = germinate(model, 'w2', 400); // Ω [400, 3]: 600 draws of Z
      pairUp(seed, 0.25, new Rng(seedValue));
      const values = Array.from((seed.params[2] as tf.Variable).dataSync()).slice(0, 600);
      model.dispose();
      return values;
    };
    const z = draw(9);
    const rms = Math.sqrt(z.reduce((s, v) => s + v * v, 0) / z.length);
    expect(rms).to.be.closeTo(0.25, 0.25 * 0.15);
    expect(draw(9)).to.deep.equal(z);
    expect(draw(10)).to.not.deep.equal(z);
  });

  it('pairStd is He-normal at the grown fan-in, and refuses what is not a width', () => {
    expect(pairStd(12, 96)).to.be.closeTo(Math.sqrt(2 / 108), 1e-12);
    expect(pairStd(0, 2)).to.equal(1);
    for (const [width, units] of [
      [-1, 4],
      [4, 0],
      [4.5, 2],
      [4, Number.NaN],
    ] as const) {
      expect(() => pairStd(width, units)).to.throw(RangeError, /pairStd/);
    }
  });

  it('refuses a conv seed, a seed whose Ω is not zero, a one-unit seed and a std that is not positive', () => {
    const cnn = grownHost('cnn');
    expect(() => pairUp(germinate(cnn, 'w1', 4), 0.5, new Rng(1))).to.throw(RangeError, /dense width seeds/);
    cnn.dispose();
    const model = grownHost('mlp');
    const loud = germinate(model, 'w1', 4);
    loudOmega(loud, new Rng(2));
    expect(() => pairUp(loud, 0.5, new Rng(1))).to.throw(RangeError, /not zero/);
    const one = germinate(model, 'w2', 1);
    expect(() => pairUp(one, 0.5, new Rng(1))).to.throw(RangeError, /one unit/);
    const other = grownHost('mlp');
    const fine = germinate(other, 'w1', 4);
    for (const std of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => pairUp(fine, std, new Rng(1))).to.throw(RangeError, /std/);
    other.dispose();
    model.dispose();
  });
});
