/**
 * Issue 14, in a real browser: Debian's chromium driven by playwright-core
 * opens the page of `esper dashboard` (the CLI, as an operator starts it)
 * following two NATS nodes; the page lists both nodes and draws the run's
 * curve, the views are reachable from the keyboard, and screenshots of the
 * node, run and library views are taken (into docs/images/dashboard-*.png
 * with ESPER_UPDATE_SCREENSHOTS=1, else a temp dir).
 *
 * Without chromium or playwright-core the suite skips, unless
 * ESPER_REQUIRE_SERVICES=1 (CI), where it fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { quickSpiralsSpec } from '../../helpers/spirals-spec.ts';
import { chromiumOrSkip, dashboardUrl, untilShown } from './chromium.ts';
import { deleteRunStreams } from '../../helpers/until.ts';

const TOKEN = 'browser-token-14';
// docs/images/ only when asked (ESPER_UPDATE_SCREENSHOTS=1): a test run does not dirty the tree.
const SHOTS = process.env['ESPER_UPDATE_SCREENSHOTS'] === '1' ? new URL('../../../docs/images/', import.meta.url) : pathToFileURL(`${mkdtempSync(join(tmpdir(), 'esper-shots-'))}/`);

/* Typed loosely: playwright-core is loaded at run time (the suite skips without it). */
interface Page {
  goto(url: string): Promise<unknown>;
  waitForSelector(selector: string, options?: { timeout?: number; state?: string }): Promise<unknown>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  content(): Promise<string>;
  keyboard: { press(key: string): Promise<void> };
  locator(selector: string): { count(): Promise<number>; getAttribute(name: string): Promise<string | null>; textContent(): Promise<string | null> };
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}
interface Browser {
  newPage(options?: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}


const points = (page: Page) => (): Promise<number> => page.locator('#chart-accuracy').getAttribute('data-points').then((v) => Number(v ?? 0));

describe('dashboard in chromium (integration)', function () {
  this.timeout(300_000);
  const prefix = `b${randomBytes(4).toString('hex')}`;
  const configFile = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs: 500, bucket: `${prefix}_nodes` } });
  const processes: DaemonProcess[] = [];
  let browser: Browser | undefined;
  let nc: NatsConnection | undefined;
  let url = '';
  const pageErrors: string[] = [];

  before(async function () {
    const launchChromium = await chromiumOrSkip<Browser>(this);
    await requireService(this, 'nats');
    nc = await connect({ servers: NATS_URL });
    processes.push(new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'trainer-1', '--roles', 'trainer', '--config', configFile]));
    processes.push(new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'library-1', '--roles', 'library,controller,compiler,validator', '--config', configFile]));
    await Promise.all(processes.map((p) => p.waitForMessage('node ready', 120_000)));
    const dashboard = new DaemonProcess(['dashboard', '--nats', NATS_URL, '--port', '0', '--prefix', prefix, '--nodes-bucket', `${prefix}_nodes`, '--token', TOKEN]);
    processes.push(dashboard);
    url = await dashboardUrl(dashboard);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const p of processes) {
      p.kill('SIGKILL');
      await p.exited;
    }
    if (nc !== undefined) {
      await deleteRunStreams(nc, prefix, [`${prefix}_jobs`]);
      await nc.close();
    }
  });

  it('lists the nodes, draws the run curve, navigates by keyboard; screenshots of the node, run and library views', async () => {
    const page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url);
    await page.waitForSelector('[data-node-id="trainer-1"][data-status="ready"]', { timeout: 30_000 });
    await page.waitForSelector('[data-node-id="library-1"][data-status="ready"]', { timeout: 30_000 });
    await page.waitForSelector('#status[data-stale="false"]', { timeout: 30_000 });
    await page.screenshot({ path: new URL('dashboard-nodes.png', SHOTS).pathname });

    const reply = await (nc as NatsConnection).request(`${prefix}.ctl.run.start`, new TextEncoder().encode(JSON.stringify({ spec: quickSpiralsSpec(200), runId: 'b1' })), { timeout: 30_000 });
    expect((JSON.parse(new TextDecoder().decode(reply.data)) as { ok: boolean }).ok).to.equal(true);

    // Keyboard: "2" opens the runs view; the run is chosen from the table.
    await page.keyboard.press('2');
    await page.waitForSelector('#view-runs:not([hidden])', { timeout: 5000 });
    await page.waitForSelector('#runs tr[data-run-id="b1"] button', { timeout: 30_000 });
    await untilShown(points(page), (n) => n >= 12, 120_000, 'curve with 12 points');
    const drawn = (await page.locator('#chart-accuracy canvas').count()) + (await page.locator('#chart-accuracy path[data-series]').count());
    expect(drawn, 'a curve is drawn (uPlot canvas or SVG path)').to.be.greaterThan(0);
    // It keeps growing while the run trains.
    const now = await points(page)();
    await untilShown(points(page), (n) => n > now, 30_000, 'curve grows');
    await page.waitForSelector('#run-bands td[data-stage]', { timeout: 60_000 });
    await page.screenshot({ path: new URL('dashboard-run.png', SHOTS).pathname });

    await page.keyboard.press('3');
    await page.waitForSelector('#view-library:not([hidden])', { timeout: 5000 });
    await untilShown(() => page.locator('#library').textContent(), (text) => (text ?? '').includes('compile queue'), 60_000, 'library view');
    await page.screenshot({ path: new URL('dashboard-library.png', SHOTS).pathname });
    expect(await page.locator('#tab-library').getAttribute('aria-selected')).to.equal('true');

    // The token is not in the page; actions are offered (this dashboard has one).
    const html = await page.content();
    expect(html).to.not.include(TOKEN);
    expect(pageErrors, pageErrors.join('\n')).to.deep.equal([]);

    const dark = await (browser as Browser).newPage({ colorScheme: 'dark', viewport: { width: 1400, height: 900 } });
    await dark.goto(`${url}?view=runs&run=b1`);
    await untilShown(points(dark), (n) => n >= 12, 60_000, 'dark page curve');
    await dark.screenshot({ path: new URL('dashboard-run-dark.png', SHOTS).pathname });
    await (nc as NatsConnection).request(`${prefix}.ctl.run.b1.stop`, new TextEncoder().encode('{}'), { timeout: 30_000 });
  });
});
