
import { expect } from 'chai';
import { parseMessage, type SeedState } from '../../../src/contracts/index.ts';
import { BusError, EsperError } from '../../../src/errors/index.ts';
import { MemoryBus } from '../../../src/actors/oona/index.ts';
import { NO_BACKOFF } from '../../../src/supervision/index.ts';
import {
  MemorySeedStateStore,
  startKasmina,
  type KasminaHandle,
  type KasminaOptions,
  type KernelResolver,
  type SeedLifecycleState,
  type SeedMessage,
  type SeedTransitionedEnvelope,
} from '../../../src/actors/kasmina/index.ts';
import { HEALTHY, IFACE, kernel, seedCommand } from './support.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

const SEED = 'seed-a';
const Q = 2_000;

/** A memory store whose next saves can be made to fail (the injected crash). */
class FlakyStore extends MemorySeedStateStore {
  failSaves = 0;
  saves = 0;
  override async save(state: SeedLifecycleState): Promise<void> {
    if (this.failSaves > 0) {
      this.failSaves--;
      throw new BusError('ESPER_STREAM_ERROR', 'injected: KV put failed');
    }
    this.saves++;
    await super.save(state);
  }
}

const kernels: KernelResolver = { resolve: (request) => Promise.resolve(request.blueprintId === 'bp-missing' ? null : kernel()) };

describe('Kasmina seed actor', () => {
  let handle: KasminaHandle | undefined;
  let store: FlakyStore;
  let events: SeedTransitionedEnvelope[];

  async function start(extra: Partial<KasminaOptions> = {}): Promise<KasminaHandle> {
    handle = await startKasmina({
      runId: 'run-1',
      slots: [{ slotId: 'a', seedId: SEED, interface: IFACE }, { slotId: 'b', interface: IFACE }],
      store,
      publish: (envelope) => events.push(envelope),
      kernels,
      backoff: NO_BACKOFF,
      ...extra,
    });
    return handle;
  }

  const ask = (msg: SeedMessage, slot = 'a'): Promise<SeedState> => (handle as KasminaHandle).seed(slot).query<SeedState>(msg, Q);
  const germinate = (): Promise<SeedState> => ask({ type: 'command', command: seedCommand(SEED, { op: 'GERMINATE', blueprintId: 'bp-lowrank' }) });
  const advance = (): Promise<SeedState> => ask({ type: 'command', command: seedCommand(SEED, { op: 'ADVANCE' }) });

  beforeEach(() => {
    store = new FlakyStore();
    events = [];
  });

  afterEach(async () => {
    await handle?.stop();
    handle = undefined;
  });

  it('executes a command, persists the state and emits kasmina.seed.transitioned caused by the command', async () => {
    await start();
    const command = seedCommand(SEED, { op: 'GERMINATE', blueprintId: 'bp-lowrank', blend: { curve: 'sigmoid', tempoEpochs: 8 } });
    const state = await ask({ type: 'command', command, correlationId: 'conv-1' });
    expect(state).to.include({ seedId: SEED, slotId: 'a', stage: 'GERMINATED', kernelId: 'k-1', alpha: 0 });
    expect(events).to.have.length(1);
    const envelope = events[0]!;
    expect(envelope).to.include({ type: 'kasmina.seed.transitioned', causationId: command.commandId, correlationId: 'conv-1', runId: 'run-1', source: `kasmina/${SEED}` });
    expect(envelope.data).to.deep.include({ seedId: SEED, from: 'DORMANT', to: 'GERMINATED', kernelId: 'k-1' });
    expect(envelope.data.cause).to.include({ commandId: command.commandId, gate: 'G0' });
    // A valid message on the wire.
    expect(parseMessage(JSON.parse(JSON.stringify(envelope))).type).to.equal('kasmina.seed.transitioned');
    expect((await store.load('run-1', SEED))?.stage).to.equal('GERMINATED');
    // Its sibling is untouched.
    expect((await ask({ type: 'status' }, 'b')).stage).to.equal('DORMANT');
  });

  it('answers a rejected command with its coded error and keeps serving', async () => {
    await start();
    const before = handle!.supervisor.children().map((child) => child.incarnation);
    expect((await rejectsWith(advance())).code).to.equal('ESPER_INVALID_TRANSITION');
    expect((await rejectsWith(ask({ type: 'command', command: seedCommand(SEED, { op: 'GERMINATE', blueprintId: 'bp-missing' }) }))).code).to.equal('ESPER_GATE_FAILED');
    expect((await rejectsWith(ask({ type: 'command', command: seedCommand('seed-zz', { op: 'PRUNE' }) }))).code).to.equal('ESPER_NOT_FOUND');
    const stale = seedCommand(SEED, { op: 'GERMINATE', blueprintId: 'bp-lowrank' }, { issuedAt: new Date(Date.now() - 120_000).toISOString(), deadlineMs: 1_000 });
    expect((await rejectsWith(ask({ type: 'command', command: stale }))).code).to.equal('ESPER_COMMAND_EXPIRED');
    const bad = seedCommand(SEED, { op: 'ADVANCE', params: { alphaTarget: 'high' } });
    expect((await rejectsWith(ask({ type: 'command', command: bad }))).code).to.equal('ESPER_SCHEMA_VIOLATION');

    expect((await germinate()).stage).to.equal('GERMINATED');
    const gate = await rejectsWith(advance());
    expect(gate.code).to.equal('ESPER_GATE_FAILED');
    expect(gate.details).to.include({ gate: 'G1' });
    expect(gate.details?.['reasons']).to.include('kernel not reported loaded');
    await ask({ type: 'epochEnded', epoch: 1, telemetry: HEALTHY });
    expect((await advance()).stage).to.equal('TRAINING');

    expect(handle!.supervisor.children().map((child) => child.incarnation)).to.deep.equal(before);
    expect(events.map((e) => e.data.to)).to.deep.equal(['GERMINATED', 'TRAINING']);
  });

  it('applies a redelivered command once', async () => {
    await start();
    const command = seedCommand(SEED, { op: 'GERMINATE', blueprintId: 'bp-lowrank' });
    await ask({ type: 'command', command });
    const again = await ask({ type: 'command', command });
    expect(again.stage).to.equal('GERMINATED');
    expect(events).to.have.length(1);
  });

  it('after a crash is restarted by its supervisor and resumes from the persisted state', async () => {
    await start();
    await germinate();
    await ask({ type: 'epochEnded', epoch: 1, telemetry: HEALTHY });
    await advance();
    await ask({ type: 'epochEnded', epoch: 2, telemetry: HEALTHY });
    const incarnation = handle!.supervisor.children()[0]!.incarnation;

    store.failSaves = 1;
    const crash = await rejectsWith(ask({ type: 'epochEnded', epoch: 3, telemetry: HEALTHY }));
    expect(crash.code).to.equal('ESPER_STREAM_ERROR');

    // The ref survives the restart; the new incarnation loaded the last saved state.
    const resumed = await ask({ type: 'status' });
    expect(resumed).to.include({ stage: 'TRAINING', epochsInStage: 1, kernelId: 'k-1' });
    expect(handle!.supervisor.children()[0]!.incarnation).to.equal(incarnation + 1);
    expect(handle!.supervisor.children()[1]!.incarnation, 'one_for_one: the sibling is not restarted').to.equal(1);

    // …and carries on with the lifecycle.
    await ask({ type: 'epochEnded', epoch: 3, telemetry: HEALTHY });
    await ask({ type: 'epochEnded', epoch: 4, telemetry: HEALTHY });
    expect((await advance())).to.include({ stage: 'BLENDING', alpha: 0.2 }); // the default ramp's first tick (linear over 5)
    expect(events.map((e) => e.data.to)).to.deep.equal(['GERMINATED', 'TRAINING', 'BLENDING']);
  });

  it("persists the trainer's attach check: after a crash the restarted actor still lets G1 pass at the germinating boundary", async () => {
    await start();
    await germinate();
    await ask({ type: 'attached', telemetry: { kernelLoaded: true, paramsFinite: true } });
    const incarnation = handle!.supervisor.children()[0]!.incarnation;
    store.failSaves = 1;
    expect((await rejectsWith(ask({ type: 'epochEnded', epoch: 1, telemetry: HEALTHY }))).code).to.equal('ESPER_STREAM_ERROR');
    expect((await ask({ type: 'status' })).stage).to.equal('GERMINATED');
    expect(handle!.supervisor.children()[0]!.incarnation).to.equal(incarnation + 1);
    expect(await advance()).to.include({ stage: 'TRAINING', epochsInStage: 0 });
    // An attach check that found no kernel persists too, and G1 refuses.
    expect((await rejectsWith(ask({ type: 'attached', telemetry: { kernelLoaded: true, paramsFinite: true } }))).code, 'only a GERMINATED seed is attached').to.equal('ESPER_INVALID_TRANSITION');
    await ask({ type: 'command', command: seedCommand('seed-b', { op: 'GERMINATE', blueprintId: 'bp-lowrank' }) }, 'b');
    await ask({ type: 'attached', telemetry: { kernelLoaded: false, paramsFinite: true } }, 'b');
    const refused = await rejectsWith(ask({ type: 'command', command: seedCommand('seed-b', { op: 'ADVANCE' }) }, 'b'));
    expect(refused.details?.['reasons']).to.include('kernel not reported loaded');
  });

  it('emits automatic transitions (embargo elapsed) caused by the epoch message', async () => {
    await start();
    await germinate();
    const prune = seedCommand(SEED, { op: 'PRUNE', params: { reason: 'no gain' } });
    expect((await ask({ type: 'command', command: prune })).stage).to.equal('PRUNED');
    expect(events.at(-1)!.data.cause).to.deep.equal({ commandId: prune.commandId, reason: 'prune: no gain' });
    for (let epoch = 1; epoch <= 7; epoch++) {
      await ask({ type: 'epochEnded', epoch, causedBy: { id: `epoch-msg-${epoch}` } });
    }
    expect(events.map((e) => `${e.data.to}@${e.data.epoch}:${e.causationId}`)).to.deep.equal([
      `GERMINATED@0:${events[0]!.causationId}`,
      `PRUNED@0:${prune.commandId}`,
      'EMBARGOED@1:epoch-msg-1',
      'RESETTING@6:epoch-msg-6',
      'DORMANT@7:epoch-msg-7',
    ]);
  });

  it('starts over a bus: persists in its KV and publishes on <prefix>.evt.<runId>.kasmina.seed.transitioned', async () => {
    const bus = new MemoryBus();
    try {
      const received: unknown[] = [];
      bus.subscribe('esper.evt.run-1.kasmina.seed.transitioned', (message) => {
        const decoded = message.json();
        if (decoded.ok) received.push(decoded.value);
      });
      const kasmina = await startKasmina({ runId: 'run-1', slots: [{ slotId: 'a', seedId: SEED, interface: IFACE }], bus, kernels, backoff: NO_BACKOFF });
      handle = kasmina;
      await germinate();
      await bus.flush();
      await new Promise((resolve) => setImmediate(resolve));
      expect(received).to.have.length(1);
      expect(parseMessage(received[0]).type).to.equal('kasmina.seed.transitioned');
      const states = await kasmina.epochEnded(1, { a: HEALTHY });
      expect(states.map((s) => s.stage)).to.deep.equal(['GERMINATED']);
      await kasmina.stop();
      handle = undefined;

      // A new Kasmina for the same run resumes from the KV.
      handle = await startKasmina({ runId: 'run-1', slots: [{ slotId: 'a', seedId: SEED, interface: IFACE }], bus, kernels, backoff: NO_BACKOFF });
      expect((await handle.states()).map((s) => `${s.stage}/${s.epochsInStage}`)).to.deep.equal(['GERMINATED/1']);
      expect(() => handle!.seed('nope')).to.throw(EsperError).with.property('code', 'ESPER_NOT_FOUND');
      await handle.stop();
      handle = undefined;
    } finally {
      await bus.close();
    }
  });

  it('refuses options without a store or publisher, listing every problem', async () => {
    const caught = await rejectsWith(startKasmina({ runId: 'run 1', slots: [{ slotId: 'a', interface: IFACE }, { slotId: 'a', interface: IFACE }] }), 'ESPER_CONFIG_INVALID');
    expect((caught.details?.['issues'] as string[]).length).to.equal(5);
  });
});
