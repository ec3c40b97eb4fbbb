/**
 * A node's health on NATS (issue 13): the connection (is any server
 * reachable, for how long not) and JetStream (are operations being retried
 * through a lost server or a leader election — retries, a consumer's pulls —
 * or did one fail a moment ago that its caller does not retry: an ack, a KV
 * read, a publish; such a failure counts for `failureMemoryMs`). It feeds the node's status
 * (`nats` field), its metrics, the `jetstream` breaker (jetstream-breaker.ts:
 * gauge, events and status, like every breaker) and one log line per
 * interval while no server is reachable — never a line per attempt.
 */
import type { RetryObserver } from '../actors/oona/index.ts';
import type { BreakerState } from '../contracts/index.ts';
import { LogThrottle } from '../infra/log-throttle.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import { reportBreaker, type BreakerEvent, type BreakerReport } from '../supervision/index.ts';
import { JETSTREAM_BREAKER, nextJetStreamBreaker, type JetStreamBreaker } from './jetstream-breaker.ts';

/** The connection as the bus reports it. */
export interface ConnectionHealth {
  connected: boolean;
  server: string | undefined;
  disconnectedMs: number;
  reconnects: number;
}

export interface NatsHealthOptions {
  logger: Logger;
  metrics: Metrics;
  replicas: number;
  connection: () => ConnectionHealth;
  /** Events held by the node's runs that the stream has not taken. */
  eventBacklog: () => number;
  /** No server reachable for longer than this is logged as an error, once per interval, ms. @default 10000 */
  unreachableAfterMs?: number;
  /** How often the health is sampled (metrics, the unreachable log, the breaker's probation), ms. @default 1000 */
  sampleMs?: number;
  /** How long the `jetstream` breaker stays half-open without a failure before it closes, ms. @default JETSTREAM_PROBATION_MS */
  probationMs?: number;
  /** How long a failure its caller does not retry (an ack, a read) keeps the node degraded, ms. @default 3000 */
  failureMemoryMs?: number;
  /** Receives the `jetstream` breaker's state changes (the node publishes them on `sys.supervision.breaker.state`). */
  emit?: (event: BreakerEvent) => void;
  now?: () => number;
}

/** What the node's status shows under `nats`. */
export interface NatsHealthView {
  connected: boolean;
  server?: string;
  disconnectedMs: number;
  reconnects: number;
  replicas: number;
  degraded: boolean;
  degradedSince?: string;
  /** The `jetstream` breaker's state. */
  breaker: BreakerState;
  eventBacklog: number;
}

export class NatsHealth implements RetryObserver {
  readonly #options: NatsHealthOptions;
  /** Operations being retried now, and since when. */
  readonly #failing = new Map<string, number>();
  /** Operations that failed once lately (not retried by their caller): since when, and until when they count. */
  readonly #recent = new Map<string, { since: number; until: number }>();
  readonly #retries;
  readonly #failures;
  readonly #recoveries;
  readonly #degradedGauge;
  readonly #connectedGauge;
  readonly #disconnectedGauge;
  readonly #backlogGauge;
  readonly #breakerReport: BreakerReport;
  readonly #unreachableLog: LogThrottle;
  #breaker: JetStreamBreaker;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: NatsHealthOptions) {
    this.#options = options;
    const { metrics } = options;
    this.#unreachableLog = new LogThrottle(options.unreachableAfterMs ?? 10_000, () => this.#now());
    this.#breaker = { state: 'closed', since: this.#now() };
    this.#breakerReport = reportBreaker(JETSTREAM_BREAKER, {
      metrics,
      logger: options.logger,
      emit: options.emit,
      clock: { now: () => this.#now() },
    });
    this.#retries = metrics.counter('esper_jetstream_retries_total', 'JetStream operations retried after a transient failure (a server lost, a leader election)');
    this.#recoveries = metrics.counter('esper_jetstream_recoveries_total', 'JetStream operations that succeeded after retries');
    this.#failures = metrics.counter('esper_jetstream_failures_total', 'JetStream operations that failed transiently and that their caller does not retry itself (acks, reads, publishes)');
    this.#degradedGauge = metrics.gauge('esper_jetstream_degraded', '1 while some JetStream operation is being retried or failed transiently in the last seconds, else 0');
    this.#connectedGauge = metrics.gauge('esper_nats_connected', '1 while connected to a NATS server, else 0');
    this.#disconnectedGauge = metrics.gauge('esper_nats_disconnected_seconds', 'How long no NATS server has been reachable (0 while connected)');
    this.#backlogGauge = metrics.gauge('esper_event_backlog', "Events held by this node's runs that the events stream has not taken yet");
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  failing(what: string, _error: unknown, _attempt: number, _delayMs: number): void {
    if (!this.#failing.has(what)) this.#failing.set(what, this.#now());
    this.#retries.inc();
    this.#judge();
  }

  settled(what: string, ok: boolean, _attempts: number, _elapsedMs: number): void {
    this.#failing.delete(what);
    if (ok) this.#recoveries.inc();
    this.#judge();
  }

  failedOnce(what: string, _error: unknown): void {
    const now = this.#now();
    const known = this.#recent.get(what);
    this.#recent.set(what, { since: known !== undefined && known.until > now ? known.since : now, until: now + (this.#options.failureMemoryMs ?? 3000) });
    this.#failures.inc();
    this.#judge();
  }

  /** What is failing now (retried, or failed a moment ago), with since when; forgets failures past their memory. */
  #troubles(now: number): Map<string, number> {
    const troubles = new Map(this.#failing);
    for (const [what, { since, until }] of this.#recent) {
      if (until <= now) this.#recent.delete(what);
      else troubles.set(what, Math.min(since, troubles.get(what) ?? since));
    }
    return troubles;
  }

  /** Updates the degraded gauge and moves the `jetstream` breaker on what is observed now. */
  #judge(connected: boolean = this.#options.connection().connected): void {
    const now = this.#now();
    const troubles = [...this.#troubles(now).keys()];
    this.#degradedGauge.set(troubles.length > 0 ? 1 : 0);
    const next = nextJetStreamBreaker(this.#breaker, { failing: troubles.length, connected, now }, this.#options.probationMs);
    if (next === this.#breaker) return;
    this.#breaker = next;
    const reason = !connected ? 'no NATS server reachable' : troubles.length > 0 ? `failing: ${troubles.join(', ')}` : next.state === 'half_open' ? 'nothing failing any more; on probation' : 'no failure on probation';
    this.#breakerReport.moveTo(next.state, { failures: troubles.length, reason: reason.slice(0, 500) });
  }

  /** Starts sampling (metrics, the unreachable log). */
  start(): void {
    this.#timer = setInterval(() => this.sample(), this.#options.sampleMs ?? 1000);
    this.#timer.unref();
    this.sample();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Updates the gauges; logs (once per interval) when no server has been reachable for too long. */
  sample(): void {
    const connection = this.#options.connection();
    this.#connectedGauge.set(connection.connected ? 1 : 0);
    this.#disconnectedGauge.set(connection.disconnectedMs / 1000);
    this.#backlogGauge.set(this.#options.eventBacklog());
    this.#judge(connection.connected);
    const bound = this.#options.unreachableAfterMs ?? 10_000;
    if (connection.connected) this.#unreachableLog.reset();
    else if (connection.disconnectedMs > bound && this.#unreachableLog.allow()) {
      this.#options.logger.error(
        { disconnectedMs: connection.disconnectedMs, eventBacklog: this.#options.eventBacklog() },
        'no NATS server reachable; reconnecting (runs wait at their next boundary, their events are kept)',
      );
    }
  }

  view(): NatsHealthView {
    const connection = this.#options.connection();
    const troubles = this.#troubles(this.#now());
    const since = troubles.size === 0 ? undefined : Math.min(...troubles.values());
    return {
      connected: connection.connected,
      ...(connection.server === undefined ? {} : { server: connection.server.slice(0, 200) }),
      disconnectedMs: connection.disconnectedMs,
      reconnects: connection.reconnects,
      replicas: this.#options.replicas,
      degraded: since !== undefined || !connection.connected,
      ...(since === undefined ? {} : { degradedSince: new Date(since).toISOString() }),
      breaker: this.#breaker.state,
      eventBacklog: this.#options.eventBacklog(),
    };
  }
}
