import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { expect } from 'chai';
import { createLogger } from '../../src/infra/logger.ts';
import { parseDashboardOptions } from '../../src/dashboard/options.ts';
import { DashboardServer } from '../../src/dashboard/server.ts';
import { SseHub } from '../../src/dashboard/sse-hub.ts';
import type { ControlReply, Upstream } from '../../src/dashboard/upstream.ts';
import { ViewState } from '../../src/dashboard/view-state.ts';
import { DASHBOARD_THEME } from '../../src/cli/dashboard.ts';

const TOKEN = 'operator-token-123';

class FakeUpstream implements Upstream {
  readonly calls: Array<{ path: string; payload: unknown }> = [];
  reply: ControlReply = { ok: true, data: { state: 'running' } };
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  control(path: string, payload: unknown): Promise<ControlReply> {
    this.calls.push({ path, payload });
    return Promise.resolve(this.reply);
  }
  report(runId: string): Promise<string | undefined> {
    return Promise.resolve(runId === 'done' ? '<html>report</html>' : undefined);
  }
}

/** Sends raw bytes and resolves with whatever comes back before the socket closes (or 2 s). */
function raw(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', () => undefined);
    socket.write(bytes);
    socket.end();
  });
}

describe('DashboardServer', function () {
  this.timeout(60_000);
  let server: DashboardServer;
  let upstream: FakeUpstream;
  let base: string;

  async function start(options: Record<string, unknown>): Promise<void> {
    upstream = new FakeUpstream();
    const view = new ViewState({ mode: 'cluster' });
    const hub = new SseHub({ keepAliveMs: 0 });
    view.listen((event, data) => hub.broadcast(event, data));
    view.actions = true;
    server = new DashboardServer({ options: parseDashboardOptions({ port: 0, ...options }), view, hub, upstream, theme: DASHBOARD_THEME, logger: createLogger({ level: 'silent' }) });
    base = (await server.listen()).replace(/\/$/, '');
  }

  afterEach(async () => {
    await server.close();
  });

  it('serves the page with a strict CSP, its assets, and 404s unknown routes as coded JSON', async () => {
    await start({ token: TOKEN });
    const page = await fetch(`${base}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-security-policy')).to.include("script-src 'self'");
    const html = await page.text();
    expect(html).to.include('/assets/app.js');
    expect(html).to.not.include(TOKEN);
    for (const asset of ['app.js', 'charts.js', 'style.css', 'theme.js']) expect((await fetch(`${base}/assets/${asset}`)).status, asset).to.equal(200);
    const missing = await fetch(`${base}/no/such/route`);
    expect(missing.status).to.equal(404);
    expect(await missing.json()).to.deep.include({ ok: false });
    const bad = await fetch(`${base}/api/state?x=%zz`);
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).to.equal('ESPER_SCHEMA_VIOLATION');
    expect((await fetch(`${base}/api/state`, { method: 'DELETE' })).status).to.equal(405);
    expect((await fetch(`${base}/runs/done/report.html`)).status).to.equal(200);
    expect((await fetch(`${base}/runs/running/report.html`)).status).to.equal(404);
  });

  it('refuses actions without the token (401) or with a wrong one, and sends them with it on the control subject', async () => {
    await start({ token: TOKEN });
    const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const none = await post('/api/runs/r1/pause', {});
    expect(none.status).to.equal(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).to.equal('ESPER_UNAUTHORIZED');
    expect((await post('/api/runs/r1/pause', {}, { 'x-esper-token': `${TOKEN}x` })).status).to.equal(401);
    expect(upstream.calls).to.deep.equal([]);

    const ok = await post('/api/runs/r1/pause', { reason: 'look' }, { 'x-esper-token': TOKEN });
    expect(ok.status).to.equal(200);
    expect(await ok.json()).to.deep.equal({ ok: true, data: { state: 'running' } });
    expect(await (await post('/api/runs/r1/seeds/h1/prune', { reason: 'bad seed' }, { 'x-esper-token': TOKEN })).json()).to.include({ ok: true });
    expect(upstream.calls).to.deep.equal([
      { path: 'run.r1.pause', payload: { reason: 'look' } },
      { path: 'seed.r1.h1.prune', payload: { reason: 'bad seed' } },
    ]);

    // Validated like the node validates: prune needs a reason, rollback too; unknown verbs and fields are refused.
    expect((await post('/api/runs/r1/seeds/h1/prune', {}, { 'x-esper-token': TOKEN })).status).to.equal(400);
    expect((await post('/api/runs/r1/rollback', {}, { 'x-esper-token': TOKEN })).status).to.equal(400);
    expect((await post('/api/runs/r1/pause', { evil: 1 }, { 'x-esper-token': TOKEN })).status).to.equal(400);
    expect((await post('/api/runs/r1/germinate', {}, { 'x-esper-token': TOKEN })).status).to.equal(404);
    expect((await post('/api/runs/r1/seeds/h1/advance', {}, { 'x-esper-token': TOKEN })).status).to.equal(404);
    expect(upstream.calls).to.have.length(2);

    // An error reply keeps its code and maps to an HTTP status.
    upstream.reply = { ok: false, error: { code: 'ESPER_NOT_FOUND', message: 'no run', retryable: false } };
    const notFound = await post('/api/runs/r9/stop', {}, { 'x-esper-token': TOKEN });
    expect(notFound.status).to.equal(404);
    expect(((await notFound.json()) as { error: { code: string } }).error.code).to.equal('ESPER_NOT_FOUND');
  });

  it('is read-only without a token, whatever header is sent', async () => {
    await start({});
    const response = await fetch(`${base}/api/runs/r1/pause`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-esper-token': 'anything-at-all' }, body: '{}' });
    expect(response.status).to.equal(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).to.equal('ESPER_UNAUTHORIZED');
    expect(upstream.calls).to.deep.equal([]);
  });

  it('refuses forged requests: foreign Host (DNS rebinding), cross-site Origin, oversize and non-JSON bodies', async () => {
    await start({ token: TOKEN, bodyLimitBytes: 1024 });
    const port = server.port;
    const rebound = await raw(port, 'GET /api/state HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    expect(rebound).to.match(/^HTTP\/1\.1 421/);
    const crossSite = await fetch(`${base}/api/runs/r1/pause`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json', 'x-esper-token': TOKEN }, body: '{}' });
    expect(crossSite.status).to.equal(403);
    const opaque = await raw(port, `POST /api/runs/r1/pause HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: null\r\nX-Esper-Token: ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(opaque).to.match(/^HTTP\/1\.1 403/);
    const big = await fetch(`${base}/api/runs/r1/pause`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-esper-token': TOKEN }, body: JSON.stringify({ reason: 'x'.repeat(5000) }) });
    expect(big.status).to.equal(413);
    const text = await fetch(`${base}/api/runs/r1/pause`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-esper-token': TOKEN }, body: 'pause please' });
    expect(text.status).to.equal(415);
    expect(upstream.calls).to.deep.equal([]);
  });

  it('never crashes on random bytes, malformed request lines and random targets (fuzz); still serves afterwards', async () => {
    await start({ token: TOKEN });
    const port = server.port;
    const answers: string[] = [];
    for (let i = 0; i < 40; i++) answers.push(await raw(port, randomBytes(1 + (i * 37) % 900)));
    answers.push(await raw(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n'));
    answers.push(await raw(port, `GET /${'%'.repeat(3000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    answers.push(await raw(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`));
    for (const answer of answers) if (answer !== '') expect(answer).to.match(/^HTTP\/1\.1 4\d\d/);
    const alphabet = 'abc/?&=%#.-_~+09\u00e9';
    for (let i = 0; i < 300; i++) {
      let target = '/';
      for (const byte of randomBytes(1 + (i % 40))) target += alphabet[byte % alphabet.length] ?? '';
      const response = await raw(port, `GET ${encodeURI(target).replace(/%25/g, '%')} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(response, target).to.match(/^HTTP\/1\.1 (200|4\d\d)/);
    }
    const state = await fetch(`${base}/api/state`);
    expect(state.status).to.equal(200);
  });

  it('streams a snapshot then updates over SSE', async () => {
    await start({});
    const controller = new AbortController();
    const response = await fetch(`${base}/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).to.include('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text.indexOf('event: snapshot')).to.be.lessThan(text.indexOf('event: status'));
    controller.abort();
  });
});
