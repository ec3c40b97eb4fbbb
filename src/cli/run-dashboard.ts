/**
 * `esper run SPEC --dashboard [--port N] [--host H]`: the live page for the
 * run in this process (docs/dashboard.md). run.ts calls
 * {@link openRunDashboard} and hands the run loop's events to it; everything
 * else lives here so run.ts keeps one small hook.
 */
import type { Envelope } from '../contracts/envelope.ts';
import type { RunSpec } from '../contracts/run.ts';
import { ConfigError } from '../errors/index.ts';
import type { Logger } from '../infra/logger.ts';
import { ESPER_VERSION } from '../node/version.ts';
import { startEmbeddedDashboard } from '../dashboard/index.ts';
import { DASHBOARD_THEME, dashboardServerFlags } from './dashboard.ts';
import type { CliOutput } from './output.ts';

/** The `esper run` flags the dashboard reads. */
export interface RunDashboardFlags {
  dashboard?: boolean;
  port?: string;
  host?: string;
}

/** An open run dashboard: feed it the run's events, close it when the run is over. */
export interface RunDashboard {
  readonly url: string;
  readonly events: (envelope: Envelope) => void;
  close(state: 'completed' | 'failed'): Promise<void>;
}

/** Starts the page when `--dashboard` is given (undefined otherwise); throws a ConfigError for bad flags. */
export async function openRunDashboard(flags: RunDashboardFlags, runId: string, spec: RunSpec, output: CliOutput, logger: Logger): Promise<RunDashboard | undefined> {
  const problems: string[] = [];
  if (flags.dashboard !== true) {
    if (flags.port !== undefined) problems.push('--port: only with --dashboard');
    if (problems.length > 0) throw new ConfigError('bad --dashboard options', problems);
    return undefined;
  }
  // An embedded run cannot be steered from the page, so no token is read: the page is read-only.
  const server = dashboardServerFlags({ ...(flags.port === undefined ? {} : { port: flags.port }), ...(flags.host === undefined ? {} : { host: flags.host }) }, {}, problems);
  if (problems.length > 0) throw new ConfigError('bad --dashboard options', problems);
  const dashboard = await startEmbeddedDashboard({ server, runId, maxEpochs: spec.epochs, version: ESPER_VERSION, theme: DASHBOARD_THEME, logger });
  output.err(`dashboard: ${dashboard.url}`);
  return {
    url: dashboard.url,
    events: dashboard.feed.event,
    close: async (state) => {
      dashboard.feed.finished(state, false);
      await dashboard.close();
    },
  };
}

/** The run loop's `events` option: every sink given, in order (none: no option). */
export function teeEvents(...sinks: ReadonlyArray<((envelope: Envelope) => void) | undefined>): { events?: (envelope: Envelope) => void } {
  const live = sinks.filter((sink): sink is (envelope: Envelope) => void => sink !== undefined);
  if (live.length === 0) return {};
  return { events: (envelope) => { for (const sink of live) sink(envelope); } };
}
