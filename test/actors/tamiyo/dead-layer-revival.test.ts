import { expect } from 'chai';
import { AdaptationCommandSchema, type LayerSignals, type SystemStatePacket } from '../../../src/contracts/index.ts';
import { bottleneckPolicy, deadChains, initialPolicyMemory, MAX_REVIVALS, revivalFor, type PolicyContext } from '../../../src/actors/tamiyo/index.ts';
import { kernel, live, packet, seed } from './support.ts';

const dense = (n: number, width: number, deadFraction: number, rank = deadFraction === 1 ? 0 : 1): LayerSignals => ({ layer: n, kind: 'dense', width, effectiveRank: rank, deadFraction, gradientScore: 0 });
const conv = (n: number, deadFraction: number): LayerSignals => ({ layer: n, kind: 'conv', width: 2, positions: 196, effectiveRank: 0, deadFraction, gradientScore: 0 });

const SLOTS = ['h1', 'h1-w1', 'h2', 'h2-w1', 'h3', 'h3-w1'];

function withLayers(epoch: number, layers: LayerSignals[], seeds = SLOTS.map((id) => seed(id))): SystemStatePacket {
  return { ...packet({ epoch, seeds }), layers };
}

function ctx(): PolicyContext {
  const W = 'width:dense:784->10:float32';
  return {
    availableKernels: [kernel('w16', { blueprintId: 'widen_16', interfaceKey: W, units: 16, paramCount: 1600 })],
    budget: { maxSeeds: 4, maxParamsAdded: 1_000_000, paramsAdded: 0 },
    slotInterfaces: Object.fromEntries(SLOTS.map((id) => [id, id.includes('-w') ? W : 'depth:dense:2->2:float32'])),
    slots: Object.fromEntries(SLOTS.map((id) => [id, { role: id.includes('-w') ? 'width' : 'depth', layer: Number(id[1]) }])),
    epochs: 30,
  };
}

describe('Tamiyo dead-layer revival', () => {
  it('finds runs of two or more consecutive dense layers whose units are all dead', () => {
    expect(deadChains([dense(1, 2, 1), dense(2, 2, 1)])).to.deep.equal([[1, 2]]);
    // 784-2-2-6-10, data seed 4: layers 2 and 3 died, layer 1 lives.
    expect(deadChains([dense(1, 2, 0), dense(2, 2, 1), dense(3, 6, 1)])).to.deep.equal([[2, 3]]);
    // One dead layer alone is the width rule's (it can widen it); half-dead layers are alive.
    expect(deadChains([dense(1, 2, 1), dense(2, 4, 0.5)])).to.deep.equal([]);
    expect(deadChains([dense(1, 4, 1), dense(2, 4, 0), dense(3, 4, 1)])).to.deep.equal([]);
    // Two chains, in order; the order of the signals does not matter.
    expect(deadChains([dense(5, 2, 1), dense(4, 2, 1), dense(3, 2, 0), dense(2, 2, 1), dense(1, 2, 1)])).to.deep.equal([
      [1, 2],
      [4, 5],
    ]);
    // Conv blocks are never revived (nor do they join a chain).
    expect(deadChains([conv(1, 1), dense(2, 2, 1)])).to.deep.equal([]);
  });

  it('waits while a seed is live, and after its revivals are spent', () => {
    const layers = [dense(1, 2, 1), dense(2, 2, 1)];
    expect(revivalFor(withLayers(3, layers), initialPolicyMemory())).to.have.property('layers').that.deep.equals([1, 2]);
    const withLive = withLayers(3, layers, [live('h1', { stage: 'TRAINING' }), ...SLOTS.slice(1).map((id) => seed(id))]);
    expect(revivalFor(withLive, initialPolicyMemory())).to.have.property('wait').that.matches(/no seed is live \(seed-h1\)/);
    expect(revivalFor(withLayers(3, layers), { ...initialPolicyMemory(), revivals: MAX_REVIVALS })).to.have.property('wait').that.matches(/dead again after 2 revivals/);
    expect(revivalFor(withLayers(3, [dense(1, 2, 0), dense(2, 2, 1)]), initialPolicyMemory())).to.equal(undefined);
  });

  it('answers a dead chain with one HOST REVIVE command, before any growth, counted in its memory', () => {
    const policy = bottleneckPolicy();
    const p = withLayers(1, [dense(1, 2, 1), dense(2, 2, 1)]);
    const decision = policy.decide(p, policy.initialMemory(), ctx());
    expect(decision.commands).to.have.length(1);
    const [command] = decision.commands;
    expect(AdaptationCommandSchema.safeParse(command).error?.issues ?? []).to.deep.equal([]);
    expect(command).to.include({ type: 'HOST', causationPacketId: p.packetId });
    expect(command?.hostOperation).to.deep.equal({ op: 'REVIVE', layers: [1, 2] });
    expect(command?.targetSeedId).to.equal(undefined);
    expect(decision.reason).to.match(/^revive L1–L2: every unit dead/).and.match(/L1 w2 rank 0 sat 1 dead 1/);
    expect(decision.memory.revivals).to.equal(1);
    // Deterministic, and the same packet is answered the same way (a redelivery is not a second revival).
    expect(policy.decide(p, policy.initialMemory(), ctx()).commands).to.deep.equal(decision.commands);
    const again = policy.decide(p, decision.memory, ctx());
    expect(again.commands).to.deep.equal(decision.commands);
    expect(again.memory.revivals).to.equal(1);
    // The next packet, with the layers alive, grows as usual.
    const next = policy.decide(withLayers(2, [dense(1, 2, 0, 2), dense(2, 2, 0, 2)]), decision.memory, ctx());
    expect(next.commands.some((c) => c.type === 'HOST')).to.equal(false);
    expect(next.memory.revivals).to.equal(1);
  });
});
