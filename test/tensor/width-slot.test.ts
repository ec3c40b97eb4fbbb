import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../src/errors/index.ts';
import { useTestBackend } from '../helpers/test-backend.ts';
import { Optimizer } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { residualDenseAdapter } from '../../src/tensor/seed-slot.ts';
import { bytesOf, germinate, grownHost, INPUT, logits, loudOmega, maxAbsDiff, randomTensor, train, type HostName } from './width-helpers.ts';

/** Every width slot of each host, with the seed layout it gets. */
const CASES: { host: HostName; slot: string; layout: string }[] = [
  { host: 'mlp', slot: 'w1', layout: 'dense' },
  { host: 'mlp', slot: 'w2', layout: 'dense' }, // feeds the logits
  { host: 'cnn', slot: 'w1', layout: 'conv' }, // conv → conv
  { host: 'cnn', slot: 'w2', layout: 'conv-dense' }, // conv → flatten → dense
  { host: 'cnn', slot: 'w3', layout: 'dense' }, // dense → logits
];

describe('width seeds: slot modes, isolation, prune and merge (issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  for (const c of CASES) {
    it(`${c.host} ${c.slot} (${c.layout}): germinated, TRAINING and BLENDING at α = 0 compute exactly the host's logits; α > 0 does not`, () => {
      const x = randomTensor(new Rng(2), [4, ...INPUT[c.host]]);
      const bare = grownHost(c.host);
      const model = grownHost(c.host);
      const seed = germinate(model, c.slot, 3);
      expect(seed.geometry.layout).to.equal(c.layout);
      loudOmega(seed, new Rng(3)); // even a seed whose contribution is not zero leaves TRAINING exact
      const host = Buffer.from(logits(bare, x).buffer);
      expect(Buffer.from(logits(model, x).buffer).equals(host)).to.equal(true);
      model.widthSlot(c.slot).setMode('TRAINING');
      expect(Buffer.from(logits(model, x).buffer).equals(host)).to.equal(true);
      model.widthSlot(c.slot).setMode('BLENDING', 0);
      expect(Buffer.from(logits(model, x).buffer).equals(host)).to.equal(true);
      model.widthSlot(c.slot).setAlpha(0.5);
      expect(Buffer.from(logits(model, x).buffer).equals(host)).to.equal(false);
      for (const m of [bare, model]) m.dispose();
      x.dispose();
    });
  }

  for (const [name, forward] of [
    ['mlp', 'live'],
    ['cnn', 'live'],
    ['mlp', 'straight-through'],
    ['cnn', 'straight-through'],
  ] as const) {
    const learns = forward === 'live' ? 'Ψ, b and Ω learn' : 'Ω learns and Ψ, b wait for BLENDING';
    it(`${name}, ${forward}: 20 Adam steps with a TRAINING width seed leave the host bit-identical to 20 steps without it, while ${learns}`, () => {
      const run = (withSeed: boolean): { host: Buffer; before: Buffer[]; after: Buffer[] } => {
        const model = grownHost(name, 1, undefined, forward);
        const seed = withSeed ? germinate(model, 'w1', 3) : undefined;
        if (withSeed) model.widthSlot('w1').setMode('TRAINING');
        const before = (seed?.params ?? []).map((p) => bytesOf([p]));
        const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 }, model.paramGroups());
        train(model, optimizer, name, 20, new Rng(4));
        const result = { host: bytesOf(model.hostParams), before, after: (seed?.params ?? []).map((p) => bytesOf([p])) };
        optimizer.dispose();
        model.dispose();
        return result;
      };
      const without = run(false);
      const withSeed = run(true);
      expect(withSeed.host.equals(without.host)).to.equal(true);
      const [psi, bias, omega] = withSeed.after.map((after, i) => !after.equals(withSeed.before[i] as Buffer));
      expect({ psi, bias, omega }).to.deep.equal({ psi: forward === 'live', bias: forward === 'live', omega: true });
    });
  }

  for (const name of ['mlp', 'cnn'] as const) {
    it(`${name}: a live TRAINING seed takes the step it would take blending at α = 1, while the loss and the host's step are those without it`, () => {
      const step = (mode: 'none' | 'TRAINING' | 'BLENDING'): { loss: number; host: Float32Array; seed: Float32Array } => {
        const model = grownHost(name, 1, true, 'live');
        if (mode !== 'none') {
          loudOmega(germinate(model, 'w1', 3), new Rng(3));
          if (mode === 'TRAINING') model.widthSlot('w1').setMode('TRAINING');
          else model.widthSlot('w1').setMode('BLENDING', 1);
        }
        const seedParams = model.widthSlot('w1').seed?.params ?? [];
        const optimizer = new Optimizer({ kind: 'sgd', learningRate: 0.1 }, model.paramGroups());
        const [loss] = train(model, optimizer, name, 1, new Rng(4));
        const flat = (vars: readonly tf.Tensor[]): Float32Array => Float32Array.from(vars.flatMap((v) => [...(v.dataSync() as Float32Array)]));
        const result = { loss: loss ?? Number.NaN, host: flat(model.hostParams), seed: flat(seedParams) };
        optimizer.dispose();
        model.dispose();
        return result;
      };
      const [none, training, blending] = [step('none'), step('TRAINING'), step('BLENDING')];
      expect(training.loss).to.equal(none.loss);
      expect(Buffer.from(training.host.buffer).equals(Buffer.from(none.host.buffer))).to.equal(true);
      expect(blending.loss).to.not.equal(none.loss);
      expect(maxAbsDiff(training.seed, blending.seed)).to.be.below(1e-5);
    });
  }

  it('a blended width seed does change the host trajectory (so the isolation comparison can fail)', () => {
    const hosts = [false, true].map((withSeed) => {
      const model = grownHost('mlp');
      if (withSeed) {
        germinate(model, 'w1', 3);
        model.widthSlot('w1').setMode('BLENDING', 1);
      }
      const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 });
      train(model, optimizer, 'mlp', 5, new Rng(4));
      const bytes = bytesOf(model.hostParams);
      optimizer.dispose();
      model.dispose();
      return bytes;
    });
    expect((hosts[0] as Buffer).equals(hosts[1] as Buffer)).to.equal(false);
  });

  it('blending at α = 0 the seed takes no optimizer step at all: weights, moments and step count wait for α > 0 (issue 11)', () => {
    const model = grownHost('mlp');
    loudOmega(germinate(model, 'w1', 3), new Rng(3));
    const slot = model.widthSlot('w1');
    slot.setMode('BLENDING', 0);
    expect(slot.frozenParams).to.deep.equal([0, 1, 2]);
    const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 });
    const before = bytesOf(slot.seed?.params ?? []);
    train(model, optimizer, 'mlp', 3, new Rng(4));
    expect(bytesOf(slot.seed?.params ?? []).equals(before)).to.equal(true);
    expect(optimizer.exportState().groups.find((g) => g.id === 'seed:w1')?.step ?? 0).to.equal(0);
    slot.setAlpha(0.5);
    expect(slot.frozenParams).to.deep.equal([]);
    train(model, optimizer, 'mlp', 2, new Rng(5));
    expect(optimizer.exportState().groups.find((g) => g.id === 'seed:w1')?.step).to.equal(2);
    expect(bytesOf(slot.seed?.params ?? []).equals(before)).to.equal(false);
    optimizer.dispose();
    model.dispose();
  });

  it('prune removes the seed exactly: host weights, config, outputs and tensor count as before germination', () => {
    const x = randomTensor(new Rng(2), [4, 8, 8, 1]);
    const model = grownHost('cnn');
    const config = JSON.stringify(model.config);
    const hostBefore = bytesOf(model.hostParams);
    const outBefore = Buffer.from(logits(model, x).buffer);
    const tensors = tf.memory().numTensors;
    const seed = germinate(model, 'w2', 4);
    loudOmega(seed, new Rng(5));
    model.widthSlot('w2').setMode('BLENDING', 0.7);
    expect(Buffer.from(logits(model, x).buffer).equals(outBefore)).to.equal(false);
    model.widthSlot('w2').setMode('PRUNED');
    expect(model.widthSlot('w2').seed).to.equal(undefined);
    expect(bytesOf(model.hostParams).equals(hostBefore)).to.equal(true);
    expect(JSON.stringify(model.config)).to.equal(config);
    expect(Buffer.from(logits(model, x).buffer).equals(outBefore)).to.equal(true);
    expect(tf.memory().numTensors).to.equal(tensors);
    // A pruned slot can germinate again after reset, as a depth slot can.
    model.widthSlot('w2').reset();
    germinate(model, 'w2', 2);
    model.dispose();
    x.dispose();
  });

  for (const c of CASES) {
    it(`${c.host} ${c.slot} (${c.layout}): the merged fossil computes what host + seed at α = 1 did (≤ 1e-6) and reports the wider topology`, () => {
      const x = randomTensor(new Rng(2), [5, ...INPUT[c.host]]);
      const model = grownHost(c.host);
      const seed = germinate(model, c.slot, 3);
      loudOmega(seed, new Rng(6));
      const slot = model.widthSlot(c.slot);
      slot.setMode('BLENDING', 1);
      const unmerged = logits(model, x);
      const shapes = model.hostParams.map((p) => [...p.shape]);
      const tensors = tf.memory().numTensors;
      slot.setMode('FOSSILIZED');
      expect(slot.seed).to.equal(undefined);
      expect(slot.merged).to.deep.equal({ units: 3, params: seed.paramCount });
      expect(maxAbsDiff(logits(model, x), unmerged)).to.be.at.most(1e-6);
      expect(tf.memory().numTensors).to.equal(tensors - 3); // 3 seed variables gone, the 3 widened host variables replaced in place
      const i = slot.layer - 1;
      const grownShapes = model.hostParams.map((p) => [...p.shape]);
      expect(grownShapes[2 * i]?.at(-1)).to.equal((shapes[2 * i]?.at(-1) ?? 0) + 3); // layer L's kernel: 3 more outputs
      expect(grownShapes[2 * i + 1]).to.deep.equal([(shapes[2 * i + 1]?.[0] ?? 0) + 3]);
      if (c.host === 'mlp') {
        expect(model.config).to.deep.equal({ widths: c.slot === 'w1' ? [6, 7, 5, 3] : [6, 4, 8, 3] });
      } else {
        const expected = { w1: [[6, 2], [5]], w2: [[3, 5], [5]], w3: [[3, 2], [8]] }[c.slot] as [number[], number[]];
        expect(model.config).to.deep.equal({ inputShape: [8, 8, 1], convs: expected[0].map((filters) => ({ filters, kernelSize: 3 })), dense: expected[1], classes: 3 });
      }
      // FOSSILIZED is terminal and never pruned; reset lets the layer grow again through the same slot.
      expect(() => slot.setMode('PRUNED')).to.throw(EsperError);
      slot.reset();
      germinate(model, c.slot, 2);
      slot.setMode('BLENDING', 1);
      slot.setMode('FOSSILIZED');
      expect(slot.merged.units).to.equal(5);
      model.dispose();
      x.dispose();
    });
  }

  it('widening layer 1 re-shapes the empty depth slot after it and widens a live width seed next door; a depth seed there blocks the merge', () => {
    const model = grownHost('mlp');
    germinate(model, 'w1', 2);
    model.widthSlot('w1').setMode('BLENDING', 1);
    model.slot('d1').attach(residualDenseAdapter(4, 2, new Rng(1)));
    expect(() => model.widthSlot('w1').setMode('FOSSILIZED')).to.throw(EsperError, /depth slot d1/).with.property('code', 'ESPER_INVALID_TRANSITION');
    expect(model.widthSlot('w1').mode).to.equal('BLENDING');
    model.slot('d1').reset();
    // A live seed on layer 2 reads layer 1: the merge widens its Ψ to the 6 units (test/tensor/width-neighbours.test.ts).
    expect(germinate(model, 'w2', 2).geometry).to.deep.equal({ layout: 'dense', inputs: 4, outputs: 3 });
    model.widthSlot('w1').setMode('FOSSILIZED');
    expect(model.slot('d1').shape).to.deep.equal([6]);
    model.slot('d1').attach(residualDenseAdapter(6, 2, new Rng(1))); // the next seed there is sized for the wider layer
    expect(model.widthSlot('w2').seed?.geometry).to.deep.equal({ layout: 'dense', inputs: 6, outputs: 3 });
    // A seed germinated in w2 now reads the wider layer 1.
    model.widthSlot('w2').prune();
    model.widthSlot('w2').reset();
    expect(germinate(model, 'w2', 2).geometry).to.deep.equal({ layout: 'dense', inputs: 6, outputs: 3 });
    model.dispose();
  });

  it('rejects a seed of another geometry, modes without a seed and α outside [0, 1]', () => {
    const a = grownHost('mlp');
    const b = grownHost('mlp');
    const seed = germinate(a, 'w1', 2);
    a.widthSlot('w1').prune();
    expect(() => a.widthSlot('w2').setMode('TRAINING')).to.throw(EsperError, /no seed/);
    const other = germinate(b, 'w2', 2);
    b.widthSlot('w2').prune();
    expect(seed.params.every((p) => p.isDisposed)).to.equal(true);
    const fresh = germinate(b, 'w1', 2);
    expect(() => a.widthSlot('w2').attach(fresh)).to.throw(EsperError, /does not fit/).with.property('code', 'ESPER_CONFIG_INVALID');
    expect(other.params.every((p) => p.isDisposed)).to.equal(true);
    germinate(a, 'w2', 1);
    a.widthSlot('w2').setMode('BLENDING');
    expect(() => a.widthSlot('w2').setAlpha(1.5)).to.throw(RangeError);
    expect(() => a.widthSlot('nope')).to.throw(EsperError).with.property('code', 'ESPER_NOT_FOUND');
    expect(() => a.slot('w1')).to.throw(EsperError).with.property('code', 'ESPER_NOT_FOUND');
    expect(a.anySlot('w1')).to.equal(a.widthSlot('w1'));
    expect(a.allSlots.map((s) => s.id)).to.deep.equal(['w1', 'w2', 'd1']);
    for (const m of [a, b]) m.dispose();
  });

  it('ablate switches a blended width seed off; a merged one is host and stays on', () => {
    const x = randomTensor(new Rng(2), [4, 6]);
    const model = grownHost('mlp');
    const host = logits(model, x);
    loudOmega(germinate(model, 'w1', 2), new Rng(3));
    const slot = model.widthSlot('w1');
    slot.setMode('BLENDING', 1);
    const grown = logits(model, x);
    expect(maxAbsDiff(slot.ablate(() => logits(model, x)), host)).to.equal(0);
    slot.setMode('FOSSILIZED');
    expect(maxAbsDiff(slot.ablate(() => logits(model, x)), grown)).to.be.at.most(1e-6);
    model.dispose();
    x.dispose();
  });
});
