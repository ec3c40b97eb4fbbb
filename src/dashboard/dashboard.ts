/**
 * Puts a dashboard together: the model, the SSE hub fed by it, an upstream
 * (a NATS cluster or an embedded run) and the HTTP server.
 */
import type { ConnectionOptions } from 'nats';
import type { RunResults } from '../contracts/run.ts';
import type { Logger } from '../infra/logger.ts';
import type { PageTheme } from './assets.ts';
import { EmbeddedFeed } from './embedded-feed.ts';
import { NatsFeed } from './nats-feed.ts';
import { parseDashboardOptions, type DashboardServerOptionsInput } from './options.ts';
import { DashboardServer } from './server.ts';
import { SseHub } from './sse-hub.ts';
import type { Upstream } from './upstream.ts';
import { ViewState } from './view-state.ts';

/** A running dashboard. */
export interface Dashboard {
  /** Where the page is served, e.g. `http://127.0.0.1:8642/`. */
  readonly url: string;
  readonly server: DashboardServer;
  readonly view: ViewState;
  readonly hub: SseHub;
  close(): Promise<void>;
}

async function assemble(options: DashboardServerOptionsInput, view: ViewState, hub: SseHub, upstream: Upstream, theme: PageTheme, logger: Logger): Promise<Dashboard> {
  const parsed = parseDashboardOptions(options);
  view.actions = parsed.token !== undefined && upstream.control !== undefined;
  view.listen((event, data) => hub.broadcast(event, data));
  const server = new DashboardServer({ options: parsed, view, hub, upstream, theme, logger });
  const url = await server.listen();
  await upstream.start();
  return {
    url,
    server,
    view,
    hub,
    close: async () => {
      await upstream.stop();
      await server.close();
    },
  };
}

/** What {@link startClusterDashboard} needs. */
export interface ClusterDashboardOptions {
  server: DashboardServerOptionsInput;
  connection: ConnectionOptions;
  prefix?: string;
  nodesBucket?: string;
  historyMs?: number;
  theme: PageTheme;
  renderReport?: (results: RunResults) => string;
  logger: Logger;
}

/** `esper dashboard`: follows the cluster at `connection` and serves the page. */
export async function startClusterDashboard(options: ClusterDashboardOptions): Promise<Dashboard> {
  const parsed = parseDashboardOptions(options.server);
  const view = new ViewState({ mode: 'cluster' });
  const hub = new SseHub({ maxClients: parsed.maxClients, maxQueuedMessages: parsed.maxQueuedMessages, keepAliveMs: parsed.keepAliveMs });
  const feed = new NatsFeed({
    connection: options.connection,
    view,
    hub,
    logger: options.logger,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.nodesBucket === undefined ? {} : { nodesBucket: options.nodesBucket }),
    ...(options.historyMs === undefined ? {} : { historyMs: options.historyMs }),
    ...(options.renderReport === undefined ? {} : { renderReport: options.renderReport }),
  });
  return assemble(options.server, view, hub, feed, options.theme, options.logger);
}

/** What {@link startEmbeddedDashboard} needs. */
export interface EmbeddedDashboardOptions {
  server: DashboardServerOptionsInput;
  runId: string;
  maxEpochs: number;
  reportFile?: string;
  version: string;
  theme: PageTheme;
  logger: Logger;
}

/** `esper run --dashboard`: serves the page for the run in this process; feed its events to `feed.event`. */
export async function startEmbeddedDashboard(options: EmbeddedDashboardOptions): Promise<Dashboard & { feed: EmbeddedFeed }> {
  const parsed = parseDashboardOptions(options.server);
  const view = new ViewState({ mode: 'embedded' });
  const hub = new SseHub({ maxClients: parsed.maxClients, maxQueuedMessages: parsed.maxQueuedMessages, keepAliveMs: parsed.keepAliveMs });
  const feed = new EmbeddedFeed({ view, hub, runId: options.runId, maxEpochs: options.maxEpochs, version: options.version, ...(options.reportFile === undefined ? {} : { reportFile: options.reportFile }) });
  const dashboard = await assemble(options.server, view, hub, feed, options.theme, options.logger);
  return { ...dashboard, feed };
}
