/**
 * Circuit breakers over opossum@9 (DESIGN §5): every cross-actor call that
 * can fail slowly goes through one, so an unhealthy dependency is failed fast
 * (or answered by a fallback) instead of stalling training.
 *
 * Opening rule: `failureThreshold` CONSECUTIVE failures (errors or timeouts)
 * open the breaker; any success resets the count. We count ourselves rather
 * than use opossum's rolling percentage because a control path sees few,
 * bursty calls, where a percentage over a 10 s window is noisy and a run of
 * failures is the signal that matters. After `resetTimeoutMs` the breaker is
 * half-open: one trial call goes through (others fail fast); success closes
 * it, failure opens it again (opossum's own timers do this).
 */
import CircuitBreaker from 'opossum';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { BreakerState } from '../contracts/index.ts';
import { EsperError, SupervisionError } from '../errors/index.ts';
import type { Clock } from '../infra/clock.ts';
import { reportBreaker, type BreakerEvent } from './breaker-report.ts';

export type { BreakerEvent } from './breaker-report.ts';

/** Options of `createBreaker`. */
export interface BreakerOptions<A extends unknown[], R> {
  /** A call running longer than this fails with ESPER_TIMEOUT (and counts as a failure), ms. The action itself is not cancelled. */
  timeoutMs: number;
  /** Consecutive failures that open the breaker (≥ 1). */
  failureThreshold: number;
  /** How long the breaker stays open before letting one trial call through (half-open), ms. */
  resetTimeoutMs: number;
  /**
   * Answers instead of failing: called with the error (ESPER_BREAKER_OPEN when
   * open, ESPER_TIMEOUT, or the action's own error) and the call's arguments.
   */
  fallback?: (error: EsperError, ...args: A) => R | Promise<R>;
  /** Receives state changes. */
  emit?: (event: BreakerEvent) => void;
  /** Registry for the `esper_breaker_state{name}` gauge (0 closed, 1 half-open, 2 open). */
  metrics?: Metrics;
  /** @default the process root logger */
  logger?: Logger;
  /** Time source of event timestamps. @default systemClock */
  clock?: Clock;
}

/** A named circuit breaker around one async action. */
export interface Breaker<A extends unknown[], R> {
  readonly name: string;
  readonly state: BreakerState;
  /** Consecutive failures counted while closed. */
  readonly consecutiveFailures: number;
  /** Calls the action through the breaker (fails fast with ESPER_BREAKER_OPEN, or falls back, while open). */
  call(...args: A): Promise<R>;
  /** Stops the breaker's timers; later calls fail with ESPER_BREAKER_OPEN. */
  dispose(): void;
}

function opossumCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** Creates a circuit breaker named `name` (the metric label and event name) around `action`. */
export function createBreaker<A extends unknown[], R>(
  name: string,
  action: (...args: A) => R | Promise<R>,
  options: BreakerOptions<A, R>,
): Breaker<A, R> {
  if (!(options.failureThreshold >= 1)) throw new RangeError('failureThreshold must be ≥ 1');
  const report = reportBreaker(name, { emit: options.emit, metrics: options.metrics, logger: options.logger, clock: options.clock });
  const circuit = new CircuitBreaker<A, R>(async (...args: A) => action(...args), {
    name,
    timeout: Number.isFinite(options.timeoutMs) && options.timeoutMs > 0 ? options.timeoutMs : false,
    resetTimeout: options.resetTimeoutMs,
    // Opossum opens when the failure rate is ABOVE this percentage, which can never be > 100:
    // its rolling rule is off and our consecutive count decides.
    errorThresholdPercentage: 100,
    volumeThreshold: 0,
  });
  let consecutive = 0;

  const moveTo = (to: BreakerState): void => {
    if (to === report.state) return;
    report.moveTo(to, { failures: consecutive });
    if (to !== 'open') consecutive = 0;
  };
  circuit.on('open', () => moveTo('open'));
  circuit.on('halfOpen', () => moveTo('half_open'));
  circuit.on('close', () => moveTo('closed'));
  circuit.on('success', () => {
    consecutive = 0;
  });
  circuit.on('failure', () => {
    consecutive++;
    if (report.state === 'closed' && consecutive >= options.failureThreshold) circuit.open();
  });

  const translate = (error: unknown): unknown => {
    switch (opossumCode(error)) {
      case 'EOPENBREAKER':
      case 'ESHUTDOWN':
        return new SupervisionError('ESPER_BREAKER_OPEN', `circuit breaker ${name} is open`, { details: { breaker: name, state: report.state } });
      case 'ETIMEDOUT':
        return new SupervisionError('ESPER_TIMEOUT', `${name} did not answer within ${options.timeoutMs} ms`, {
          details: { breaker: name, timeoutMs: options.timeoutMs },
        });
      default:
        return error;
    }
  };
  const fallback = options.fallback;

  return {
    name,
    get state() {
      return report.state;
    },
    get consecutiveFailures() {
      return consecutive;
    },
    async call(...args: A): Promise<R> {
      try {
        return await circuit.fire(...args);
      } catch (raw) {
        const error = translate(raw);
        if (fallback === undefined) throw error;
        return fallback(error instanceof EsperError ? error : crashAsEsper(error, name), ...args);
      }
    },
    dispose() {
      circuit.shutdown();
    },
  };
}

function crashAsEsper(error: unknown, name: string): EsperError {
  const message = error instanceof Error ? error.message : String(error);
  return new SupervisionError('ESPER_ACTOR_CRASHED', `${name} failed: ${message}`, { cause: error, details: { breaker: name, error: message } });
}
