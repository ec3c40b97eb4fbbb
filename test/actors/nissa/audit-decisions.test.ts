import { expect } from 'chai';
import { createEnvelope, type Envelope } from '../../../src/contracts/envelope.ts';
import { auditDecisions, formatAuditDecision, formatLayerSignals } from '../../../src/actors/nissa/index.ts';

const RUN = 'run-d';
const ts = (): Date => new Date('2025-01-01T00:00:00.000Z');

function packet(epoch: number, layers?: unknown[]): Envelope {
  return createEnvelope({
    id: `pk${epoch}`,
    type: 'tolaria.state.published',
    source: 'test',
    runId: RUN,
    now: ts,
    data: { packetId: `${RUN}-p${epoch}`, epoch, validationAccuracy: 0.8 + epoch / 100, validationLoss: 0.5, trainingLoss: 0.4, ...(layers === undefined ? {} : { layers }) },
  });
}

function decision(epoch: number, reason: string, commands: Record<string, unknown>[], packetEpoch = epoch): Envelope {
  return createEnvelope({
    id: `d${epoch}`,
    type: 'tamiyo.decision.made',
    source: 'test',
    runId: RUN,
    now: ts,
    data: { packetId: `${RUN}-p${packetEpoch}`, runId: RUN, epoch, commands, policy: 'bottleneck@17', reason, fallback: false },
  });
}

function seedCommand(id: string, target: string, op: string, blueprintId?: string): Record<string, unknown> {
  return {
    commandId: id,
    type: 'SEED',
    targetSeedId: target,
    deadlineMs: 1000,
    annotations: { policy: 'bottleneck@17', reason: `${op} ${target}` },
    seedOperation: { op, ...(blueprintId === undefined ? {} : { blueprintId }) },
    causationPacketId: `${RUN}-p0`,
    issuedAt: ts().toISOString(),
  };
}

const LAYERS = [
  { layer: 1, kind: 'conv', width: 2, positions: 196, effectiveRank: 1.9, deadFraction: 0, gradientScore: 0.31 },
  { layer: 2, kind: 'dense', width: 16, effectiveRank: 6, deadFraction: 0.25, gradientScore: 0.0834 },
];

function run(): Envelope[] {
  return [
    packet(1, LAYERS),
    decision(1, 'L1 saturation 0.95 ≥ 0.45: widen by 16', [seedCommand('c1', 'seed-c1-w1', 'GERMINATE', 'width_conv_16')]),
    packet(2, LAYERS),
    decision(2, 'nothing saturated that could grow', []),
    packet(3),
    decision(3, 'seed-c1-w1 HOLDING +0.05pp, but measured in the epoch after seed-d1-w1 merged: judged again next epoch', []),
    decision(4, 'wait: no packet stored', [], 9),
    createEnvelope({ id: 'h', type: 'kasmina.seed.transitioned', source: 'test', runId: RUN, now: ts, data: { seedId: 'seed-c1-w1', slotId: 'c1', from: 'DORMANT', to: 'GERMINATED', epoch: 1, cause: { reason: 'x', commandId: 'c1' } } }),
  ];
}

describe('nissa audit: every decision of a run', () => {
  it('lists each decision in order with its commands, reason, metrics and layer signals — waits included', () => {
    const entries = auditDecisions(run());
    expect(entries.map((e) => e.epoch)).to.deep.equal([1, 2, 3, 4]);
    const [grow, idle, deferred, orphan] = entries;
    expect(grow?.commands).to.deep.equal([{ commandId: 'c1', type: 'SEED', op: 'GERMINATE', targetSeedId: 'seed-c1-w1', blueprintId: 'width_conv_16', reason: 'GERMINATE seed-c1-w1' }]);
    expect(grow?.packet).to.deep.equal({ packetId: `${RUN}-p1`, epoch: 1, validationAccuracy: 0.81, validationLoss: 0.5, trainingLoss: 0.4 });
    // Saturation as the bottleneck policy reads it: effective rank over the live units.
    expect(grow?.layers?.map((l) => l.saturation)).to.deep.equal([0.95, 0.5]);
    expect(idle?.commands).to.deep.equal([]);
    expect(idle?.reason).to.equal('nothing saturated that could grow');
    expect(deferred?.layers).to.equal(undefined);
    expect(deferred?.missing).to.deep.equal([]);
    expect(orphan?.missing).to.deep.equal([`packet ${RUN}-p9`]);
  });

  it('keeps, for one seed, the decisions that command it or name it in their reason', () => {
    expect(auditDecisions(run(), { seed: 'seed-c1-w1' }).map((e) => e.epoch)).to.deep.equal([1, 3]);
    // A slot id reaches the seeds it held through their ids.
    expect(auditDecisions(run(), { seed: 'c1', seedIds: ['seed-c1-w1'] }).map((e) => e.epoch)).to.deep.equal([1, 3]);
    expect(auditDecisions(run(), { seed: 'c1' })).to.deep.equal([]);
    expect(auditDecisions(run(), { seed: 'seed-d1-w1' }).map((e) => e.epoch)).to.deep.equal([3]);
  });

  it('formats a decision as a head line, its reason and its layers', () => {
    const [grow, idle] = auditDecisions(run());
    const lines = formatAuditDecision(grow!);
    expect(lines[0]).to.equal('  1  bottleneck@17  val acc 81.0%  val loss 0.5000  GERMINATE width_conv_16 → seed-c1-w1');
    expect(lines[1]).to.equal('      why: L1 saturation 0.95 ≥ 0.45: widen by 16');
    expect(lines[2]).to.equal('      layers: L1 conv 2: sat 0.95 (rank 1.9), score 0.310 | L2 dense 16: sat 0.50 (rank 6.0, dead 25%), score 0.0834');
    expect(formatAuditDecision(idle!)[0]).to.include('no command');
    expect(formatLayerSignals({ layer: 3, kind: 'dense', width: 4, effectiveRank: 0, deadFraction: 1, gradientScore: 0, saturation: 0 })).to.equal('L3 dense 4: sat 0.00 (rank 0.0, dead 100%), score 0.00');
  });

  it('reads a HOST command (a revival) by its operation and layers', () => {
    const revive = { commandId: 'r1', type: 'HOST', deadlineMs: 1000, annotations: {}, hostOperation: { op: 'REVIVE', layers: [1, 2] }, causationPacketId: `${RUN}-p1`, issuedAt: ts().toISOString() };
    const [entry] = auditDecisions([packet(1), decision(1, 'revive', [revive])]);
    expect(entry?.commands[0]?.hostOperation).to.equal('REVIVE L1–L2');
    expect(formatAuditDecision(entry!)[0]).to.include('REVIVE L1–L2');
  });
});
