import { expect } from 'chai';
import { runSlots, trainingSpecFor } from '../../../src/actors/tolaria/run-slots.ts';
import { RunSpecSchema, type RunSpec } from '../../../src/contracts/run.ts';
import { TrainingSpecSchema } from '../../../src/contracts/training-spec.ts';
import { ConfigError } from '../../../src/errors/index.ts';
import { throwsWith } from '../../helpers/rejects-with.ts';

const spec = (slots: unknown[], policy: unknown = {}, hidden = [4, 8], maxSeeds = 3): RunSpec =>
  RunSpecSchema.parse({
    name: 't',
    epochs: 10,
    training: { dataset: { kind: 'fashion-mnist', limit: 100 }, host: { kind: 'mlp', hidden }, slots },
    policy,
    budgets: { maxSeeds },
  });

describe('run slots (where a run may grow)', () => {
  it('under the bottleneck policy (the default) a slot without a kind is a growth site: a depth slot and one width slot per growth step', () => {
    const slots = runSlots(spec([{ id: 'h1', afterLayer: 1 }]));
    expect(slots.map((s) => [s.slotId, s.role, s.layer, s.interface.inputShape[0], s.interface.outputShape[0]])).to.deep.equal([
      ['h1', 'depth', 1, 4, 4],
      ['h1-w1', 'width', 1, 784, 8],
      ['h1-w2', 'width', 1, 784, 8],
      ['h1-w3', 'width', 1, 784, 8],
    ]);
    expect(slots.every((s) => s.baseWidth === 4)).to.equal(true);
  });

  it('a width slot on the last hidden layer writes into the logits; kinds are kept as declared', () => {
    const slots = runSlots(spec([{ id: 'd2', afterLayer: 2, kind: 'depth' }, { id: 'g2', afterLayer: 2, kind: 'width' }], {}, [4, 8], 2));
    expect(slots.map((s) => [s.slotId, s.role, s.interface.inputShape[0], s.interface.outputShape[0]])).to.deep.equal([
      ['d2', 'depth', 8, 8],
      ['g2', 'width', 4, 10],
      ['g2-2', 'width', 4, 10],
    ]);
  });

  it('under the heuristic policy a slot without a kind stays a depth slot (as before width seeds existed)', () => {
    expect(runSlots(spec([{ id: 'h1', afterLayer: 1, trainFossil: true }], { kind: 'heuristic' })).map((s) => [s.slotId, s.role, s.trainFossil])).to.deep.equal([['h1', 'depth', true]]);
  });

  it('refuses layers the host does not have and CNN hosts (for now), listing the problems', () => {
    const error = throwsWith(() => runSlots(spec([{ id: 'h9', afterLayer: 9 }])), ConfigError);
    expect(error.details?.['issues']).to.deep.equal(['training.slots.h9.afterLayer: 9 exceeds the 2 hidden layers']);
  });

  it('gives the worker a valid training spec with every slot expanded', () => {
    const s = spec([{ id: 'h1', afterLayer: 1 }]);
    const training = TrainingSpecSchema.parse(trainingSpecFor(s, runSlots(s)));
    expect(training.slots.map((slot) => `${slot.id}:${slot.kind ?? 'depth'}@${slot.afterLayer}`)).to.deep.equal(['h1:depth@1', 'h1-w1:width@1', 'h1-w2:width@1', 'h1-w3:width@1']);
  });
});
