/**
 * What the HTTP server needs of whatever feeds the dashboard: a NATS cluster
 * ({@link NatsFeed}) or an embedded run ({@link EmbeddedFeed}).
 */

import type { OperatorAction } from '../contracts/nissa.ts';

/** A control request's reply as it came back (the §4 shape). */
export type ControlReply = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> } };

export interface Upstream {
  /** Starts following (returns once the first connection attempt is under way; reconnects by itself). */
  start(): Promise<void>;
  /** Stops following and closes connections. */
  stop(): Promise<void>;
  /**
   * Sends a control request on `<prefix>.ctl.<path>` (e.g. `run.r1.pause`)
   * exactly as `nats req` would. Absent when the upstream cannot steer (an
   * embedded run): the dashboard is then read-only whatever the token.
   */
  control?(path: string, payload: unknown): Promise<ControlReply>;
  /**
   * Records an operator action this dashboard forwarded, and its outcome, in
   * the run's event stream (`nissa.operator.action`): the audit trail's copy.
   */
  audit?(action: OperatorAction): Promise<void>;
  /** The report.html of a finished run, or undefined when it is not (yet) reachable. */
  report?(runId: string): Promise<string | undefined>;
}
