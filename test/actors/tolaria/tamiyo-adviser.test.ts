import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { SystemStatePacket } from '../../../src/contracts/index.ts';
import { RunSpecSchema } from '../../../src/contracts/run.ts';
import { parseGateConfig } from '../../../src/actors/kasmina/index.ts';
import type { PolicyContext } from '../../../src/actors/tamiyo/index.ts';
import { runPolicy } from '../../../src/actors/tolaria/tamiyo-adviser.ts';
import { live, packet, seed } from '../tamiyo/support.ts';

/** The policy `esper run` builds for the spirals example (default gates, no policy section). */
function spiralsPolicy(gates: Record<string, unknown> = {}, policy: Record<string, unknown> = {}): ReturnType<typeof runPolicy> {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const spec = RunSpecSchema.parse({ ...raw, ...(Object.keys(gates).length === 0 ? {} : { gates }), policy: { ...(raw['policy'] as object | undefined), ...policy } });
  return runPolicy(spec, parseGateConfig(spec.gates ?? {}));
}

const CONTEXT: PolicyContext = {
  availableKernels: [],
  budget: { maxSeeds: 4, maxParamsAdded: 1_000_000, paramsAdded: 0 },
  slots: { h1: { role: 'depth', layer: 1 }, 'h1-w1': { role: 'width', layer: 1 }, h2: { role: 'depth', layer: 2 }, 'h2-w1': { role: 'width', layer: 2 } },
  epochs: 120,
};

/** A packet with a depth seed (h1) and a width seed (h2-w1) both `epochsInStage` epochs in TRAINING. */
function inTraining(epochsInStage: number): SystemStatePacket {
  return packet({
    epoch: 10 + epochsInStage,
    seeds: [live('h1', { stage: 'TRAINING', epochsInStage }), live('h2-w1', { stage: 'TRAINING', epochsInStage }), seed('h1-w1'), seed('h2')],
  });
}

const advanced = (policy: ReturnType<typeof runPolicy>, epochsInStage: number): string[] =>
  policy
    .decide(inTraining(epochsInStage), policy.initialMemory(), CONTEXT)
    .commands.filter((c) => c.seedOperation?.op === 'ADVANCE')
    .map((c) => c.targetSeedId ?? '');

describe('Tolaria: the Tamiyo policy of a run spec', () => {
  it('advances each kind of seed after the G2 minimum its slots have (width 1 epoch, depth the gates\' 3), so the gate refuses none', () => {
    const policy = spiralsPolicy();
    expect(`${policy.name}@${policy.version}`).to.equal('bottleneck@18');
    expect(advanced(policy, 1)).to.deep.equal(['seed-h2-w1']);
    expect(advanced(policy, 2)).to.deep.equal(['seed-h2-w1']);
    expect(advanced(policy, 3)).to.have.members(['seed-h1', 'seed-h2-w1']);
  });

  it("blends width seeds by `policy.widthTempoEpochs` when the spec sets it, else by the run's blend, and opens the width window by that path", () => {
    const blendOf = (policy: ReturnType<typeof runPolicy>, slot: string): unknown =>
      policy.decide(inTraining(3), policy.initialMemory(), CONTEXT).commands.find((c) => c.targetSeedId === `seed-${slot}`)?.seedOperation;
    const atOnce = spiralsPolicy({}, { widthTempoEpochs: 1 });
    expect(blendOf(atOnce, 'h2-w1')).to.deep.equal({ op: 'ADVANCE', blend: { curve: 'linear', tempoEpochs: 1 } });
    expect(blendOf(atOnce, 'h1')).to.deep.equal({ op: 'ADVANCE', blend: { curve: 'linear', tempoEpochs: 3 } });
    expect(blendOf(spiralsPolicy(), 'h2-w1')).to.deep.equal({ op: 'ADVANCE', blend: { curve: 'linear', tempoEpochs: 3 } });
    // 120 epochs, merge by 0.6 · 120 = 72: with no ramp a growth decided at epoch 69 merges at 72 (TRAINING, one epoch blending, one holding);
    // with the ramp of 3 it would merge at 73. The growth window (growUntilFraction 0.5) is widened so only the merge window decides.
    const late = (policy: ReturnType<typeof runPolicy>): string =>
      policy.decide({ ...packet({ epoch: 69, seeds: [seed('h1'), seed('h1-w1'), seed('h2'), seed('h2-w1')] }), layers: [{ layer: 1, kind: 'dense', width: 3, effectiveRank: 3, deadFraction: 0, gradientScore: 1 }, { layer: 2, kind: 'dense', width: 3, effectiveRank: 3, deadFraction: 0, gradientScore: 0.5 }] }, policy.initialMemory(), { ...CONTEXT, availableKernels: [] }).reason;
    // Past the window, the rule looks for a kernel (this context has none).
    expect(late(spiralsPolicy({}, { widthTempoEpochs: 1, growUntilFraction: 1 }))).to.match(/width: wait \(L1 has no width kernel within the budget/);
    expect(late(spiralsPolicy({}, { growUntilFraction: 1 }))).to.match(/would merge at epoch 73, past 0\.60 of 120/);
  });

  it("follows the spec's own G2 minimum for both kinds when the spec sets one", () => {
    const policy = spiralsPolicy({ g2: { minTrainingEpochs: 2 } });
    expect(advanced(policy, 1)).to.deep.equal([]);
    expect(advanced(policy, 2)).to.have.members(['seed-h1', 'seed-h2-w1']);
  });
});
