/**
 * The dashboard's HTTP server (node:http, no framework): the page and its
 * assets, the SSE stream, a JSON snapshot, finished runs' report.html, and
 * the operator actions (token required). Every request is parsed strictly;
 * anything wrong is answered with a coded JSON error and never crashes the
 * process. Host and Origin are checked against the bound address, so a
 * page on another site (or a DNS-rebinding trick) cannot read or steer it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from '../infra/logger.ts';
import { toEsperError } from '../errors/index.ts';
import { runAction, seedAction, type ControlAction } from './actions.ts';
import { loadAssets, type Asset, type PageTheme } from './assets.ts';
import { HttpError, statusOfCode } from './http-error.ts';
import type { DashboardServerOptions } from './options.ts';
import { allowQuery, parseTarget, readJsonBody, type RequestTarget } from './request-parser.ts';
import { formatSse, type SseHub } from './sse-hub.ts';
import { TOKEN_HEADER, tokenMatches } from './token.ts';
import type { Upstream } from './upstream.ts';
import type { ViewState } from './view-state.ts';

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
} as const;

const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

export interface DashboardServerDeps {
  options: Readonly<DashboardServerOptions>;
  view: ViewState;
  hub: SseHub;
  upstream: Upstream;
  theme: PageTheme;
  logger: Logger;
}

/** One action the server sent upstream (for logs and tests). */
export interface ActionRecord {
  action: ControlAction;
  ok: boolean;
  code?: string;
  remote: string | undefined;
}

export class DashboardServer {
  readonly #d: DashboardServerDeps;
  readonly #assets: Map<string, Asset>;
  readonly #server: Server;
  #address: AddressInfo | undefined;

  constructor(deps: DashboardServerDeps) {
    this.#d = deps;
    this.#assets = loadAssets(deps.theme);
    this.#server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
      this.#handle(req, res).catch((error: unknown) => this.#fail(res, error));
    });
    // A malformed request line or headers: answer 400 and close, never throw.
    this.#server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"ok":false,"error":{"code":"ESPER_SCHEMA_VIOLATION","message":"malformed HTTP request","retryable":false}}');
      else socket.destroy();
    });
  }

  /** Binds; resolves with the URL the page is served at. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#d.options.port, this.#d.options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#address = this.#server.address() as AddressInfo;
    return this.url;
  }

  get url(): string {
    const address = this.#address;
    if (address === undefined) throw new Error('dashboard server not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}/`;
  }

  get port(): number {
    return this.#address?.port ?? 0;
  }

  async close(): Promise<void> {
    this.#d.hub.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = parseTarget(req.url);
    this.#checkHost(req);
    const [first, second, third, fourth, fifth, sixth, ...rest] = target.segments;
    const method = req.method ?? '';
    if (method === 'POST') {
      if (first === 'api' && second === 'runs' && third !== undefined && fourth !== undefined && fifth === undefined) {
        return this.#act(req, res, target, (body) => runAction(third, fourth, body));
      }
      if (first === 'api' && second === 'runs' && third !== undefined && fourth === 'seeds' && fifth !== undefined && sixth !== undefined && rest.length === 0) {
        return this.#act(req, res, target, (body) => seedAction(third, fifth, sixth, body));
      }
      throw this.#notFound(target);
    }
    if (method !== 'GET') throw new HttpError(405, 'ESPER_UNKNOWN_VERB', `method ${method.slice(0, 16)} not allowed`);
    if (first === undefined || (first === 'index.html' && second === undefined)) {
      allowQuery(target, ['run', 'view']);
      return this.#asset(res, 'index.html', { 'content-security-policy': PAGE_CSP, 'cache-control': 'no-cache' });
    }
    if (first === 'assets' && second !== undefined && third === undefined) {
      allowQuery(target, ['v']);
      if (second === 'index.html' || !this.#assets.has(second)) throw this.#notFound(target);
      return this.#asset(res, second, { 'cache-control': 'no-cache' });
    }
    if (first === 'events' && second === undefined) {
      allowQuery(target, []);
      return this.#sse(req, res);
    }
    if (first === 'api' && second === 'state' && third === undefined) {
      allowQuery(target, []);
      return this.#json(res, 200, { ok: true, data: { ...this.#d.view.snapshot(), status: this.#d.hub.status } });
    }
    if (first === 'api' && second === 'health' && third === undefined) {
      allowQuery(target, []);
      return this.#json(res, 200, { ok: true, data: { status: this.#d.hub.status, ...this.#d.hub.stats } });
    }
    if (first === 'api' && second === 'runs' && third !== undefined && fourth === undefined) {
      allowQuery(target, []);
      const run = this.#d.view.run(third);
      if (run === undefined) throw new HttpError(404, 'ESPER_NOT_FOUND', `no run ${JSON.stringify(third)} is known to this dashboard`);
      return this.#json(res, 200, { ok: true, data: run });
    }
    if (first === 'runs' && second !== undefined && third === 'report.html' && fourth === undefined) {
      allowQuery(target, []);
      const html = await this.#d.upstream.report?.(second);
      if (html === undefined) throw new HttpError(404, 'ESPER_NOT_FOUND', `no report of run ${JSON.stringify(second)} is reachable (not finished, or its results are not stored)`);
      return this.#send(res, 200, 'text/html; charset=utf-8', Buffer.from(html), { 'content-security-policy': REPORT_CSP });
    }
    throw this.#notFound(target);
  }

  /** DNS rebinding: the Host header must name this server (or loopback when bound there); a cross-site Origin is refused. */
  #checkHost(req: IncomingMessage): void {
    const host = (req.headers.host ?? '').toLowerCase();
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0] ?? '';
    const bound = this.#d.options.host.toLowerCase();
    const loopback = ['127.0.0.1', 'localhost', '[::1]'];
    const wildcard = bound === '0.0.0.0' || bound === '::';
    if (!wildcard && name !== bound && name !== `[${bound}]` && !loopback.includes(name)) {
      throw new HttpError(421, 'ESPER_SCHEMA_VIOLATION', `Host ${JSON.stringify(host.slice(0, 100))} is not this dashboard`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      // `null` is what sandboxed frames and file: pages send: never this page.
      if (origin === 'null') throw new HttpError(403, 'ESPER_UNAUTHORIZED', 'requests from an opaque origin are refused');
      let originHost: string;
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        throw new HttpError(403, 'ESPER_UNAUTHORIZED', 'malformed Origin header');
      }
      if (originHost !== host) throw new HttpError(403, 'ESPER_UNAUTHORIZED', `cross-origin request from ${JSON.stringify(origin.slice(0, 100))} refused`);
    }
  }

  async #act(req: IncomingMessage, res: ServerResponse, target: RequestTarget, build: (body: unknown) => ControlAction): Promise<void> {
    allowQuery(target, []);
    const control = this.#d.upstream.control?.bind(this.#d.upstream);
    if (control === undefined) throw new HttpError(403, 'ESPER_UNAVAILABLE', 'this dashboard cannot steer (an embedded run): actions are off');
    if (this.#d.options.token === undefined) throw new HttpError(403, 'ESPER_UNAUTHORIZED', 'this dashboard is read-only (started without --token or ESPER_DASHBOARD_TOKEN)');
    if (!tokenMatches(this.#d.options.token, req.headers[TOKEN_HEADER])) {
      req.resume();
      this.#d.logger.warn({ remote: req.socket.remoteAddress, path: target.path }, 'dashboard: action refused (no or wrong token)');
      throw new HttpError(401, 'ESPER_UNAUTHORIZED', `operator token missing or wrong (header ${TOKEN_HEADER})`);
    }
    const body = await readJsonBody(req, this.#d.options.bodyLimitBytes);
    const action = build(body);
    const reply = await control(action.path, action.payload);
    const remote = req.socket.remoteAddress ?? 'unknown';
    this.#d.logger.info({ remote, subject: action.path, ok: reply.ok, ...(reply.ok ? {} : { code: reply.error.code }) }, 'dashboard: operator action');
    const reason = (action.payload as { reason?: unknown }).reason;
    await this.#d.upstream
      .audit?.({
        subject: action.path,
        verb: action.verb,
        runId: action.runId,
        via: `dashboard@${hostname()} from ${remote}`,
        ok: reply.ok,
        ...(action.seedId === undefined ? {} : { seedId: action.seedId }),
        ...(typeof reason === 'string' ? { reason } : {}),
        ...(reply.ok ? {} : { code: reply.error.code.slice(0, 64) }),
      })
      .catch((error: unknown) => this.#d.logger.warn({ err: error, subject: action.path }, 'dashboard: operator action not recorded in the event stream'));
    this.#json(res, reply.ok ? 200 : statusOfCode(reply.error.code), reply);
  }

  #sse(req: IncomingMessage, res: ServerResponse): void {
    const hub = this.#d.hub;
    if (!hub.hasRoom) throw new HttpError(503, 'ESPER_UNAVAILABLE', 'too many dashboard clients; try again later');
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    const remove = hub.add(
      {
        write: (chunk) => res.write(chunk),
        onDrain: (listener) => res.on('drain', listener),
        end: () => res.end(),
      },
      ['retry: 2000\n\n', formatSse('snapshot', this.#d.view.snapshot())],
    );
    res.on('close', () => remove?.());
  }

  #asset(res: ServerResponse, name: string, headers: Record<string, string>): void {
    const asset = this.#assets.get(name);
    if (asset === undefined) throw new HttpError(404, 'ESPER_NOT_FOUND', `no asset ${name}`);
    this.#send(res, 200, asset.type, asset.body, headers);
  }

  #notFound(target: RequestTarget): HttpError {
    return new HttpError(404, 'ESPER_NOT_FOUND', `no route ${JSON.stringify(target.path.slice(0, 200))}`);
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    this.#send(res, status, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(body)), { 'cache-control': 'no-store' });
  }

  #send(res: ServerResponse, status: number, type: string, body: Buffer, headers: Record<string, string> = {}): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-type': type, 'content-length': body.length });
    res.end(body);
  }

  #fail(res: ServerResponse, error: unknown): void {
    try {
      const status = error instanceof HttpError ? error.status : 500;
      const esper = toEsperError(error);
      if (status >= 500) this.#d.logger.error({ err: error }, 'dashboard: request failed');
      const wire = esper.toWire();
      this.#json(res, status, { ok: false, error: status === 500 ? { code: wire.code, message: 'internal error (logged)', retryable: false } : wire });
    } catch {
      res.destroy();
    }
  }
}
