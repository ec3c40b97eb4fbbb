import { expect } from 'chai';
import { createEnvelope, type Envelope } from '../../../src/contracts/envelope.ts';
import { auditRevivals, auditTransitions, formatAuditEntry, formatAuditRevival, replaySeeds, RUN_COMPLETED } from '../../../src/actors/nissa/index.ts';

const RUN = 'run-x';
const ts = (): Date => new Date('2025-01-01T00:00:00.000Z');

function command(commandId: string, op: string): Record<string, unknown> {
  return { commandId, type: 'SEED', targetSeedId: 's0', deadlineMs: 1000, annotations: { policy: 'heuristic@1', reason: `${op} now` }, seedOperation: { op }, causationPacketId: `${RUN}-p${commandId.slice(1)}`, issuedAt: ts().toISOString() };
}

function transition(id: string, from: string, to: string, epoch: number, commandId?: string): Envelope {
  return createEnvelope({
    id,
    type: 'kasmina.seed.transitioned',
    source: 'test',
    runId: RUN,
    now: ts,
    data: { seedId: 's0', slotId: 'slot0', from, to, epoch, cause: { reason: `${from}->${to}`, ...(commandId === undefined ? {} : { commandId }) } },
    ...(commandId === undefined ? {} : { causedBy: { id: commandId } }),
  });
}

function synthetic(): Envelope[] {
  const packet = createEnvelope({ id: 'pk3', type: 'tolaria.state.published', source: 'test', runId: RUN, now: ts, data: { packetId: `${RUN}-p3`, epoch: 3, validationAccuracy: 0.8, validationLoss: 0.4, trainingLoss: 0.5 } });
  const decision = createEnvelope({
    id: 'd3',
    type: 'tamiyo.decision.made',
    source: 'test',
    runId: RUN,
    now: ts,
    causedBy: packet,
    data: { packetId: `${RUN}-p3`, runId: RUN, epoch: 3, commands: [command('c3', 'GERMINATE')], policy: 'heuristic@1', reason: 'plateau → germinate', fallback: false },
  });
  const rolled = createEnvelope({ id: 'rb6', type: 'tolaria.run.rolled_back', source: 'test', runId: RUN, now: ts, data: { runId: RUN, fromEpoch: 6, toEpoch: 5, cause: { trigger: 'NAN', reason: 'loss NaN' } } });
  const prune = createEnvelope({ id: 'ci6', type: 'tamiyo.command.issued', source: 'test', runId: RUN, now: ts, causedBy: rolled, data: { ...command('c6', 'PRUNE'), annotations: { policy: 'tolaria-governor' } } });
  return [
    packet,
    decision,
    transition('t1', 'DORMANT', 'GERMINATED', 3, 'c3'),
    transition('t2', 'GERMINATED', 'TRAINING', 4),
    rolled,
    prune,
    transition('t3', 'TRAINING', 'PRUNED', 6, 'c6'),
    createEnvelope({ id: 'done', type: RUN_COMPLETED, source: 'test', runId: RUN, now: ts, data: { runId: RUN, seeds: [{ seedId: 's0', slotId: 'slot0', stage: 'PRUNED' }] } }),
  ];
}

describe('nissa audit: causal chains of seed transitions', () => {
  it('links transition → command → decision → packet, marks epoch-boundary transitions and governor prunes', () => {
    const entries = auditTransitions(synthetic());
    expect(entries.map((e) => `${e.from}->${e.to}`)).to.deep.equal(['DORMANT->GERMINATED', 'GERMINATED->TRAINING', 'TRAINING->PRUNED']);
    const [germ, auto, prune] = entries;
    expect(germ?.origin).to.equal('command');
    expect(germ?.command).to.include({ commandId: 'c3', op: 'GERMINATE', policy: 'heuristic@1' });
    expect(germ?.decision).to.include({ eventId: 'd3', reason: 'plateau → germinate', fallback: false });
    expect(germ?.packet).to.deep.equal({ packetId: `${RUN}-p3`, epoch: 3, validationAccuracy: 0.8, validationLoss: 0.4, trainingLoss: 0.5 });
    expect(germ?.missing).to.deep.equal([]);
    expect(auto?.origin).to.equal('epoch');
    expect(auto?.command).to.equal(undefined);
    expect(prune?.command).to.include({ commandId: 'c6', op: 'PRUNE', policy: 'tolaria-governor' });
    expect(prune?.rollback).to.include({ eventId: 'rb6', fromEpoch: 6, toEpoch: 5, reason: 'loss NaN' });
    const line = formatAuditEntry(germ!);
    expect(line).to.include('DORMANT → GERMINATED').and.include('← command c3 (GERMINATE)').and.include('← decision heuristic@1 (plateau → germinate)').and.include(`← packet ${RUN}-p3 (val acc 80.0%`);
  });

  it('filters by seed (seed id or slot id) and reports a command it cannot find', () => {
    expect(auditTransitions(synthetic(), { seed: 'slot0' })).to.have.length(3);
    expect(auditTransitions(synthetic(), { seed: 'other' })).to.have.length(0);
    const orphan = auditTransitions([transition('t9', 'DORMANT', 'GERMINATED', 1, 'nope')]);
    expect(orphan[0]?.missing).to.deep.equal(['command nope']);
  });
});

describe('nissa replay: seed stages rebuilt from transitions', () => {
  it('replays a consistent run and matches the recorded final states', () => {
    const replay = replaySeeds(synthetic());
    expect(replay.ok).to.equal(true);
    expect(replay.stages).to.deep.equal({ s0: 'PRUNED' });
    expect(replay.recorded).to.deep.equal({ s0: 'PRUNED' });
    expect(replay.transitions).to.equal(3);
  });

  it('detects an inserted inconsistent transition (and the final-state mismatch it causes)', () => {
    const events = synthetic();
    events.splice(4, 0, transition('bad', 'BLENDING', 'HOLDING', 5));
    const replay = replaySeeds(events);
    expect(replay.ok).to.equal(false);
    const inconsistent = replay.issues.filter((i) => i.kind === 'inconsistent');
    expect(inconsistent.map((i) => [i.eventId, i.expected, i.actual])).to.deep.equal([
      ['bad', 'TRAINING', 'BLENDING'],
      ['t3', 'HOLDING', 'TRAINING'],
    ]);
  });

  it('detects a final state that differs from the recorded one', () => {
    const events = synthetic().filter((e) => e.id !== 't3');
    const replay = replaySeeds(events);
    expect(replay.issues).to.have.length(1);
    expect(replay.issues[0]).to.include({ kind: 'mismatch', expected: 'PRUNED', actual: 'TRAINING' });
  });

  it('links a dead-layer revival to its HOST command, decision and packet (and says what is missing)', () => {
    const packet = createEnvelope({ id: 'pk1', type: 'tolaria.state.published', source: 'test', runId: RUN, now: ts, data: { packetId: `${RUN}-p1`, epoch: 1, validationAccuracy: 0.1 } });
    const revive = { commandId: 'h1', type: 'HOST', deadlineMs: 1000, annotations: { policy: 'bottleneck@13', reason: 'revive L1–L2' }, hostOperation: { op: 'REVIVE', layers: [1, 2] }, causationPacketId: `${RUN}-p1`, issuedAt: ts().toISOString() };
    const decision = createEnvelope({
      id: 'd1',
      type: 'tamiyo.decision.made',
      source: 'test',
      runId: RUN,
      now: ts,
      causedBy: packet,
      data: { packetId: `${RUN}-p1`, runId: RUN, epoch: 1, commands: [revive], policy: 'bottleneck@13', reason: 'revive L1–L2: every unit dead', fallback: false },
    });
    const revived = createEnvelope({ id: 'r1', type: 'tolaria.host.revived', source: 'test', runId: RUN, now: ts, causedBy: decision, data: { runId: RUN, epoch: 1, layers: [1, 2], units: 4, commandId: 'h1', reason: 'revive L1–L2' } });
    const [entry] = auditRevivals([packet, decision, revived, ...synthetic()]);
    expect(entry).to.deep.include({ eventId: 'r1', epoch: 1, layers: [1, 2], units: 4, missing: [] });
    expect(entry?.command).to.include({ commandId: 'h1', type: 'HOST', op: 'REVIVE', policy: 'bottleneck@13' });
    expect(entry?.decision).to.include({ eventId: 'd1', reason: 'revive L1–L2: every unit dead' });
    expect(formatAuditRevival(entry!)).to.equal(
      `  1  host  L1–L2 revived (4 units)  ← command h1 (HOST REVIVE)  ← decision bottleneck@13 (revive L1–L2: every unit dead)  ← packet ${RUN}-p1 (val acc 10.0%)`,
    );
    const [orphan] = auditRevivals([revived]);
    expect(orphan?.missing).to.deep.equal(['decision of command h1']);
    expect(auditRevivals(synthetic())).to.deep.equal([]);
  });
});
