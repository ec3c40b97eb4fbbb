/**
 * Issue 14: the dashboard follows a real cluster (two nodes on NATS) and
 * pushes it over SSE — both nodes listed, a curve point within 1 s of each
 * epoch event, a seed's stage change within 1 s, a SIGKILLed node shown
 * down, an action refused without the token, and with it the run paused and
 * the action recorded in the events stream (the audit trail's source).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { quickSpiralsSpec } from '../../helpers/spirals-spec.ts';
import { createLogger } from '../../../src/infra/logger.ts';
import { startClusterDashboard, type Dashboard } from '../../../src/dashboard/index.ts';
import { DASHBOARD_THEME } from '../../../src/cli/dashboard.ts';
import { SseClient, type SseEvent } from './sse-client.ts';

const TOKEN = 'integration-token-14';

describe('dashboard over a NATS cluster (integration)', function () {
  this.timeout(240_000);
  const prefix = `d${randomBytes(4).toString('hex')}`;
  const heartbeatMs = 300;
  const configFile = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs, bucket: `${prefix}_nodes` } });
  const daemons = new Map<string, DaemonProcess>();
  let nc: NatsConnection;
  let dashboard: Dashboard | undefined;
  let sse: SseClient | undefined;
  const busArrivals = new Map<string, number>();

  before(async function () {
    await requireService(this, 'nats');
    nc = await connect({ servers: NATS_URL });
    // When each event reached the bus, as any subscriber sees it.
    nc.subscribe(`${prefix}.evt.>`, {
      callback: (_error, msg) => {
        const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as { type: string; data: { epoch?: number; seedId?: string; to?: string } };
        const key = envelope.type === 'tolaria.epoch.completed' ? `epoch:${envelope.data.epoch}` : envelope.type === 'kasmina.seed.transitioned' ? `seed:${envelope.data.seedId}:${envelope.data.to}` : envelope.type;
        if (!busArrivals.has(key)) busArrivals.set(key, Date.now());
      },
    });
    for (const name of ['n1', 'n2']) {
      const daemon = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', name, '--roles', 'trainer', '--config', configFile]);
      daemons.set(name, daemon);
    }
    await Promise.all([...daemons.values()].map((d) => d.waitForMessage('node ready', 120_000)));
    dashboard = await startClusterDashboard({
      server: { port: 0, token: TOKEN },
      connection: { servers: NATS_URL },
      prefix,
      nodesBucket: `${prefix}_nodes`,
      theme: DASHBOARD_THEME,
      logger: createLogger({ level: 'silent' }),
    });
    sse = new SseClient(`${dashboard.url}events`);
  });

  after(async () => {
    sse?.close();
    await dashboard?.close();
    for (const daemon of daemons.values()) {
      daemon.kill('SIGKILL');
      await daemon.exited;
    }
    if (nc !== undefined) {
      const jsm = await nc.jetstreamManager();
      for (const stream of [`KV_${prefix}_nodes`, `KV_${prefix}_runs`, `${prefix}_events`, `OBJ_${prefix}_artifacts`, `${prefix}_jobs`]) await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close();
    }
  });

  const nodeEvent = (name: string, status?: string) => (e: SseEvent): boolean => {
    if (e.event === 'node') return (e.data as { nodeId: string; status: string }).nodeId === name && (status === undefined || (e.data as { status: string }).status === status);
    if (e.event === 'snapshot') return (e.data as { nodes: Array<{ nodeId: string; status: string }> }).nodes.some((n) => n.nodeId === name && (status === undefined || n.status === status));
    return false;
  };

  it('lists both nodes, grows the run curve within 1 s of each epoch event and shows seed stage changes within 1 s', async () => {
    const client = sse as SseClient;
    await client.waitFor(nodeEvent('n1', 'ready'), 30_000, 'node n1');
    await client.waitFor(nodeEvent('n2', 'ready'), 30_000, 'node n2');

    const spec = quickSpiralsSpec(400);
    const reply = await nc.request(`${prefix}.ctl.run.start`, new TextEncoder().encode(JSON.stringify({ spec, runId: 'd1' })), { timeout: 30_000 });
    expect((JSON.parse(new TextDecoder().decode(reply.data)) as { ok: boolean }).ok).to.equal(true);

    const points: SseEvent[] = [];
    for (let epoch = 1; epoch <= 6; epoch++) {
      points.push(await client.waitFor((e) => e.event === 'run.point' && (e.data as { runId: string; point: { epoch: number } }).point.epoch === epoch, 60_000, `point ${epoch}`));
    }
    const lags = points.map((p) => p.at - (busArrivals.get(`epoch:${(p.data as { point: { epoch: number } }).point.epoch}`) ?? Number.NaN));
    for (const lag of lags) expect(lag, `curve lags: ${lags.join(', ')} ms`).to.be.within(-50, 1000);

    const seed = await client.waitFor((e) => e.event === 'run.seed' && (e.data as { runId: string }).runId === 'd1', 120_000, 'seed stage change');
    const data = seed.data as { seed: { seedId: string; stage: string } };
    const seedLag = seed.at - (busArrivals.get(`seed:${data.seed.seedId}:${data.seed.stage}`) ?? Number.NaN);
    expect(seedLag, `seed lag ${seedLag} ms`).to.be.within(-50, 1000);
     
    console.log(`      curve lag per epoch (ms): ${lags.join(', ')}; seed ${data.seed.stage} lag ${seedLag} ms`);
  });

  it('refuses an action without the token; with it the run pauses and the action is in the events stream', async () => {
    const client = sse as SseClient;
    const url = (dashboard as Dashboard).url;
    const post = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${url}api/runs/d1/pause`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ reason: 'dashboard test' }) });
    const refused = await post({});
    expect(refused.status).to.equal(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).to.equal('ESPER_UNAUTHORIZED');
    const wrong = await post({ 'x-esper-token': 'not-the-token' });
    expect(wrong.status).to.equal(401);

    const accepted = await post({ 'x-esper-token': TOKEN });
    expect(accepted.status, await accepted.clone().text()).to.equal(200);
    await client.waitFor((e) => e.event === 'run' && (e.data as { runId: string; state: string }).runId === 'd1' && (e.data as { state: string }).state === 'paused', 30_000, 'run paused');
    const audit = await client.waitFor((e) => e.event === 'event' && (e.data as { type: string }).type === 'nissa.operator.action', 10_000, 'audit record');
    expect((audit.data as { runId: string; summary: string }).runId).to.equal('d1');
    expect((audit.data as { summary: string }).summary).to.match(/^operator pause via dashboard@.* ok \(dashboard test\)$/);
    // The node hosting the run records the pause it served as well (whoever sends a pause, the audit trail has it).
    const isAction = (e: SseEvent): boolean => e.event === 'event' && (e.data as { type: string }).type === 'nissa.operator.action';
    const summaryOf = (e: SseEvent): string => (e.data as { summary: string }).summary;
    await client.waitFor((e) => isAction(e) && /^operator pause via node n[12]: ok \(dashboard test\)$/.test(summaryOf(e)), 30_000, "the node's record");
    // One refused and one wrong attempt never reached the cluster: only the accepted one is recorded, once by each side.
    const actions = client.events.filter(isAction);
    expect(actions.filter((e) => /via dashboard@/.test(summaryOf(e))), actions.map(summaryOf).join('; ')).to.have.length(1);
    expect(actions.filter((e) => /via node /.test(summaryOf(e))), actions.map(summaryOf).join('; ')).to.have.length(1);
    expect(actions).to.have.length(2);
  });

  it('shows a node killed with SIGKILL as down', async () => {
    const client = sse as SseClient;
    const state = (await (await fetch(`${(dashboard as Dashboard).url}api/state`)).json()) as { data: { runs: Array<{ runId: string; nodeId?: string }> } };
    const host = state.data.runs.find((r) => r.runId === 'd1')?.nodeId;
    const victim = host === 'n1' ? 'n2' : 'n1';
    const killedAt = Date.now();
    daemons.get(victim)?.kill('SIGKILL');
    const late = await client.waitFor((e) => e.event === 'node' && (e.data as { nodeId: string; late: boolean }).nodeId === victim && (e.data as { late: boolean }).late, 10_000, 'node late');
    const down = await client.waitFor(nodeEvent(victim, 'down'), 10_000, `node ${victim} down`);
     
    console.log(`      ${victim} killed: late after ${late.at - killedAt} ms, down after ${down.at - killedAt} ms (heartbeat ${heartbeatMs} ms)`);
    expect(down.at - killedAt).to.be.below(3 * heartbeatMs + 2000);
    await fetch(`${(dashboard as Dashboard).url}api/runs/d1/stop`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-esper-token': TOKEN }, body: '{}' });
  });
});
