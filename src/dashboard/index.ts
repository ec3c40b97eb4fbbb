/**
 * The live dashboard (issue 14, docs/dashboard.md): one page showing the
 * cluster's nodes, its runs as they train and the kernel library, pushed to
 * any number of browsers over SSE from one set of NATS subscriptions.
 *
 * @example
 * const dashboard = await startClusterDashboard({ server: { port: 8642 }, connection: { servers: 'nats://127.0.0.1:4222' }, theme, logger });
 * console.log(dashboard.url);
 *
 * @module
 */
export { startClusterDashboard, startEmbeddedDashboard, type ClusterDashboardOptions, type Dashboard, type EmbeddedDashboardOptions } from './dashboard.ts';
export { themeModule, type PageTheme } from './assets.ts';
export { DEFAULT_DASHBOARD_HOST, DEFAULT_DASHBOARD_PORT, parseDashboardOptions, type DashboardServerOptions, type DashboardServerOptionsInput } from './options.ts';
export { TOKEN_HEADER, tokenMatches } from './token.ts';
export type { EmbeddedFeed } from './embedded-feed.ts';
