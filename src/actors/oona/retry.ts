/**
 * Riding through a lost NATS server (issue 13). While JetStream elects a new
 * leader for a stream or bucket, or the client reconnects to another server,
 * calls fail for a few seconds with no responders, timeouts or "JetStream
 * system temporarily unavailable". Those are not crashes: the caller retries
 * with a bounded, jittered exponential backoff (the supervisors' schedule,
 * `supervision/backoff.ts`) and logs once per interval, not once per attempt.
 * Anything else fails at once, as before.
 */
import { LogThrottle } from '../../infra/log-throttle.ts';
import type { Logger } from '../../infra/logger.ts';
import { backoffDelay, type BackoffSpec } from '../../supervision/backoff.ts';
import { isTransientBusError } from './nats-errors.ts';

/** Where a retrying caller reports trouble and recovery (the node's JetStream health: status, metrics). */
export interface RetryObserver {
  /** An attempt of `what` failed transiently; another follows after `delayMs`. */
  failing(what: string, error: unknown, attempt: number, delayMs: number): void;
  /** `what`, which had failed transiently, ended: succeeded (`ok`) or given up after `attempts` attempts. */
  settled(what: string, ok: boolean, attempts: number, elapsedMs: number): void;
  /** `what` failed transiently and its caller does not retry it itself (an ack, a read, a publish whose caller decides). */
  failedOnce?(what: string, error: unknown): void;
}

/** Tells `observer` of a failure its caller will not retry, when it is transient (see {@link RetryObserver.failedOnce}). */
export function noteTransientFailure(observer: RetryObserver | undefined, what: string, error: unknown): void {
  if (observer?.failedOnce !== undefined && isTransientBusError(error)) observer.failedOnce(what, error);
}

export interface RetryOptions {
  /** What is being done, for logs (e.g. `commit run r1 epoch 5`). */
  what: string;
  logger: Logger;
  /** Give up after this long and throw the last error, ms. @default no bound (until `cancelled`) */
  budgetMs?: number;
  /** @default {@link ELECTION_BACKOFF} */
  backoff?: BackoffSpec;
  /** Checked before every wait: true stops retrying (e.g. the node is stopping) and throws the last error. */
  cancelled?: () => boolean;
  /** Which errors are worth retrying. @default {@link isTransientBusError} */
  retryable?: (error: unknown) => boolean;
  observer?: RetryObserver | undefined;
  /** At most one log line per this many ms while failing. @default 10000 */
  logEveryMs?: number;
}

/** 200 ms doubling to 5 s, jittered: an election (typically 2–10 s) costs a handful of attempts. */
export const ELECTION_BACKOFF: Readonly<BackoffSpec> = Object.freeze({ initialMs: 200, maxMs: 5000, factor: 2, jitter: 0.2 });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `fn` until it succeeds, retrying transient bus failures with backoff
 * (see the module comment). `fn` receives the attempt number (1 first) and
 * must be safe to repeat: Esper's writes are (messages carry ids the stream
 * de-duplicates, compare-and-set writes check what they find).
 */
export async function retryTransient<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  const retryable = options.retryable ?? isTransientBusError;
  const throttle = new LogThrottle(options.logEveryMs ?? 10_000);
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn(attempt);
      if (attempt > 1) {
        const elapsedMs = Date.now() - started;
        options.observer?.settled(options.what, true, attempt, elapsedMs);
        options.logger.info({ what: options.what, attempts: attempt, elapsedMs }, 'NATS operation succeeded after retries');
      }
      return value;
    } catch (error) {
      const elapsed = Date.now() - started;
      if (!retryable(error) || options.cancelled?.() === true || (options.budgetMs !== undefined && elapsed >= options.budgetMs)) {
        if (attempt > 1) options.observer?.settled(options.what, false, attempt, elapsed);
        throw error;
      }
      const delayMs = backoffDelay(options.backoff ?? ELECTION_BACKOFF, attempt);
      options.observer?.failing(options.what, error, attempt, delayMs);
      if (throttle.allow()) {
        options.logger.warn({ err: error, what: options.what, attempt, elapsedMs: elapsed }, 'NATS operation failed transiently (server lost or leader election); retrying with backoff');
      }
      await sleep(delayMs);
    }
  }
}
