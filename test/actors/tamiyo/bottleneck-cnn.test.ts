/**
 * The bottleneck policy on a CNN host's slots (issue 11, item 4): the slots
 * and their role-prefixed interface keys come from `runSlots` for a
 * 28×28×1 → c2 → 8 → 10 CNN with a growth site on the conv block (layer 1)
 * and one on the dense layer (layer 2). A saturated conv block is widened
 * with a conv width kernel; a dense width kernel never goes into a conv
 * slot, whatever the signals say.
 */
import { expect } from 'chai';
import type { LayerSignals, SystemStatePacket } from '../../../src/contracts/index.ts';
import { slotInterfaceKey } from '../../../src/contracts/common.ts';
import { RunSpecSchema } from '../../../src/contracts/run.ts';
import { decideBottleneck, DEFAULT_HEURISTIC_CONFIG, DEFAULT_WIDTH_RULE, initialPolicyMemory, widthGrowthFor, type BottleneckConfig, type KernelChoice, type PolicyContext } from '../../../src/actors/tamiyo/index.ts';
import { roleInterfaceKey, runSlots } from '../../../src/actors/tolaria/run-slots.ts';
import { kernel, packet, seed } from './support.ts';

const SLOTS = runSlots(
  RunSpecSchema.parse({
    name: 't',
    epochs: 30,
    training: { dataset: { kind: 'fashion-mnist', layout: 'image' }, host: { kind: 'cnn', convs: [{ filters: 2 }], dense: [8] }, slots: [{ id: 'b1', afterLayer: 1 }, { id: 'd1', afterLayer: 2 }] },
    budgets: { maxSeeds: 2 },
  }),
);
const KEYS = Object.fromEntries(SLOTS.map((s) => [s.slotId, roleInterfaceKey(s.role, slotInterfaceKey(s.interface))]));
const CONV_WIDTH = KEYS['b1-w1'] as string;
const DENSE_WIDTH = KEYS['d1-w1'] as string;

/** Conv width kernels (k = 2, 4, 8) for the block, dense width kernels (k = 8, 16, 32, 64) for the dense layer. */
const CONV_KERNELS: KernelChoice[] = [2, 4, 8].map((k) => kernel(`c${k}`, { blueprintId: `widen_conv_k${k}`, interfaceKey: CONV_WIDTH, units: k, paramCount: k * 2000, riskScore: 0.05 }));
const DENSE_KERNELS: KernelChoice[] = [8, 16, 32, 64].map((k) => kernel(`d${k}`, { blueprintId: `widen_k${k}`, interfaceKey: DENSE_WIDTH, units: k, paramCount: k * 400, riskScore: 0.05 }));

function ctx(kernels: KernelChoice[]): PolicyContext {
  return {
    availableKernels: kernels,
    budget: { maxSeeds: 2, maxParamsAdded: 1_000_000, paramsAdded: 0 },
    slotInterfaces: KEYS,
    slots: Object.fromEntries(SLOTS.map((s) => [s.slotId, { role: s.role, layer: s.layer }])),
    epochs: 30,
  };
}

const conv = (width: number, rank: number, gradientScore: number): LayerSignals => ({ layer: 1, kind: 'conv', width, effectiveRank: rank, deadFraction: 0, gradientScore });
const dense = (width: number, rank: number, gradientScore: number): LayerSignals => ({ layer: 2, kind: 'dense', width, effectiveRank: rank, deadFraction: 0, gradientScore });
const at = (epoch: number, layers: LayerSignals[]): SystemStatePacket => ({ ...packet({ epoch, seeds: SLOTS.map((s) => seed(s.slotId)) }), layers });
const CONFIG: BottleneckConfig = { width: DEFAULT_WIDTH_RULE, heuristic: { ...DEFAULT_HEURISTIC_CONFIG, advanceTrainingEpochs: 1 } };

describe('Tamiyo bottleneck policy on a CNN host', () => {
  it('has conv2d width keys on the conv block and dense width keys on the dense layer', () => {
    // Block 1 is flattened into the 8-unit dense layer: Ω is the 14×14 window over the unpooled map.
    expect(CONV_WIDTH).to.equal('width:conv2d:28x28x1->15x15x8:float32');
    expect(DENSE_WIDTH).to.equal('width:dense:392->10:float32');
    expect(KEYS['b1']).to.equal('depth:conv2d:14x14x2->14x14x2:float32');
  });

  it('widens a saturated conv block with a conv width kernel, k closest to the growth factor × its channels', () => {
    const decision = decideBottleneck(at(1, [conv(2, 1.9, 2.5), dense(8, 1, 0.3)]), initialPolicyMemory(), ctx([...CONV_KERNELS, ...DENSE_KERNELS]), CONFIG);
    const germinate = decision.commands.find((c) => c.seedOperation?.op === 'GERMINATE');
    expect(germinate?.targetSeedId).to.equal('seed-b1-w1');
    // growthFactor × 2 channels (8 × 2 = 16): the closest conv kernel, k = 8; the dense k = 16 kernel is never a candidate.
    expect(germinate?.seedOperation).to.include({ kernelId: 'c8', blueprintId: 'widen_conv_k8' });
    expect(decision.reason).to.match(/widen L1 \(w2, saturation 0\.95/);
  });

  it('never germinates a dense width kernel into a conv slot: without conv kernels the block waits', () => {
    const growth = widthGrowthFor(at(1, [conv(2, 2, 5), dense(8, 1, 0.3)]), ctx(DENSE_KERNELS), DEFAULT_WIDTH_RULE, 1);
    expect(growth).to.deep.equal({ wait: 'L1 has no width kernel within the budget; L2 not saturated (0.13 < 0.45)' });
    const decision = decideBottleneck(at(1, [conv(2, 2, 5), dense(8, 8, 0.1)]), initialPolicyMemory(), ctx(DENSE_KERNELS), CONFIG);
    const germinate = decision.commands.find((c) => c.seedOperation?.op === 'GERMINATE');
    // The saturated dense layer gets its own kernel; the conv block is skipped.
    expect(germinate?.targetSeedId).to.equal('seed-d1-w1');
    expect(DENSE_KERNELS.map((k) => k.kernelId)).to.include(germinate?.seedOperation?.kernelId);
  });

  it('between a saturated conv block and a saturated dense layer, the larger gradient score wins', () => {
    const decision = decideBottleneck(at(2, [conv(2, 2, 0.5), dense(8, 8, 3)]), initialPolicyMemory(), ctx([...CONV_KERNELS, ...DENSE_KERNELS]), CONFIG);
    expect(decision.commands.find((c) => c.seedOperation?.op === 'GERMINATE')?.targetSeedId).to.equal('seed-d1-w1');
  });
});
