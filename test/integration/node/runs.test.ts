/**
 * Issue 6 (partial): a run started on a cluster with a plain request, as
 * `nats req esper.ctl.run.start '{"spec":{…}}'` would send it; the trainer
 * node that took it answers the run's verbs.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { deleteRunStreams } from '../../helpers/until.ts';

interface WireReply {
  ok: boolean;
  data?: Record<string, unknown>;
  error?: { code: string; message: string };
}

describe('runs on a trainer node (integration)', function () {
  this.timeout(180_000);
  const prefix = `r${randomBytes(4).toString('hex')}`;
  const configFile = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs: 300, bucket: `${prefix}_nodes` } });
  let daemon: DaemonProcess | undefined;
  let nc: NatsConnection;

  async function request(subject: string, payload: unknown = ''): Promise<WireReply> {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const message = await nc.request(subject, new TextEncoder().encode(text), { timeout: 10_000 });
    return JSON.parse(new TextDecoder().decode(message.data)) as WireReply;
  }

  async function until(predicate: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
    const started = Date.now();
    while (!(await predicate())) {
      if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  before(async function () {
    await requireService(this, 'nats');
    nc = await connect({ servers: NATS_URL });
    daemon = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 't1', '--roles', 'trainer', '--config', configFile]);
    await daemon.waitForMessage('node ready');
  });

  after(async () => {
    daemon?.kill('SIGKILL');
    await daemon?.exited;
    if (nc !== undefined) {
      await deleteRunStreams(nc, prefix);
      await nc.close();
    }
  });

  it('starts a run from a raw request, lists it, pauses, resumes and completes it; stops another', async () => {
    const spec = JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const started = await request(`${prefix}.ctl.run.start`, { spec: { ...spec, epochs: 12 }, runId: 'cr1' });
    expect(started.ok, JSON.stringify(started)).to.equal(true);
    expect(started.data).to.include({ runId: 'cr1', state: 'running', nodeId: 't1' });

    const bad = await request(`${prefix}.ctl.run.start`, { spec: { epochs: 0 } });
    expect(bad.error?.code).to.equal('ESPER_SCHEMA_VIOLATION');

    await until(async () => ((await request(`${prefix}.ctl.cluster.runs`)).data?.['runs'] as unknown[] | undefined)?.length === 1);
    const paused = await request(`${prefix}.ctl.run.cr1.pause`, { reason: 'test' });
    expect(paused.ok).to.equal(true);
    await until(async () => (await request(`${prefix}.ctl.run.cr1.status`)).data?.['state'] === 'paused');
    const epochWhilePaused = (await request(`${prefix}.ctl.run.cr1.status`)).data?.['epoch'] as number;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await request(`${prefix}.ctl.run.cr1.status`)).data?.['epoch']).to.equal(epochWhilePaused);
    expect((await request(`${prefix}.ctl.run.cr1.resume`)).ok).to.equal(true);
    await until(async () => (await request(`${prefix}.ctl.run.cr1.status`)).data?.['state'] === 'completed');
    const done = (await request(`${prefix}.ctl.run.cr1.status`)).data ?? {};
    expect(done['epoch']).to.equal(12);
    expect(done['validationAccuracy']).to.be.a('number');

    expect((await request(`${prefix}.ctl.run.start`, { spec, runId: 'cr2' })).ok).to.equal(true);
    const stopping = await request(`${prefix}.ctl.run.cr2.stop`, { reason: 'test' });
    expect(stopping.ok).to.equal(true);
    await until(async () => (await request(`${prefix}.ctl.run.cr2.status`)).data?.['state'] === 'stopped');
    expect((await request(`${prefix}.ctl.run.cr2.status`)).data?.['epoch']).to.be.lessThan(40);

    // A finished run takes no more changes.
    expect((await request(`${prefix}.ctl.run.cr1.rollback`, { reason: 'test' })).error?.code).to.equal('ESPER_CONFLICT');
    expect((await request(`${prefix}.ctl.run.nope.status`)).error?.code).to.equal('ESPER_NOT_FOUND');
    expect((await request(`${prefix}.ctl.seed.nope.h1.status`)).error?.code).to.equal('ESPER_NOT_FOUND');
  });

  it('serves seed overrides, on-demand checkpoints and rollbacks on a live run, as nats req would send them', async () => {
    const spec = JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    // Tamiyo never germinates on its own here: every seed change below is the operator's. G2 holds the
    // graft in TRAINING however many epochs run before the pause lands, so it is live when rolled back.
    const gates = (spec['gates'] ?? {}) as Record<string, object>;
    const quiet = { ...spec, epochs: 40, policy: { ...(spec['policy'] as object), minEpochBeforeGerminate: 1000 }, gates: { ...gates, g2: { ...gates['g2'], minTrainingEpochs: 1000 } } };
    expect((await request(`${prefix}.ctl.run.start`, { spec: quiet, runId: 'cr3' })).ok).to.equal(true);
    await request(`${prefix}.ctl.run.cr3.pause`, { reason: 'operator session' });
    await until(async () => (await request(`${prefix}.ctl.run.cr3.status`)).data?.['state'] === 'paused');

    const dormant = await request(`${prefix}.ctl.seed.cr3.h1.status`);
    expect(dormant.data).to.include({ slotId: 'h1', stage: 'DORMANT' });
    // The example's first allowed blueprint: a kernel the run compiled and validated at its start.
    const blueprintId = ((spec['seedModules'] as { blueprints: string[] }).blueprints)[0];
    const germinated = await request(`${prefix}.ctl.seed.cr3.h1.germinate`, { blueprintId, reason: 'manual graft' });
    expect(germinated.ok, JSON.stringify(germinated)).to.equal(true);
    expect((germinated.data?.['seed'] as Record<string, unknown>)['stage']).to.equal('GERMINATED');
    expect(germinated.data?.['commandId']).to.be.a('string');
    // The gates still decide: a germinated seed cannot fossilize.
    expect((await request(`${prefix}.ctl.seed.cr3.h1.fossilize`, {})).error?.code).to.equal('ESPER_INVALID_TRANSITION');
    // prune needs a reason (it goes into the audit trail).
    expect((await request(`${prefix}.ctl.seed.cr3.h1.prune`, {})).error?.code).to.equal('ESPER_SCHEMA_VIOLATION');
    expect((await request(`${prefix}.ctl.seed.cr3.h9.status`)).error?.code).to.equal('ESPER_NOT_FOUND');

    const checkpoint = await request(`${prefix}.ctl.run.cr3.checkpoint`, { reason: 'before experiment' });
    expect(checkpoint.ok, JSON.stringify(checkpoint)).to.equal(true);
    expect(checkpoint.data).to.include({ runId: 'cr3', reason: 'manual' });
    expect(checkpoint.data?.['hash']).to.match(/^[0-9a-f]{64}$/);

    // Train two more epochs with the graft, then roll back to the previous checkpoint.
    const before = (await request(`${prefix}.ctl.run.cr3.status`)).data?.['epoch'] as number;
    await request(`${prefix}.ctl.run.cr3.resume`);
    await until(async () => ((await request(`${prefix}.ctl.run.cr3.status`)).data?.['epoch'] as number) >= before + 2);
    await request(`${prefix}.ctl.run.cr3.pause`);
    await until(async () => (await request(`${prefix}.ctl.run.cr3.status`)).data?.['state'] === 'paused');
    const rolled = await request(`${prefix}.ctl.run.cr3.rollback`, { reason: 'graft hurt' });
    expect(rolled.ok, JSON.stringify(rolled)).to.equal(true);
    expect(rolled.data?.['runId']).to.equal('cr3');
    expect(rolled.data?.['toEpoch']).to.be.a('number');
    // Live seeds are pruned by a rollback.
    expect((await request(`${prefix}.ctl.seed.cr3.h1.status`)).data?.['stage']).to.equal('PRUNED');
    expect((await request(`${prefix}.ctl.run.cr3.rollback`, { reason: 'x', checkpointId: 'no-such-checkpoint' })).error?.code).to.equal('ESPER_NOT_FOUND');
    expect((await request(`${prefix}.ctl.run.cr3.stop`, { reason: 'done' })).ok).to.equal(true);
    await until(async () => (await request(`${prefix}.ctl.run.cr3.status`)).data?.['state'] === 'stopped');
  });
});
