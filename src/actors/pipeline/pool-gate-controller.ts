/**
 * Runs a pool gate's duty cycle and watchdog ({@link PoolGate.tick}) on the
 * event loop of the thread that owns the pool (the node's). Training threads
 * pause the pool themselves; only this loop can end a pause while a training
 * thread is busy inside a long synchronous request (an epoch), and only it
 * notices a training thread that died holding the gate.
 *
 * Idle while the pool runs: it waits on the shared state (`Atomics.waitAsync`)
 * until a training thread pauses the pool, then wakes every `maxPauseMs` or
 * 100 ms, whichever is sooner, until the pause ends. Neither the wait nor its
 * timers keep the process alive.
 */
import type { PoolGate } from './pool-gate.ts';

export class PoolGateController {
  readonly #gate: PoolGate;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #wakeTimer: (() => void) | undefined;

  constructor(gate: PoolGate) {
    this.#gate = gate;
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  /** Stops the loop; the gate's state is left as it is. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#wakeTimer?.();
    this.#gate.wake();
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const wakeInMs = this.#gate.tick();
      if (!this.#running) return;
      if (wakeInMs === null) await this.#gate.paused();
      else await this.#sleep(wakeInMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeTimer = resolve;
      this.#timer = setTimeout(resolve, Math.max(1, ms));
      this.#timer.unref();
    });
  }
}
