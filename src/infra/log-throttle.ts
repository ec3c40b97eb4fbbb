/**
 * One log line per interval while something keeps failing (issue 13: a node
 * riding through a lost NATS server says so once when the trouble starts,
 * then once per interval — never once per attempt). Pure apart from the time
 * it is given: callers pass their own clock, so tests count lines over a
 * simulated outage.
 */

/** Lets a line through on the first call of an episode, then at most once per `intervalMs`. */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  #last: number | undefined;

  /** @param now the time source, ms @default Date.now */
  constructor(intervalMs: number, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** True when a line may be logged now (and counts it as logged). */
  allow(): boolean {
    const now = this.#now();
    if (this.#last !== undefined && now - this.#last < this.#intervalMs) return false;
    this.#last = now;
    return true;
  }

  /** The episode is over (it recovered): the next failure is logged at once. */
  reset(): void {
    this.#last = undefined;
  }
}
