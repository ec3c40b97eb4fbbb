import { expect } from 'chai';
import type * as tf from '@tensorflow/tfjs';
import type { HostModel } from '../../../src/tensor/hosts/model.ts';
import { CNN_SHRINK_AT_MERGE, SHRINK_OFF, shrinkAndPerturb, shrinkAtMergeFor } from '../../../src/tensor/hosts/shrink-perturb.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { residualDenseAdapter } from '../../../src/tensor/seed-slot.ts';
import { useTestBackend } from '../../helpers/test-backend.ts';
import { bytesOf, germinate, grownHost, INPUT, logits, loudOmega, maxAbsDiff, randomTensor, type HostName } from '../width-helpers.ts';

/** Index of the largest value of each row of `values` ([rows, classes], row-major). */
function argmaxRows(values: Float32Array, classes: number): number[] {
  return Array.from({ length: values.length / classes }, (_, r) => {
    const row = Array.from(values.subarray(r * classes, (r + 1) * classes));
    return row.indexOf(Math.max(...row));
  });
}

/** Layers of the test hosts, the logits layer included (`width-helpers.ts`: mlp 6-4-5-3, cnn conv → conv → dense → 3). */
const LAYERS: Record<HostName, number> = { mlp: 3, cnn: 4 };

/** The host with a live width seed on layer 2, blending with a non-zero contribution (its Ω is loud). */
function hostWithBlendingSeed(name: HostName): HostModel {
  const model = grownHost(name);
  const seed = germinate(model, 'w2', 3);
  loudOmega(seed, new Rng(5));
  model.widthSlot('w2').setMode('BLENDING', 0.5);
  return model;
}

describe('shrink and perturb at a merge (issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  for (const name of ['mlp', 'cnn'] as const) {
    it(`${name}: without noise the logits are λ^L times what they were, a blending width seed included, so every prediction is kept`, () => {
      const model = hostWithBlendingSeed(name);
      const x = randomTensor(new Rng(4), [24, ...INPUT[name]]);
      const before = logits(model, x);
      expect(model.shrinkAndPerturb({ factor: 0.6, noise: 0 }, new Rng(1))).to.equal(undefined);
      const after = logits(model, x);
      const scale = 0.6 ** LAYERS[name];
      const scaledBefore = before.map((v) => v * scale);
      expect(maxAbsDiff(after, scaledBefore)).to.be.below(1e-5 * Math.max(1, ...Array.from(before, Math.abs)));
      expect(argmaxRows(after, 3)).to.deep.equal(argmaxRows(before, 3));
      // The seed's contribution was not zero (so its scaling was tested): without the seed the logits differ.
      const ablated = model.widthSlot('w2').ablate(() => logits(model, x));
      expect(maxAbsDiff(ablated, after)).to.be.above(1e-4);
      model.dispose();
    });
  }

  it('with noise it changes the kernels by noise × a He-normal draw, deterministic in its Rng, and leaves the biases shrunk only', () => {
    const run = (): { model: HostModel; bytes: Buffer } => {
      const model = grownHost('mlp');
      model.shrinkAndPerturb({ factor: 0.5, noise: 0.1 }, new Rng(11));
      return { model, bytes: bytesOf(model.hostParams) };
    };
    const reference = grownHost('mlp');
    const kernel = Array.from((reference.hostParams[0] as tf.Variable).dataSync());
    const bias2 = Array.from((reference.hostParams[3] as tf.Variable).dataSync());
    const a = run();
    const b = run();
    expect(a.bytes.equals(b.bytes)).to.equal(true);
    const shrunk = Array.from((a.model.hostParams[0] as tf.Variable).dataSync());
    const residual = shrunk.map((v, i) => v - 0.5 * (kernel[i] as number));
    const rms = Math.sqrt(residual.reduce((s, v) => s + v * v, 0) / residual.length);
    // Layer 1 of 6-4-5-3 has fan-in 6: He std √(2/6) ≈ 0.577, so the noise's RMS is about 0.058 (24 draws).
    expect(rms).to.be.within(0.03, 0.09);
    expect(Array.from((a.model.hostParams[3] as tf.Variable).dataSync())).to.deep.equal(bias2.map((v) => Math.fround(v * 0.25)));
    for (const m of [reference, a.model, b.model]) m.dispose();
  });

  it('leaves a host holding a depth seed alone and says why', () => {
    const model = grownHost('mlp');
    const before = bytesOf(model.hostParams);
    model.slot('d1').attach(residualDenseAdapter(4, 2, new Rng(1)));
    expect(model.shrinkAndPerturb({ factor: 0.6, noise: 0.1 }, new Rng(1))).to.match(/depth slot d1 holds a seed/);
    expect(bytesOf(model.hostParams).equals(before)).to.equal(true);
    model.dispose();
  });

  it('refuses a factor outside (0, 1] or noise outside [0, 1]', () => {
    expect(() => shrinkAndPerturb([], [], { factor: 0, noise: 0 }, new Rng(1))).to.throw(RangeError);
    expect(() => shrinkAndPerturb([], [], { factor: 1.5, noise: 0 }, new Rng(1))).to.throw(RangeError);
    expect(() => shrinkAndPerturb([], [], { factor: 0.5, noise: -0.1 }, new Rng(1))).to.throw(RangeError);
  });

  it('applies the spec\'s shrink, else { 0.6, 0.1 } on a CNN host and none on an MLP', () => {
    const cnn = { kind: 'cnn' };
    const mlp = { kind: 'mlp' };
    expect(shrinkAtMergeFor({ host: cnn, optimizer: {} })).to.deep.equal({ factor: 0.6, noise: 0.1 });
    expect(shrinkAtMergeFor({ host: cnn, optimizer: {} })).to.equal(CNN_SHRINK_AT_MERGE);
    expect(shrinkAtMergeFor({ host: mlp, optimizer: {} })).to.deep.equal({ factor: 1, noise: 0 });
    expect(shrinkAtMergeFor({ host: mlp, optimizer: {} })).to.equal(SHRINK_OFF);
    expect(shrinkAtMergeFor({ host: cnn, optimizer: { shrinkAtMerge: { factor: 1, noise: 0 } } })).to.deep.equal({ factor: 1, noise: 0 });
    expect(shrinkAtMergeFor({ host: mlp, optimizer: { shrinkAtMerge: { factor: 0.5, noise: 0.2 } } })).to.deep.equal({ factor: 0.5, noise: 0.2 });
  });
});
