import { expect } from 'chai';
import { BusError } from '../../../src/errors/index.ts';
import { KarnSubmitReplySchema, type BlueprintIR } from '../../../src/contracts/karn.ts';
import type { FieldReport, FieldReportOutcome } from '../../../src/contracts/tamiyo.ts';
import { createMessage, parseMessage } from '../../../src/contracts/registry.ts';
import { MemoryBus, call, type Subscription } from '../../../src/actors/oona/index.ts';
import { ManualClock, NO_BACKOFF, startSupervisor, type ActorRef, type Supervisor } from '../../../src/supervision/index.ts';
import {
  MemoryBlueprintLibrary,
  analyzeBlueprint,
  catalogBlueprint,
  catalogFor,
  karnWorkerSpec,
  registerKarnFieldReports,
  registerKarnSubmit,
  type BlueprintSubmittedEnvelope,
  type KarnMessage,
  type KarnOptions,
  type KarnProposal,
  type KarnStatus,
  type LibraryLineage,
} from '../../../src/actors/karn/index.ts';
import { CONV_14, DENSE_64, ir } from './support.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

const Q = 5_000;
const CATALOG_SIZE = catalogFor(DENSE_64).length + catalogFor(CONV_14).length;

/** A library whose next listings/lineages can be made to fail (the injected storage outage). */
class FlakyLibrary extends MemoryBlueprintLibrary {
  failNext = 0;
  puts = 0;
  #fail(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new BusError('ESPER_STREAM_ERROR', 'injected: library unreachable');
    }
  }
  override async putBlueprint(input: Parameters<MemoryBlueprintLibrary['putBlueprint']>[0]): ReturnType<MemoryBlueprintLibrary['putBlueprint']> {
    this.puts++;
    return super.putBlueprint(input);
  }
  override async lineage(blueprintId: string): Promise<LibraryLineage> {
    this.#fail();
    return super.lineage(blueprintId);
  }
}

let commands = 0;
function fieldReport(blueprintId: string, outcome: FieldReportOutcome, improvementPp: number): FieldReport {
  return {
    commandId: `cmd-${++commands}`,
    seedId: 'seed-a',
    blueprintId,
    outcome,
    metrics: { improvementPp },
    observationWindow: { fromEpoch: 3, toEpoch: 9 },
    policyVersion: 'heuristic@1',
  };
}

async function eventually(check: () => boolean, what: string, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function idOf(blueprint: BlueprintIR): string {
  const analysis = analyzeBlueprint(blueprint);
  if (!analysis.ok) throw new Error('catalog blueprint fails analysis');
  return `bp-${analysis.report.irHash.slice(0, 16)}`;
}

describe('Karn actor', () => {
  let library: FlakyLibrary;
  let events: BlueprintSubmittedEnvelope[];
  let root: Supervisor | undefined;

  async function start(extra: Partial<KarnOptions> = {}): Promise<ActorRef<KarnMessage>> {
    root = await startSupervisor({
      id: 'test-root',
      strategy: 'one_for_one',
      intensity: { maxRestarts: 5, periodMs: 10_000 },
      backoff: NO_BACKOFF,
      children: [
        karnWorkerSpec({
          library,
          interfaces: [DENSE_64, CONV_14, DENSE_64],
          publish: (envelope) => {
            events.push(envelope);
          },
          proposeIntervalMs: 0,
          seed: 7,
          ...extra,
        }),
      ],
    });
    return root.ref<KarnMessage>('karn')!;
  }

  const incarnation = (): number => root?.children().find((c) => c.id === 'karn')?.incarnation ?? 0;

  beforeEach(() => {
    library = new FlakyLibrary();
    events = [];
  });

  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('loads the catalog for its interfaces once, and announces each blueprint once', async () => {
    const karn = await start();
    const status = await karn.query<KarnStatus>({ type: 'status' }, Q);
    expect(status.blueprints).to.equal(CATALOG_SIZE);
    expect(library.size).to.equal(CATALOG_SIZE);
    expect(events).to.have.length(CATALOG_SIZE);
    for (const event of events) {
      expect(parseMessage(event).type).to.equal('karn.blueprint.submitted');
      expect(event.data.submittedBy).to.equal('karn');
      expect(event.data.parentBlueprintId).to.equal(undefined);
    }
    expect(new Set(events.map((e) => e.id)).size).to.equal(CATALOG_SIZE);
    expect(status.interfaces.map((i) => i.blueprints)).to.deep.equal([7, 10]);
    for (const i of status.interfaces) expect(i.diversity).to.be.within(0.05, 0.2);
  });

  it('a restart (after a library outage) loads nothing twice: library count and events unchanged', async () => {
    const karn = await start();
    const id = idOf(catalogBlueprint('lora_r4', DENSE_64));
    for (let i = 0; i < 3; i++) await karn.query({ type: 'fieldReport', report: fieldReport(id, 'SUCCESS', 1.5) }, Q);
    const putsBefore = library.puts;
    library.failNext = 1;
    const crash = await rejectsWith(karn.query({ type: 'propose' }, Q));
    expect(crash.code).to.equal('ESPER_STREAM_ERROR');
    await eventually(() => incarnation() === 2, 'the restart');
    const status = await karn.query<KarnStatus>({ type: 'status' }, Q);
    expect(status.blueprints).to.equal(CATALOG_SIZE);
    expect(library.size).to.equal(CATALOG_SIZE);
    expect(events).to.have.length(CATALOG_SIZE);
    expect(library.puts).to.equal(putsBefore);
    // A whole new Karn over the same library (a node restart) stores nothing either.
    await root?.stop();
    const again = await start();
    expect((await again.query<KarnStatus>({ type: 'status' }, Q)).blueprints).to.equal(CATALOG_SIZE);
    expect(library.size).to.equal(CATALOG_SIZE);
    expect(events).to.have.length(CATALOG_SIZE);
  });

  it('rebuilds its statistics from the library field reports at start', async () => {
    const id = idOf(catalogBlueprint('mlp_small', CONV_14));
    for (let i = 0; i < 3; i++) library.addFieldReport(fieldReport(id, 'SUCCESS', 2));
    const karn = await start();
    const status = await karn.query<KarnStatus>({ type: 'status' }, Q);
    expect(status.stats).to.deep.equal([{ blueprintId: id, reports: 3, judged: 3, successRate: 1, meanImprovement: 2 }]);
    const proposal = await karn.query<KarnProposal>({ type: 'propose' }, Q);
    expect(proposal).to.include({ proposed: true, parentBlueprintId: id, reason: 'record' });
  });

  it('mutates the blueprint with the best field record and announces the child with its parent', async () => {
    const karn = await start();
    const good = idOf(catalogBlueprint('mlp_small', DENSE_64));
    const bad = idOf(catalogBlueprint('lora_r16', DENSE_64));
    const meh = idOf(catalogBlueprint('conv_light', CONV_14));
    for (let i = 0; i < 3; i++) {
      await karn.query({ type: 'fieldReport', report: fieldReport(good, 'SUCCESS', 1.2) }, Q);
      await karn.query({ type: 'fieldReport', report: fieldReport(bad, 'REGRESSION', -2) }, Q);
      await karn.query({ type: 'fieldReport', report: fieldReport(meh, i === 0 ? 'SUCCESS' : 'NEUTRAL', 0.1) }, Q);
    }
    const proposal = await karn.query<KarnProposal>({ type: 'propose' }, Q);
    expect(proposal.proposed).to.equal(true);
    if (!proposal.proposed) return;
    expect(proposal).to.include({ parentBlueprintId: good, reason: 'record', startsAsIdentity: true, duplicatesSkipped: 0 });
    expect(proposal.diversity).to.be.within(0, 1);
    expect(proposal.spread).to.be.within(0, 1);
    expect(proposal.novelty).to.be.within(0, 1);
    expect(proposal.name).to.match(/^mlp_small-[0-9a-f]{8}$/);
    const event = events[events.length - 1]!;
    expect(events).to.have.length(CATALOG_SIZE + 1);
    expect(event.type).to.equal('karn.blueprint.submitted');
    expect(event.data).to.include({ blueprintId: proposal.blueprintId, irHash: proposal.irHash, parentBlueprintId: good, submittedBy: 'karn' });
    expect(parseMessage(event).type).to.equal('karn.blueprint.submitted');
    // The library records the lineage, and the child passes analysis for its parent's slot.
    const lineage = await library.lineage(proposal.blueprintId);
    expect(lineage.ancestors.map((a) => a.blueprintId)).to.deep.equal([good]);
    const analysis = analyzeBlueprint(event.data.ir, { interface: DENSE_64 });
    expect(analysis.ok && analysis.report.startsAsIdentity).to.equal(true);
    // Once the good blueprint has descendants, an equally good one with none is preferred.
    const twin = idOf(catalogBlueprint('norm', DENSE_64));
    for (let i = 0; i < 3; i++) await karn.query({ type: 'fieldReport', report: fieldReport(twin, 'SUCCESS', 0.5) }, Q);
    const next = await karn.query<KarnProposal>({ type: 'propose' }, Q);
    expect(next).to.include({ proposed: true, parentBlueprintId: twin });
    expect((await karn.query<KarnStatus>({ type: 'status' }, Q)).proposals).to.equal(2);
  });

  it('explores an unjudged blueprint when no record is good enough, and proposes nothing when exploring is off', async () => {
    const karn = await start();
    const proposal = await karn.query<KarnProposal>({ type: 'propose' }, Q);
    expect(proposal).to.include({ proposed: true, reason: 'explore' });
    await root?.stop();
    const quiet = await start({ explore: false });
    expect(await quiet.query<KarnProposal>({ type: 'propose' }, Q)).to.deep.equal({ proposed: false, reason: 'no-parent', duplicatesSkipped: 0 });
  });

  it('proposes on its timer', async () => {
    const clock = new ManualClock();
    const karn = await start({ clock, proposeIntervalMs: 1_000 });
    clock.advance(999);
    expect((await karn.query<KarnStatus>({ type: 'status' }, Q)).proposals).to.equal(0);
    clock.advance(1);
    expect((await karn.query<KarnStatus>({ type: 'status' }, Q)).proposals).to.equal(1);
    clock.advance(2_000);
    expect((await karn.query<KarnStatus>({ type: 'status' }, Q)).proposals).to.equal(3);
    expect(events).to.have.length(CATALOG_SIZE + 3);
    await root?.stop();
    root = undefined;
    expect(clock.pending).to.equal(0);
  });

  it('answers a malformed field report with a coded error and keeps running', async () => {
    const karn = await start();
    const bad = { ...fieldReport('bp-x', 'SUCCESS', 1), outcome: 'GREAT' } as unknown as FieldReport;
    expect((await rejectsWith(karn.query({ type: 'fieldReport', report: bad }, Q))).code).to.equal('ESPER_SCHEMA_VIOLATION');
    expect((await karn.query<KarnStatus>({ type: 'status' }, Q)).blueprints).to.equal(CATALOG_SIZE);
    expect(incarnation()).to.equal(1);
  });

  describe('field reports from the run event stream', () => {
    it('counts each FieldReport published on <prefix>.evt.<runId>.tamiyo.field_report, once, and skips malformed events', async () => {
      const bus = new MemoryBus();
      const karn = await start();
      const sub = registerKarnFieldReports(bus, 'kf', karn);
      try {
        const id = idOf(catalogBlueprint('mlp_small', DENSE_64));
        const report = fieldReport(id, 'SUCCESS', 1.5);
        const envelope = createMessage('tamiyo.field_report', report, { source: 'test/tolaria', runId: 'r1' });
        bus.publish('kf.evt.r1.tamiyo.field_report', envelope);
        bus.publish('kf.evt.r1.tamiyo.field_report', envelope); // redelivered: counted once
        bus.publish('kf.evt.r2.tamiyo.field_report', { ...envelope, id: 'other', data: { not: 'a report' } });
        bus.publish('kf.evt.r2.tamiyo.field_report', 'not json');
        bus.publish('kf.evt.r1.tamiyo.decision.made', envelope); // another type: not this feed
        const statsOf = async (): Promise<KarnStatus['stats'][number] | undefined> => (await karn.query<KarnStatus>({ type: 'status' }, Q)).stats.find((s) => s.blueprintId === id);
        for (let waited = 0; (await statsOf()) === undefined && waited < 3_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
        await new Promise((resolve) => setTimeout(resolve, 50)); // time for a wrongly counted duplicate to land
        expect(await statsOf()).to.deep.include({ blueprintId: id, reports: 1, judged: 1, successRate: 1 });
      } finally {
        sub.unsubscribe();
        await bus.close();
      }
    });
  });

  describe('esper.ctl.karn.submit', () => {
    let bus: MemoryBus;
    let sub: Subscription | undefined;
    const SUBJECT = 'esper.ctl.karn.submit';

    const operatorIr = ir(DENSE_64, [
      { id: 'down', op: 'dense', inputs: ['input'], params: { units: 16, init: 'he_normal' } },
      { id: 'act', op: 'activation', inputs: ['down'], params: { fn: 'tanh' } },
      { id: 'up', op: 'dense', inputs: ['act'], params: { units: 64, init: 'zeros' } },
      { id: 'out', op: 'residual', inputs: ['input', 'up'] },
    ]);

    beforeEach(async () => {
      bus = new MemoryBus();
      const karn = await start();
      sub = registerKarnSubmit(bus, 'esper', karn);
    });

    afterEach(async () => {
      sub?.unsubscribe();
      await bus.close();
    });

    it('stores and announces a valid IR; the same IR again is a duplicate with the same id', async () => {
      const reply = KarnSubmitReplySchema.parse(await call(bus, SUBJECT, { ir: operatorIr, tags: ['experiment'], submittedBy: 'operator:alice' }));
      expect(reply).to.include({ status: 'SUBMITTED', startsAsIdentity: true, duplicate: false });
      expect(reply.blueprintId).to.match(/^bp-[0-9a-f]{16}$/);
      expect(reply.paramCount).to.equal(64 * 16 + 16 + 16 * 64 + 64);
      expect(library.size).to.equal(CATALOG_SIZE + 1);
      const event = events[events.length - 1]!;
      expect(event.data).to.include({ blueprintId: reply.blueprintId, submittedBy: 'operator:alice' });
      expect(event.data.ir.tags).to.deep.equal(['experiment']);

      const again = KarnSubmitReplySchema.parse(await call(bus, SUBJECT, { ir: operatorIr, tags: ['experiment'] }));
      expect(again).to.deep.equal({ ...reply, duplicate: true });
      expect(library.size).to.equal(CATALOG_SIZE + 1);
      expect(events).to.have.length(CATALOG_SIZE + 1);
    });

    it('takes the interface from the request, and answers a catalog blueprint as a duplicate', async () => {
      const { interface: _omitted, ...bare } = operatorIr;
      const reply = KarnSubmitReplySchema.parse(await call(bus, SUBJECT, { ir: bare, interface: DENSE_64 }));
      expect(reply.duplicate).to.equal(false);
      const catalog = catalogBlueprint('lora_r4', DENSE_64);
      const dup = KarnSubmitReplySchema.parse(await call(bus, SUBJECT, { ir: catalog }));
      expect(dup).to.include({ blueprintId: idOf(catalog), duplicate: true, paramCount: 512 });
    });

    it('rejects a parameter bomb with ESPER_BLUEPRINT_LIMIT and its numbers', async () => {
      const bomb = ir(DENSE_64, [
        { id: 'up', op: 'dense', inputs: ['input'], params: { units: 65_536 } },
        { id: 'down', op: 'dense', inputs: ['up'], params: { units: 64, init: 'zeros' } },
        { id: 'out', op: 'residual', inputs: ['input', 'down'] },
      ]);
      const error = await rejectsWith(call(bus, SUBJECT, { ir: bomb }));
      expect(error.code).to.equal('ESPER_BLUEPRINT_LIMIT');
      expect(error.details).to.include({ limit: 'maxParams', max: 5_000_000 });
      expect(error.details?.['value']).to.equal(64 * 65_536 + 65_536 + 65_536 * 64 + 64);
      expect(library.size).to.equal(CATALOG_SIZE);
      expect(events).to.have.length(CATALOG_SIZE);
    });

    it('answers bad input with coded errors: not JSON, wrong shape, a broken graph, an unknown parent', async () => {
      expect((await rejectsWith(call(bus, SUBJECT, new TextEncoder().encode('not json')))).code).to.equal('ESPER_INVALID_JSON');
      expect((await rejectsWith(call(bus, SUBJECT, { blueprint: operatorIr }))).code).to.equal('ESPER_SCHEMA_VIOLATION');
      expect((await rejectsWith(call(bus, SUBJECT, ''))).code).to.equal('ESPER_SCHEMA_VIOLATION');
      const broken = { ...operatorIr, output: 'nowhere' };
      expect((await rejectsWith(call(bus, SUBJECT, { ir: broken }))).code).to.equal('ESPER_BLUEPRINT_GRAPH');
      const mismatch = ir(DENSE_64, [{ id: 'out', op: 'dense', inputs: ['input'], params: { units: 32 } }]);
      const shape = await rejectsWith(call(bus, SUBJECT, { ir: mismatch }));
      expect(shape.code).to.equal('ESPER_BLUEPRINT_SHAPE_MISMATCH');
      expect(shape.details).to.include({ nodeId: 'out' });
      expect((await rejectsWith(call(bus, SUBJECT, { ir: operatorIr, parentBlueprintId: 'bp-nope' }))).code).to.equal('ESPER_NOT_FOUND');
      expect(library.size).to.equal(CATALOG_SIZE);
      expect(incarnation()).to.equal(1);
    });
  });
});
