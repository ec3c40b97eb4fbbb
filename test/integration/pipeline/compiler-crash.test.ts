/**
 * Issue 5: a compiler node process killed mid-job. The compile job stays
 * unacked, JetStream redelivers it after the ack wait to another compiler
 * node, and exactly one kernel is stored (kernel ids are content addresses
 * and storage is idempotent). Real NATS, real PostgreSQL (isolated schema).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { catalogBlueprint, parseInterfaceFlag } from '../../../src/actors/karn/index.ts';
import { UrzaLibrary } from '../../../src/actors/urza/library.ts';
import { compileJobFor } from '../../../src/actors/tezzeret/compile-jobs.ts';
import { PgDatabase } from '../../../src/infra/db/pg-database.ts';
import { migrate } from '../../../src/infra/db/migrate.ts';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, PG_URL, requireService } from '../../helpers/services.ts';

describe('compiler node killed mid-job (integration)', function () {
  this.timeout(180_000);
  const tag = randomBytes(4).toString('hex');
  const prefix = `cc${tag}`;
  const schema = `esper_cc_${tag}`;
  const dbUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const configFile = writeTempConfig({
    subjectPrefix: prefix,
    membership: { bucket: `${prefix}_nodes`, heartbeatMs: 500 },
    pipeline: { interfaces: [], jobAckWaitMs: 4000 },
  });
  const daemons: DaemonProcess[] = [];
  let nc: NatsConnection;
  let db: PgDatabase;

  before(async function () {
    await requireService(this, 'nats');
    await requireService(this, 'postgres');
    nc = await connect({ servers: NATS_URL });
    db = await PgDatabase.connect({ url: PG_URL, schema });
    await migrate(db);
  });

  after(async () => {
    for (const daemon of daemons) daemon.kill('SIGKILL');
    await Promise.all(daemons.map((daemon) => daemon.exited));
    if (nc !== undefined) {
      const jsm = await nc.jetstreamManager();
      for (const stream of [`${prefix}_jobs`, `KV_${prefix}_nodes`, `OBJ_${prefix}_artifacts`]) await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close();
    }
    await db?.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  function startCompiler(name: string): DaemonProcess {
    const daemon = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--db', dbUrl, '--name', name, '--roles', 'compiler', '--config', configFile]);
    daemons.push(daemon);
    return daemon;
  }

  it('redelivers the job to another compiler node and stores exactly one kernel', async () => {
    const library = new UrzaLibrary(db);
    const ir = catalogBlueprint('mlp_small', parseInterfaceFlag('dense:256'));
    const { blueprintId, irHash } = await library.putBlueprint({ ir, submittedBy: 'test' });

    const first = startCompiler('c1');
    await first.waitForMessage('node ready');
    const job = compileJobFor(blueprintId, irHash, 'optimized', 'test');
    const js = nc.jetstream();
    await js.publish(`${prefix}.job.compile`, new TextEncoder().encode(JSON.stringify(job)), { msgID: `compile-${irHash}-optimized` });
    // The job reaches c1's consumer; its pool worker is still starting (seconds): kill the process mid-job.
    const started = await first.waitForMessage('compile started');
    expect(started['delivery']).to.equal(1);
    first.kill('SIGKILL');
    await first.exited;
    expect(first.lines.some((line) => line.msg === 'compile finished')).to.equal(false);

    const second = startCompiler('c2');
    const finished = await second.waitForMessage('compile finished', 120_000);
    const redelivered = second.lines.find((line) => line.msg === 'compile started');
    expect(redelivered?.['delivery']).to.be.at.least(2);

    const { kernels } = await library.queryKernels({ blueprintId });
    expect(kernels).to.have.length(1);
    expect(kernels[0]?.kernelId).to.equal(finished['kernelId']);
    expect(kernels[0]?.status).to.equal('PENDING_VALIDATION'); // no validator node in this test
    const blueprint = await library.getBlueprint(blueprintId);
    expect(blueprint?.status).to.equal('COMPILED');
  });
});
