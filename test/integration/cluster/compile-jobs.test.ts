/**
 * Issue 13: compile jobs in flight when a NATS server dies are completed
 * exactly once (one kernel each), and the `jetstream` breaker and /metrics
 * show the degradation while it lasts. Three nats-servers (JetStream, one
 * cluster, started by this suite on loopback, replicas 3), two pipeline
 * nodes (compiler, validator and library; one of them the controller that
 * answers `karn.submit`), PostgreSQL in an isolated schema. Several distinct
 * blueprints are submitted as raw JSON with a plain client (an operator's
 * `nats req`), and the server leading the jobs stream (and, aligned by
 * stepping down before, the job consumers) is SIGKILLed once the first
 * compile starts. Every blueprint ends with exactly one kernel, with a
 * verdict; no job is dead-lettered, none left in the stream. Meanwhile the
 * nodes' `jetstream` breaker is open or half-open (events, status, /metrics);
 * once the server is back it is closed on every node. (On nats-server
 * 2.9, KV listings and object store reads — ephemeral consumers — keep
 * timing out about half the time while a server of their stream is down,
 * so the degradation lasts until it is back.)
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { NatsConnection, Subscription } from 'nats';
import type pg from 'pg';
import { catalogBlueprint, parseInterfaceFlag } from '../../../src/actors/karn/index.ts';
import { ClusterSuite } from '../../helpers/cluster-suite.ts';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import type { NatsCluster } from '../../helpers/nats-cluster.ts';
import { requestJson, until } from '../../helpers/until.ts';

interface WireReply<T = Record<string, unknown>> {
  ok: boolean;
  data?: T;
  error?: { code: string; message: string; retryable?: boolean };
}

interface KernelLine {
  kernelId: string;
  blueprintId: string;
  status: string;
}

interface BreakerSeen {
  node: string;
  to: string;
  at: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Eight distinct blueprints: four catalog shapes on two widths. */
const BLUEPRINTS = ['mlp_small', 'mlp_large', 'mlp_deep', 'lora_r16'].flatMap((name) => [128, 192].map((width) => ({ name: `${name}@${width}`, ir: catalogBlueprint(name, parseInterfaceFlag(`dense:${width}`)) })));

describe('compile jobs in flight when a NATS server dies (integration, issue 13)', function () {
  this.timeout(300_000);
  const tag = randomBytes(4).toString('hex');
  const prefix = `cj${tag}`;
  const suite = new ClusterSuite(`esper_cj_${tag}`);
  const { schema, daemons } = suite;
  const nodeNames = ['p1', 'p2'];
  const metricsPorts = new Map<string, number>();
  const deadLetters: string[] = [];
  const breakerEvents: BreakerSeen[] = [];
  const subscriptions: Subscription[] = [];
  let cluster: NatsCluster | undefined;
  let nc: NatsConnection;
  let admin: pg.Client;
  const timings: string[] = [];

  before(async function () {
    await suite.start(this, { clientPort: 4341, routePort: 6341, monitorPort: 8341, name: 'esper-jobs' });
    ({ cluster, nc, admin } = suite);
    const configFile = writeTempConfig({
      subjectPrefix: prefix,
      membership: { heartbeatMs: 1000, bucket: `${prefix}_nodes` },
      nats: { url: cluster.url, pingIntervalMs: 2000, reconnect: { waitMs: 250 }, replicas: 3 },
      // No catalog at start: the only jobs are the blueprints submitted below. A job whose ack was lost comes back after 30 s.
      pipeline: { interfaces: [], jobAckWaitMs: 30_000 },
      metrics: { port: 0 },
    });
    const roles = { p1: 'controller,library,compiler,validator', p2: 'library,compiler,validator' } as Record<string, string>;
    for (const name of nodeNames) {
      daemons.push(new DaemonProcess(['node', 'start', '--nats', cluster.url, '--name', name, '--roles', roles[name]!, '--config', configFile, '--db', suite.dbUrl]));
    }
    const ready = await Promise.all(daemons.map((daemon) => daemon.waitForMessage('node ready', 120_000)));
    for (const [i, line] of ready.entries()) metricsPorts.set(nodeNames[i]!, line['metricsPort'] as number);
    // Both in the membership bucket (a node answers for a role only once it sees who has it there).
    await until(async () => {
      const reply = await requestJson<WireReply<{ nodes: Array<{ nodeId: string; status: string }> }>>(nc, `${prefix}.ctl.cluster.nodes`, {});
      const listed = (reply.data?.nodes ?? []).filter((n) => n.status === 'ready').map((n) => n.nodeId);
      return nodeNames.every((name) => listed.includes(name)) ? true : undefined;
    }, 60_000, 250);
    subscriptions.push(nc.subscribe(`${prefix}.dlq.>`, { callback: (_error, msg) => void deadLetters.push(new TextDecoder().decode(msg.data)) }));
    subscriptions.push(
      nc.subscribe(`${prefix}.sys.supervision.breaker.state`, {
        callback: (_error, msg) => {
          const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as { source: string; data: { name: string; to: string } };
          if (envelope.data.name === 'jetstream') breakerEvents.push({ node: envelope.source.split('/')[0] ?? '', to: envelope.data.to, at: Date.now() });
        },
      }),
    );
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    suite.logTrouble(nodeNames);
    console.log(`--- breaker events: ${JSON.stringify(breakerEvents)}`);
  });

  after(async () => {
    for (const sub of subscriptions) sub.unsubscribe();
    await suite.stop();
    if (timings.length > 0) console.log(`      fault table (${prefix}):\n${timings.map((t) => `        ${t}`).join('\n')}`);
  });

  const request = <T>(subject: string, payload: unknown = {}): Promise<WireReply<T>> => requestJson<WireReply<T>>(nc, subject, payload);

  /** The `jetstream` breaker as a node's status shows it. */
  async function statusBreaker(node: string): Promise<string | undefined> {
    const reply = await request<{ nats?: { breaker?: string } }>(`${prefix}.ctl.node.${node}.status`, {}).catch(() => undefined);
    return reply?.data?.nats?.breaker;
  }

  /** `esper_breaker_state{name="jetstream"}` on a node's /metrics (0 closed, 1 half-open, 2 open). */
  async function metricsBreaker(node: string): Promise<number | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${metricsPorts.get(node)}/metrics`, { signal: AbortSignal.timeout(2000) });
      const match = /^esper_breaker_state\{name="jetstream"\} (\d)/m.exec(await response.text());
      return match === null ? undefined : Number(match[1]);
    } catch {
      return undefined;
    }
  }

  /** Steps `consumer`'s leader down until it is on server `leader` (best effort); true when aligned. */
  async function alignConsumer(stream: string, consumer: string, leader: string): Promise<boolean> {
    const jsm = await nc.jetstreamManager();
    for (let attempt = 0; attempt < 10; attempt++) {
      const info = await jsm.consumers.info(stream, consumer).catch(() => undefined);
      if (info?.cluster?.leader === leader) return true;
      await nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${consumer}`, new Uint8Array(), { timeout: 5000 }).catch(() => undefined);
      await sleep(700);
    }
    return false;
  }

  it('every blueprint submitted around the SIGKILL of the jobs stream leader ends with exactly one kernel; none dead-lettered; the breaker shows the loss', async () => {
    const jobs = `${prefix}_jobs`;
    const jsm = await nc.jetstreamManager();
    const leaderIndex = await until(() => cluster!.streamLeader(nc, jobs), 30_000);
    const leaderName = cluster!.members[leaderIndex]!.name;
    // The job consumers on the same server, so that the kill also costs them their leader (their pulls fail meanwhile).
    const aligned = [await alignConsumer(jobs, 'tezzeret', leaderName), await alignConsumer(jobs, 'urabrask', leaderName)];
    expect(await until(() => cluster!.streamLeader(nc, jobs), 30_000), 'the jobs stream kept its leader').to.equal(leaderIndex);

    // Submit every blueprint as raw JSON, as `nats req esper.ctl.karn.submit '{"ir": …}'` does.
    const submitted = new Map<string, string>();
    for (const { name, ir } of BLUEPRINTS) {
      const reply = await request<{ blueprintId: string; duplicate: boolean }>(`${prefix}.ctl.karn.submit`, JSON.stringify({ ir }));
      expect(reply.ok, `${name}: ${JSON.stringify(reply.error)}`).to.equal(true);
      expect(reply.data?.duplicate, name).to.equal(false);
      submitted.set(reply.data!.blueprintId, name);
    }
    expect(submitted.size, 'distinct blueprints').to.equal(BLUEPRINTS.length);

    // Kill the leader as soon as the first compile is under way.
    await Promise.race(daemons.map((daemon) => daemon.waitForMessage('compile started', 120_000)));
    const finishedBefore = daemons.reduce((n, daemon) => n + daemon.lines.filter((line) => line.msg === 'compile finished').length, 0);
    const killedAt = Date.now();
    await cluster!.kill(leaderIndex);

    // While it lasts: poll both nodes' status and /metrics for the jetstream breaker.
    const statusSeen = new Map<string, Set<string>>(nodeNames.map((n) => [n, new Set<string>()]));
    const metricsSeen = new Map<string, Set<number>>(nodeNames.map((n) => [n, new Set<number>()]));
    let done = false;
    const polling = (async (): Promise<void> => {
      while (!done) {
        for (const node of nodeNames) {
          const state = await statusBreaker(node);
          if (state !== undefined) statusSeen.get(node)!.add(state);
          const value = await metricsBreaker(node);
          if (value !== undefined) metricsSeen.get(node)!.add(value);
        }
        await sleep(200);
      }
    })();

    // Every blueprint: exactly one kernel, with a verdict.
    let kernels: KernelLine[] = [];
    try {
      kernels = await until(async () => {
        const out: KernelLine[] = [];
        for (const blueprintId of submitted.keys()) {
          const reply = await request<{ kernels: KernelLine[] }>(`${prefix}.ctl.urza.kernels`, { blueprintId });
          if (!reply.ok || reply.data === undefined) return undefined;
          const found = reply.data.kernels;
          if (found.length !== 1 || (found[0]!.status !== 'VALIDATED' && found[0]!.status !== 'REJECTED')) return undefined;
          out.push(found[0]!);
        }
        return out;
      }, 180_000, 500);
    } catch (error) {
      done = true;
      await polling;
      throw error;
    }
    const recoveredS = (Date.now() - killedAt) / 1000;
    // The server stays down: the breaker shows the loss (events, status, /metrics), whether the jobs finished before it opened or after.
    const opened = (): BreakerSeen[] => breakerEvents.filter((event) => event.to === 'open' && event.at >= killedAt - 1000);
    const shownInStatus = (): string[] => nodeNames.filter((node) => [...statusSeen.get(node)!].some((state) => state !== 'closed'));
    const shownInMetrics = (): string[] => nodeNames.filter((node) => [...metricsSeen.get(node)!].some((value) => value > 0));
    await until(() => Promise.resolve(opened().length > 0 && shownInStatus().length > 0 && shownInMetrics().length > 0 ? true : undefined), 60_000, 250).catch(() => false);
    done = true;
    await polling;

    const rows = await admin.query<{ blueprint_id: string; kernels: string }>(`SELECT blueprint_id, count(*) AS kernels FROM ${schema}.kernels GROUP BY blueprint_id`);
    const perBlueprint = new Map(rows.rows.map((row) => [row.blueprint_id, Number(row.kernels)]));
    for (const [blueprintId, name] of submitted) expect(perBlueprint.get(blueprintId), `${name}: kernels in PostgreSQL`).to.equal(1);
    expect(rows.rows.length, 'no kernel of another blueprint').to.equal(submitted.size);
    const statuses = await admin.query<{ status: string }>(`SELECT status FROM ${schema}.blueprints`);
    expect(statuses.rows.map((row) => row.status), 'every blueprint COMPILED, none INVALID').to.deep.equal(statuses.rows.map(() => 'COMPILED'));
    const reports = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.validation_reports`);

    // No job dead-lettered (on the bus or in any node's log), none left in the stream.
    const deadLogged = daemons.flatMap((daemon) => daemon.lines.filter((line) => line.msg === 'durable message dead-lettered' || line.msg === 'job failed for good; dead-lettered'));
    expect(deadLogged.map((line) => JSON.stringify(line).slice(0, 300)), 'dead-lettered jobs').to.deep.equal([]);
    expect(deadLetters, 'dead letters on the bus').to.deep.equal([]);
    const left = await until(async () => ((await jsm.streams.info(jobs)).state.messages === 0 ? true : undefined), 60_000).catch(() => false);
    expect(left, 'the jobs stream is empty (every job acked)').to.equal(true);

    // Deliveries: a job whose ack went with the server came back and was completed again, to the same kernel.
    const compiles = daemons.flatMap((daemon) => daemon.lines.filter((line) => line.msg === 'compile finished'));
    const redelivered = daemons.flatMap((daemon) => daemon.lines.filter((line) => line.msg === 'compile started' && (line['delivery'] as number) > 1));
    const recreated = compiles.filter((line) => line['created'] === false);

    // The breaker: some node reported the loss (events, status, /metrics), and every node is closed again.
    const openedAfterKill = opened();
    expect(openedAfterKill.length, 'a jetstream breaker opened after the kill').to.be.at.least(1);
    expect(shownInStatus(), 'a node status showed the jetstream breaker open or half-open').to.not.deep.equal([]);
    const metricsNodes = shownInMetrics();
    expect(metricsNodes, '/metrics showed esper_breaker_state{name="jetstream"} above 0').to.not.deep.equal([]);
    const degradedPolls = nodeNames.map((node) => `${node} ${[...statusSeen.get(node)!].join('/')}`);

    // The server back: every node's breaker closes (status, /metrics, events).
    const restartedAt = Date.now();
    cluster!.restart(leaderIndex);
    await cluster!.waitForMetaLeader(3, 60_000);
    const closedAt = await until(async () => {
      for (const node of nodeNames) {
        if ((await statusBreaker(node)) !== 'closed' || (await metricsBreaker(node)) !== 0) return undefined;
      }
      return Date.now();
    }, 120_000, 250);
    for (const node of nodeNames) {
      const last = breakerEvents.filter((event) => event.node === node).at(-1);
      if (last !== undefined) expect(last.to, `${node}: last breaker event`).to.equal('closed');
    }
    const openedFor = openedAfterKill.map((event) => {
      const closed = breakerEvents.find((later) => later.node === event.node && later.to === 'closed' && later.at >= event.at);
      return `${event.node} ${closed === undefined ? '?' : ((closed.at - event.at) / 1000).toFixed(1)} s`;
    });

    timings.push(
      `SIGKILL ${leaderName} (leader of ${jobs}; consumers aligned: tezzeret ${aligned[0]}, urabrask ${aligned[1]}) with ${finishedBefore} of ${submitted.size} compiles finished: ` +
        `every blueprint had its one kernel with a verdict ${recoveredS.toFixed(1)} s later; kernels per blueprint ${[...perBlueprint.values()].join(',')}; ` +
        `${compiles.length} compiles finished (${recreated.length} found their kernel stored), ${redelivered.length} redelivered; ${reports.rows[0]!.n} validation reports; 0 dead letters`,
      `jetstream breaker: opened ${openedAfterKill.length}x after the kill (${openedFor.join(', ')} until closed); states in status polls while down: ${degradedPolls.join(', ')}; ` +
        `/metrics above 0 on ${metricsNodes.join(', ')}; server restarted ${((restartedAt - killedAt) / 1000).toFixed(1)} s after the kill, every breaker closed ${((closedAt - restartedAt) / 1000).toFixed(1)} s after the restart`,
    );
    expect(kernels.map((k) => k.blueprintId).sort()).to.deep.equal([...submitted.keys()].sort());
  });
});
