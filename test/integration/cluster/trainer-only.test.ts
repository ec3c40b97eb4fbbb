/**
 * Issue 13, "whoever writes, ensures": a cluster of trainer nodes only (no
 * library node, so nobody else creates the events stream) keeps every event
 * of every run in the events stream — counted per run against the events the
 * same run emits trained alone — also across a kill -9 takeover. On the
 * shared single NATS server (replicas 1: a single-server deployment behaves
 * as before).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { AckPolicy, DeliverPolicy, connect, type NatsConnection } from 'nats';
import { runTraining } from '../../../src/actors/tolaria/run-loop.ts';
import { RunSpecSchema, type RunSpec } from '../../../src/contracts/run.ts';
import type { Envelope } from '../../../src/contracts/envelope.ts';
import { RunRecordSchema } from '../../../src/node/run-registry.ts';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { requestJson, until, deleteRunStreams } from '../../helpers/until.ts';

interface WireReply {
  ok: boolean;
  data?: Record<string, unknown>;
}

function spiralsSpec(epochs: number, n: number): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const training = raw['training'] as Record<string, unknown>;
  return RunSpecSchema.parse({
    ...raw,
    epochs,
    training: { ...training, dataset: { ...(training['dataset'] as object), n } },
    policy: { ...(raw['policy'] as object), minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 },
  });
}

describe('a cluster of trainer nodes only (integration, issue 13)', function () {
  this.timeout(240_000);
  const prefix = `to${randomBytes(4).toString('hex')}`;
  const configFile = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs: 300, bucket: `${prefix}_nodes` } });
  const daemons: DaemonProcess[] = [];
  let nc: NatsConnection;

  const startNode = (name: string): DaemonProcess => {
    const daemon = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', name, '--roles', 'trainer', '--config', configFile]);
    daemons.push(daemon);
    return daemon;
  };

  const request = (subject: string, payload: unknown = {}): Promise<WireReply> => requestJson<WireReply>(nc, subject, payload);


  async function record(runId: string): Promise<ReturnType<typeof RunRecordSchema.parse> | undefined> {
    const kv = await nc.jetstream().views.kv(`${prefix}_runs`, { bindOnly: true });
    const entry = await kv.get(runId);
    return entry === null ? undefined : RunRecordSchema.parse(JSON.parse(new TextDecoder().decode(entry.value)));
  }

  /** The run's events in the events stream, in stream order (an ephemeral consumer filtered on the run). */
  async function streamed(runId: string): Promise<Envelope[]> {
    const jsm = await nc.jetstreamManager();
    const stream = `${prefix}_events`;
    const { name } = await jsm.consumers.add(stream, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: `${prefix}.evt.${runId}.>`, inactive_threshold: 30_000_000_000 });
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const pending = (await consumer.info()).num_pending;
    const out: Envelope[] = [];
    while (out.length < pending) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
      for await (const message of batch) out.push(JSON.parse(new TextDecoder().decode(message.data)) as Envelope);
    }
    return out;
  }

  before(async function () {
    await requireService(this, 'nats');
    nc = await connect({ servers: NATS_URL });
  });

  after(async () => {
    for (const daemon of daemons) daemon.kill('SIGKILL');
    await Promise.all(daemons.map((daemon) => daemon.exited));
    if (nc !== undefined) {
      await deleteRunStreams(nc, prefix);
      await nc.close();
    }
  });

  it('every event of every run reaches the events stream, also across a kill -9 takeover; none twice', async () => {
    const first = startNode('t1');
    await first.waitForMessage('node ready', 120_000);
    expect((await first.waitForLog((line) => typeof line['replicas'] === 'number'))['replicas'], 'single server: one replica').to.equal(1);
    const plain = spiralsSpec(5, 1000);
    const crashed = spiralsSpec(12, 4000);
    expect((await request(`${prefix}.ctl.run.start`, { spec: plain, runId: 'plain' })).ok).to.equal(true);
    expect((await request(`${prefix}.ctl.run.start`, { spec: crashed, runId: 'crashed' })).ok).to.equal(true);
    const second = startNode('t2');
    await second.waitForMessage('node ready', 120_000);
    await until(async () => ((await record('plain'))?.state === 'completed' ? true : undefined));
    // Kill the node running `crashed` mid-run: t2 takes it over from its last checkpoint.
    await until(async () => ((await record('crashed'))?.epoch ?? 0) >= 4 ? true : undefined);
    first.kill('SIGKILL');
    await first.exited;
    const done = await until(async () => {
      const r = await record('crashed');
      return r?.state === 'completed' ? r : undefined;
    }, 180_000);
    expect(done.resumes).to.equal(1);
    expect(done.owner?.nodeId).to.equal('t2');

    for (const [runId, spec] of [['plain', plain], ['crashed', crashed]] as const) {
      const events = await streamed(runId);
      expect(new Set(events.map((e) => e.id)).size, `${runId}: no duplicate`).to.equal(events.length);
      const epochs = events.filter((e) => e.type === 'tolaria.epoch.completed').map((e) => (e.data as { epoch: number }).epoch);
      expect(epochs, `${runId}: every epoch once`).to.deep.equal([...Array(spec.epochs).keys()].map((i) => i + 1));
      expect(events.filter((e) => e.type === 'tolaria.run.completed'), `${runId}: completed once`).to.have.length(1);
      if (runId === 'plain') {
        const reference: Envelope[] = [];
        await runTraining(spec, { runId, events: (event) => void reference.push(event) });
        expect(events.map((e) => e.type), 'as many events as the run emits alone').to.deep.equal(reference.map((e) => e.type));
      }
    }
  });
});
