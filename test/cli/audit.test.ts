/**
 * End to end: `runTraining` on a short spirals spec feeds an in-memory event
 * store; `esper audit` traces every transition and `esper replay` agrees with
 * the final states.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { RunSpecSchema, type RunSpec } from '../../src/contracts/run.ts';
import { runTraining } from '../../src/actors/tolaria/run-loop.ts';
import { auditTransitions, EventRecorder, EventStore } from '../../src/actors/nissa/index.ts';
import { runAuditCommand, runReplayCommand } from '../../src/cli/audit.ts';
import type { CliOutput } from '../../src/cli/output.ts';

function spiralsSpec(): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return RunSpecSchema.parse({
    ...raw,
    epochs: 10,
    policy: { ...(raw['policy'] as object), minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 },
    gates: { g2: { minTrainingEpochs: 2, minImprovementPp: -100 }, g5: { minContributionPp: -100 } },
  });
}

function capture(): CliOutput & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (t) => void lines.push(t), err: (t) => void errors.push(t) };
}

describe('esper audit / esper replay over a real run', function () {
  this.timeout(40_000);
  let store: EventStore;
  const runId = 'run-audit-e2e';

  before(async () => {
    store = await EventStore.open({});
    const recorder = new EventRecorder(store);
    let pendingAtEpochEnd = 0;
    await runTraining(spiralsSpec(), {
      runId,
      events: recorder.sink,
      onEpoch: async () => {
        pendingAtEpochEnd = Math.max(pendingAtEpochEnd, recorder.pending);
        await recorder.flush();
      },
    });
    await recorder.flush();
    expect(recorder.failures).to.equal(0);
    expect(pendingAtEpochEnd).to.be.greaterThan(0);
  });
  after(async () => {
    await store.close();
  });

  it('stores every kind of event with the run id, in causal order', async () => {
    const events = await store.events(runId);
    const types = new Set(events.map((e) => e.type));
    for (const type of ['tolaria.state.published', 'tamiyo.decision.made', 'kasmina.seed.transitioned', 'tolaria.epoch.completed', 'tolaria.run.completed']) expect(types).to.include(type);
    expect(events.every((e) => e.runId === runId)).to.equal(true);
    expect(events.filter((e) => e.type === 'tolaria.epoch.completed')).to.have.length(10);
    expect(events.at(-1)?.type).to.equal('tolaria.run.completed');
  });

  it('audit: every command-caused transition has its command, decision and packet; the others are epoch-boundary transitions', async () => {
    const entries = auditTransitions(await store.events(runId));
    expect(entries.length).to.be.greaterThan(0);
    expect(entries.some((e) => e.origin === 'command' && e.from === 'DORMANT' && e.to === 'GERMINATED')).to.equal(true);
    for (const entry of entries) {
      expect(entry.missing, `${entry.seedId} ${entry.from}->${entry.to}`).to.deep.equal([]);
      if (entry.origin === 'command') {
        expect(entry.command?.commandId).to.be.a('string');
        expect(entry.decision ?? entry.rollback).to.not.equal(undefined);
        expect(entry.packet?.packetId).to.match(new RegExp(`^${runId}-p\\d+$`));
        expect(entry.packet?.validationAccuracy).to.be.within(0, 1);
      } else {
        expect(entry.cause).to.be.a('string').and.not.equal('');
      }
    }
    const out = capture();
    expect(await runAuditCommand(runId, {}, out, { store })).to.equal(0);
    expect(out.lines).to.have.length(entries.length);
    const germinate = out.lines.find((l) => l.includes('DORMANT → GERMINATED'));
    expect(germinate).to.match(/← command \S+ \(GERMINATE\)\s+← decision \S+ \(.+\)\s+← packet \S+ \(val acc [\d.]+%/);

    const seed = entries[0]?.seedId ?? '';
    const filtered = capture();
    expect(await runAuditCommand(runId, { seed, json: true }, filtered, { store })).to.equal(0);
    const parsed = JSON.parse(filtered.lines[0] ?? '{}') as { transitions: { seedId: string }[] };
    expect(parsed.transitions.length).to.be.greaterThan(0);
    expect(parsed.transitions.every((t) => t.seedId === seed)).to.equal(true);
  });

  it('audit --decisions: one decision per epoch, the ones that commanded nothing too, each with its packet', async () => {
    const events = await store.events(runId);
    const out = capture();
    expect(await runAuditCommand(runId, { decisions: true, json: true }, out, { store })).to.equal(0);
    const { decisions } = JSON.parse(out.lines[0] ?? '{}') as { decisions: { epoch: number; reason: string; commands: { commandId: string }[]; packet?: { validationAccuracy?: number }; missing: string[] }[] };
    expect(decisions.map((d) => d.epoch)).to.deep.equal(events.filter((e) => e.type === 'tamiyo.decision.made').map((e) => (e.data as { epoch: number }).epoch));
    expect(decisions.length).to.be.at.least(10);
    expect(decisions.some((d) => d.commands.length === 0)).to.equal(true);
    for (const d of decisions) {
      expect(d.reason).to.not.equal('');
      expect(d.missing).to.deep.equal([]);
      expect(d.packet?.validationAccuracy).to.be.within(0, 1);
    }
    // Every command a transition traces to is among the decisions' commands.
    const listed = new Set(decisions.flatMap((d) => d.commands.map((c) => c.commandId)));
    for (const t of auditTransitions(events)) if (t.decision !== undefined) expect(listed.has(t.command?.commandId ?? '')).to.equal(true);

    const text = capture();
    expect(await runAuditCommand(runId, { decisions: true }, text, { store })).to.equal(0);
    expect(text.lines.filter((l) => /^\s*\d+ {2}\S+@\d+ {2}val acc/.test(l))).to.have.length(decisions.length);
    expect(text.lines.filter((l) => l.startsWith('      why: '))).to.have.length(decisions.length);

    const seed = auditTransitions(events)[0]?.seedId ?? '';
    const one = capture();
    expect(await runAuditCommand(runId, { decisions: true, seed, json: true }, one, { store })).to.equal(0);
    const mine = (JSON.parse(one.lines[0] ?? '{}') as { decisions: { commands: { targetSeedId?: string }[]; reason: string }[] }).decisions;
    expect(mine.length).to.be.greaterThan(0).and.lessThan(decisions.length);
    expect(mine.every((d) => d.commands.some((c) => c.targetSeedId === seed) || d.reason.includes(seed))).to.equal(true);
  });

  it('replay: the stored transitions rebuild the recorded final states', async () => {
    const out = capture();
    expect(await runReplayCommand(runId, {}, out, { store })).to.equal(0);
    expect(out.lines[0]).to.match(/^OK {2}run run-audit-e2e: \d+ transitions replayed/);
  });

  it('an unknown run is ESPER_NOT_FOUND, exit 1', async () => {
    const audit = capture();
    expect(await runAuditCommand('no-such-run', {}, audit, { store })).to.equal(1);
    expect(audit.errors[0]).to.include('ESPER_NOT_FOUND');
    const replay = capture();
    expect(await runReplayCommand('no-such-run', {}, replay, { store })).to.equal(1);
    expect(replay.errors[0]).to.include('ESPER_NOT_FOUND');
  });
});
