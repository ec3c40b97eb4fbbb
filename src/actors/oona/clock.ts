/**
 * The clock the in-process bus reads time and schedules timers with
 * (ack waits, request timeouts, nak delays, KV expiry). Injected so a test
 * can substitute a simulated clock; the default is the real one.
 */
export interface BusClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock: `Date.now` and the global timers. */
export const realClock: BusClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
