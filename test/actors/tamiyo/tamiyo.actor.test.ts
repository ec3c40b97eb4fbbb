import { expect } from 'chai';
import { TamiyoDecisionSchema, type FieldReport, type SystemStatePacket, type TamiyoDecision } from '../../../src/contracts/index.ts';
import { NO_BACKOFF, startSupervisor, type ActorRef, type Supervisor } from '../../../src/supervision/index.ts';
import { deriveCommandId, tamiyoWorkerSpec, type TamiyoMessage, type TamiyoOptions, type TamiyoStatus } from '../../../src/actors/tamiyo/index.ts';
import { context, live, packet, plateauPackets, seed } from './support.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

const Q = 2_000;

describe('Tamiyo actor', () => {
  let root: Supervisor | undefined;
  let published: FieldReport[];

  async function start(extra: TamiyoOptions = {}): Promise<ActorRef<TamiyoMessage>> {
    root = await startSupervisor({
      id: 'test-root',
      strategy: 'one_for_one',
      intensity: { maxRestarts: 5, periodMs: 10_000 },
      backoff: NO_BACKOFF,
      children: [tamiyoWorkerSpec({ onFieldReport: (report) => published.push(report), ...extra })],
    });
    return root.ref<TamiyoMessage>('tamiyo')!;
  }

  const decide = (ref: ActorRef<TamiyoMessage>, p: SystemStatePacket): Promise<TamiyoDecision> => ref.query<TamiyoDecision>({ type: 'decide', packet: p, context: context() }, Q);

  beforeEach(() => {
    published = [];
  });

  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('answers every packet with a TamiyoDecision and keeps the memory between packets', async () => {
    const ref = await start();
    const decisions: TamiyoDecision[] = [];
    for (const p of plateauPackets(0, 6)) decisions.push(await decide(ref, p));
    for (const [i, d] of decisions.entries()) {
      expect(TamiyoDecisionSchema.safeParse(d).success).to.equal(true);
      expect(d).to.include({ packetId: `pkt-${i}`, runId: 'run-1', epoch: i, policy: 'heuristic@2', fallback: false });
      expect(d.decisionMs).to.be.at.least(0);
    }
    expect(decisions.slice(0, 6).every((d) => d.commands.length === 0)).to.equal(true);
    expect(decisions[6]!.commands.map((c) => c.seedOperation?.op)).to.deep.equal(['GERMINATE']);
    // The same packet redelivered: the same commands, ids included.
    const again = await decide(ref, plateauPackets(6, 6)[0]!);
    expect(again.commands).to.deep.equal(decisions[6]!.commands);
    const status = await ref.query<TamiyoStatus>({ type: 'status' }, Q);
    expect(status.decisions).to.equal(8);
    expect(status.memory.lastPacketId).to.equal('pkt-6');
  });

  it('records and hands on the FieldReports the policy derives, once', async () => {
    const ref = await start();
    for (const p of plateauPackets(0, 6)) await decide(ref, p);
    const fossil = live('a', { stage: 'FOSSILIZED', alpha: 1, blueprintId: 'bp-cheap', kernelId: 'k-cheap', paramCount: 10, improvementPp: 1, contributionPp: 0.8 });
    await decide(ref, packet({ epoch: 7, acc: 0.72, seeds: [live('a', { stage: 'GERMINATED', blueprintId: 'bp-cheap', kernelId: 'k-cheap' }), seed('b')] }));
    const p8 = packet({ epoch: 8, acc: 0.72, seeds: [fossil, seed('b')] });
    await decide(ref, p8);
    await decide(ref, p8);
    expect(published.map((r) => [r.outcome, r.seedId, r.commandId])).to.deep.equal([['SUCCESS', 'seed-a', deriveCommandId('pkt-6', 'seed-a', 'GERMINATE')]]);
    const status = await ref.query<TamiyoStatus>({ type: 'status' }, Q);
    expect(status.fieldReports).to.deep.equal(published);
  });

  it('records a FieldReport from elsewhere once, and rejects a malformed one', async () => {
    const ref = await start();
    const report: FieldReport = {
      commandId: 'cmd-1',
      seedId: 'seed-a',
      blueprintId: 'bp-x',
      outcome: 'ABORTED',
      metrics: {},
      observationWindow: { fromEpoch: 3, toEpoch: 3 },
      policyVersion: 'heuristic@2',
    };
    expect(await ref.query({ type: 'fieldReport', report }, Q)).to.deep.equal({ recorded: true });
    expect(await ref.query({ type: 'fieldReport', report }, Q)).to.deep.equal({ recorded: false });
    const bad = { ...report, outcome: 'GREAT' } as unknown as FieldReport;
    await rejectsWith(ref.query({ type: 'fieldReport', report: bad }, Q), 'ESPER_SCHEMA_VIOLATION');
    expect((await ref.query<TamiyoStatus>({ type: 'status' }, Q)).fieldReports).to.have.length(1);
  });

  it('answers a malformed packet with ESPER_SCHEMA_VIOLATION and changes nothing', async () => {
    const ref = await start();
    const bad = { ...packet({ epoch: 1 }), validationAccuracy: 7 };
    await rejectsWith(decide(ref, bad), 'ESPER_SCHEMA_VIOLATION');
    const status = await ref.query<TamiyoStatus>({ type: 'status' }, Q);
    expect(status.decisions).to.equal(0);
    expect(status.memory.lastPacketId).to.equal(null);
  });
});
