/**
 * `esper node start --dashboard-port N` (issue 14: "a node may also serve
 * it"): the node daemon serves the cluster's dashboard beside itself, read-only
 * without ESPER_DASHBOARD_TOKEN; bad use is refused before the node starts.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { expect } from 'chai';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { until } from '../../helpers/until.ts';

/** A TCP port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}


describe('esper node start --dashboard-port (integration, issue 14)', function () {
  this.timeout(120_000);

  it('serves the live page of its cluster, listing itself with its actor-tree summary, read-only without a token; stops with the node', async function () {
    await requireService(this, 'nats');
    const prefix = `nd${randomBytes(4).toString('hex')}`;
    const port = await freePort();
    const config = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs: 500, bucket: `${prefix}_nodes` } });
    const daemon = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'nd1', '--roles', 'trainer', '--config', config, '--dashboard-port', String(port)], { ESPER_DASHBOARD_TOKEN: '' });
    try {
      await daemon.waitForMessage('node ready', 90_000);
      const said = await daemon.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('dashboard: '), 60_000);
      expect(said['url']).to.equal(`http://127.0.0.1:${port}/`);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.include('<html');
      // The dashboard follows the node's own prefix and membership bucket: it lists the node.
      const listed = await until(async () => {
        const reply = (await (await fetch(`http://127.0.0.1:${port}/api/state`)).json()) as {
          ok: boolean;
          data?: { actions?: boolean; nodes?: { nodeId?: string; actors?: { total: number; notRunning: number; restarts: number } }[] };
        };
        expect(reply.data?.actions).to.equal(false);
        const me = reply.data?.nodes?.find((n) => n.nodeId === 'nd1');
        // Its actor tree in three numbers (the membership record's summary): a trainer node supervises several actors, all running.
        return me?.actors !== undefined && me.actors.total > 1 && me.actors.notRunning === 0 ? true : undefined;
      }, 30_000);
      expect(listed).to.equal(true);
      // Read-only: no token was given.
      const refused = await fetch(`http://127.0.0.1:${port}/api/runs/r1/pause`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-esper-token': 'whatever-token' }, body: '{}' });
      expect(refused.status).to.equal(403);
    } finally {
      daemon.kill('SIGTERM');
      await daemon.exited;
    }
    await until(async () => {
      try {
        await fetch(`http://127.0.0.1:${port}/api/health`);
        return undefined;
      } catch {
        return true; // nothing listens any more
      }
    }, 20_000);
  });

  it('refuses --dashboard-port without --nats, or out of range, before starting (exit 2, every problem named)', async () => {
    const embedded = new DaemonProcess(['node', 'start', '--name', 'nd2', '--dashboard-port', '8999']);
    expect((await embedded.exited).code).to.equal(2);
    expect(embedded.stderrText + embedded.stdoutText).to.match(/--dashboard-port: the dashboard follows a cluster over NATS/);
    const badPort = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'nd3', '--dashboard-port', '70000']);
    expect((await badPort.exited).code).to.equal(2);
    expect(badPort.stderrText + badPort.stdoutText).to.match(/--port: a whole number from 0 to 65535/);
  });
});
