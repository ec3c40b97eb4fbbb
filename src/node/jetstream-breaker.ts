/**
 * The node's JetStream breaker (issue 13: "the breaker and /metrics show the
 * degradation while it lasts"), as a pure function of what the node
 * observes. It guards no call (Esper's JetStream operations retry through a
 * lost server instead of failing fast); it reports, in the breakers' terms,
 * whether JetStream is usable from this node:
 *
 *  - `open` while some JetStream operation is being retried (a server lost,
 *    a leader election) or failed transiently a moment ago (an ack, a read:
 *    see NatsHealth), or no NATS server is reachable;
 *  - `half_open` once nothing is being retried any more (typically the first
 *    success after retries): on probation;
 *  - `closed` after `probationMs` on probation with no new failure. A failure
 *    on probation opens it again.
 */
import type { BreakerState } from '../contracts/index.ts';

/** The breaker's name (metric label, event name, status). */
export const JETSTREAM_BREAKER = 'jetstream';

/** How long the breaker stays half-open without a failure before it closes, ms. */
export const JETSTREAM_PROBATION_MS = 5000;

/** The breaker: its state and since when, ms. */
export interface JetStreamBreaker {
  state: BreakerState;
  since: number;
}

/** What the node observes now. */
export interface JetStreamObservation {
  /** JetStream operations being retried, or failed a moment ago. */
  failing: number;
  /** Whether a NATS server is reachable. */
  connected: boolean;
  now: number;
}

/** The breaker after `observed` (the same object when nothing changes). */
export function nextJetStreamBreaker(current: JetStreamBreaker, observed: JetStreamObservation, probationMs: number = JETSTREAM_PROBATION_MS): JetStreamBreaker {
  const healthy = observed.failing === 0 && observed.connected;
  if (!healthy) return current.state === 'open' ? current : { state: 'open', since: observed.now };
  if (current.state === 'open') return { state: 'half_open', since: observed.now };
  if (current.state === 'half_open' && observed.now - current.since >= probationMs) return { state: 'closed', since: observed.now };
  return current;
}
