/**
 * The one time seam (style rule 12). Everything that reads time or schedules
 * a timer takes a `Clock`: the supervision layer (restart windows, backoff
 * waits, query and shutdown timeouts), the in-process bus (ack waits, request
 * timeouts, nak delays, KV expiry) and the actors that poll. Tests substitute
 * `ManualClock`; the default is `systemClock`.
 */

/** Reads time and schedules one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer; unknown or already-fired handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/** The longest delay Node's timers honour (about 24.8 days), ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** The real clock: `Date.now` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  // Node fires delays above 2^31−1 ms after 1 ms; clamp so a huge timeout means "very long", not "now".
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, MAX_TIMER_MS)),
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/**
 * A simulated clock: time moves only when `advance` is called, which runs the
 * timers that fall due in time order (ties in creation order). Timers scheduled
 * by a firing timer are run too if they fall inside the advanced span.
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, ManualTimer>();

  /** @param startMs the initial time @default 0 */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.#timers.delete(handle);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers synchronously in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.at <= target && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.id < next.id))) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
  }
}

/**
 * Waits for `work` for at most `ms` on `clock`: true when it settled in time
 * (rejections count as settled — callers that care catch them first), false
 * when the time ran out. A non-finite `ms` waits for ever.
 */
export function settlesWithin(clock: Clock, work: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = work.then(
    () => true,
    () => true,
  );
  if (!Number.isFinite(ms)) return settled;
  return new Promise<boolean>((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), Math.max(0, ms));
    void settled.then(() => {
      clock.clearTimeout(timer);
      resolve(true);
    });
  });
}
