/**
 * Supervision policies (style rule 6): pure functions of (error, child,
 * history) → decision, keyed on the error's `code` and `retryable`. A
 * supervisor asks its policy only about crashes (abnormal exits); normal exits
 * are settled by the restart type alone. Whatever the policy answers, the
 * supervisor enforces restart types on top (`applyRestartType`): a temporary
 * child is never restarted.
 */
import { EsperError } from '../errors/index.ts';

/**
 * When a child is restarted (OTP's restart types):
 * - `permanent`: always, after a crash or a normal exit;
 * - `transient`: only after a crash (a normal exit, e.g. `ctx.stop()`, leaves it stopped);
 * - `temporary`: never.
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** What a supervisor does about a crashed child. */
export type Decision = 'restart' | 'stop' | 'escalate';

/** What a policy may know about the crashed child. */
export interface ChildInfo {
  readonly id: string;
  /** Full actor path, e.g. `root/kasmina/seed-3`. */
  readonly path: string;
  readonly restart: RestartType;
  /** Metrics label of the child. */
  readonly subsystem: string;
  readonly kind: 'worker' | 'supervisor';
}

/** One restart remembered by a supervisor. */
export interface RestartRecord {
  /** Clock time of the restart decision, ms. */
  readonly at: number;
  /** Code of the error that caused it (`EsperError.code`), `'normal'` for a permanent child's normal exit, `'unknown'` for a non-Esper error. */
  readonly code: string;
}

/**
 * A supervision policy. `history` is this child's restarts within the
 * supervisor's intensity period, oldest first, not counting the current crash.
 * Must be pure: no I/O, no clock, no randomness.
 */
export type Policy = (error: unknown, child: ChildInfo, history: readonly RestartRecord[]) => Decision;

/** The history code of a thrown value. */
export function restartCode(error: unknown): string {
  return error instanceof EsperError ? error.code : 'unknown';
}

/**
 * The default policy, in order:
 * 1. a `temporary` child → `stop`;
 * 2. an error that is not an `EsperError` (a bug, a library's TypeError…) → `escalate`;
 * 3. `ESPER_INTERNAL` (what `toEsperError` makes of an unknown error) → `escalate`;
 * 4. a retryable `EsperError` → `restart`;
 * 5. `ESPER_RESTART_INTENSITY` (a child supervisor gave up) → `restart`: the
 *    parent applies its own strategy, bounded by its own intensity;
 * 6. any other non-retryable `EsperError` → `restart` the first time within the
 *    period, `escalate` if a restart for the same code is already in `history`
 *    (a fresh state did not cure it, so a wider restart is needed).
 *
 * `escalate` makes the supervisor fail as a whole: it stops its children and
 * reports `ESPER_ACTOR_CRASHED` (the original error as `cause`) to its parent,
 * which restarts it (and so the whole subtree) under the parent's strategy; a
 * root supervisor calls its `onGiveUp` hook instead.
 */
export const defaultPolicy: Policy = (error, child, history) => {
  if (child.restart === 'temporary') return 'stop';
  if (!(error instanceof EsperError)) return 'escalate';
  if (error.code === 'ESPER_INTERNAL') return 'escalate';
  if (error.retryable) return 'restart';
  if (error.code === 'ESPER_RESTART_INTENSITY') return 'restart';
  return history.some((record) => record.code === error.code) ? 'escalate' : 'restart';
};

/** A policy that restarts on every crash (restart types still apply). */
export const alwaysRestart: Policy = () => 'restart';

/** A policy that never restarts: a crashed child stays stopped and is reported. */
export const neverRestart: Policy = () => 'stop';

/**
 * Builds a policy from a table of codes, falling back to `fallback` for codes
 * not in the table (e.g. `byCode({ ESPER_TIMEOUT: 'restart' })`).
 */
export function byCode(table: Readonly<Record<string, Decision>>, fallback: Policy = defaultPolicy): Policy {
  return (error, child, history) => {
    if (error instanceof EsperError) {
      const decision = table[error.code];
      if (decision !== undefined) return decision;
    }
    return fallback(error, child, history);
  };
}

/** Enforces restart types over a policy's decision: a temporary child is never restarted. */
export function applyRestartType(decision: Decision, restart: RestartType): Decision {
  return decision === 'restart' && restart === 'temporary' ? 'stop' : decision;
}

/** What a normal exit (the child stopped itself) leads to: only `permanent` children are restarted. */
export function decideNormalExit(restart: RestartType): 'restart' | 'stop' {
  return restart === 'permanent' ? 'restart' : 'stop';
}
