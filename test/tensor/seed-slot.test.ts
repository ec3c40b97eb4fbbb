import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { SEED_STAGES } from '../../src/contracts/kasmina.ts';
import { useTestBackend } from '../helpers/test-backend.ts';
import { Rng } from '../../src/tensor/rng.ts';
import {
  builtinSeedModule,
  convAdapter,
  forkSeedRng,
  lowRankAdapter,
  residualDenseAdapter,
  SeedSlot,
  slotModeForStage,
  type SeedModule,
} from '../../src/tensor/seed-slot.ts';
import { stopGradient } from '../../src/tensor/ops/stop-gradient.ts';

const WIDTH = 6;

function values(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

function bytes(t: tf.Tensor): Buffer {
  const data = t.dataSync() as Float32Array;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** A seed whose contribution is far from zero: s(x) = tanh(x)·w + 0.5. */
function loudSeed(rng: Rng, width = WIDTH): SeedModule & { calls: number } {
  const w = tf.variable(tf.tensor1d(values(rng, width)));
  const seed = {
    kind: 'loud',
    config: { width },
    params: [w],
    paramCount: width,
    calls: 0,
    apply(x: tf.Tensor): tf.Tensor {
      seed.calls += 1;
      return tf.add(tf.mul(tf.tanh(x), w), 0.5);
    },
    dispose: () => w.dispose(),
  };
  return seed;
}

/** ∂ sum(slot(h) · c) / ∂h and / ∂seed params. */
function gradsThrough(slot: SeedSlot, h: tf.Tensor, c: tf.Tensor): { dh: tf.Tensor; dSeed: tf.Tensor[] } {
  const params = slot.seed?.params ?? [];
  const dh = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(slot.apply(x), c)))(h);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(slot.apply(h), c)), params);
  return { dh, dSeed: params.map((p) => grads[p.name] as tf.Tensor) };
}

describe('SeedSlot (issue 4, item 3)', () => {
  let rng: Rng;
  let h: tf.Tensor2D;
  let c: tf.Tensor2D;

  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  beforeEach(() => {
    rng = new Rng(7);
    h = tf.tensor2d(values(rng, 4 * WIDTH), [4, WIDTH]);
    c = tf.tensor2d(values(rng, 4 * WIDTH), [4, WIDTH]);
  });

  afterEach(() => {
    h.dispose();
    c.dispose();
  });

  it('stopGradient is the identity forward and zero backward', () => {
    tf.tidy(() => {
      expect(bytes(stopGradient(h)).equals(bytes(h))).to.equal(true);
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(stopGradient(x), c)))(h);
      expect(Array.from(g.dataSync()).every((v) => v === 0)).to.equal(true);
    });
  });

  it('DORMANT returns its input tensor itself and never runs the seed', () => {
    const slot = new SeedSlot('s', [WIDTH]);
    expect(slot.apply(h)).to.equal(h);
    const seed = loudSeed(rng);
    slot.attach(seed); // germinated: attached, still skipped
    seed.calls = 0;
    expect(slot.apply(h)).to.equal(h);
    expect(seed.calls).to.equal(0);
    slot.dispose();
  });

  it('TRAINING: forward equals the host exactly, the seed gets the task gradient, the host none from the seed path', () => {
    const slot = new SeedSlot('s', [WIDTH]);
    slot.attach(loudSeed(rng));
    slot.setMode('TRAINING');
    tf.tidy(() => {
      expect(bytes(slot.apply(h)).equals(bytes(h))).to.equal(true);
      const { dh, dSeed } = gradsThrough(slot, h, c);
      expect(bytes(dh).equals(bytes(c))).to.equal(true); // only the identity path: ∂/∂h = c exactly
      const expected = tf.sum(tf.mul(tf.tanh(h), c), 0); // ∂/∂w of sum((tanh(h)·w + .5)·c)
      expect(Array.from(dSeed[0]?.dataSync() ?? [])).to.deep.equal(Array.from(expected.dataSync()));
      expect(tf.max(tf.abs(expected)).dataSync()[0]).to.be.greaterThan(0);
    });
    slot.dispose();
  });

  it('BLENDING at α = 0 equals the host, and at α = 0.5 adds half the seed', () => {
    const slot = new SeedSlot('s', [WIDTH]);
    const seed = loudSeed(rng);
    slot.attach(seed);
    slot.setMode('BLENDING', 0);
    tf.tidy(() => {
      expect(bytes(slot.apply(h)).equals(bytes(h))).to.equal(true);
      slot.setAlpha(0.5);
      const expected = tf.add(h, tf.mul(seed.apply(h), 0.5));
      expect(bytes(slot.apply(h)).equals(bytes(expected))).to.equal(true);
    });
    slot.dispose();
  });

  it('BLENDING detaches the host by default and lets the seed path reach it with detachInBlending: false', () => {
    for (const detach of [true, false]) {
      const slot = new SeedSlot('s', [WIDTH], { detachInBlending: detach });
      slot.attach(loudSeed(new Rng(3)));
      slot.setMode('BLENDING', 0.5);
      tf.tidy(() => {
        const { dh, dSeed } = gradsThrough(slot, h, c);
        expect(bytes(dh).equals(bytes(c)), `detach ${String(detach)}`).to.equal(detach);
        expect(tf.max(tf.abs(dSeed[0] as tf.Tensor)).dataSync()[0]).to.be.greaterThan(0);
      });
      slot.dispose();
    }
  });

  it('HOLDING keeps α; FOSSILIZED sets α = 1 and adds the whole seed', () => {
    const slot = new SeedSlot('s', [WIDTH]);
    const seed = loudSeed(rng);
    slot.attach(seed);
    slot.setMode('BLENDING', 0.3);
    slot.setMode('HOLDING');
    expect(slot.alpha).to.equal(0.3);
    expect(slot.trainable).to.equal(true);
    slot.setMode('FOSSILIZED');
    expect(slot.alpha).to.equal(1);
    expect(slot.trainable).to.equal(false); // frozen unless trainFossil
    tf.tidy(() => {
      expect(bytes(slot.apply(h)).equals(bytes(tf.add(h, seed.apply(h))))).to.equal(true);
    });
    expect(() => slot.prune()).to.throw(/FOSSILIZED/);
    expect(() => slot.setMode('BLENDING')).to.throw(/terminal/);
    expect(new SeedSlot('t', [WIDTH], { trainFossil: true })).to.have.property('trainFossil', true);
    slot.dispose();
  });

  it('PRUNED disposes the seed variables and skips the seed', () => {
    const slot = new SeedSlot('s', [WIDTH]);
    const seed = residualDenseAdapter(WIDTH, 4, rng);
    slot.attach(seed);
    slot.setMode('TRAINING');
    slot.prune();
    expect(slot.mode).to.equal('PRUNED');
    expect(slot.seed).to.equal(undefined);
    expect(seed.params.every((p) => p.isDisposed)).to.equal(true);
    expect(slot.apply(h)).to.equal(h);
    slot.reset();
    expect(slot.mode).to.equal('DORMANT');
  });

  it('rejects a seed of the wrong shape, modes without a seed, α outside [0, 1] and activations of the wrong shape', () => {
    const slot = new SeedSlot('s', [WIDTH]);
    const wrong = residualDenseAdapter(WIDTH + 1, 2, rng);
    expect(() => slot.attach(wrong)).to.throw(/seed residual-dense maps/);
    wrong.dispose();
    expect(() => slot.setMode('TRAINING')).to.throw(/no seed/);
    slot.attach(lowRankAdapter(WIDTH, 2, rng));
    slot.setMode('BLENDING');
    expect(() => slot.setAlpha(1.5)).to.throw(RangeError);
    expect(() => slot.apply(tf.zeros([2, WIDTH + 1]))).to.throw(/expects \[batch, 6\]/);
    slot.dispose();
  });

  it('built-in adapters start as a zero contribution and count their parameters', () => {
    tf.tidy(() => {
      const dense = residualDenseAdapter(WIDTH, 5, rng);
      const low = lowRankAdapter(WIDTH, 2, rng);
      const conv3 = convAdapter(3, rng);
      const conv1 = convAdapter(3, rng, { kernelSize: 1, hidden: 2 });
      const image = tf.tensor4d(values(rng, 2 * 5 * 5 * 3), [2, 5, 5, 3]);
      for (const [seed, x] of [[dense, h], [low, h], [conv3, image], [conv1, image]] as const) {
        const out = seed.apply(x);
        expect(out.shape).to.deep.equal(x.shape);
        expect(Array.from(out.dataSync()).every((v) => v === 0), seed.kind).to.equal(true);
      }
      expect(dense.paramCount).to.equal(WIDTH * 5 + 5 + 5 * WIDTH + WIDTH);
      expect(low.paramCount).to.equal(2 * WIDTH * 2);
      expect(conv3.paramCount).to.equal(3 * 3 * 3 * 3 + 3 + 3 * 3 + 3);
      expect(conv1.paramCount).to.equal(3 * 2 + 2 + 2 * 3 + 3);
      for (const seed of [dense, low, conv3, conv1]) seed.dispose();
    });
  });

  it('residual-dense with depth > 1 stacks hidden layers, starts as a zero contribution and rebuilds from its config', () => {
    tf.tidy(() => {
      const deep = residualDenseAdapter(WIDTH, 5, rng, 2);
      expect(deep.config).to.deep.equal({ width: WIDTH, hidden: 5, depth: 2 });
      expect(deep.params.map((p) => p.shape)).to.deep.equal([[WIDTH, 5], [5], [5, 5], [5], [5, WIDTH], [WIDTH]]);
      expect(deep.paramCount).to.equal(WIDTH * 5 + 5 + (5 * 5 + 5) + 5 * WIDTH + WIDTH);
      expect(Array.from(deep.apply(h).dataSync()).every((v) => v === 0)).to.equal(true);
      // Depth 1 keeps the old config (checkpoints of depth-1 seeds are unchanged).
      const shallow = residualDenseAdapter(WIDTH, 5, rng);
      expect(shallow.config).to.deep.equal({ width: WIDTH, hidden: 5 });
      const rebuilt = builtinSeedModule('residual-dense', deep.config, rng);
      expect(rebuilt?.params.map((p) => p.shape)).to.deep.equal(deep.params.map((p) => p.shape));
      // Once the output layer is non-zero, both hidden layers get gradient and change the output.
      const out = deep.params[4] as tf.Variable;
      out.assign(tf.onesLike(out));
      const { grads } = tf.variableGrads(() => tf.sum(deep.apply(h)), deep.params);
      for (const p of deep.params.slice(0, 4)) expect(tf.max(tf.abs(grads[p.name] as tf.Tensor)).dataSync()[0]).to.be.greaterThan(0);
      expect(() => residualDenseAdapter(WIDTH, 5, rng, 0)).to.throw(RangeError);
      for (const seed of [deep, shallow, rebuilt]) seed?.dispose();
    });
  });

  it('maps every lifecycle stage onto a slot mode', () => {
    expect(SEED_STAGES.map(slotModeForStage)).to.deep.equal(['DORMANT', 'DORMANT', 'TRAINING', 'BLENDING', 'HOLDING', 'FOSSILIZED', 'PRUNED', 'PRUNED', 'PRUNED']);
  });

  it('forkSeedRng draws nothing from the parent and differs per slot and generation', () => {
    const parent = new Rng(42);
    const before = parent.state();
    const a = forkSeedRng(parent, 'slot-a').next();
    expect(parent.state()).to.deep.equal(before);
    expect(forkSeedRng(parent, 'slot-a').next()).to.equal(a);
    expect(forkSeedRng(parent, 'slot-b').next()).not.to.equal(a);
    expect(forkSeedRng(parent, 'slot-a', 1).next()).not.to.equal(a);
  });

  it('leaves no tensors behind when applied inside tf.tidy in any mode', () => {
    const slot = new SeedSlot('s', [WIDTH]);
    slot.attach(residualDenseAdapter(WIDTH, 4, rng));
    const before = tf.memory().numTensors;
    for (const mode of ['DORMANT', 'TRAINING', 'BLENDING', 'HOLDING', 'FOSSILIZED'] as const) {
      slot.setMode(mode);
      tf.tidy(() => {
        slot.apply(h);
        if (mode !== 'DORMANT') gradsThrough(slot, h, c);
      });
    }
    expect(tf.memory().numTensors).to.equal(before);
    slot.dispose();
  });
});
