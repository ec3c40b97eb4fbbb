/**
 * Every run and seed verb over the in-process bus, sent as `nats req` sends
 * it (raw bytes on the subject, no project client), through the pieces a
 * node wires together: two nodes' control planes (n1 hosts runs with its run
 * service, n2 hosts none) sharing one bus and one membership view. Each
 * request must get exactly one reply: a run's verbs from its host (the
 * shared listener of either node stays silent), a coded NOT_FOUND from one
 * shared listener when no node hosts the run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/index.ts';
import { FsArtifactStore } from '../../src/actors/urza/index.ts';
import { ensureEventsStream } from '../../src/actors/nissa/event-stream.ts';
import { CheckpointMetadataSchema, RollbackReplySchema, RunStatusSchema, SeedCommandReplySchema, SeedStateSchema, type RunStatus } from '../../src/contracts/index.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { isServedByMembers, startControlPlane, type ControlPlane } from '../../src/node/control-plane.ts';
import { ControlRouter } from '../../src/node/control-router.ts';
import { controlRoutes, type ControlNodeHandle, type RunControl } from '../../src/node/control-routes.ts';
import type { MemberView } from '../../src/node/membership.ts';
import { RunRegistry } from '../../src/node/run-registry.ts';
import { RunService } from '../../src/node/run-service.ts';
import { untilDefined } from '../helpers/until.ts';

interface WireReply {
  ok: boolean;
  data?: Record<string, unknown>;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

const prefix = 'cs';
const MAX_PAYLOAD = 64 * 1024;
const silent = createLogger({ level: 'silent' });
const encoder = new TextEncoder();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** examples/spirals-depth.json as raw JSON text with a second slot (h2), Tamiyo never germinating: every graft below is the operator's. */
function spiralsText(epochs: number): string {
  const raw = JSON.parse(readFileSync(new URL('../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
  const training = { ...raw['training'], slots: [...(raw['training']?.['slots'] as object[]), { id: 'h2', afterLayer: 2 }] };
  return JSON.stringify({ ...raw, epochs, training, policy: { ...raw['policy'], minEpochBeforeGerminate: 10_000 } });
}


/** A node's control handle as the control routes see it: its run service (if any) and the cluster it sees. */
function nodeHandle(nodeId: string, runs: RunControl | undefined, members: () => MemberView[], listRuns: () => RunStatus[] = () => []): ControlNodeHandle {
  const unused = (): never => {
    throw new Error('not used');
  };
  return {
    nodeId,
    status: unused,
    listMembers: () => Promise.resolve(members()),
    listRuns: () => Promise.resolve(listRuns()),
    drain: unused,
    shutdown: unused,
    runs: () => runs,
  };
}

/** A node's control plane on `bus`, with every control route and the membership view `members`. */
function startPlane(bus: MemoryBus, handle: ControlNodeHandle, members: () => MemberView[]): Promise<ControlPlane> {
  return startControlPlane({
    bus,
    connection: undefined,
    prefix,
    nodeId: handle.nodeId,
    version: '0.0.0',
    metadata: {},
    router: new ControlRouter({ prefix, maxPayloadBytes: MAX_PAYLOAD }).add(...controlRoutes(handle)),
    isServed: (owned) => Promise.resolve(isServedByMembers(owned, members())),
    logger: silent,
  });
}

describe('run and seed verbs over the in-process bus (raw requests, two nodes)', function () {
  this.timeout(180_000);
  let dir: string;
  let bus: MemoryBus;
  let registry: RunRegistry;
  let service: RunService;
  let planes: ControlPlane[];
  /** Runs n1 advertises; a test may hide them (membership not caught up). */
  let advertised: () => string[];

  const member = (name: string, roles: MemberView['roles'], runs: string[]): MemberView =>
    ({ nodeId: name, name, incarnationId: `${name}-i`, roles, runs, status: 'ready' }) as MemberView;
  const members = (): MemberView[] => [member('n1', ['trainer'], advertised()), member('n2', ['compiler'], [])];

  /** Sends raw bytes as `nats req SUBJECT PAYLOAD` does; returns the reply and how many replies the request got. */
  async function req(subject: string, payload: string | Uint8Array = ''): Promise<WireReply & { replies: number }> {
    const inboxes: string[] = [];
    const tap = bus.subscribe('_INBOX.>', (message) => {
      inboxes.push(message.subject);
    });
    try {
      const message = await bus.request(`${prefix}.ctl.${subject}`, typeof payload === 'string' ? encoder.encode(payload) : payload, { timeoutMs: 60_000 });
      await sleep(30); // a second answer would have arrived by now
      const decoded = message.json();
      if (!decoded.ok) throw new Error(`reply to ${subject} is not JSON`);
      return { ...(decoded.value as WireReply), replies: inboxes.filter((inbox) => inbox === message.subject).length };
    } finally {
      tap.unsubscribe();
    }
  }

  /** The reply's data, after checking it is the only reply and an ok one. */
  async function ok(subject: string, payload: string | Uint8Array = ''): Promise<Record<string, unknown>> {
    const reply = await req(subject, payload);
    expect(reply.replies, `${subject}: replies`).to.equal(1);
    expect(reply.ok, `${subject}: ${JSON.stringify(reply.error)}`).to.equal(true);
    return reply.data ?? {};
  }

  /** The error code of the only reply. */
  async function fails(subject: string, payload: string | Uint8Array = ''): Promise<string> {
    const reply = await req(subject, payload);
    expect(reply.replies, `${subject}: replies`).to.equal(1);
    expect(reply.ok, `${subject} answered ok`).to.equal(false);
    return reply.error?.code ?? '';
  }

  const record = async (runId: string): Promise<Record<string, unknown>> => ((await registry.get(runId))?.record ?? {});
  const stateOf = async (runId: string): Promise<string> => RunStatusSchema.parse(await ok(`run.${runId}.status`)).state;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'esper-control-subjects-'));
    bus = new MemoryBus();
    await ensureEventsStream(bus, prefix);
    const store = new FsArtifactStore(dir);
    registry = new RunRegistry(await bus.kv('runs'), () => Promise.resolve(store));
    service = new RunService({
      bus,
      prefix,
      nodeId: 'n1',
      incarnationId: 'n1-i',
      logger: silent,
      maxPayloadBytes: MAX_PAYLOAD,
      registry: () => Promise.resolve(registry),
      liveNodes: () => Promise.resolve([{ nodeId: 'n1', incarnationId: 'n1-i' }]),
      sweepMs: 60_000,
    });
    service.listen();
    advertised = () => service.runIds();
    const statuses = (): RunStatus[] => service.statuses();
    planes = [await startPlane(bus, nodeHandle('n1', service, members, statuses), members), await startPlane(bus, nodeHandle('n2', undefined, members, statuses), members)];
  });

  afterEach(async () => {
    await service.drain().catch(() => undefined);
    for (const p of planes) await p.stop();
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('run.start, then every run and seed verb with its effect: pause freezes the epoch, overrides answer with the seed, rollback, resume, stop', async () => {
    const started = RunStatusSchema.parse(await ok('run.start', `{"spec": ${spiralsText(400)}, "runId": "r1"}`));
    expect(started).to.include({ runId: 'r1', state: 'running', nodeId: 'n1', maxEpochs: 400 });
    expect(await fails('run.start', `{"spec": ${spiralsText(3)}, "runId": "r1"}`)).to.equal('ESPER_CONFLICT');

    // Pause after a few boundaries (rollback needs a checkpoint before the current one).
    await untilDefined(async () => (RunStatusSchema.parse(await ok('run.r1.status')).epoch >= 2 ? true : undefined));
    expect(RunStatusSchema.parse(await ok('run.r1.pause', '{"reason":"operator session"}')).runId).to.equal('r1');
    await untilDefined(async () => ((await stateOf('r1')) === 'paused' ? true : undefined));
    const frozen = RunStatusSchema.parse(await ok('run.r1.status')).epoch;
    await sleep(800);
    expect(RunStatusSchema.parse(await ok('run.r1.status')).epoch, 'a paused run trains no epoch').to.equal(frozen);
    expect((await record('r1'))['state']).to.equal('paused');

    // Seed verbs while paused: served at once, each answered with the command and the seed's new state.
    expect(SeedStateSchema.parse(await ok('seed.r1.h1.status'))).to.include({ slotId: 'h1', stage: 'DORMANT' });
    const germinated = SeedCommandReplySchema.parse(await ok('seed.r1.h1.germinate', '{"blueprintId":"mlp_deep","reason":"manual graft"}'));
    expect(germinated.seed).to.include({ slotId: 'h1', stage: 'GERMINATED', blueprintId: 'mlp_deep' });
    expect(SeedStateSchema.parse(await ok('seed.r1.h1.status')).stage).to.equal('GERMINATED');
    // The kernel was attached and checked (G1) before the reply: the seed may start TRAINING at this boundary.
    expect(SeedCommandReplySchema.parse(await ok('seed.r1.h1.advance', '{"reason":"start training"}')).seed).to.include({ slotId: 'h1', stage: 'TRAINING' });
    // The gates still decide, and a refusal changes nothing: G2 needs epochs in TRAINING; only a HOLDING seed fossilizes.
    const early = await req('seed.r1.h1.advance', '{"reason":"too early"}');
    expect(early.error?.code).to.equal('ESPER_GATE_FAILED');
    expect(early.error?.details).to.include({ gate: 'G2', from: 'TRAINING', to: 'BLENDING' });
    expect(await fails('seed.r1.h1.fossilize', '{}')).to.equal('ESPER_INVALID_TRANSITION');
    expect(SeedStateSchema.parse(await ok('seed.r1.h1.status')).stage).to.equal('TRAINING');
    // prune needs a reason (it goes into the audit trail); with one, the seed is pruned.
    expect(SeedCommandReplySchema.parse(await ok('seed.r1.h2.germinate', '{"blueprintId":"mlp_deep","reason":"graft to prune"}')).seed).to.include({ slotId: 'h2', stage: 'GERMINATED' });
    expect(await fails('seed.r1.h2.prune', '{}')).to.equal('ESPER_SCHEMA_VIOLATION');
    expect(SeedStateSchema.parse(await ok('seed.r1.h2.status')).stage).to.equal('GERMINATED');
    const pruned = SeedCommandReplySchema.parse(await ok('seed.r1.h2.prune', '{"reason":"experiment over"}'));
    expect(pruned.seed).to.include({ slotId: 'h2', stage: 'PRUNED' });
    expect(pruned.commandId).to.not.equal(germinated.commandId);
    expect(SeedStateSchema.parse(await ok('seed.r1.h2.status')).stage).to.equal('PRUNED');
    expect(SeedStateSchema.parse(await ok('seed.r1.h1.status')).stage, 'the other seed is untouched').to.equal('TRAINING');
    expect(await fails('seed.r1.h9.status')).to.equal('ESPER_NOT_FOUND');

    // checkpoint: the new checkpoint is committed to the run's record.
    const checkpoint = CheckpointMetadataSchema.parse(await ok('run.r1.checkpoint', '{"reason":"before experiment"}'));
    expect(checkpoint).to.include({ runId: 'r1', reason: 'manual' });
    expect(((await record('r1'))['checkpoint'] as { checkpointId: string }).checkpointId).to.equal(checkpoint.checkpointId);

    // resume: epochs advance again.
    expect(RunStatusSchema.parse(await ok('run.r1.resume')).runId).to.equal('r1');
    const resumedAt = RunStatusSchema.parse(await ok('run.r1.status')).epoch;
    // Overrides sent to a running run are queued and answered at its next boundary. Tamiyo moves the seed along
    // between boundaries too, so each advance is either one stage on from where the boundary found it, or that
    // stage's gate refusing (named, from → to), until the seed is no longer live.
    const NEXT: Readonly<Record<string, string>> = { GERMINATED: 'TRAINING', TRAINING: 'BLENDING', BLENDING: 'HOLDING', HOLDING: 'FOSSILIZED' };
    let stage = 'TRAINING';
    const seen: string[] = [];
    // The status counts finished epochs, and a boundary comes before its epoch: a request that arrives while a
    // boundary is still serving (persisting, answering) is answered by that boundary, with the count unchanged.
    // So each reply comes at the same count or later; one answered at once, mid-epoch, would never come later.
    let answeredLater = 0;
    for (let i = 0; i < 30 && stage in NEXT; i++) {
      const sentAt = RunStatusSchema.parse(await ok('run.r1.status')).epoch;
      const reply = await req('seed.r1.h1.advance', '{"reason":"operator"}');
      expect(reply.replies).to.equal(1);
      const answeredAt = RunStatusSchema.parse(await ok('run.r1.status')).epoch;
      expect(answeredAt, 'answered at a boundary, never before the request').to.be.at.least(sentAt);
      if (answeredAt > sentAt) answeredLater++;
      if (reply.ok) {
        stage = SeedCommandReplySchema.parse(reply.data).seed.stage;
        expect(Object.values(NEXT), 'an advance lands one stage on').to.include(stage);
      } else if (reply.error?.code === 'ESPER_GATE_FAILED') {
        const { from, to } = reply.error.details as { from: string; to: string };
        expect(to, JSON.stringify(reply.error)).to.equal(NEXT[from]);
        stage = from;
      } else {
        expect(reply.error?.code, JSON.stringify(reply.error)).to.equal('ESPER_INVALID_TRANSITION');
        stage = SeedStateSchema.parse(await ok('seed.r1.h1.status')).stage;
      }
      seen.push(stage);
    }
    expect(stage, `stages seen: ${seen.join(', ')}`).to.be.oneOf(['FOSSILIZED', 'PRUNED']);
    expect(answeredLater, `overrides queued for the next boundary (of ${seen.length})`).to.be.at.least(1);
    expect(await fails('seed.r1.h1.advance', '{}'), 'no advance out of a finished seed').to.equal('ESPER_INVALID_TRANSITION');

    // rollback restores an earlier checkpoint; a checkpoint asked of a running run comes from its next boundary.
    const rolled = RollbackReplySchema.parse(await ok('run.r1.rollback', '{"reason":"graft hurt"}'));
    expect(rolled.runId).to.equal('r1');
    expect(rolled.toEpoch).to.be.lessThan(RunStatusSchema.parse(await ok('run.r1.status')).epoch);
    expect(await fails('run.r1.rollback', '{"reason":"x","checkpointId":"no-such-checkpoint"}')).to.equal('ESPER_NOT_FOUND');
    const atBoundary = CheckpointMetadataSchema.parse(await ok('run.r1.checkpoint', ''));
    expect(atBoundary.epoch).to.be.greaterThan(resumedAt);
    expect(atBoundary.checkpointId).to.not.equal(checkpoint.checkpointId);

    // stop: answered at once (stopping), the run ends stopped at its next boundary; a finished run takes no change.
    expect(RunStatusSchema.parse(await ok('run.r1.stop', '{"reason":"done"}')).state).to.equal('stopping');
    await untilDefined(async () => ((await stateOf('r1')) === 'stopped' ? true : undefined));
    expect((await record('r1'))['state']).to.equal('stopped');
    expect(RunStatusSchema.parse(await ok('run.r1.status')).epoch).to.be.lessThan(400);
    expect(await fails('run.r1.rollback', '{"reason":"too late"}')).to.equal('ESPER_CONFLICT');
    expect(await fails('run.r1.checkpoint')).to.equal('ESPER_CONFLICT');
    expect(await fails('seed.r1.h1.germinate', '{"blueprintId":"mlp_deep"}')).to.equal('ESPER_CONFLICT');
  });

  it('answers bad input on a hosted run once, from its host, with coded errors', async () => {
    await ok('run.start', `{"spec": ${spiralsText(400)}, "runId": "r2"}`);
    const cases: Array<[string, string | Uint8Array, string]> = [
      ['run.r2.pause', 'not json', 'ESPER_INVALID_JSON'],
      ['seed.r2.h1.germinate', '{"blueprintId": ', 'ESPER_INVALID_JSON'],
      ['seed.r2.h1.status', new Uint8Array([0xff, 0xfe, 0x7b]), 'ESPER_INVALID_JSON'],
      ['run.r2.status', '{"unexpected":1}', 'ESPER_SCHEMA_VIOLATION'],
      ['run.r2.rollback', '{}', 'ESPER_SCHEMA_VIOLATION'],
      ['seed.r2.h1.germinate', '{"blend": 3}', 'ESPER_SCHEMA_VIOLATION'],
      ['seed.r2.h1.germinate', '{}', 'ESPER_SCHEMA_VIOLATION'],
      ['seed.r2.h1.advance', '[1, 2]', 'ESPER_SCHEMA_VIOLATION'],
      ['run.r2.explode', '', 'ESPER_UNKNOWN_VERB'],
      ['seed.r2.h1.graft', '', 'ESPER_UNKNOWN_VERB'],
      ['run.r2.pause', `{"reason":"${'x'.repeat(MAX_PAYLOAD)}"}`, 'ESPER_PAYLOAD_TOO_LARGE'],
      ['seed.r2.h1.prune', new Uint8Array(MAX_PAYLOAD + 1), 'ESPER_PAYLOAD_TOO_LARGE'],
    ];
    for (const [subject, payload, code] of cases) expect(await fails(subject, payload), subject).to.equal(code);
    expect((await req('seed.r2.h1.germinate', '{}')).error?.message).to.contain('germinate needs a blueprintId or a kernelId');
    const violation = await req('seed.r2.h1.prune', '{"reason": 42}');
    expect(violation.error?.message).to.match(/^invalid request for seed\.:runId\.:seedId\.prune: reason: /);
    expect(violation.error?.details?.['issues']).to.be.an('array').with.length(1);
    expect(await stateOf('r2'), 'the run goes on').to.equal('running');
  });

  it('answers a run no node hosts with ESPER_NOT_FOUND, once (bad input still comes first)', async () => {
    for (const [subject, payload] of [
      ['run.nope.status', '{}'],
      ['run.nope.pause', '{}'],
      ['run.nope.checkpoint', '{}'],
      ['seed.nope.h1.status', '{}'],
      ['seed.nope.h1.germinate', '{"blueprintId":"mlp_deep"}'],
      ['seed.nope.h1.fossilize', '{}'],
    ] as const) {
      const reply = await req(subject, payload);
      expect(reply.replies, subject).to.equal(1);
      expect(reply.error, subject).to.deep.include({ code: 'ESPER_NOT_FOUND', message: 'no run "nope" exists in this cluster' });
    }
    expect(await fails('seed.nope.h1.prune', '{}')).to.equal('ESPER_SCHEMA_VIOLATION');
    expect(await fails('seed.nope.h1.germinate', '{}')).to.equal('ESPER_SCHEMA_VIOLATION');
    expect(await fails('run.nope.explode')).to.equal('ESPER_UNKNOWN_VERB');
    expect(await fails('run.nope.status', 'not json')).to.equal('ESPER_INVALID_JSON');
  });

  it('a hosted run is answered once, by its host, whichever node takes the request (membership decides: without it a second answer comes)', async () => {
    await ok('run.start', `{"spec": ${spiralsText(400)}, "runId": "r3"}`);
    // The queue group alternates between the two nodes' shared listeners: neither answers r3's verbs.
    for (let i = 0; i < 6; i++) expect(RunStatusSchema.parse(await ok('run.r3.status')).nodeId).to.equal('n1');
    for (let i = 0; i < 4; i++) expect(await fails('seed.r3.h9.status')).to.equal('ESPER_NOT_FOUND'); // the host's answer: no such seed
    // Until membership lists the run, a shared listener that does not know it would answer NOT_FOUND besides the host.
    advertised = () => [];
    const replies = await Promise.all(Array.from({ length: 4 }, () => req('run.r3.status')));
    expect(replies.map((r) => r.replies)).to.include(2);
  });
});

describe('run.start with no trainer node (in-process bus)', () => {
  it('answers ESPER_UNAVAILABLE once, after checking the request', async () => {
    const bus = new MemoryBus();
    const control = await startPlane(bus, nodeHandle('c1', undefined, () => []), () => []);
    try {
      const ask = async (payload: string): Promise<WireReply> => JSON.parse((await bus.request(`${prefix}.ctl.run.start`, encoder.encode(payload))).text()) as WireReply;
      expect((await ask(`{"spec": ${spiralsText(3)}}`)).error?.code).to.equal('ESPER_UNAVAILABLE');
      expect((await ask('{"spec": {"epochs": 0}}')).error?.code).to.equal('ESPER_SCHEMA_VIOLATION');
      expect((await ask(`{"spec": ${spiralsText(3)}, "runId": "has.dot"}`)).error?.code).to.equal('ESPER_SCHEMA_VIOLATION');
    } finally {
      await control.stop();
      await bus.close();
    }
  });
});
