import { expect } from 'chai';
import { AdaptationCommandSchema, type LayerSignals, type SeedState, type SystemStatePacket } from '../../../src/contracts/index.ts';
import {
  bottleneckPolicy,
  comparableScore,
  decideBottleneck,
  DEFAULT_HEURISTIC_CONFIG,
  DEFAULT_WIDTH_RULE,
  initialPolicyMemory,
  layerSaturation,
  layerValues,
  MAX_REVIVALS,
  narrowerSaturatedDense,
  widthEpochsToMerge,
  widthGrowthFor,
  widthKernelFor,
  type BottleneckConfig,
  type KernelChoice,
  type PolicyContext,
} from '../../../src/actors/tamiyo/index.ts';
import { kernel, live, packet, seed } from './support.ts';

const W1 = 'width:dense:784->10:float32';
const W2 = 'width:dense:4->10:float32';
const DEPTH = 'depth:dense:4->4:float32';

/** Width kernels for a slot interface, k = 4, 8, 16, 32 (params grow with k). */
function widthKernels(iface: string, prefix: string): KernelChoice[] {
  return [4, 8, 16, 32].map((k) => kernel(`${prefix}-w${k}`, { blueprintId: `widen_${k}`, interfaceKey: iface, units: k, paramCount: k * 100, riskScore: 0.05 }));
}

const layer = (n: number, width: number, rank: number, gradientScore: number, deadFraction = 0): LayerSignals => ({ layer: n, kind: 'dense', width, effectiveRank: rank, deadFraction, gradientScore });

/** Two hidden layers, a depth slot and two width slots on each. */
function ctx(overrides: Partial<PolicyContext> = {}): PolicyContext {
  return {
    availableKernels: [...widthKernels(W1, 'a'), ...widthKernels(W2, 'b'), kernel('k-deep', { blueprintId: 'mlp_deep', interfaceKey: DEPTH, paramCount: 200 })],
    budget: { maxSeeds: 4, maxParamsAdded: 1_000_000, paramsAdded: 0 },
    slotInterfaces: { h1: DEPTH, 'h1-w1': W1, 'h1-w2': W1, h2: DEPTH, 'h2-w1': W2, 'h2-w2': W2 },
    slots: { h1: { role: 'depth', layer: 1 }, 'h1-w1': { role: 'width', layer: 1 }, 'h1-w2': { role: 'width', layer: 1 }, h2: { role: 'depth', layer: 2 }, 'h2-w1': { role: 'width', layer: 2 }, 'h2-w2': { role: 'width', layer: 2 } },
    epochs: 30,
    ...overrides,
  };
}

function withLayers(epoch: number, layers: LayerSignals[], seeds = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => seed(id))): SystemStatePacket {
  return { ...packet({ epoch, seeds }), layers };
}

const CONFIG: BottleneckConfig = { width: DEFAULT_WIDTH_RULE, heuristic: { ...DEFAULT_HEURISTIC_CONFIG, advanceTrainingEpochs: 1 } };

describe('Tamiyo bottleneck policy', () => {
  it('measures saturation against the live units', () => {
    expect(layerSaturation(layer(1, 4, 3.6, 1))).to.be.closeTo(0.9, 1e-9);
    expect(layerSaturation(layer(1, 8, 2, 1, 0.5))).to.be.closeTo(0.5, 1e-9);
  });

  it('counts a layer whose units are all dead as saturated, and widens it (not a depth seed that would read zeros)', () => {
    // A 784-2-10 host whose two ReLUs died at initialisation (Fashion-MNIST data seed 1): rank 0, every unit dead.
    const dead = layer(1, 2, 0, 0.3, 1);
    expect(layerSaturation(dead)).to.equal(1);
    const p = withLayers(2, [dead, layer(2, 4, 1, 0.1)]);
    const decision = decideBottleneck(p, initialPolicyMemory(), ctx(), CONFIG);
    const germinate = decision.commands.find((c) => c.seedOperation?.op === 'GERMINATE');
    expect(germinate?.targetSeedId).to.equal('seed-h1-w1');
    expect(decision.reason).to.match(/widen L1 \(w2, saturation 1 /);
  });

  it('widens no layer next to a layer whose units are all dead, and adds no depth after one (784-2-2-10, data seed 1: four dead ReLUs)', () => {
    // L1 feeds L2's pre-activation, where no gradient passes a dead ReLU; L2's new units would read L1's zeros.
    const deadPair = withLayers(2, [layer(1, 2, 0, 0, 1), layer(2, 2, 0, 0, 1)]);
    const growth = widthGrowthFor(deadPair, ctx(), DEFAULT_WIDTH_RULE, 1);
    expect(growth).to.have.property('wait').that.matches(/L1 feeds L2, whose units are all dead/).and.matches(/L2 reads L1, whose units are all dead/);
    // Nothing grows there; the policy revives the pair instead (see the revival tests), and once its revivals are spent, waits.
    const memory = { ...initialPolicyMemory(), hostStabilized: true, plateauEpochs: 10, revivals: MAX_REVIVALS };
    const decision = decideBottleneck({ ...deadPair, epoch: 5 }, memory, ctx(), CONFIG);
    expect(decision.commands).to.deep.equal([]);
    expect(decision.reason).to.match(/no eligible kernel \(slot interface ×\d+\)/).and.match(/revival: wait \(L1–L2 dead again after 2 revivals/);
    // The same plateau with a live L1 and L2 adds depth after L1 (the depth slot is open again).
    const alive = decideBottleneck(withLayers(5, [layer(1, 32, 6, 0), layer(2, 32, 5, 0)]), memory, ctx(), CONFIG);
    expect(alive.commands.map((c) => [c.seedOperation?.op, c.targetSeedId])).to.deep.include(['GERMINATE', 'seed-h1']);
    // A dead L1 behind a live L2 widens L1, whose seed feeds L2's live units (784-2-10's case: new units are the only remedy).
    const deadFirst = widthGrowthFor(withLayers(2, [layer(1, 2, 0, 0.3, 1), layer(2, 4, 1, 0.1)]), ctx(), DEFAULT_WIDTH_RULE, 1);
    expect(deadFirst).to.have.property('seed').that.has.property('slotId', 'h1-w1');
  });

  it('picks the width kernel whose k is closest to the target, larger on a tie, within the budget', () => {
    const kernels = widthKernels(W1, 'a');
    expect(widthKernelFor(kernels, W1, 12, 1e9)?.units).to.equal(16);
    expect(widthKernelFor(kernels, W1, 10, 1e9)?.units).to.equal(8);
    expect(widthKernelFor(kernels, W1, 12, 1000)?.units).to.equal(8);
    expect(widthKernelFor(kernels, W2, 12, 1e9)).to.equal(undefined);
  });

  it('widens the saturated layer with the largest gradient score, early, naming the signals', () => {
    const p = withLayers(1, [layer(1, 4, 3.5, 0.2), layer(2, 4, 3.8, 0.9)]);
    const decision = decideBottleneck(p, initialPolicyMemory(), ctx(), CONFIG);
    const germinate = decision.commands.find((c) => c.seedOperation?.op === 'GERMINATE');
    expect(germinate?.targetSeedId).to.equal('seed-h2-w1');
    expect(germinate?.seedOperation).to.include({ blueprintId: 'widen_32' }); // k closest to growthFactor (8) × 4
    expect(decision.reason).to.match(/widen L2 \(w4, saturation 0\.95/).and.match(/L1 w4 rank 3\.50/);
    for (const c of decision.commands) expect(AdaptationCommandSchema.safeParse(c).error?.issues ?? []).to.deep.equal([]);
    expect(decision.memory.seeds['seed-h2-w1']?.blueprintId).to.equal('widen_32');
  });

  it('starts TRAINING at germination: every GERMINATE, width or depth, is followed by an ADVANCE of the same seed', () => {
    const widened = decideBottleneck(withLayers(1, [layer(1, 4, 3.5, 0.2), layer(2, 4, 3.8, 0.9)]), initialPolicyMemory(), ctx(), CONFIG);
    expect(widened.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`)).to.deep.equal(['seed-h2-w1:GERMINATE', 'seed-h2-w1:ADVANCE']);
    const [germinate, advance] = widened.commands;
    expect(advance?.commandId).to.not.equal(germinate?.commandId);
    expect(advance?.annotations['reason']).to.match(/G1 checked when the kernel attached/);
    for (const c of widened.commands) expect(AdaptationCommandSchema.safeParse(c).error?.issues ?? []).to.deep.equal([]);
    // A depth seed germinated on a plateau (no layer saturated): the same.
    let memory = initialPolicyMemory();
    let depth: ReturnType<typeof decideBottleneck> | undefined;
    for (let epoch = 5; epoch <= 12 && (depth?.commands.length ?? 0) === 0; epoch++) {
      depth = decideBottleneck({ ...packet({ epoch, acc: 0.8, trainLoss: 0.5, seeds: ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => seed(id)) }), layers: [layer(1, 32, 4, 0.1)] }, memory, ctx(), CONFIG);
      memory = depth.memory;
    }
    const ops = depth?.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`) ?? [];
    expect(ops).to.have.length(2);
    expect(ops[0]).to.match(/^seed-h\d:GERMINATE$/);
    expect(ops[1]).to.equal(ops[0]?.replace('GERMINATE', 'ADVANCE'));
  });

  it("advances each kind of seed after its own G2 minimum: a width seed after one epoch in TRAINING, a depth seed after the heuristic's", () => {
    // esper run gives width slots a G2 minimum of 1 and depth slots the gates' 3; an ADVANCE sent sooner is only refused.
    const config: BottleneckConfig = { width: { ...DEFAULT_WIDTH_RULE, trainingEpochs: 1 }, heuristic: { ...DEFAULT_HEURISTIC_CONFIG, advanceTrainingEpochs: 3 } };
    const inTraining = (epochsInStage: number): SystemStatePacket =>
      withLayers(2 + epochsInStage, [layer(1, 32, 4, 0.1), layer(2, 36, 4, 0.1)], [
        live('h1', { stage: 'TRAINING', epochsInStage }),
        live('h2-w1', { stage: 'TRAINING', epochsInStage, kernelId: 'b-w32', blueprintId: 'widen_32' }),
        ...['h1-w1', 'h1-w2', 'h2', 'h2-w2'].map((id) => seed(id)),
      ]);
    const advanced = (epochsInStage: number): string[] =>
      decideBottleneck(inTraining(epochsInStage), initialPolicyMemory(), ctx(), config)
        .commands.filter((c) => c.seedOperation?.op === 'ADVANCE')
        .map((c) => c.targetSeedId ?? '');
    expect(advanced(1)).to.deep.equal(['seed-h2-w1']);
    expect(advanced(2)).to.deep.equal(['seed-h2-w1']);
    expect(advanced(3)).to.have.members(['seed-h1', 'seed-h2-w1']);
    const waiting = decideBottleneck(inTraining(1), initialPolicyMemory(), ctx(), config);
    expect(waiting.reason).to.match(/seed-h1 TRAINING: wait \(training 1\/3 epochs\)/);
  });

  it('germinates no depth seed that could not be decided before the run ends (784-128-4-10: a norm seed at epoch 25 of 30 ended the run live in HOLDING)', () => {
    // The plateau of the TRAINING test above: depth germinates at the first epoch with a 3-epoch plateau.
    const plateau = (epochs: number): { epoch: number; reason: string; ops: string[] } => {
      let memory = initialPolicyMemory();
      let last = { epoch: 0, reason: '', ops: [] as string[] };
      for (let epoch = 5; epoch <= 12; epoch++) {
        const d = decideBottleneck({ ...packet({ epoch, acc: 0.8, trainLoss: 0.5, seeds: ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => seed(id)) }), layers: [layer(1, 32, 4, 0.1)] }, memory, ctx({ epochs }), CONFIG);
        memory = d.memory;
        last = { epoch, reason: d.reason, ops: d.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`) };
        if (last.ops.length > 0) break;
      }
      return last;
    };
    const open = plateau(30);
    expect(open.ops[0]).to.match(/^seed-h\d:GERMINATE$/);
    // CONFIG: 1 epoch in TRAINING, the gates' default ramp of 5 → decided 6 epochs after the germination.
    const justInTime = plateau(open.epoch + 6);
    expect(justInTime.ops[0]).to.match(/^seed-h\d:GERMINATE$/);
    const late = plateau(open.epoch + 5);
    expect(late.ops).to.deep.equal([]);
    expect(late.reason).to.include(`a seed germinated now would be decided at epoch ${late.epoch + 6}, past the run's ${open.epoch + 5}`);
  });

  it('ranks conv blocks by their gain per pooled pixel, so the high-resolution first block does not win by its pixel count', () => {
    // Fashion-MNIST conv 2 → conv 4, data seed 0 at epoch 1: raw scores 0.364 (14×14 pixels) and 0.194 (7×7).
    const conv = (n: number, width: number, positions: number, gradientScore: number): LayerSignals => ({ ...layer(n, width, width, gradientScore), kind: 'conv', positions });
    const p = withLayers(1, [conv(1, 4, 196, 0.364), conv(2, 4, 49, 0.194)]);
    const growth = widthGrowthFor(p, ctx(), DEFAULT_WIDTH_RULE, 1);
    expect(growth).to.have.property('layer').that.has.property('layer', 2);
    const decision = decideBottleneck(p, initialPolicyMemory(), ctx(), CONFIG);
    expect(decision.reason).to.match(/widen L2 \(w4, saturation 1 ≥ 0\.45, gradient score 0\.194 \(0\.00396\/px × 49\)\)/);
    // The same raw scores on dense layers (one position each, or positions not reported): the larger one wins.
    expect(widthGrowthFor(withLayers(1, [layer(1, 4, 4, 0.364), layer(2, 4, 4, 0.194)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.property('layer').that.has.property('layer', 1);
  });

  it('widens the conv block that passes on the fewest values (channels × pooled pixels), whatever the blocks score', () => {
    const conv = (n: number, width: number, rank: number, positions: number, gradientScore: number): LayerSignals => ({ ...layer(n, width, rank, gradientScore), kind: 'conv', positions });
    // Fashion-MNIST conv 2 → conv 16, data seed 0 at epoch 1: 2 × 196 values against 16 × 49; the second block scores more.
    const c216 = [conv(1, 2, 1.47, 196, 0.387), conv(2, 16, 4.48, 49, 0.21)];
    expect(layerValues(c216[0] as LayerSignals)).to.equal(392);
    expect(widthGrowthFor(withLayers(1, c216), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 1);
    // Conv 1 → conv 8 (raw scores 0.280 against 1.05): the 1-channel block.
    expect(widthGrowthFor(withLayers(1, [conv(1, 1, 1, 196, 0.28), conv(2, 8, 4.67, 49, 1.05)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 1);
    // Conv 2 → conv 4: the second block passes on fewer values (196 against 392), as the score said too.
    expect(widthGrowthFor(withLayers(1, [conv(1, 2, 1.81, 196, 0.364), conv(2, 4, 2.32, 49, 0.194)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
    // A narrowest block that cannot grow (its width seed cooling down) leaves the choice to the next narrowest.
    const cooling = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h1-w1' ? seed(id, { stage: 'EMBARGOED' }) : seed(id)));
    const saturated = [conv(1, 2, 1.47, 196, 0.387), conv(2, 16, 8, 49, 0.21)];
    expect(widthGrowthFor(withLayers(1, saturated, cooling), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
  });

  it('widens the layer that scores best once some layer is saturated, saturated or not (saturation says when, the score where)', () => {
    // Fashion-MNIST conv 2 → conv 4, data seed 1 at epoch 1 (esper audit): the second block is just under the
    // threshold (rank 1.78 of 4 channels) but scores 5× the first per pixel; static c2-c36 88.30 %, c18-c4 87.48 %.
    const conv = (n: number, width: number, rank: number, positions: number, gradientScore: number): LayerSignals => ({ ...layer(n, width, rank, gradientScore), kind: 'conv', positions });
    const p = withLayers(1, [conv(1, 2, 2, 196, 0.254), conv(2, 4, 1.78, 49, 0.333)]);
    expect(widthGrowthFor(p, ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
    const decision = decideBottleneck(p, initialPolicyMemory(), ctx(), CONFIG);
    expect(decision.commands.find((c) => c.seedOperation?.op === 'GERMINATE')?.targetSeedId).to.equal('seed-h2-w1');
    expect(decision.reason).to.match(/widen L2 \(w4, saturation 0\.45; L1 is saturated \(1\) and scores lower, gradient score 0\.333/);
    // With no layer saturated nothing grows, however high a score.
    expect(widthGrowthFor(withLayers(1, [conv(1, 2, 0.8, 196, 0.254), conv(2, 4, 1.78, 49, 9)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.property('wait').that.match(/L1 not saturated.*L2 not saturated/);
  });

  it('widens a layer that grew only once it is saturated again, however high its score', () => {
    // Fashion-MNIST 784-8-8-10, data seed 3, epoch 8: the second layer, just widened 8 → 72, reads 0.17 and outscores the first.
    const grown = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h2-w1' ? seed(id, { stage: 'FOSSILIZED', blueprintId: 'widen_32' }) : seed(id)));
    const layers = [layer(1, 8, 5.36, 0.478), layer(2, 72, 12.2, 0.9)];
    const growth = widthGrowthFor(withLayers(8, layers, grown), ctx(), DEFAULT_WIDTH_RULE, 1);
    expect(growth).to.have.nested.property('layer.layer', 1);
    // A layer still at its first width competes on its score unsaturated (here behind a wider saturated layer) and is widened;
    // behind the narrower saturated first layer it would not be (see the next test).
    expect(widthGrowthFor(withLayers(8, [layer(1, 80, 60, 0.478), layer(2, 72, 12.2, 0.9)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
    expect(widthGrowthFor(withLayers(8, layers), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 1);
    // Saturated again, the grown layer does not compete while the narrower first layer before it is saturated: that one goes first.
    expect(widthGrowthFor(withLayers(8, [layer(1, 8, 5.36, 0.478), layer(2, 72, 40, 0.9)], grown), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 1);
    // With the first layer not saturated, the grown one competes on its score.
    expect(widthGrowthFor(withLayers(8, [layer(1, 8, 3, 0.478), layer(2, 72, 40, 0.9)], grown), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
  });

  it('widens no dense layer behind a narrower saturated one first, however it scores', () => {
    // Fashion-MNIST 784-3-16-12-10 (plain SGD 0.1, batch 32), data seed 1 at epoch 1, its first and third layers: the 12-unit
    // layer, just under the threshold behind the saturated 3-unit one (rank 2.68, half its units dead), scored 0.731 against 0.595.
    const narrow = layer(1, 3, 2.96, 0.595);
    const behind = layer(2, 12, 2.68, 0.731, 0.5);
    expect(widthGrowthFor(withLayers(1, [narrow, behind]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 1);
    const candidates = [narrow, behind].map((l) => ({ layer: l, saturation: layerSaturation(l) }));
    expect(narrowerSaturatedDense(candidates[1] as (typeof candidates)[number], candidates, 0.45)?.layer.layer).to.equal(1);
    expect(narrowerSaturatedDense(candidates[0] as (typeof candidates)[number], candidates, 0.45)).to.equal(undefined);
    // The first layer not saturated: the third competes on its score, as before.
    expect(widthGrowthFor(withLayers(1, [layer(1, 3, 1, 0.595), layer(2, 12, 5.4, 0.731)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
    // A wider layer before a narrow one does not hold it back (784-16-4-10: the 4-unit second layer is widened first).
    expect(widthGrowthFor(withLayers(1, [layer(1, 16, 10, 0.2), layer(2, 4, 4, 0.5)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
  });

  it('widens no dense layer before a narrower saturated one first, however it scores (bottleneck@14)', () => {
    // Fashion-MNIST 784-6-3-10 (plain SGD 0.1, batch 64, 10k images, 15 epochs; sweep 5), data seed 0 at epoch 1: the 6-unit first
    // layer scored 0.696 against the 3-unit second's 0.447 (two of its units dead) and was widened; the second never grew.
    const wide = layer(1, 6, 3.31, 0.696);
    const narrow = layer(2, 3, 1, 0.447, 2 / 3);
    expect(widthGrowthFor(withLayers(1, [wide, narrow]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
    const candidates = [wide, narrow].map((l) => ({ layer: l, saturation: layerSaturation(l) }));
    expect(narrowerSaturatedDense(candidates[0] as (typeof candidates)[number], candidates, 0.45)?.layer.layer).to.equal(2);
    expect(narrowerSaturatedDense(candidates[1] as (typeof candidates)[number], candidates, 0.45)).to.equal(undefined);
    // The narrow layer growing, the wide one competes again.
    const growing = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h2-w1' ? seed(id, { stage: 'TRAINING', blueprintId: 'widen_x8' }) : seed(id)));
    expect(widthGrowthFor(withLayers(2, [wide, narrow], growing), ctx(), { ...DEFAULT_WIDTH_RULE, maxLiveWidthSeeds: 2 }, 1)).to.have.nested.property('layer.layer', 1);
    // The narrow layer not saturated: the score decides, as before.
    expect(widthGrowthFor(withLayers(1, [wide, layer(2, 3, 1.2, 0.447)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 1);
    // Equal widths do not shadow each other: the score decides.
    expect(widthGrowthFor(withLayers(1, [layer(1, 4, 4, 0.2), layer(2, 4, 4, 0.5)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 2);
  });

  it('compares the coarsest conv block with dense layers as it is, and finer blocks per pixel of the coarsest', () => {
    const conv = (n: number, width: number, positions: number, gradientScore: number): LayerSignals => ({ ...layer(n, width, width, gradientScore), kind: 'conv', positions });
    const layers = [conv(1, 2, 196, 0.4), conv(2, 4, 49, 0.2), layer(3, 16, 10, 0.15)];
    expect(comparableScore(layers[0] as LayerSignals, layers)).to.be.closeTo(0.1, 1e-12);
    expect(comparableScore(layers[1] as LayerSignals, layers)).to.equal(0.2);
    expect(comparableScore(layers[2] as LayerSignals, layers)).to.equal(0.15);
    // A conv 2 → dense 16 host: the conv block scores 60× under the dense layer per position, 3× over it as it is; it is widened.
    const host = [conv(1, 2, 196, 0.5), layer(2, 16, 10, 0.15)];
    expect(widthGrowthFor(withLayers(1, host), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.nested.property('layer.layer', 1);
  });

  it('does not widen a layer with room left, and falls back to the plateau rule for depth', () => {
    const p = withLayers(3, [layer(1, 32, 6, 0.5), layer(2, 32, 5, 0.4)]);
    const growth = widthGrowthFor(p, ctx(), DEFAULT_WIDTH_RULE, 1);
    expect(growth).to.have.property('wait').that.match(/L1 not saturated/);
    const decision = decideBottleneck(p, initialPolicyMemory(), ctx(), CONFIG);
    expect(decision.commands.filter((c) => c.seedOperation?.op === 'GERMINATE')).to.deep.equal([]);
    expect(decision.reason).to.match(/width: wait/);
  });

  it('grows one width seed at a time, and never past the growth window or the seed budget', () => {
    const growing = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h1-w1' ? live(id, { stage: 'BLENDING', blueprintId: 'widen_16' }) : seed(id)));
    expect(widthGrowthFor(withLayers(4, [layer(1, 4, 4, 1), layer(2, 4, 4, 1)], growing), ctx(), DEFAULT_WIDTH_RULE, 2)).to.deep.equal({ wait: 'a width seed is growing' });
    expect(widthGrowthFor(withLayers(16, [layer(1, 4, 4, 1)]), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.property('wait').that.match(/past 0\.50 of 30/);
    const spent = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id.includes('-w') ? seed(id, { stage: 'FOSSILIZED' }) : seed(id)));
    expect(widthGrowthFor(withLayers(5, [layer(1, 4, 4, 1)], spent), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.property('wait').that.match(/seed budget spent/);
  });

  it('with maxLiveWidthSeeds 2, widens a second layer while the first one grows, never a layer that is growing, and stops at two', () => {
    const rule = { ...DEFAULT_WIDTH_RULE, maxLiveWidthSeeds: 2 };
    const growing = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h1-w1' ? live(id, { stage: 'TRAINING', blueprintId: 'widen_16' }) : seed(id)));
    // Layer 1 scores higher, but it is growing: layer 2 is widened beside it.
    const second = widthGrowthFor(withLayers(2, [layer(1, 4, 4, 5), layer(2, 4, 4, 1)], growing), ctx(), rule, 1);
    expect(second).to.have.nested.property('seed.slotId', 'h2-w1');
    // Only layer 1 could grow, and it is growing.
    const alone = widthGrowthFor(withLayers(2, [layer(1, 4, 4, 5), layer(2, 4, 1, 1)], growing), ctx(), rule, 1);
    expect(alone).to.have.property('wait').that.match(/L1 is growing/);
    const both = growing.map((s) => (s.slotId === 'h2-w1' ? live('h2-w1', { stage: 'BLENDING', blueprintId: 'widen_16' }) : s));
    expect(widthGrowthFor(withLayers(3, [layer(1, 4, 4, 5), layer(2, 4, 4, 1)], both), ctx(), rule, 1)).to.deep.equal({ wait: '2 width seeds are growing' });
    // The default (1) keeps one growth step at a time.
    expect(widthGrowthFor(withLayers(2, [layer(1, 4, 4, 5), layer(2, 4, 4, 1)], growing), ctx(), DEFAULT_WIDTH_RULE, 1)).to.deep.equal({ wait: 'a width seed is growing' });
  });

  it('grows a CNN\'s conv blocks side by side and its dense layer beside them (bottleneck@16), each kind up to its own limit', () => {
    const rule = DEFAULT_WIDTH_RULE;
    const conv = (n: number, width: number, positions: number, gradientScore: number): LayerSignals => ({ ...layer(n, width, width, gradientScore), kind: 'conv', positions });
    const ids = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2', 'h3', 'h3-w1', 'h3-w2'];
    const growingOn = (...slots: string[]): SystemStatePacket['seeds'] => ids.map((id) => (slots.includes(id) ? live(id, { stage: 'TRAINING', blueprintId: 'widen_16' }) : seed(id)));
    const slots3 = { ...ctx().slots, h3: { role: 'depth' as const, layer: 3 }, 'h3-w1': { role: 'width' as const, layer: 3 }, 'h3-w2': { role: 'width' as const, layer: 3 } };
    const context = ctx({ slots: slots3 });
    // Conv 3 (14×14) → conv 8 (7×7) → dense 16, all saturated; the second conv block grows.
    const cnn = (denseScore: number, denseRank = 16): LayerSignals[] => [conv(1, 3, 196, 1), conv(2, 8, 49, 1), layer(3, 16, denseRank, denseScore)];
    // The dense layer scores highest: it grows beside the growing conv block (under @15 it waited).
    expect(widthGrowthFor(withLayers(2, cnn(9), growingOn('h2-w1')), context, rule, 1)).to.have.nested.property('seed.slotId', 'h3-w1');
    // The first conv block scores higher: it grows beside the second.
    expect(widthGrowthFor(withLayers(2, cnn(0.1), growingOn('h2-w1')), context, rule, 1)).to.have.nested.property('seed.slotId', 'h1-w1');
    // A growing dense layer no longer keeps the conv blocks waiting: the narrowest (8 × 49 values against 3 × 196) grows beside it.
    expect(widthGrowthFor(withLayers(2, cnn(9), growingOn('h3-w1')), context, rule, 1)).to.have.nested.property('seed.slotId', 'h2-w1');
    // Two conv blocks growing (their limit): the dense layer still may; with it growing too, nothing more.
    expect(widthGrowthFor(withLayers(3, cnn(0.1), growingOn('h1-w1', 'h2-w1')), context, rule, 1)).to.have.nested.property('seed.slotId', 'h3-w1');
    expect(widthGrowthFor(withLayers(3, cnn(0.1), growingOn('h1-w1', 'h2-w1', 'h3-w1')), context, rule, 1)).to.deep.equal({ wait: '3 width seeds are growing' });
    // maxLiveConvWidthSeeds 1: one conv block at a time; an unsaturated dense layer cannot take the turn either.
    const oneConv = widthGrowthFor(withLayers(2, cnn(0.1, 4), growingOn('h2-w1')), context, { ...rule, maxLiveConvWidthSeeds: 1 }, 1);
    expect(oneConv).to.have.property('wait').that.match(/L1 waits: conv blocks growing at the limit/);
    // A CNN without a dense layer: two conv blocks, as under @15.
    const convOnly = [conv(1, 3, 196, 1), conv(2, 8, 49, 1)];
    expect(widthGrowthFor(withLayers(3, convOnly, growingOn('h1-w1', 'h2-w1')), context, rule, 1)).to.deep.equal({ wait: '2 width seeds are growing' });
  });

  it('with germinateTogether, starts every growth that may run side by side in one decision: both conv blocks and the dense layer, within the budget', () => {
    const conv = (n: number, width: number, positions: number, gradientScore: number): LayerSignals => ({ ...layer(n, width, width, gradientScore), kind: 'conv', positions });
    const ids = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2', 'h3', 'h3-w1', 'h3-w2'];
    const slots3 = { ...ctx().slots, h3: { role: 'depth' as const, layer: 3 }, 'h3-w1': { role: 'width' as const, layer: 3 }, 'h3-w2': { role: 'width' as const, layer: 3 } };
    // Conv 3 (14×14) → conv 8 (7×7) → dense 16, every layer saturated at epoch 1, nothing growing yet.
    const cnn = withLayers(1, [conv(1, 3, 196, 1), conv(2, 8, 49, 1), layer(3, 16, 16, 0.1)], ids.map((id) => seed(id)));
    const together = { ...DEFAULT_WIDTH_RULE, germinateTogether: true };
    const germinated = (config: BottleneckConfig, budget = 1_000_000): string[] =>
      decideBottleneck(cnn, initialPolicyMemory(), ctx({ slots: slots3, budget: { maxSeeds: 4, maxParamsAdded: budget, paramsAdded: 0 } }), config)
        .commands.filter((c) => c.seedOperation?.op === 'GERMINATE')
        .map((c) => c.targetSeedId as string);
    // One per decision (without denseGrowsWithConv): the conv block that passes on the fewest values (8 × 49 against 3 × 196);
    // by default (bottleneck@18) the dense layer grows with it.
    expect(germinated({ ...CONFIG, width: { ...DEFAULT_WIDTH_RULE, denseGrowsWithConv: false } })).to.deep.equal(['seed-h2-w1']);
    expect(germinated(CONFIG)).to.deep.equal(['seed-h2-w1', 'seed-h3-w1']);
    // Together: that block, the other block beside it (two conv blocks at once), and the dense layer beside them.
    expect(germinated({ ...CONFIG, width: together })).to.deep.equal(['seed-h2-w1', 'seed-h1-w1', 'seed-h3-w1']);
    // Each started seed is ADVANCEd to TRAINING, and each one's reason is in the decision's.
    const decision = decideBottleneck(cnn, initialPolicyMemory(), ctx({ slots: slots3 }), { ...CONFIG, width: together });
    expect(decision.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`)).to.include.members(['seed-h1-w1:ADVANCE', 'seed-h2-w1:ADVANCE', 'seed-h3-w1:ADVANCE']);
    expect(decision.reason).to.match(/widen L2 .*; widen L1 .*; widen L3 /);
    expect(Object.keys(decision.memory.seeds)).to.include.members(['seed-h1-w1', 'seed-h2-w1', 'seed-h3-w1']);
    // The budget counts the growths already started in the decision (100 parameters per unit): the second block's k = 32 takes 3,200
    // of 4,800, the first block gets k = 16 (1,600) where it would have taken 32, and nothing is left for the dense layer.
    expect(germinated({ ...CONFIG, width: together }, 4_800)).to.deep.equal(['seed-h2-w1', 'seed-h1-w1']);
    expect(germinated({ ...CONFIG, width: together }, 3_300)).to.deep.equal(['seed-h2-w1']);
    // A dense layer under the trigger (0.3) is not started by germinateTogether, but grows with the blocks (bottleneck@18); the budget
    // counts each block's growth once: 9,600 is exactly the three k = 32 kernels.
    const unsaturated = withLayers(1, [conv(1, 3, 196, 1), conv(2, 8, 49, 1), layer(3, 16, 4.8, 0.1)], ids.map((id) => seed(id)));
    const both = (budget: number): string[] =>
      decideBottleneck(unsaturated, initialPolicyMemory(), ctx({ slots: slots3, budget: { maxSeeds: 4, maxParamsAdded: budget, paramsAdded: 0 } }), { ...CONFIG, width: together })
        .commands.filter((c) => c.seedOperation?.op === 'GERMINATE')
        .map((c) => c.targetSeedId as string);
    expect(both(9_600)).to.deep.equal(['seed-h2-w1', 'seed-h1-w1', 'seed-h3-w1']);
    expect(both(9_500)).to.deep.equal(['seed-h2-w1', 'seed-h1-w1', 'seed-h3-w1']);
    expect(both(6_500)).to.deep.equal(['seed-h2-w1', 'seed-h1-w1']);
    // An MLP under the default maxLiveWidthSeeds (1) still grows one layer at a time.
    const mlp = decideBottleneck(withLayers(1, [layer(1, 4, 4, 1), layer(2, 4, 4, 1)]), initialPolicyMemory(), ctx(), { ...CONFIG, width: together });
    expect(mlp.commands.filter((c) => c.seedOperation?.op === 'GERMINATE')).to.have.length(1);
  });

  it('with denseGrowsWithConv (bottleneck@18), widens the dense layer in the decision that widens a conv block, saturated or not (at least half), but only a dense layer that never grew', () => {
    const conv = (n: number, width: number, positions: number, gradientScore: number): LayerSignals => ({ ...layer(n, width, width, gradientScore), kind: 'conv', positions });
    const ids = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'];
    // Conv 2 (14×14) → dense 16 at epoch 1 (fmnist-cnn-2-d16, data seed 1): the block saturated (0.85), the dense layer not (0.37).
    const cnn = (seeds: SeedState[]): SystemStatePacket => withLayers(1, [{ ...conv(1, 2, 196, 0.818), effectiveRank: 1.7 }, layer(2, 16, 5.13, 0.389, 0.125)], seeds);
    const fresh = ids.map((id) => seed(id));
    // The default since bottleneck@18; false keeps @17.
    const withConv = CONFIG;
    const without = { ...CONFIG, width: { ...DEFAULT_WIDTH_RULE, denseGrowsWithConv: false } };
    const germinated = (p: SystemStatePacket, config: BottleneckConfig, budget = 1_000_000): string[] =>
      decideBottleneck(p, initialPolicyMemory(), ctx({ budget: { maxSeeds: 4, maxParamsAdded: budget, paramsAdded: 0 } }), config)
        .commands.filter((c) => c.seedOperation?.op === 'GERMINATE')
        .map((c) => c.targetSeedId as string);
    // Without the rule: the conv block alone; the dense layer waits to be saturated on its own.
    expect(germinated(cnn(fresh), without)).to.deep.equal(['seed-h1-w1']);
    // With the rule: the dense layer grows with the block, and the reason says why.
    expect(germinated(cnn(fresh), withConv)).to.deep.equal(['seed-h1-w1', 'seed-h2-w1']);
    const decision = decideBottleneck(cnn(fresh), initialPolicyMemory(), ctx(), withConv);
    expect(decision.reason).to.match(/widen L2 \(w16, saturation 0\.37, growing with L1 \(a conv block widened now widens what it reads\)/);
    expect(decision.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`)).to.include.members(['seed-h1-w1:ADVANCE', 'seed-h2-w1:ADVANCE']);
    // The budget counts the block's growth first (k = 16, 1,600 parameters): of 2,000, k = 4 (400) is left for the dense layer; of 1,700, none.
    const denseKernel = (budget: number): string | undefined =>
      decideBottleneck(cnn(fresh), initialPolicyMemory(), ctx({ budget: { maxSeeds: 4, maxParamsAdded: budget, paramsAdded: 0 } }), withConv).commands.find(
        (c) => c.targetSeedId === 'seed-h2-w1' && c.seedOperation?.op === 'GERMINATE',
      )?.seedOperation?.blueprintId;
    expect(denseKernel(2_000)).to.equal('widen_4');
    expect(germinated(cnn(fresh), withConv, 1_700)).to.deep.equal(['seed-h1-w1']);
    // A dense layer that has grown, or is growing, does not grow with the block.
    const grown = ids.map((id) => (id === 'h2-w1' ? live(id, { stage: 'FOSSILIZED', blueprintId: 'widen_16' }) : seed(id)));
    expect(germinated(cnn(grown), withConv)).to.deep.equal(['seed-h1-w1']);
    const growing = ids.map((id) => (id === 'h2-w1' ? live(id, { stage: 'TRAINING', blueprintId: 'widen_16' }) : seed(id)));
    expect(germinated(cnn(growing), withConv)).to.deep.equal(['seed-h1-w1']);
    // A dense layer under half the trigger (0.2 < 0.225: room left, and a wide one costs the most) waits.
    const roomy = withLayers(1, [{ ...conv(1, 2, 196, 0.818), effectiveRank: 1.7 }, layer(2, 16, 2.8, 0.389, 0.125)], fresh);
    expect(germinated(roomy, withConv)).to.deep.equal(['seed-h1-w1']);
    // No conv block widened (an MLP): nothing changes.
    const mlp = withLayers(1, [layer(1, 4, 4, 1), layer(2, 16, 4, 0.5)]);
    expect(germinated(mlp, withConv)).to.deep.equal(germinated(mlp, without)).and.to.have.length(1);
  });

  it('widens a layer only while the seed would merge within 60 % of the run, so the grown layer trains at its final width for the last 40 %', () => {
    const saturated = [layer(1, 4, 4, 1)];
    // 15 epochs, a merge 4 epochs after the decision: epoch 5 merges at 9 (= 0.6 of 15), epoch 6 at 10 — inside the start window (≤ 7.5), past the merge window
    // (bottleneck@7's 2/3 let a 15-epoch CNN widen its second block at epoch 6, merged at 10: resolution 0.81 / 0.67).
    expect(DEFAULT_WIDTH_RULE.epochsToMerge).to.equal(4);
    expect(DEFAULT_WIDTH_RULE.mergeByFraction).to.equal(0.6);
    expect(widthGrowthFor(withLayers(5, saturated), ctx({ epochs: 15 }), DEFAULT_WIDTH_RULE, 1)).to.have.property('seed');
    expect(widthGrowthFor(withLayers(6, saturated), ctx({ epochs: 15 }), DEFAULT_WIDTH_RULE, 1)).to.deep.equal({ wait: 'a seed germinated now would merge at epoch 10, past 0.60 of 15' });
    // 10 epochs: a growth at epoch 2 merges at 6 (= 0.6 of 10).
    expect(widthGrowthFor(withLayers(2, saturated), ctx({ epochs: 10 }), DEFAULT_WIDTH_RULE, 1)).to.have.property('seed');
    // 30 epochs: the merge window closes after epoch 14 (merged at 18), inside the start window (≤ 15).
    expect(widthGrowthFor(withLayers(14, saturated), ctx(), DEFAULT_WIDTH_RULE, 1)).to.have.property('seed');
    expect(widthGrowthFor(withLayers(15, saturated), ctx(), DEFAULT_WIDTH_RULE, 1)).to.deep.equal({ wait: 'a seed germinated now would merge at epoch 19, past 0.60 of 30' });
    // A slower lifecycle (a longer α ramp) closes the window sooner.
    expect(widthGrowthFor(withLayers(13, saturated), ctx(), { ...DEFAULT_WIDTH_RULE, epochsToMerge: 6 }, 1)).to.have.property('wait').that.match(/merge at epoch 19/);
    // The packet's decision says why it waited.
    const decision = decideBottleneck(withLayers(6, saturated), initialPolicyMemory(), ctx({ epochs: 15 }), CONFIG);
    expect(decision.commands.filter((c) => c.seedOperation?.op === 'GERMINATE' && c.targetSeedId?.includes('-w') === true)).to.deep.equal([]);
    expect(decision.reason).to.match(/width: wait \(a seed germinated now would merge at epoch 10/);
  });

  it('carries a width seed through its lifecycle with the heuristic rules (advance after 1 epoch of TRAINING)', () => {
    const seeds = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h1-w1' ? live(id, { stage: 'TRAINING', epochsInStage: 1, blueprintId: 'widen_16', kernelId: 'a-w16' }) : seed(id)));
    const decision = decideBottleneck(withLayers(3, [layer(1, 4, 4, 1)], seeds), initialPolicyMemory(), ctx(), CONFIG);
    expect(decision.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`)).to.deep.equal(['seed-h1-w1:ADVANCE']);
    expect(decision.commands[0]?.annotations['policy']).to.equal('bottleneck@18');
  });

  it('blends a width seed by its own α ramp when the rule names one (1: full strength at once), a depth seed by the run\'s', () => {
    const training = (slot: string): ReturnType<typeof live>[] =>
      ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === slot ? live(id, { stage: 'TRAINING', epochsInStage: 3, blueprintId: slot === 'h2' ? 'mlp_deep' : 'widen_16', kernelId: 'a-w16' }) : seed(id)));
    const blend = { curve: 'cosine' as const, tempoEpochs: 5 as const };
    const advance = (config: BottleneckConfig, slot: string): unknown =>
      decideBottleneck(withLayers(3, [layer(1, 4, 1, 1)], training(slot)), initialPolicyMemory(), ctx(), config).commands.find((c) => c.seedOperation?.op === 'ADVANCE')?.seedOperation;
    const atOnce: BottleneckConfig = { width: { ...DEFAULT_WIDTH_RULE, tempoEpochs: 1 }, heuristic: { ...CONFIG.heuristic, blend } };
    expect(advance(atOnce, 'h1-w1')).to.deep.equal({ op: 'ADVANCE', blend: { curve: 'cosine', tempoEpochs: 1 } });
    expect(advance(atOnce, 'h2')).to.deep.equal({ op: 'ADVANCE', blend });
    // Unset (the default), a width seed ramps as the run's blend says, as every seed did before the option.
    const unset: BottleneckConfig = { width: DEFAULT_WIDTH_RULE, heuristic: { ...CONFIG.heuristic, blend } };
    expect(DEFAULT_WIDTH_RULE.tempoEpochs).to.equal(undefined);
    expect(advance(unset, 'h1-w1')).to.deep.equal({ op: 'ADVANCE', blend });
    expect(advance(CONFIG, 'h1-w1')).to.deep.equal({ op: 'ADVANCE' });
    // The ramp's length is part of the fastest path to the merge, which the window checks: at least one epoch blending.
    expect(widthEpochsToMerge(1, 1)).to.equal(3);
    expect(widthEpochsToMerge(1, 3)).to.equal(4);
    expect(widthEpochsToMerge(2, 8)).to.equal(10);
  });

  it('never widens a layer that carries a depth seed, nor adds depth to a layer that grew (its depth kernels were built for the old width)', () => {
    const withDepth = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h1' ? seed(id, { stage: 'FOSSILIZED', blueprintId: 'mlp_deep' }) : seed(id)));
    const growth = widthGrowthFor(withLayers(2, [layer(1, 4, 4, 5), layer(2, 4, 4, 1)], withDepth), ctx(), DEFAULT_WIDTH_RULE, 1);
    expect(growth).to.have.property('layer').that.has.property('layer', 2);
    // Layer 1 grew (a width fossil), layer 2 did not: a plateau germinates depth only after layer 2.
    const grown = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h1-w1' ? seed(id, { stage: 'FOSSILIZED', blueprintId: 'widen_16' }) : seed(id)));
    const layers = [layer(1, 20, 2, 0.1), layer(2, 4, 1, 0.1)];
    let memory = initialPolicyMemory();
    let last: ReturnType<typeof decideBottleneck> | undefined;
    for (let epoch = 5; epoch <= 12; epoch++) {
      last = decideBottleneck({ ...packet({ epoch, acc: 0.8, trainLoss: 0.5, seeds: grown }), layers }, memory, ctx({ availableKernels: [kernel('k-deep', { blueprintId: 'mlp_deep', interfaceKey: DEPTH, paramCount: 200 })] }), CONFIG);
      memory = last.memory;
      if (last.commands.length > 0) break;
    }
    const germinate = last?.commands.find((c) => c.seedOperation?.op === 'GERMINATE');
    expect(germinate?.targetSeedId).to.equal('seed-h2');
  });

  it('leaves a layer whose last width seed was pruned to the other layers until its embargo ends', () => {
    const seeds = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) => (id === 'h2-w1' ? seed(id, { stage: 'EMBARGOED' }) : seed(id)));
    const growth = widthGrowthFor(withLayers(8, [layer(1, 4, 3, 0.1), layer(2, 4, 4, 9)], seeds), ctx(), DEFAULT_WIDTH_RULE, 1);
    expect(growth).to.have.property('layer').that.has.property('layer', 1);
  });

  it('keeps the depth slot of a layer whose width seed was pruned closed while the width window is open (spirals data seed 9), then lets a plateau add depth there', () => {
    const seeds = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) =>
      id === 'h1-w1' ? seed(id, { stage: 'FOSSILIZED', blueprintId: 'widen_16' }) : id === 'h2-w1' ? seed(id, { stage: 'EMBARGOED' }) : seed(id),
    );
    const layers = [layer(1, 20, 2, 0.1), layer(2, 4, 1, 0.1)];
    const context = ctx({ availableKernels: [kernel('k-deep', { blueprintId: 'mlp_deep', interfaceKey: DEPTH, paramCount: 200 })] });
    let memory = initialPolicyMemory();
    const germinatedAt: Array<{ epoch: number; seedId: string | undefined }> = [];
    for (let epoch = 5; epoch <= 24 && germinatedAt.length === 0; epoch++) {
      const decision = decideBottleneck({ ...packet({ epoch, acc: 0.8, trainLoss: 0.5, seeds }), layers }, memory, context, CONFIG);
      memory = decision.memory;
      for (const c of decision.commands) if (c.seedOperation?.op === 'GERMINATE') germinatedAt.push({ epoch, seedId: c.targetSeedId });
    }
    // 30 epochs, a merge 4 epochs after a decision: the window is open through epoch 14 (14 + 4 = 0.6 of 30).
    expect(germinatedAt).to.have.length(1);
    expect(germinatedAt[0]?.seedId).to.equal('seed-h2');
    expect(germinatedAt[0]?.epoch).to.equal(15);
  });

  describe('HOLDING patience for early width seeds', () => {
    /** A width seed of layer 1 in HOLDING, germinated (per the memory) at `fromEpoch`, measured as given. */
    function holding(fromEpoch: number, epochsInStage: number, contributionPp: number, lossContributionPct: number, slotId = 'h1-w1'): { p: SystemStatePacket; memory: ReturnType<typeof initialPolicyMemory> } {
      const seeds = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) =>
        id === slotId ? live(id, { stage: 'HOLDING', epochsInStage, alpha: 1, blueprintId: 'widen_16', kernelId: 'a-w16', contributionPp, lossContributionPct }) : seed(id),
      );
      const tracked = { seedId: `seed-${slotId}`, slotId, blueprintId: 'widen_16', kernelId: 'a-w16', paramCount: 1600, commandId: 'c1', fromEpoch, confirmed: true, stage: 'HOLDING' as const };
      return { p: withLayers(fromEpoch + 6 + epochsInStage, [layer(1, 20, 5, 0.1), layer(2, 4, 1, 0.1)], seeds), memory: { ...initialPolicyMemory(), seeds: { [`seed-${slotId}`]: tracked } } };
    }
    const ops = (decision: ReturnType<typeof decideBottleneck>): string[] => decision.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`);

    it('keeps an early, inconclusive width seed holding (a 784-12-10 seed measured -0.08 pp, loss +0.57 %, one epoch after its blend), then prunes it when the patience runs out', () => {
      const first = holding(1, 1, -0.08, 0.57);
      const waiting = decideBottleneck(first.p, first.memory, ctx(), CONFIG);
      expect(ops(waiting)).to.deep.equal([]);
      expect(waiting.reason).to.match(/inconclusive, holding 1\/3 epochs/);
      const last = holding(1, 3, -0.08, 0.57);
      expect(ops(decideBottleneck(last.p, last.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
    });

    it('counts −0.5 pp itself as inconclusive when the loss is lower (one example in 200: a spirals seed lowering the loss by 7.7 % was pruned at once)', () => {
      const atEdge = holding(1, 1, -0.5000000000000009, 7.69);
      const waiting = decideBottleneck(atEdge.p, atEdge.memory, ctx(), CONFIG);
      expect(ops(waiting)).to.deep.equal([]);
      expect(waiting.reason).to.match(/inconclusive, holding 1\/3 epochs/);
      const below = holding(1, 1, -0.51, 7.69);
      expect(ops(decideBottleneck(below.p, below.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
    });

    it('fossilizes the early width seed once a later epoch measures it above G5', () => {
      const later = holding(1, 2, 1.28, 9.1);
      expect(ops(decideBottleneck(later.p, later.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:FOSSILIZE']);
    });

    it('gives no patience to a width seed germinated past the first quarter of the run, nor to one that raises the loss or costs accuracy', () => {
      const late = holding(8, 1, -0.08, 0.57);
      expect(ops(decideBottleneck(late.p, late.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
      const worseLoss = holding(1, 1, 0.2, -0.3);
      expect(ops(decideBottleneck(worseLoss.p, worseLoss.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
      const costly = holding(1, 1, -0.6, 0.4);
      expect(ops(decideBottleneck(costly.p, costly.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
    });

    it('gives no patience to a depth seed, and none at all with holdingPatienceEpochs 0', () => {
      const depth = holding(1, 1, -0.08, 0.57, 'h1');
      expect(ops(decideBottleneck(depth.p, depth.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1:PRUNE']);
      const off: BottleneckConfig = { ...CONFIG, width: { ...DEFAULT_WIDTH_RULE, holdingPatienceEpochs: 0 } };
      const early = holding(1, 1, -0.08, 0.57);
      expect(ops(decideBottleneck(early.p, early.memory, ctx(), off))).to.deep.equal(['seed-h1-w1:PRUNE']);
    });
  });

  describe('no prune judged in the epoch after a width merge', () => {
    const holdingW16 = { stage: 'HOLDING' as const, alpha: 1, blueprintId: 'widen_16', kernelId: 'a-w16' };
    const tracked = (slotId: string, stage: 'HOLDING' | 'BLENDING', fromEpoch: number) =>
      ({ seedId: `seed-${slotId}`, slotId, blueprintId: 'widen_16', kernelId: 'a-w16', paramCount: 1600, commandId: `c-${slotId}`, fromEpoch, confirmed: true, stage });
    /**
     * Epoch 12: L1's width seed (germinated at 8, past the patience window) in HOLDING measured as given; L2's width seed,
     * HOLDING in the memory, shows FOSSILIZED (merged at the boundary before this epoch) unless `l2` says otherwise.
     */
    function afterMerge(l1: Partial<SeedState>, l2: Partial<SeedState> = { stage: 'FOSSILIZED', epochsInStage: 0, alpha: 1 }, l2Tracked = true) {
      const seeds = ['h1', 'h1-w1', 'h1-w2', 'h2', 'h2-w1', 'h2-w2'].map((id) =>
        id === 'h1-w1' ? live(id, { ...holdingW16, epochsInStage: 1, ...l1 }) : id === 'h2-w1' ? live(id, { blueprintId: 'widen_16', kernelId: 'a-w16', epochsInStage: 0, alpha: 1, ...l2 }) : seed(id),
      );
      const memorySeeds = { 'seed-h1-w1': tracked('h1-w1', 'HOLDING', 8), ...(l2Tracked ? { 'seed-h2-w1': tracked('h2-w1', 'HOLDING', 7) } : {}) };
      return { p: withLayers(12, [layer(1, 20, 5, 0.1), layer(2, 20, 5, 0.1)], seeds), memory: { ...initialPolicyMemory(), lastEpoch: 11, seeds: memorySeeds } };
    }
    const ops = (decision: ReturnType<typeof decideBottleneck>): string[] => decision.commands.map((c) => `${c.targetSeedId}:${c.seedOperation?.op}`);

    it('holds a seed whose prune rests on that epoch (sweep 9 data seed 3: +0.18 pp, the loss 2.06 % higher with it) and judges it again the next epoch', () => {
      const merged = afterMerge({ contributionPp: 0.18, lossContributionPct: -2.06 });
      const waiting = decideBottleneck(merged.p, merged.memory, ctx(), CONFIG);
      expect(ops(waiting)).to.deep.equal([]);
      expect(waiting.reason).to.match(/seed-h1-w1 HOLDING: wait \(contribution \+0\.18pp < \+0\.5pp.*but measured in the epoch after seed-h2-w1 merged: judged again next epoch\)/);
      // The next epoch the merge is old news (the memory no longer follows seed-h2-w1): the same measurement prunes.
      const next = { ...merged.p, packetId: 'pkt-13', epoch: 13, seeds: merged.p.seeds.map((s) => (s.seedId === 'seed-h1-w1' ? { ...s, epochsInStage: 2 } : s)) };
      expect(ops(decideBottleneck(next, waiting.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
    });

    it('defers a regression prune in TRAINING or BLENDING too, but not a fossilize, a stall, or a prune after a merge the policy did not follow', () => {
      const regressed = afterMerge({ stage: 'BLENDING', epochsInStage: 5, alpha: 0.66, improvementPp: -2.5 });
      expect(ops(decideBottleneck(regressed.p, regressed.memory, ctx(), CONFIG))).to.deep.equal([]);
      const helpful = afterMerge({ contributionPp: 0.8, lossContributionPct: 3 });
      expect(ops(decideBottleneck(helpful.p, helpful.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:FOSSILIZE']);
      const stalled = afterMerge({ stage: 'TRAINING', epochsInStage: 15, alpha: 0 });
      expect(ops(decideBottleneck(stalled.p, stalled.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
      // A fossil the memory never followed live (merged long ago, or before this memory began) is no fresh merge.
      const old = afterMerge({ contributionPp: 0.18, lossContributionPct: -2.06 }, undefined, false);
      expect(ops(decideBottleneck(old.p, old.memory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
      // A depth seed fossilizing changes no topology: no deferral.
      const depthMerged = afterMerge({ contributionPp: 0.18, lossContributionPct: -2.06 });
      const depthSeeds = depthMerged.p.seeds.map((s) => (s.slotId === 'h2-w1' ? seed('h2-w1') : s.slotId === 'h2' ? live('h2', { stage: 'FOSSILIZED', alpha: 1 }) : s));
      const depthMemory = { ...depthMerged.memory, seeds: { 'seed-h1-w1': depthMerged.memory.seeds['seed-h1-w1'], 'seed-h2': { ...tracked('h2', 'HOLDING', 7), seedId: 'seed-h2' } } };
      expect(ops(decideBottleneck({ ...depthMerged.p, seeds: depthSeeds }, depthMemory, ctx(), CONFIG))).to.deep.equal(['seed-h1-w1:PRUNE']);
    });

    it('prunes at once with deferPruneAfterMerge false (bottleneck@16)', () => {
      const merged = afterMerge({ contributionPp: 0.18, lossContributionPct: -2.06 });
      const off: BottleneckConfig = { ...CONFIG, width: { ...DEFAULT_WIDTH_RULE, deferPruneAfterMerge: false } };
      expect(ops(decideBottleneck(merged.p, merged.memory, ctx(), off))).to.deep.equal(['seed-h1-w1:PRUNE']);
    });
  });

  it('is a TamiyoPolicy: deterministic, replays the same packet, and reports its name', () => {
    const policy = bottleneckPolicy({ advanceTrainingEpochs: 1 });
    const p = withLayers(1, [layer(1, 4, 3.5, 0.2)]);
    const first = policy.decide(p, policy.initialMemory(), ctx());
    const again = policy.decide(p, first.memory, ctx());
    expect(again.commands).to.deep.equal(first.commands);
    expect(policy.decide(p, policy.initialMemory(), ctx())).to.deep.equal(first);
    expect(`${policy.name}@${policy.version}`).to.equal('bottleneck@18');
  });
});
