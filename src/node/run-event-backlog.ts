/**
 * The events a hosted run holds until the events stream takes them: those
 * its training loop emitted since the last boundary, the operator's records
 * (`nissa.operator.action`) pushed by the node, and any whose publish failed
 * (saved with every checkpoint meanwhile).
 *
 * A restarted loop (its training worker died) resumes from the last boundary
 * and emits that epoch's events again, so {@link RunEventBacklog.rewind}
 * drops the loop's events since the boundary — but not the operator's
 * records: nothing replays those. (Before this class the node truncated the
 * run's events to the count it held at the boundary, which lost a pause or
 * resume recorded mid-epoch from the audit trail.)
 */
import type { Envelope } from '../contracts/envelope.ts';

interface HeldEvent {
  readonly event: Envelope;
  /** Emitted by the training loop (a restarted loop emits it again). */
  readonly replayable: boolean;
  /** Held at a boundary that committed (the loop resumes after it). */
  committed: boolean;
}

/** A run's unpublished events, in order (see the module comment). */
export class RunEventBacklog {
  #held: HeldEvent[];

  /** `saved`: the events saved with the boundary the run resumes from (not yet known to be published). */
  constructor(saved: readonly Envelope[] = []) {
    this.#held = saved.map((event) => ({ event, replayable: true, committed: true }));
  }

  /** How many events are held. */
  get size(): number {
    return this.#held.length;
  }

  /** The held events, oldest first (a copy). */
  all(): Envelope[] {
    return this.#held.map((h) => h.event);
  }

  /** An event the training loop emitted. */
  emitted(event: Envelope): void {
    this.#held.push({ event, replayable: true, committed: false });
  }

  /** An event the node recorded for the operator (no loop replays it). */
  recorded(event: Envelope): void {
    this.#held.push({ event, replayable: false, committed: false });
  }

  /** The run's boundary committed: a restarted loop resumes after everything held now. */
  committed(): void {
    for (const held of this.#held) held.committed = true;
  }

  /** The loop restarts from the last boundary: its events since then are dropped (it emits them again); the operator's stay. */
  rewind(): void {
    this.#held = this.#held.filter((h) => h.committed || !h.replayable);
  }

  /** The events stream took the `count` oldest events. */
  published(count: number): void {
    this.#held = this.#held.slice(count);
  }
}
