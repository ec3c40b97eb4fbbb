/**
 * Issue 14: the dashboard says it is stale while NATS is away and recovers by
 * itself. Runs its own nats-server (killed and restarted on the same port),
 * so it skips where the binary is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { connect } from 'nats';
import { createMessage } from '../../../src/contracts/registry.ts';
import { createLogger } from '../../../src/infra/logger.ts';
import { startClusterDashboard, type Dashboard } from '../../../src/dashboard/index.ts';
import { DASHBOARD_THEME } from '../../../src/cli/dashboard.ts';
import { SseClient, type SseEvent } from './sse-client.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('dashboard reconnects to NATS (integration)', function () {
  this.timeout(120_000);
  const storeDir = mkdtempSync(join(tmpdir(), 'esper-nats-'));
  let port = 0;
  let server: ChildProcess | undefined;
  let dashboard: Dashboard | undefined;
  let sse: SseClient | undefined;

  async function startServer(): Promise<void> {
    server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = createServer().listen(port, '127.0.0.1');
        socket.once('listening', () => socket.close(() => resolve(false)));
        socket.once('error', () => resolve(true));
      });
      if (up) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('nats-server did not start');
  }

  before(async function () {
    if (spawnSync('nats-server', ['--version']).status !== 0) this.skip();
    port = await freePort();
    await startServer();
    dashboard = await startClusterDashboard({ server: { port: 0 }, connection: { servers: `nats://127.0.0.1:${port}`, reconnectTimeWait: 200 }, theme: DASHBOARD_THEME, logger: createLogger({ level: 'silent' }) });
    sse = new SseClient(`${dashboard.url}events`);
  });

  after(async () => {
    sse?.close();
    await dashboard?.close();
    server?.kill('SIGKILL');
  });

  /** A status event with this flag, received after the first `mark` events. */
  const status = (stale: boolean, mark = 0) => (e: SseEvent): boolean => e.event === 'status' && (e.data as { stale: boolean }).stale === stale && (sse as SseClient).events.indexOf(e) >= mark;

  it('goes stale when the server dies, and live again when it returns', async () => {
    const client = sse as SseClient;
    await client.waitFor(status(false), 20_000, 'live');
    const killedAt = Date.now();
    let mark = client.events.length;
    server?.kill('SIGKILL');
    const stale = await client.waitFor(status(true, mark), 20_000, 'stale');
    const health = (await (await fetch(`${(dashboard as Dashboard).url}api/health`)).json()) as { data: { status: { stale: boolean } } };
    expect(health.data.status.stale).to.equal(true);
    mark = client.events.length;
    await startServer();
    const back = await client.waitFor(status(false, mark), 30_000, 'live again');
    // The followers came back too: an event published now (its stream created only now) reaches the page.
    const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'esper_events', subjects: ['esper.evt.>'] });
    const event = createMessage('tolaria.epoch.completed', { runId: 'rr', epoch: 1, globalStep: 1, trainingLoss: 1, validationLoss: 1, validationAccuracy: 0.5, epochMs: 10, paramCount: 3 }, { source: 'test', runId: 'rr' });
    await nc.jetstream().publish('esper.evt.rr.tolaria.epoch.completed', new TextEncoder().encode(JSON.stringify(event)));
    await client.waitFor((e) => e.event === 'run.point' && (e.data as { runId: string }).runId === 'rr', 20_000, 'point after reconnect');
    await nc.close();
     
    console.log(`      stale ${stale.at - killedAt} ms after the kill; live ${back.at - stale.at} ms after that`);
  });
});
