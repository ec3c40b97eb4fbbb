/**
 * `esper dashboard --nats URL [--port N] [--host H] [--token T]` (DESIGN §9,
 * docs/dashboard.md): serves the live page of a cluster until SIGINT/SIGTERM.
 * The page's colours and formatters, and finished runs' report.html, come
 * from report.html's own code (./report/), injected into the dashboard.
 */
import type { Command } from 'commander';
import { NatsConnectionConfigSchema } from '../config/nats.ts';
import type { NodeConfig } from '../config/schema.ts';
import type { DaemonSidecar } from '../node/daemon.ts';
import { DEFAULT_SUBJECT_PREFIX } from '../contracts/subjects.ts';
import { formatZodIssues } from '../contracts/index.ts';
import { ConfigError } from '../errors/index.ts';
import { createLogger } from '../infra/logger.ts';
import { toNatsConnectionOptions } from '../node/nats-options.ts';
import { DEFAULT_DASHBOARD_HOST, DEFAULT_DASHBOARD_PORT, parseDashboardOptions, startClusterDashboard, type DashboardServerOptionsInput, type PageTheme } from '../dashboard/index.ts';
import { connectionConfig } from './ctl.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { printError, type CliOutput } from './output.ts';
import { formatCount, formatDeltaPp, formatDuration, formatPercent } from './report/format.ts';
import { renderReport } from './report/report-html.ts';
import { STAGE_COLORS } from './report/seed-bands.ts';
import { SERIES_COLORS } from './report/svg-chart.ts';

/** The page's theme: report.html's stage and series colours and formatters. */
export const DASHBOARD_THEME: PageTheme = {
  stageColors: STAGE_COLORS,
  seriesColors: SERIES_COLORS,
  formatters: { formatPercent, formatCount, formatDuration, formatDeltaPp },
};

/** Flags of `esper dashboard` as commander gives them (strings). */
export interface DashboardFlags {
  nats?: string;
  user?: string;
  password?: string;
  natsToken?: string;
  creds?: string;
  prefix?: string;
  nodesBucket?: string;
  port?: string;
  host?: string;
  token?: string;
  historyHours?: string;
}

/** Parses `--port`-like flags: a whole number in range, or a problem. */
export function wholeNumberFlag(name: string, raw: string | undefined, min: number, max: number, problems: string[]): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}: a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return value;
}

/** Server options from flags and env (`ESPER_DASHBOARD_TOKEN`); problems are appended. */
export function dashboardServerFlags(flags: Pick<DashboardFlags, 'port' | 'host' | 'token'>, env: NodeJS.ProcessEnv, problems: string[]): DashboardServerOptionsInput {
  const port = wholeNumberFlag('--port', flags.port, 0, 65535, problems);
  const token = flags.token ?? env['ESPER_DASHBOARD_TOKEN'];
  return {
    host: flags.host ?? DEFAULT_DASHBOARD_HOST,
    port: port ?? DEFAULT_DASHBOARD_PORT,
    ...(token === undefined || token === '' ? {} : { token }),
  };
}

/** Resolves when the process is asked to stop. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/** `esper dashboard`: resolves to the exit code once stopped. */
export async function runDashboardCommand(flags: DashboardFlags, output: CliOutput, env: NodeJS.ProcessEnv = process.env, stop: () => Promise<unknown> = untilSignal): Promise<ExitCode> {
  const problems: string[] = [];
  const server = dashboardServerFlags(flags, env, problems);
  const historyHours = wholeNumberFlag('--history-hours', flags.historyHours, 0, 24 * 30, problems);
  let connection;
  try {
    // --token is the dashboard's operator token; the NATS token is --nats-token (or ESPER_NATS_TOKEN).
    const nats = { nats: flags.nats, user: flags.user, password: flags.password, creds: flags.creds, token: flags.natsToken };
    const natsFlags = Object.fromEntries(Object.entries(nats).filter(([, v]) => v !== undefined));
    const parsed = NatsConnectionConfigSchema.safeParse(connectionConfig(natsFlags, env, { name: 'esper-dashboard', reconnectAttempts: -1 }));
    if (!parsed.success) problems.push(...formatZodIssues(parsed.error));
    else connection = toNatsConnectionOptions(parsed.data);
    parseDashboardOptions(server, problems);
    if (problems.length > 0 || connection === undefined) throw new ConfigError('bad dashboard options', problems);
  } catch (error) {
    printError(output, error);
    return EXIT.USAGE;
  }
  const envLevel = env['ESPER_LOG_LEVEL'];
  const logger = createLogger({ level: envLevel === undefined || envLevel === '' ? 'info' : (envLevel as 'info') });
  let dashboard;
  try {
    dashboard = await startClusterDashboard({
      server,
      connection,
      prefix: flags.prefix ?? DEFAULT_SUBJECT_PREFIX,
      ...(flags.nodesBucket === undefined ? {} : { nodesBucket: flags.nodesBucket }),
      ...(historyHours === undefined ? {} : { historyMs: historyHours * 3_600_000 }),
      theme: DASHBOARD_THEME,
      renderReport,
      logger,
    });
  } catch (error) {
    printError(output, error);
    return EXIT.FAILED;
  }
  output.out(`dashboard: ${dashboard.url} (${server.token === undefined ? 'read-only: no --token' : 'operator actions need the token'})`);
  await stop();
  await dashboard.close();
  return EXIT.OK;
}

/** Adds `esper dashboard` to the program. */
export function registerDashboardCommand(program: Command, output: CliOutput, result: { code: number }): void {
  program
    .command('dashboard')
    .description('serve a live page of a cluster (nodes, runs with their curves and seeds, the kernel library, the event stream); read-only without --token')
    .option('--nats <url>', 'NATS server URL (env ESPER_NATS_URL; default nats://127.0.0.1:4222)')
    .option('--user <user>', 'NATS user (env ESPER_NATS_USER)')
    .option('--password <password>', 'NATS password (env ESPER_NATS_PASS)')
    .option('--nats-token <token>', 'NATS token (env ESPER_NATS_TOKEN)')
    .option('--creds <file>', 'NATS credentials file (env ESPER_NATS_CREDS_FILE)')
    .option('--prefix <prefix>', 'subject prefix of the cluster', DEFAULT_SUBJECT_PREFIX)
    .option('--nodes-bucket <name>', "membership bucket (the nodes' membership.bucket; default esper_nodes)")
    .option('--port <n>', `HTTP port (default ${DEFAULT_DASHBOARD_PORT}; 0 picks a free one)`)
    .option('--host <host>', `address to bind (default ${DEFAULT_DASHBOARD_HOST}: this machine only)`)
    .option('--token <token>', 'operator token enabling actions (pause, resume, stop, checkpoint, rollback, prune, fossilize); env ESPER_DASHBOARD_TOKEN; at least 8 characters')
    .option('--history-hours <n>', 'hours of past events replayed at start (default 6)')
    .exitOverride()
    .action(async (flags: DashboardFlags) => {
      result.code = await runDashboardCommand(flags, output);
    });
}

/**
 * `esper node start --dashboard-port N`: the node also serves the cluster's
 * dashboard (its own NATS connection, the node's prefix and membership
 * bucket, 127.0.0.1:N, actions only with `ESPER_DASHBOARD_TOKEN`). Checked
 * now (bad port, no `--nats`: ESPER_CONFIG_INVALID); started once the node
 * is up.
 */
export function nodeDashboard(config: Readonly<NodeConfig>, rawPort: string, env: NodeJS.ProcessEnv): DaemonSidecar {
  const problems: string[] = [];
  const server = dashboardServerFlags({ port: rawPort }, env, problems);
  if (config.nats === undefined) problems.push('--dashboard-port: the dashboard follows a cluster over NATS; give --nats (an embedded node has none)');
  parseDashboardOptions(server, problems);
  if (problems.length > 0 || config.nats === undefined) throw new ConfigError('bad dashboard options', problems);
  const connection = toNatsConnectionOptions({ ...config.nats, name: `${config.node.name}-dashboard` });
  return async () => {
    const logger = createLogger({ level: config.log.level }).child({ component: 'dashboard' });
    const dashboard = await startClusterDashboard({
      server,
      connection,
      prefix: config.subjectPrefix,
      nodesBucket: config.membership.bucket,
      theme: DASHBOARD_THEME,
      renderReport,
      logger,
    });
    logger.info({ url: dashboard.url, actions: server.token !== undefined }, `dashboard: ${dashboard.url}`);
    return dashboard;
  };
}
