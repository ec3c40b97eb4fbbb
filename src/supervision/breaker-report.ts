/**
 * How a circuit breaker's state is reported (DESIGN §5), whatever decides
 * it: the `esper_breaker_state{name}` gauge, one log line per change and a
 * `supervision.breaker.state` event. The opossum breakers (breaker.ts) and
 * the node's JetStream breaker (node/jetstream-breaker.ts, driven by what
 * the node observes rather than by calls) report through this one place, so
 * an operator reads them all the same way.
 */
import type { BreakerState, BreakerStateChanged } from '../contracts/index.ts';
import { systemClock, type Clock } from '../infra/clock.ts';
import { getRootLogger, type Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import { Instruments } from './instruments.ts';

/** A breaker state change, ready for the bus (`src/contracts/supervision.ts` data plus `type`). */
export type BreakerEvent = { type: 'supervision.breaker.state' } & BreakerStateChanged;

/** Where a breaker's state goes. */
export interface BreakerReportOptions {
  /** Receives state changes. */
  emit?: ((event: BreakerEvent) => void) | undefined;
  /** Registry for the `esper_breaker_state{name}` gauge (0 closed, 1 half-open, 2 open). */
  metrics?: Metrics | undefined;
  /** @default the process root logger */
  logger?: Logger | undefined;
  /** Time source of event timestamps. @default systemClock */
  clock?: Pick<Clock, 'now'> | undefined;
}

/** The reported state of one named breaker. */
export interface BreakerReport {
  readonly name: string;
  readonly state: BreakerState;
  /** Moves to `to` (nothing when already there): gauge, log line, event. */
  moveTo(to: BreakerState, details?: { failures?: number; reason?: string }): void;
}

/** Starts reporting breaker `name` as closed. */
export function reportBreaker(name: string, options: BreakerReportOptions): BreakerReport {
  const log = (options.logger ?? getRootLogger()).child({ component: 'breaker', breaker: name });
  const instruments = Instruments.for(options.metrics);
  const clock = options.clock ?? systemClock;
  let state: BreakerState = 'closed';
  instruments.breakerState(name, state);
  return {
    name,
    get state() {
      return state;
    },
    moveTo(to, details = {}) {
      if (to === state) return;
      const from = state;
      state = to;
      instruments.breakerState(name, to);
      const entry = { from, to, ...details };
      if (to === 'open') log.warn(entry, 'circuit breaker opened');
      else log.info(entry, 'circuit breaker state changed');
      try {
        options.emit?.({ type: 'supervision.breaker.state', name, from, to, at: new Date(clock.now()).toISOString(), ...details });
      } catch (error) {
        log.error({ err: error }, 'breaker event sink threw');
      }
    },
  };
}
