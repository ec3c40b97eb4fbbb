/**
 * Issue 6, crash safety: the trainer node running a run is SIGKILLed
 * mid-epoch. Another trainer node sees its incarnation go, claims the run
 * (compare-and-set on the run's record), resumes it from the last committed
 * epoch boundary and completes it. The event log Nissa recorded into
 * PostgreSQL has neither gaps nor duplicates, and the run ends with the same
 * weights as the same spec trained without a crash. Real NATS, real
 * PostgreSQL (isolated schema), three node processes.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { ObjectStoreArtifactStore } from '../../../src/actors/urza/artifact-store.ts';
import { runTraining } from '../../../src/actors/tolaria/run-loop.ts';
import { RunSpecSchema, type RunResults } from '../../../src/contracts/run.ts';
import { RunRecordSchema } from '../../../src/node/run-registry.ts';
import { runReplayCommand } from '../../../src/cli/audit.ts';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, PG_URL, requireService } from '../../helpers/services.ts';
import { until, deleteRunStreams } from '../../helpers/until.ts';

interface WireReply {
  ok: boolean;
  data?: Record<string, unknown>;
  error?: { code: string; message: string };
}

describe('a trainer node killed mid-epoch (integration)', function () {
  this.timeout(240_000);
  const tag = randomBytes(4).toString('hex');
  const prefix = `rc${tag}`;
  const schema = `esper_rc_${tag}`;
  const dbUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const configFile = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs: 300, bucket: `${prefix}_nodes` } });
  const daemons: DaemonProcess[] = [];
  let nc: NatsConnection;
  let admin: pg.Client;

  async function request(subject: string, payload: unknown = ''): Promise<WireReply> {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const message = await nc.request(subject, new TextEncoder().encode(text), { timeout: 10_000 });
    return JSON.parse(new TextDecoder().decode(message.data)) as WireReply;
  }


  function startNode(name: string, roles: string, db = false): DaemonProcess {
    const args = ['node', 'start', '--nats', NATS_URL, '--name', name, '--roles', roles, '--config', configFile, ...(db ? ['--db', dbUrl] : [])];
    const daemon = new DaemonProcess(args);
    daemons.push(daemon);
    return daemon;
  }

  before(async function () {
    await requireService(this, 'nats');
    await requireService(this, 'postgres');
    nc = await connect({ servers: NATS_URL });
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
  });

  after(async () => {
    for (const daemon of daemons) daemon.kill('SIGKILL');
    await Promise.all(daemons.map((daemon) => daemon.exited));
    if (nc !== undefined) {
      await deleteRunStreams(nc, prefix);
      await nc.close();
    }
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin?.end();
  });

  it('resumes the run on another trainer node from its last checkpoint; the event log has no gap and no duplicate', async () => {
    const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const training = raw['training'] as Record<string, unknown>;
    // Longer epochs (more examples) so the kill lands inside one; seeds germinate early so the crash hits a run with live seeds.
    const spec = RunSpecSchema.parse({
      ...raw,
      epochs: 14,
      training: { ...training, dataset: { ...(training['dataset'] as object), n: 6000 } },
      policy: { ...(raw['policy'] as object), minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 },
    });
    const runId = 'crash1';

    const library = startNode('lib', 'library', true);
    const first = startNode('t1', 'trainer');
    await Promise.all([library.waitForMessage('node ready'), first.waitForMessage('node ready')]);
    const started = await request(`${prefix}.ctl.run.start`, { spec, runId });
    expect(started.ok, JSON.stringify(started)).to.equal(true);
    expect(started.data?.['nodeId']).to.equal('t1');
    const second = startNode('t2', 'trainer');
    await second.waitForMessage('node ready');

    // Let t1 commit a few boundaries, then kill it while it trains the next epoch.
    await until(async () => {
      const status = await request(`${prefix}.ctl.run.${runId}.status`);
      return (status.data?.['epoch'] as number) >= 5 ? status : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    first.kill('SIGKILL');
    await first.exited;

    const resumed = await second.waitForLog((line) => line.msg === 'resuming a run whose node is gone' && line['runId'] === runId, 60_000);
    expect(resumed['iteration']).to.be.at.least(5);
    const done = await until(async () => {
      const status = await request(`${prefix}.ctl.run.${runId}.status`);
      return status.data?.['state'] === 'completed' ? status : undefined;
    });
    expect(done.data?.['nodeId']).to.equal('t2');
    expect(done.data?.['epoch']).to.equal(14);

    // The run's record: completed, resumed once, results stored.
    const kv = await nc.jetstream().views.kv(`${prefix}_runs`);
    const entry = await kv.get(runId);
    const record = RunRecordSchema.parse(JSON.parse(new TextDecoder().decode(entry!.value)));
    expect(record).to.include({ state: 'completed', resumes: 1 });
    expect(record.owner?.nodeId).to.equal('t2');
    const artifacts = await ObjectStoreArtifactStore.open(nc, { bucket: `${prefix}_artifacts` });
    const results = JSON.parse(new TextDecoder().decode(await artifacts.get(record.results!.key, record.results!.sha256))) as RunResults;
    expect(results.epochs.map((e) => e.epoch)).to.deep.equal([...Array(14).keys()].map((i) => i + 1));
    // Checkpoint retention across both owners: the final checkpoint and the results are all that is left of the run.
    expect(await artifacts.list(`runs/${runId}/`)).to.deep.equal([record.checkpoint!.tensors.key, record.checkpoint!.state.key, record.results!.key].sort());

    // The event log in PostgreSQL (written by Nissa on the library node) once the run's last event is in.
    const rows = await until(async () => {
      const r = await admin.query<{ seq: string; id: string; type: string; data: { epoch?: number } }>(`SELECT seq, id, type, data FROM ${schema}.events WHERE run_id = $1 ORDER BY seq`, [runId]);
      return r.rows.some((row) => row.type === 'tolaria.run.completed') ? r.rows : undefined;
    }, 60_000);
    const seqs = rows.map((row) => Number(row.seq));
    expect(seqs, 'gapless per-run sequence').to.deep.equal(seqs.map((_, i) => i + 1));
    expect(new Set(rows.map((row) => row.id)).size, 'no duplicate event').to.equal(rows.length);
    const epochEvents = rows.filter((row) => row.type === 'tolaria.epoch.completed').map((row) => row.data.epoch);
    expect(epochEvents, 'every epoch exactly once, in order').to.deep.equal([...Array(14).keys()].map((i) => i + 1));
    expect(rows.filter((row) => row.type === 'tolaria.run.completed')).to.have.length(1);
    expect(rows.filter((row) => row.type === 'tolaria.state.published').map((row) => row.data.epoch)).to.deep.equal(epochEvents);
    expect(rows.some((row) => row.type === 'kasmina.seed.transitioned'), 'seeds grew').to.equal(true);

    // esper replay over the cluster's event store: the recorded transitions rebuild the final seed states.
    const replayed: string[] = [];
    const code = await runReplayCommand(runId, { db: dbUrl }, { out: (text) => void replayed.push(text), err: (text) => void replayed.push(text) });
    expect(code, replayed.join('\n')).to.equal(0);
    expect(replayed.join('\n')).to.match(/^OK {2}run crash1/);

    // The crash cost nothing but time: the same spec trained without a crash ends with the same weights.
    const reference = await runTraining(spec, { runId });
    expect(results.weightsHash).to.equal(reference.weightsHash);
    expect(results.finalAccuracy).to.equal(reference.finalAccuracy);
  });
});
