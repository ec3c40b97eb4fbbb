import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { SystemStatePacket } from '../../../src/contracts/index.ts';
import { RunSpecSchema } from '../../../src/contracts/run.ts';
import { parseGateConfig } from '../../../src/actors/kasmina/index.ts';
import type { PolicyContext } from '../../../src/actors/tamiyo/index.ts';
import { runPolicy } from '../../../src/actors/tolaria/tamiyo-adviser.ts';
import { live, packet, seed } from '../tamiyo/support.ts';

/** The policy `esper run` builds for the spirals example (default gates, no policy section). */
function spiralsPolicy(gates: Record<string, unknown> = {}): ReturnType<typeof runPolicy> {
  const spec = RunSpecSchema.parse({ ...JSON.parse(readFileSync(new URL('../../../examples/spirals.json', import.meta.url), 'utf8')), ...(Object.keys(gates).length === 0 ? {} : { gates }) });
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
    expect(`${policy.name}@${policy.version}`).to.equal('bottleneck@13');
    expect(advanced(policy, 1)).to.deep.equal(['seed-h2-w1']);
    expect(advanced(policy, 2)).to.deep.equal(['seed-h2-w1']);
    expect(advanced(policy, 3)).to.have.members(['seed-h1', 'seed-h2-w1']);
  });

  it("follows the spec's own G2 minimum for both kinds when the spec sets one", () => {
    const policy = spiralsPolicy({ g2: { minTrainingEpochs: 2 } });
    expect(advanced(policy, 1)).to.deep.equal([]);
    expect(advanced(policy, 2)).to.have.members(['seed-h1', 'seed-h2-w1']);
  });
});
