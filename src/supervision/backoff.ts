/**
 * Restart backoff: exponential, jittered, bounded. Pure — the random source is
 * a parameter — so the schedule is unit-testable and reproducible.
 */

/** How long a supervisor waits before restarting a child. */
export interface BackoffSpec {
  /** Wait before the first restart within the intensity period, in ms (0 = restart at once). */
  initialMs: number;
  /** Upper bound of any wait, in ms; jitter never exceeds it. */
  maxMs: number;
  /** Growth per further restart within the period (≥ 1). */
  factor: number;
  /**
   * Fraction in [0, 1] of the wait that is randomised: the wait is drawn
   * uniformly from `[base·(1−jitter), base]`, so jitter only ever shortens it
   * and the bound `maxMs` holds. 0 = deterministic.
   */
  jitter: number;
}

/** A backoff that never waits. */
export const NO_BACKOFF: Readonly<BackoffSpec> = Object.freeze({ initialMs: 0, maxMs: 0, factor: 1, jitter: 0 });

/**
 * The wait before the `attempt`-th restart of a child within the intensity
 * period (attempt 1 = first restart): `min(maxMs, initialMs·factor^(attempt−1))`
 * shortened by up to `jitter` of itself.
 *
 * @param random returns a number in [0, 1) @default Math.random
 */
export function backoffDelay(spec: BackoffSpec, attempt: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const base = Math.min(spec.maxMs, spec.initialMs * Math.pow(spec.factor, n - 1));
  if (!(base > 0)) return 0;
  const jitter = Math.min(1, Math.max(0, spec.jitter));
  const delay = base * (1 - jitter * random());
  return Math.min(spec.maxMs, Math.max(0, delay));
}

/** Problems with a backoff spec, as readable strings (empty when valid). */
export function backoffIssues(spec: BackoffSpec): string[] {
  const issues: string[] = [];
  if (!Number.isFinite(spec.initialMs) || spec.initialMs < 0) issues.push('backoff.initialMs must be a finite number ≥ 0');
  if (!Number.isFinite(spec.maxMs) || spec.maxMs < spec.initialMs) issues.push('backoff.maxMs must be finite and ≥ initialMs');
  if (!Number.isFinite(spec.factor) || spec.factor < 1) issues.push('backoff.factor must be a finite number ≥ 1');
  if (!(spec.jitter >= 0 && spec.jitter <= 1)) issues.push('backoff.jitter must be within [0, 1]');
  return issues;
}
