/**
 * A node's health on NATS (issue 13): the connection (is any server
 * reachable, for how long not) and JetStream (are operations being retried
 * through a lost server or a leader election). It feeds the node's status
 * (`nats` field), its metrics, and one log line per interval while no server
 * is reachable — never a line per attempt.
 */
import type { RetryObserver } from '../actors/oona/index.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';

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
  /** How often the health is sampled (metrics, the unreachable log), ms. @default 1000 */
  sampleMs?: number;
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
  eventBacklog: number;
}

export class NatsHealth implements RetryObserver {
  readonly #options: NatsHealthOptions;
  /** Operations being retried now, and since when. */
  readonly #failing = new Map<string, number>();
  readonly #retries;
  readonly #recoveries;
  readonly #degradedGauge;
  readonly #connectedGauge;
  readonly #disconnectedGauge;
  readonly #backlogGauge;
  #timer: NodeJS.Timeout | undefined;
  #lastUnreachableLog = 0;

  constructor(options: NatsHealthOptions) {
    this.#options = options;
    const { metrics } = options;
    this.#retries = metrics.counter('esper_jetstream_retries_total', 'JetStream operations retried after a transient failure (a server lost, a leader election)');
    this.#recoveries = metrics.counter('esper_jetstream_recoveries_total', 'JetStream operations that succeeded after retries');
    this.#degradedGauge = metrics.gauge('esper_jetstream_degraded', '1 while some JetStream operation is being retried, else 0');
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
    this.#degradedGauge.set(1);
  }

  settled(what: string, ok: boolean, _attempts: number, _elapsedMs: number): void {
    this.#failing.delete(what);
    if (ok) this.#recoveries.inc();
    if (this.#failing.size === 0) this.#degradedGauge.set(0);
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
    const bound = this.#options.unreachableAfterMs ?? 10_000;
    const now = this.#now();
    if (!connection.connected && connection.disconnectedMs > bound && now - this.#lastUnreachableLog >= bound) {
      this.#lastUnreachableLog = now;
      this.#options.logger.error(
        { disconnectedMs: connection.disconnectedMs, eventBacklog: this.#options.eventBacklog() },
        'no NATS server reachable; reconnecting (runs wait at their next boundary, their events are kept)',
      );
    }
  }

  view(): NatsHealthView {
    const connection = this.#options.connection();
    const since = this.#failing.size === 0 ? undefined : Math.min(...this.#failing.values());
    return {
      connected: connection.connected,
      ...(connection.server === undefined ? {} : { server: connection.server.slice(0, 200) }),
      disconnectedMs: connection.disconnectedMs,
      reconnects: connection.reconnects,
      replicas: this.#options.replicas,
      degraded: since !== undefined || !connection.connected,
      ...(since === undefined ? {} : { degradedSince: new Date(since).toISOString() }),
      eventBacklog: this.#options.eventBacklog(),
    };
  }
}
