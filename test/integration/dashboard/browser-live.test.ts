/**
 * Issue 14's "Done when", checked in the page itself (Debian's chromium driven
 * by playwright-core, no SSE shortcut): `esper dashboard` follows two NATS
 * nodes; while a spirals run trains, the page's accuracy curve gains a point
 * within 1 s of each epoch event and a seed's stage change shows in its seed
 * table within 1 s of the event (event times: the test's own NATS
 * subscription; page times: a MutationObserver in the page); a pause clicked
 * without the token is refused with an error in the page, and with the token
 * typed into the page's field the run pauses (its status over NATS) and a
 * `nissa.operator.action` record reaches the events stream and the page's
 * event table; a node killed with SIGKILL shows down in the node list.
 *
 * Without chromium or playwright-core the suite skips, unless
 * ESPER_REQUIRE_SERVICES=1 (CI), where it fails; likewise without NATS.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { DaemonProcess, writeTempConfig } from '../../helpers/daemon.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { quickSpiralsSpec } from '../../helpers/spirals-spec.ts';
import { chromiumOrSkip, dashboardUrl, untilShown } from './chromium.ts';
import { deleteRunStreams } from '../../helpers/until.ts';

const TOKEN = 'browser-live-token-14';
const RUN = 'live1';
const EPOCHS_CHECKED = 8;

/* Typed loosely: playwright-core is loaded at run time (the suite skips without it). */
interface Locator {
  count(): Promise<number>;
  getAttribute(name: string): Promise<string | null>;
  textContent(): Promise<string | null>;
  click(options?: { timeout?: number }): Promise<void>;
  fill(value: string, options?: { timeout?: number }): Promise<void>;
}
interface Page {
  goto(url: string): Promise<unknown>;
  waitForSelector(selector: string, options?: { timeout?: number; state?: string }): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  locator(selector: string): Locator;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}
interface Browser {
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

/** What the page showed and when (page clock: the same host clock as the test's). */
interface PageSample {
  at: number;
  points: number;
  seeds: Array<{ seedId: string; stage: string }>;
}

/** A bus event as the test's subscription saw it. */
interface BusEvent {
  at: number;
  type: string;
  runId?: string;
  data: Record<string, unknown>;
}

/**
 * Installs, in the page, a recorder of the curve's point count and the seed
 * table's stages: a sample with Date.now() at every DOM change that alters them.
 * Plain JavaScript source: a compiled function would carry tsx's helpers into the page.
 */
const RECORDER = `(() => {
  window.__samples = [];
  let last = '';
  const sample = () => {
    const chart = document.getElementById('chart-accuracy');
    const points = Number(chart?.dataset.points ?? 0);
    const seeds = [...document.querySelectorAll('#seeds tbody tr')].map((tr) => ({ seedId: tr.children[1]?.textContent ?? '', stage: tr.getAttribute('data-stage') ?? '' }));
    const key = JSON.stringify([points, seeds]);
    if (key === last) return;
    last = key;
    window.__samples.push({ at: Date.now(), points, seeds });
  };
  new MutationObserver(sample).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-points', 'data-stage'] });
  sample();
  return true;
})()`;


describe('dashboard in chromium: live updates, actions and a killed node (integration)', function () {
  this.timeout(300_000);
  const prefix = `bl${randomBytes(4).toString('hex')}`;
  const heartbeatMs = 500;
  const configFile = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs, bucket: `${prefix}_nodes` } });
  const processes: DaemonProcess[] = [];
  const nodes = new Map<string, DaemonProcess>();
  const bus: BusEvent[] = [];
  let browser: Browser | undefined;
  let page: Page | undefined;
  let nc: NatsConnection | undefined;
  let url = '';
  const pageErrors: string[] = [];

  before(async function () {
    const launchChromium = await chromiumOrSkip<Browser>(this);
    await requireService(this, 'nats');
    nc = await connect({ servers: NATS_URL });
    // When each event reached the bus, as any subscriber sees it.
    nc.subscribe(`${prefix}.evt.>`, {
      callback: (_error, msg) => {
        try {
          const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as { type: string; runId?: string; data: Record<string, unknown> };
          bus.push({ at: Date.now(), type: envelope.type, ...(envelope.runId === undefined ? {} : { runId: envelope.runId }), data: envelope.data });
        } catch {
          // not an event envelope
        }
      },
    });
    await nc.flush();
    nodes.set('trainer-1', new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'trainer-1', '--roles', 'trainer', '--config', configFile]));
    nodes.set('library-1', new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'library-1', '--roles', 'library,controller,compiler,validator', '--config', configFile]));
    processes.push(...nodes.values());
    await Promise.all(processes.map((p) => p.waitForMessage('node ready', 120_000)));
    const dashboard = new DaemonProcess(['dashboard', '--nats', NATS_URL, '--port', '0', '--prefix', prefix, '--nodes-bucket', `${prefix}_nodes`, '--token', TOKEN]);
    processes.push(dashboard);
    url = await dashboardUrl(dashboard);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
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

  const runStatus = async (): Promise<string> => {
    const reply = await (nc as NatsConnection).request(`${prefix}.ctl.run.${RUN}.status`, new TextEncoder().encode('{}'), { timeout: 10_000 });
    const body = JSON.parse(new TextDecoder().decode(reply.data)) as { ok: boolean; data?: { state?: string }; state?: string };
    return body.data?.state ?? body.state ?? `(no state: ${JSON.stringify(body)})`;
  };

  it('lists both nodes; the curve gains a point within 1 s of each epoch event; a seed stage change shows within 1 s', async () => {
    const p = page as Page;
    await p.goto(`${url}?view=runs&run=${RUN}`);
    await p.waitForSelector('[data-node-id="trainer-1"]', { state: 'attached', timeout: 30_000 });
    await p.waitForSelector('[data-node-id="library-1"]', { state: 'attached', timeout: 30_000 });
    expect(await p.locator('[data-node-id="trainer-1"]').getAttribute('data-status')).to.equal('ready');
    expect(await p.locator('[data-node-id="library-1"]').getAttribute('data-status')).to.equal('ready');
    await p.waitForSelector('#status[data-stale="false"]', { timeout: 30_000 });
    expect(await p.evaluate(RECORDER)).to.equal(true);

    const reply = await (nc as NatsConnection).request(`${prefix}.ctl.run.start`, new TextEncoder().encode(JSON.stringify({ spec: quickSpiralsSpec(400), runId: RUN })), { timeout: 30_000 });
    expect((JSON.parse(new TextDecoder().decode(reply.data)) as { ok: boolean }).ok, new TextDecoder().decode(reply.data)).to.equal(true);

    const ofRun = (type: string) => (): BusEvent[] => bus.filter((e) => e.type === type && (e.runId === undefined || e.runId === RUN));
    const epochs = ofRun('tolaria.epoch.completed');
    const transitions = ofRun('kasmina.seed.transitioned');
    await untilShown(() => epochs().length, (n) => n >= EPOCHS_CHECKED, 180_000, `${EPOCHS_CHECKED} epoch events`);
    await untilShown(() => transitions().length, (n) => n >= 1, 180_000, 'a seed transition event');
    // Give the page its second to catch up with the last events observed.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const sampledAt = Date.now();
    const samples = (await p.evaluate('window.__samples')) as PageSample[];

    // A negative lag: the test's own subscriber got the event after the page did (-250 ms bounds it, a sanity check).
    // Each epoch event: the first page state whose curve has that many points.
    const epochLags = epochs()
      .filter((e) => Number(e.data['epoch']) <= EPOCHS_CHECKED)
      .map((e) => {
        const epoch = Number(e.data['epoch']);
        const shown = samples.find((s) => s.points >= epoch);
        return { epoch, lag: shown === undefined ? Number.POSITIVE_INFINITY : shown.at - e.at };
      });
    expect(epochLags.map((l) => l.epoch)).to.include.members([...Array(EPOCHS_CHECKED).keys()].map((i) => i + 1));
    const lagText = epochLags.map((l) => `${l.epoch}:${l.lag}`).join(', ');
    for (const { lag } of epochLags) expect(lag, `curve lag per epoch (ms): ${lagText}`).to.be.within(-250, 1000);

    // Each seed transition seen so far: the first page state (after it) with that seed at that stage or a
    // later one it went on to (a page that draws once a frame may skip a stage the seed left within the frame).
    // Those that have had their second before the page was read.
    const seenTransitions = transitions().filter((e) => e.at <= sampledAt - 1000);
    const seedLags = seenTransitions.map((e) => {
      const seedId = String(e.data['seedId']);
      const reached = new Set(transitions().filter((t) => String(t.data['seedId']) === seedId && t.at >= e.at).map((t) => String(t.data['to'])));
      const shown = samples.find((s) => s.at >= e.at - 250 && s.seeds.some((row) => row.seedId === seedId && reached.has(row.stage)));
      return { what: `${seedId}→${String(e.data['to'])}`, lag: shown === undefined ? Number.POSITIVE_INFINITY : shown.at - e.at };
    });
    expect(seedLags.length).to.be.greaterThan(0);
    const seedText = seedLags.map((l) => `${l.what}:${l.lag}`).join(', ');
    for (const { lag } of seedLags) expect(lag, `seed lag (ms): ${seedText}`).to.be.within(-250, 1000);
    console.log(`      curve lag per epoch (ms): ${lagText}`);
    console.log(`      seed stage lag (ms): ${seedText}`);
  });

  it('refuses a pause without the token, with an error in the page; with the token typed in, the run pauses and the action is recorded', async () => {
    const p = page as Page;
    await p.waitForSelector('#run-detail button[data-action="pause"]', { timeout: 30_000 });
    await p.locator('#action-reason').fill('browser live test');
    await p.locator('#run-detail button[data-action="pause"]').click();
    await p.waitForSelector('#action-result[data-ok="false"]', { timeout: 30_000 });
    const refusal = (await p.locator('#action-result').textContent()) ?? '';
    expect(refusal).to.match(/^401 ESPER_UNAUTHORIZED: /);
    expect(await runStatus()).to.not.equal('paused');

    await p.locator('#token').fill(TOKEN);
    await p.locator('#run-detail button[data-action="pause"]').click();
    await p.waitForSelector('#action-result[data-ok="true"]', { timeout: 30_000 });
    expect(await p.locator('#action-result').textContent()).to.equal('pause: done');
    await untilShown(runStatus, (s) => s === 'paused', 60_000, 'run status paused (nats req)');
    await p.waitForSelector('#run-state:text-is("paused")', { timeout: 30_000 });

    const actions = (): BusEvent[] => bus.filter((e) => e.type === 'nissa.operator.action' && e.data['runId'] === RUN);
    await untilShown(() => actions().length, (n) => n >= 1, 30_000, 'nissa.operator.action on the events stream');
    for (const a of actions()) {
      expect(a.data['verb']).to.equal('pause');
      expect(a.data['ok'], JSON.stringify(a.data)).to.equal(true);
      expect(a.data['reason']).to.equal('browser live test');
    }
    expect(actions().some((a) => /dashboard/.test(String(a.data['via']))), JSON.stringify(actions().map((a) => a.data))).to.equal(true);
    // The audit record is in the page's event tail too.
    await p.waitForSelector('#events tr[data-type="nissa.operator.action"]', { state: 'attached', timeout: 30_000 });
    expect(await p.locator('body').textContent()).to.not.include(TOKEN);
  });

  it('shows a node killed with SIGKILL as down in the node list', async () => {
    const p = page as Page;
    const victim = 'library-1';
    const killedAt = Date.now();
    nodes.get(victim)?.kill('SIGKILL');
    await p.waitForSelector(`[data-node-id="${victim}"][data-status="down"]`, { state: 'attached', timeout: 30_000 });
    const downAfter = Date.now() - killedAt;
    expect(await p.locator(`[data-node-id="${victim}"]`).getAttribute('aria-label')).to.equal(`node ${victim}: down`);
    expect(await p.locator('[data-node-id="trainer-1"]').getAttribute('data-status')).to.equal('ready');
    expect(downAfter, 'down within a few heartbeats').to.be.below(3 * heartbeatMs + 5000);
    console.log(`      ${victim} SIGKILLed: shown down in the page after ${downAfter} ms (heartbeat ${heartbeatMs} ms)`);
    expect(pageErrors, pageErrors.join('\n')).to.deep.equal([]);
    await (nc as NatsConnection).request(`${prefix}.ctl.run.${RUN}.stop`, new TextEncoder().encode('{}'), { timeout: 30_000 }).catch(() => undefined);
  });
});
