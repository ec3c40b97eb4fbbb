/**
 * Issue 13, replicated state: on a cluster of three NATS servers with
 * JetStream (started by this suite on loopback), every stream, KV bucket and
 * object store Esper creates gets three replicas, and assets created earlier
 * with one are raised to three.
 */
import { expect } from 'chai';
import type { NatsConnection } from 'nats';
import { NatsBus } from '../../../src/actors/oona/index.ts';
import { isTransientBusError } from '../../../src/actors/oona/nats-errors.ts';
import { ensureEventsStream } from '../../../src/actors/nissa/event-stream.ts';
import { NodeStorage } from '../../../src/node/node-storage.ts';
import { createLogger } from '../../../src/infra/logger.ts';
import { NatsCluster, requireNatsServer } from '../../helpers/nats-cluster.ts';

describe('JetStream replicas on a three-server cluster (integration, issue 13)', function () {
  this.timeout(120_000);
  let cluster: NatsCluster | undefined;
  let nc: NatsConnection;
  const buses: NatsBus[] = [];

  before(async function () {
    const binary = requireNatsServer(this);
    cluster = await NatsCluster.start({ binary });
    nc = await cluster.connect();
  });

  after(async () => {
    for (const bus of buses) await bus.close().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await cluster?.stop();
  });

  /**
   * The stream's configured replica count. Right after servers restart, the
   * test's own connection may still be reconnecting or its server's JetStream
   * API not yet answering: a request that fails with what Oona counts as a
   * transient bus error is asked again (for up to 30 s); any other error fails
   * the test.
   */
  async function replicasOf(stream: string): Promise<number> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const jsm = await nc.jetstreamManager();
        return (await jsm.streams.info(stream)).config.num_replicas;
      } catch (error) {
        if (!isTransientBusError(error) || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async function bus(replicas?: number): Promise<NatsBus> {
    const created = await NatsBus.connect({ servers: cluster!.url.split(',') }, { subjectPrefix: 'rp', replicas, logger: createLogger({ level: 'silent' }) });
    buses.push(created);
    return created;
  }

  it('chooses 3 replicas from the server INFO and creates streams, buckets and the object store with them', async () => {
    const b = await bus();
    expect(b.replicaChoice).to.deep.include({ replicas: 3, source: 'cluster', servers: 3 });
    await ensureEventsStream(b, 'rp');
    await b.kv('rp_nodes', { ttlMs: 60_000 });
    const storage = new NodeStorage({ dbUrl: undefined, localDataDir: '/nonexistent', connection: b.connection, subjectPrefix: 'rp', logger: createLogger({ level: 'silent' }), replicas: b.replicas });
    await storage.artifacts();
    expect(await replicasOf('rp_events')).to.equal(3);
    expect(await replicasOf('KV_rp_nodes')).to.equal(3);
    expect(await replicasOf('OBJ_rp_artifacts')).to.equal(3);
  });

  it('raises assets created with one replica to three (stream update), and never lowers them', async () => {
    const single = await bus(1);
    await single.ensureStream({ name: 'rp_old', subjects: ['rp.old.>'] });
    await single.kv('rp_oldkv');
    const oldStorage = new NodeStorage({ dbUrl: undefined, localDataDir: '/nonexistent', connection: single.connection, subjectPrefix: 'rpold', logger: createLogger({ level: 'silent' }), replicas: 1 });
    await oldStorage.artifacts();
    expect(await replicasOf('rp_old')).to.equal(1);
    expect(await replicasOf('KV_rp_oldkv')).to.equal(1);
    expect(await replicasOf('OBJ_rpold_artifacts')).to.equal(1);

    const replicated = await bus();
    await replicated.ensureStream({ name: 'rp_old', subjects: ['rp.old.>'] });
    await replicated.kv('rp_oldkv');
    await new NodeStorage({ dbUrl: undefined, localDataDir: '/nonexistent', connection: replicated.connection, subjectPrefix: 'rpold', logger: createLogger({ level: 'silent' }), replicas: 3 }).artifacts();
    expect(await replicasOf('rp_old')).to.equal(3);
    expect(await replicasOf('KV_rp_oldkv')).to.equal(3);
    expect(await replicasOf('OBJ_rpold_artifacts')).to.equal(3);

    // A node configured with one replica leaves them at three.
    await single.ensureStream({ name: 'rp_old', subjects: ['rp.old.>'] });
    expect(await replicasOf('rp_old')).to.equal(3);
  });

  it('opens a bucket asked for while the cluster has no JetStream quorum once the quorum is back (a node starting during an election)', async () => {
    const b = await bus();
    await cluster!.kill(1);
    await cluster!.kill(2);
    let settled: string | undefined;
    const opening = b.kv('rp_during_election', { ttlMs: 60_000 }).then(
      (kv) => {
        settled = 'opened';
        return kv;
      },
      (error: unknown) => {
        settled = `failed: ${String(error)}`;
        throw error;
      },
    );
    // Two of three servers gone: nothing can be created (no meta leader), and the open keeps trying instead of failing.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(settled).to.equal(undefined);
    cluster!.restart(1);
    cluster!.restart(2);
    const kv = await opening;
    expect(settled).to.equal('opened');
    expect(kv.bucket).to.equal('rp_during_election');
    await cluster!.waitForMetaLeader();
    expect(await replicasOf('KV_rp_during_election')).to.equal(3);
  });
});
