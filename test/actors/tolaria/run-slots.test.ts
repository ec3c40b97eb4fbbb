import { expect } from 'chai';
import { kernelJobs, widthSourceOf } from '../../../src/actors/tolaria/run-kernels.ts';
import { runSlots, trainingSpecFor } from '../../../src/actors/tolaria/run-slots.ts';
import { slotInterfaceKey } from '../../../src/contracts/common.ts';
import type { BlueprintIR } from '../../../src/contracts/karn.ts';
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

  it('refuses layers the host does not have, listing the problems', () => {
    const error = throwsWith(() => runSlots(spec([{ id: 'h9', afterLayer: 9 }])), ConfigError);
    expect(error.details?.['issues']).to.deep.equal(['training.slots.h9.afterLayer: 9 exceeds the 2 hidden layers']);
  });

  it('gives the worker a valid training spec with every slot expanded', () => {
    const s = spec([{ id: 'h1', afterLayer: 1 }]);
    const training = TrainingSpecSchema.parse(trainingSpecFor(s, runSlots(s)));
    expect(training.slots.map((slot) => `${slot.id}:${slot.kind ?? 'depth'}@${slot.afterLayer}`)).to.deep.equal(['h1:depth@1', 'h1-w1:width@1', 'h1-w2:width@1', 'h1-w3:width@1']);
  });

  it("carries a slot's trainingForward to its width slots only, and refuses it on a depth slot", () => {
    const s = spec([{ id: 'h1', afterLayer: 1, trainingForward: 'straight-through' }], {}, [4, 8], 2);
    const training = TrainingSpecSchema.parse(trainingSpecFor(s, runSlots(s)));
    expect(training.slots.map((slot) => [slot.id, slot.trainingForward])).to.deep.equal([
      ['h1', undefined],
      ['h1-w1', 'straight-through'],
      ['h1-w2', 'straight-through'],
    ]);
    const declared = throwsWith(() => runSlots(spec([{ id: 'd1', afterLayer: 1, kind: 'depth', trainingForward: 'live' }])), ConfigError);
    expect(declared.details?.['issues']).to.deep.equal(['training.slots.d1.trainingForward: an option of width slots (this slot is a depth slot)']);
    const heuristic = throwsWith(() => runSlots(spec([{ id: 'h1', afterLayer: 1, trainingForward: 'live' }], { kind: 'heuristic' })), ConfigError);
    expect(heuristic.details?.['issues']).to.deep.equal(['training.slots.h1.trainingForward: an option of width slots (this slot is a depth slot under the heuristic policy)']);
  });
});

describe('run slots on CNN hosts', () => {
  const cnn = (host: unknown, slots: unknown[], policy: unknown = {}, dataset: unknown = { kind: 'fashion-mnist', limit: 100, layout: 'image' }, maxSeeds = 2): RunSpec =>
    RunSpecSchema.parse({ name: 't', epochs: 10, training: { dataset, host: { kind: 'cnn', ...(host as object) }, slots }, policy, budgets: { maxSeeds } });
  const row = (s: ReturnType<typeof runSlots>[number]): unknown[] => [s.slotId, s.role, s.layer, s.baseWidth, slotInterfaceKey(s.interface)];

  it('a slot on a conv block is a conv2d depth slot after the pooled block and width slots adding channels, read by the next block', () => {
    // 28×28×1 → block 1 (4 ch, 3×3) → 14×14×4 → block 2 (8 ch, 5×5) → 7×7×8 → flatten → 10 logits.
    const slots = runSlots(cnn({ convs: [{ filters: 4 }, { filters: 8, kernelSize: 5 }] }, [{ id: 'b1', afterLayer: 1 }, { id: 'b2', afterLayer: 2 }]));
    expect(slots.map(row)).to.deep.equal([
      ['b1', 'depth', 1, 4, 'conv2d:14x14x4->14x14x4:float32'],
      ['b1-w1', 'width', 1, 4, 'conv2d:28x28x1->28x28x8:float32'],
      ['b1-w2', 'width', 1, 4, 'conv2d:28x28x1->28x28x8:float32'],
      ['b2', 'depth', 2, 8, 'conv2d:7x7x8->7x7x8:float32'],
      // The last block is flattened into the logits: Ω is the valid 7×7 window over the unpooled 14×14 map.
      ['b2-w1', 'width', 2, 8, 'conv2d:14x14x4->8x8x10:float32'],
      ['b2-w2', 'width', 2, 8, 'conv2d:14x14x4->8x8x10:float32'],
    ]);
    expect(slots[1]?.conv).to.deep.equal({ kernelSize: 3, next: { kind: 'conv', kernelSize: 5 } });
    expect(slots[4]?.conv).to.deep.equal({ kernelSize: 5, next: { kind: 'flatten', height: 7, width: 7 } });
    expect(slots[0]?.conv).to.equal(undefined);
  });

  it('slots on the hidden dense layers are dense slots as in an MLP, the first reading the flattened blocks', () => {
    const slots = runSlots(cnn({ convs: [{ filters: 2 }], dense: [16, 8] }, [{ id: 'b1', afterLayer: 1, kind: 'width' }, { id: 'd1', afterLayer: 2 }, { id: 'd2', afterLayer: 3, kind: 'depth' }], {}, undefined, 1));
    expect(slots.map(row)).to.deep.equal([
      ['b1', 'width', 1, 2, 'conv2d:28x28x1->15x15x16:float32'],
      ['d1', 'depth', 2, 16, 'dense:16->16:float32'],
      ['d1-w1', 'width', 2, 16, 'dense:392->8:float32'],
      ['d2', 'depth', 3, 8, 'dense:8->8:float32'],
    ]);
    expect(slots[2]?.conv).to.equal(undefined);
  });

  it('halves with floor, as the tensor host does, and keeps declared kinds; the heuristic policy makes depth slots', () => {
    const convs = [{ filters: 1 }, { filters: 2 }, { filters: 3 }, { filters: 4 }];
    const slots = runSlots(cnn({ convs }, [{ id: 'b3', afterLayer: 3 }, { id: 'b4', afterLayer: 4, kind: 'width' }], { kind: 'heuristic' }, undefined, 1));
    // 28 → 14 → 7 → 3 → 1
    expect(slots.map(row)).to.deep.equal([
      ['b3', 'depth', 3, 3, 'conv2d:3x3x3->3x3x3:float32'],
      ['b4', 'width', 4, 4, 'conv2d:3x3x3->3x3x10:float32'],
    ]);
  });

  it('compiles conv width kernels for conv blocks, dense width kernels for dense layers, conv and dense depth kernels', () => {
    const s = cnn({ convs: [{ filters: 2 }], dense: [4] }, [{ id: 'b1', afterLayer: 1 }, { id: 'd1', afterLayer: 2 }]);
    const jobs = kernelJobs(s, runSlots(s));
    const names = (role: string, kind: string): string[] => jobs.filter((j) => j.role === role && j.interface.kind === kind).map((j) => j.blueprintId);
    expect(names('width', 'conv2d')).to.deep.equal(['widen_conv_x1', 'widen_conv_x2', 'widen_conv_x4', 'widen_conv_x8']);
    expect(names('width', 'dense')).to.deep.equal(['widen_x1', 'widen_x2', 'widen_x4', 'widen_x8', 'widen_random_x2']);
    expect(names('depth', 'conv2d')).to.include.members(['conv_light', 'depthwise', 'bottleneck', 'attention_se', 'norm']);
    expect(names('depth', 'dense')).to.not.include('conv_light');
    const conv = jobs.find((j) => j.blueprintId === 'widen_conv_x2')?.ir as BlueprintIR | undefined;
    // k = 2 × 2 channels; Ω is the 14×14 window holding the flatten dense [14·14·k, 4].
    expect(conv?.nodes.map((n) => [n.op, n.params])).to.deep.equal([
      ['conv', { filters: 4, kernelSize: 3, stride: 1, padding: 'same', useBias: true, init: 'he_normal' }],
      ['activation', { fn: 'relu' }],
      ['conv', { filters: 4, kernelSize: 14, padding: 'valid', stride: 1, useBias: false, init: 'zeros' }],
    ]);
    // What a germination builds: k from Ψ's filters (the tensor layer draws the weights for the live block).
    expect(widthSourceOf(conv as BlueprintIR)).to.deep.equal({ units: 4, init: 'gradient' });
    // A listed blueprint may fit either slot kind of the run.
    const listed = RunSpecSchema.parse({ ...s, seedModules: { blueprints: ['conv_light', 'widen_x2', 'widen_conv_x1'] } });
    expect(kernelJobs(listed, runSlots(listed)).map((j) => j.blueprintId)).to.deep.equal(['conv_light', 'widen_conv_x1', 'widen_x2']);
  });

  it('needs image examples, and refuses layers past the dense ones', () => {
    const flat = throwsWith(() => runSlots(cnn({ convs: [{ filters: 2 }] }, [{ id: 'b1', afterLayer: 1 }], {}, { kind: 'fashion-mnist', layout: 'flat' })), ConfigError);
    expect(flat.details?.['issues']).to.deep.equal(["training.dataset: a cnn host grows seeds on images: fashion-mnist with layout 'image' (got fashion-mnist, layout 'flat')"]);
    const far = throwsWith(() => runSlots(cnn({ convs: [{ filters: 2 }], dense: [4] }, [{ id: 'x', afterLayer: 3 }])), ConfigError);
    expect(far.details?.['issues']).to.deep.equal(['training.slots.x.afterLayer: 3 exceeds the 2 hidden layers (1 conv block, then 1 dense)']);
    // Without slots nothing is checked (a CNN run without growth, on any data the worker accepts).
    expect(runSlots(cnn({ convs: [{ filters: 2 }] }, [], {}, { kind: 'xor' }))).to.deep.equal([]);
  });

  it('gives the worker a valid training spec', () => {
    const s = cnn({ convs: [{ filters: 2 }] }, [{ id: 'b1', afterLayer: 1 }]);
    const training = TrainingSpecSchema.parse(trainingSpecFor(s, runSlots(s)));
    expect(training.slots.map((slot) => `${slot.id}:${slot.kind ?? 'depth'}@${slot.afterLayer}`)).to.deep.equal(['b1:depth@1', 'b1-w1:width@1', 'b1-w2:width@1']);
  });
});
