/**
 * The supervision layer's metrics, bound once per `Metrics` registry so every
 * supervisor and breaker sharing a registry shares the series.
 *
 * Mailbox depth is kept off the message hot path: each actor counts its
 * dispatched-but-unhandled messages in a plain number, and the gauge is
 * refreshed from those counters on a timer (and on demand), not per message —
 * prom-client hashes the label set on every `inc`, which would cost more than
 * a nact dispatch.
 */
import type { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../infra/metrics.ts';

/** Anything whose mailbox depth is reported. */
export interface MailboxSource {
  readonly subsystem: string;
  /** Messages dispatched and not yet handled (or dead-lettered). */
  readonly depth: number;
}

/** How often the mailbox-depth gauge is refreshed, ms. */
export const MAILBOX_PUBLISH_INTERVAL_MS = 1000;

/** Breaker states as gauge values: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** Metric handles of the supervision layer (no-ops without a registry). */
export class Instruments {
  readonly #actors: Gauge | undefined;
  readonly #restarts: Counter | undefined;
  readonly #mailbox: Gauge | undefined;
  readonly #deadLetters: Counter | undefined;
  readonly #breaker: Gauge | undefined;
  readonly #sources = new Set<MailboxSource>();
  readonly #published = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(metrics: Metrics | undefined) {
    if (metrics === undefined) return;
    this.#actors = metrics.gauge('esper_actors', 'Live supervised actors, by subsystem', ['subsystem']);
    this.#restarts = metrics.counter('esper_actor_restarts_total', 'Actor restarts performed by supervisors', ['subsystem']);
    this.#mailbox = metrics.gauge('esper_mailbox_depth', 'Messages dispatched to actors and not yet handled', ['subsystem']);
    this.#deadLetters = metrics.counter('esper_dead_letters_total', 'Messages sent to stopped actors', ['subsystem']);
    this.#breaker = metrics.gauge('esper_breaker_state', 'Circuit breaker state: 0 closed, 1 half-open, 2 open', ['name']);
  }

  static readonly #byMetrics = new WeakMap<Metrics, Instruments>();
  static readonly #none = new Instruments(undefined);

  /** The instruments bound to `metrics` (one instance per registry); no-ops when undefined. */
  static for(metrics: Metrics | undefined): Instruments {
    if (metrics === undefined) return Instruments.#none;
    let instruments = Instruments.#byMetrics.get(metrics);
    if (instruments === undefined) {
      instruments = new Instruments(metrics);
      Instruments.#byMetrics.set(metrics, instruments);
    }
    return instruments;
  }

  /** An actor started (first start only; restarts do not change the count). */
  actorStarted(source: MailboxSource): void {
    if (this.#actors === undefined) return;
    this.#actors.inc({ subsystem: source.subsystem });
    this.#sources.add(source);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.publishMailboxDepth(), MAILBOX_PUBLISH_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  /** An actor stopped for good. */
  actorStopped(source: MailboxSource): void {
    if (this.#actors === undefined) return;
    this.#actors.dec({ subsystem: source.subsystem });
    this.#sources.delete(source);
    this.publishMailboxDepth();
    if (this.#sources.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  restarted(subsystem: string): void {
    this.#restarts?.inc({ subsystem });
  }

  deadLetter(subsystem: string): void {
    this.#deadLetters?.inc({ subsystem });
  }

  breakerState(name: string, state: keyof typeof BREAKER_STATE_VALUE): void {
    this.#breaker?.set({ name }, BREAKER_STATE_VALUE[state]);
  }

  /** Refreshes `esper_mailbox_depth` from the live actors' counters now. */
  publishMailboxDepth(): void {
    if (this.#mailbox === undefined) return;
    const totals = new Map<string, number>();
    for (const source of this.#sources) totals.set(source.subsystem, (totals.get(source.subsystem) ?? 0) + source.depth);
    // Subsystems whose last actor stopped drop to 0 rather than keep a stale value.
    for (const subsystem of this.#published) if (!totals.has(subsystem)) totals.set(subsystem, 0);
    for (const [subsystem, depth] of totals) {
      this.#mailbox.set({ subsystem }, depth);
      this.#published.add(subsystem);
    }
  }
}

/** Refreshes `esper_mailbox_depth` in `metrics` now (e.g. right before a scrape); it is otherwise refreshed every second. */
export function publishMailboxDepth(metrics: Metrics): void {
  Instruments.for(metrics).publishMailboxDepth();
}
