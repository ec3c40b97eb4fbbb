import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../src/errors/index.ts';
import type { HostModel } from '../../src/tensor/hosts/model.ts';
import { Optimizer, withResidentSeeds, type OptimizerConfig } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { useTestBackend } from '../helpers/test-backend.ts';
import { bytesOf, germinate, grownHost, INPUT, logits, loudOmega, maxAbsDiff, randomTensor, train, type HostName } from './width-helpers.ts';

/** Every width slot of each host, with the seed layout it gets. */
const CASES: { host: HostName; slot: string; layout: string; detach?: boolean }[] = [
  { host: 'mlp', slot: 'w1', layout: 'dense' },
  { host: 'mlp', slot: 'w2', layout: 'dense' }, // reads a hidden layer through a gradient stop; feeds the logits
  { host: 'cnn', slot: 'w1', layout: 'conv' }, // conv → conv
  { host: 'cnn', slot: 'w2', layout: 'conv-dense', detach: false }, // conv → flatten → dense (interleaved rows); conv input attached
  { host: 'cnn', slot: 'w3', layout: 'dense' }, // dense after a flatten → logits, reading a hidden layer
];

/** A host with a BLENDING width seed of 3 units in `slot` at `alpha` (Ω non-zero), and an Adam optimizer bound to it. */
function blendingNet(c: { host: HostName; slot: string; detach?: boolean }, alpha: number, config: OptimizerConfig = { kind: 'adam', learningRate: 0.01 }): { model: HostModel; optimizer: Optimizer } {
  const model = grownHost(c.host, 1, c.detach);
  const seed = germinate(model, c.slot, 3);
  loudOmega(seed, new Rng(3));
  const slot = model.widthSlot(c.slot);
  slot.setMode('TRAINING');
  const optimizer = new Optimizer(config, model.paramGroups(), { freshWarmupSteps: 4 });
  train(model, optimizer, c.host, 2, new Rng(9)); // the host and the seed's Ω have state and step counts of their own
  slot.setMode('BLENDING', alpha);
  return { model, optimizer };
}

function allParams(model: HostModel): tf.Variable[] {
  return [...model.hostParams, ...model.widthSlots.flatMap((s) => s.seed?.params ?? [])];
}

/** Max abs difference between two exported optimizer states (step counts must be equal). */
function stateDiff(a: Optimizer, b: Optimizer): number {
  const sa = a.exportState();
  const sb = b.exportState();
  expect(sa.groups.map((g) => [g.id, g.step, g.warmupSteps])).to.deep.equal(sb.groups.map((g) => [g.id, g.step, g.warmupSteps]));
  let worst = 0;
  sa.groups.forEach((g, i) => g.params.forEach((p, j) => p.buffers.forEach((buf, k) => (worst = Math.max(worst, maxAbsDiff(buf, sb.groups[i]?.params[j]?.buffers[k] ?? []))))));
  return worst;
}

describe('width seeds resident in their host layers while blending (issue 11: no per-step cost beyond the units)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  for (const c of CASES) {
    it(`${c.host} ${c.slot} (${c.layout}): the resident form computes the branch's logits, and leaving it changes no bit`, () => {
      const { model, optimizer } = blendingNet(c, 0.5);
      const x = randomTensor(new Rng(2), [5, ...INPUT[c.host]]);
      const branch = logits(model, x);
      const before = bytesOf(allParams(model));
      const fusion = model.fuseResidentSeeds();
      expect(fusion, 'the seed can be resident').to.not.equal(undefined);
      expect(model.widthSlot(c.slot).resident).to.equal(true);
      expect(maxAbsDiff(logits(model, x), branch)).to.be.below(1e-5);
      // The host group trains the wide variables; the seed has no group of its own while resident.
      expect(model.paramGroups().map((g) => g.id)).to.deep.equal(['host']);
      model.unfuseResidentSeeds();
      expect(model.widthSlot(c.slot).resident).to.equal(false);
      expect(bytesOf(allParams(model)).equals(before)).to.equal(true);
      expect(Buffer.from(logits(model, x).buffer).equals(Buffer.from(branch.buffer))).to.equal(true);
      x.dispose();
      optimizer.dispose();
      model.dispose();
    });

    it(`${c.host} ${c.slot} (${c.layout}): 10 resident Adam steps reach the weights and optimizer state 10 branch steps do`, () => {
      const branch = blendingNet(c, 0.5);
      const resident = blendingNet(c, 0.5);
      const stepsBefore = resident.optimizer.exportState().groups.find((g) => g.id === `seed:${c.slot}`)?.step;
      train(branch.model, branch.optimizer, c.host, 10, new Rng(4));
      const tensors = tf.memory().numTensors;
      withResidentSeeds(resident.model, resident.optimizer, () => train(resident.model, resident.optimizer, c.host, 10, new Rng(4)));
      expect(tf.memory().numTensors, 'the wide variables, buffers and scales are disposed').to.equal(tensors);
      const a = allParams(branch.model).map((p) => p.dataSync());
      const b = allParams(resident.model).map((p) => p.dataSync());
      a.forEach((values, i) => expect(maxAbsDiff(values, b[i] ?? []), `parameter ${i}`).to.be.below(1e-4));
      expect(stateDiff(branch.optimizer, resident.optimizer)).to.be.below(1e-4);
      // The seed's own clock advanced once per step, the ramp of its fresh state included.
      expect(resident.optimizer.exportState().groups.find((g) => g.id === `seed:${c.slot}`)?.step).to.equal((stepsBefore ?? 0) + 10);
      for (const n of [branch, resident]) {
        n.optimizer.dispose();
        n.model.dispose();
      }
    });
  }

  it('blending at α = 0, a resident seed takes no step: its values, moments and step count stay, as in the branch form', () => {
    const c = { host: 'mlp' as const, slot: 'w1' };
    const resident = blendingNet(c, 0);
    const seed = resident.model.widthSlot('w1').seed;
    const before = bytesOf(seed?.params ?? []);
    const state = resident.optimizer.exportState().groups.find((g) => g.id === 'seed:w1');
    const hostBefore = bytesOf(resident.model.hostParams);
    withResidentSeeds(resident.model, resident.optimizer, () => train(resident.model, resident.optimizer, 'mlp', 5, new Rng(4)));
    expect(bytesOf(seed?.params ?? []).equals(before)).to.equal(true);
    expect(resident.optimizer.exportState().groups.find((g) => g.id === 'seed:w1')).to.deep.equal(state);
    expect(bytesOf(resident.model.hostParams).equals(hostBefore), 'the host trained').to.equal(false);
    resident.optimizer.dispose();
    resident.model.dispose();
  });

  it('with SGD and momentum, resident steps match branch steps', () => {
    const c = { host: 'mlp' as const, slot: 'w1' };
    const config: OptimizerConfig = { kind: 'sgd', learningRate: 0.05, momentum: 0.9 };
    const branch = blendingNet(c, 0.5, config);
    const resident = blendingNet(c, 0.5, config);
    train(branch.model, branch.optimizer, 'mlp', 6, new Rng(4));
    withResidentSeeds(resident.model, resident.optimizer, () => train(resident.model, resident.optimizer, 'mlp', 6, new Rng(4)));
    const a = allParams(branch.model).map((p) => p.dataSync());
    allParams(resident.model).forEach((p, i) => expect(maxAbsDiff(p.dataSync(), a[i] ?? [])).to.be.below(1e-5));
    expect(stateDiff(branch.optimizer, resident.optimizer)).to.be.below(1e-5);
    for (const n of [branch, resident]) {
      n.optimizer.dispose();
      n.model.dispose();
    }
  });

  it('a conv seed reading a hidden layer through a gradient stop stays a branch (a conv input gradient cannot be limited to the host channels)', () => {
    const model = grownHost('cnn');
    germinate(model, 'w2', 2);
    model.widthSlot('w2').setMode('TRAINING');
    model.widthSlot('w2').setMode('BLENDING', 0.5);
    expect(model.fuseResidentSeeds()).to.equal(undefined);
    model.dispose();
  });

  it('a seed whose neighbouring layer holds a live width seed stays a branch (their shapes assume the current width)', () => {
    const model = grownHost('mlp');
    germinate(model, 'w1', 2);
    germinate(model, 'w2', 2);
    model.widthSlot('w1').setMode('TRAINING');
    model.widthSlot('w1').setMode('BLENDING', 0.5);
    model.widthSlot('w2').setMode('TRAINING');
    expect(model.fuseResidentSeeds()).to.equal(undefined);
    expect(model.widthSlot('w1').resident).to.equal(false);
    model.dispose();
  });

  it('a TRAINING seed is never resident, and structural changes are refused while seeds are resident', () => {
    const model = grownHost('mlp');
    germinate(model, 'w1', 2);
    model.widthSlot('w1').setMode('TRAINING');
    expect(model.fuseResidentSeeds()).to.equal(undefined);
    model.widthSlot('w1').setMode('BLENDING', 1);
    expect(model.fuseResidentSeeds()).to.not.equal(undefined);
    expect(() => model.widthSlot('w1').setMode('FOSSILIZED')).to.throw(EsperError, /resident/);
    expect(() => model.adoptConfig(model.config)).to.throw(EsperError, /resident/);
    model.unfuseResidentSeeds();
    model.widthSlot('w1').setMode('FOSSILIZED');
    expect(model.widthSlots[0]?.mode).to.equal('FOSSILIZED');
    model.dispose();
  });

  it('the optimizer refuses to export or restore its state while fused, and unfuses on a throw inside withResidentSeeds', () => {
    const { model, optimizer } = blendingNet({ host: 'mlp', slot: 'w1' }, 0.5);
    expect(() =>
      withResidentSeeds(model, optimizer, () => {
        expect(() => optimizer.exportState()).to.throw(EsperError, /resident/);
        throw new Error('boom');
      }),
    ).to.throw('boom');
    expect(model.widthSlot('w1').resident).to.equal(false);
    expect(optimizer.exportState().groups.map((g) => g.id)).to.deep.equal(['host', 'seed:w1']);
    optimizer.dispose();
    model.dispose();
  });
});
