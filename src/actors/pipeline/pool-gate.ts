/**
 * The pool gate: while a training thread works, the kernel pool's child
 * processes are paused (SIGSTOP) and resumed (SIGCONT) when no training
 * thread works any more (policy: pool-gate-policy.ts). Its state lives in a
 * SharedArrayBuffer, so that every thread of the process — the node's event
 * loop, which registers the pool's children, and the training worker
 * threads, which hold the gate — sees one gate and a training thread stops
 * and continues the children itself (`process.kill`), with no message round
 * trip per request.
 *
 * - `enter()` / `hold(fn)`: a training thread holds the gate (re-entrant);
 *   the first holder stops the children when the policy says so, the last
 *   one out continues them (in `finally`, so a request that throws resumes
 *   them too).
 * - `register(pid)` / `unregister(pid)`: the pool's children. Unregistering
 *   continues the child, so a child the pool kills or loses is never left
 *   stopped; a child registered during a pause is stopped with the others.
 * - `tick()`: the duty cycle and the watchdog, run on the event loop by
 *   pool-gate-controller.ts: a pause is broken after `maxPauseMs`, and a
 *   holder whose thread has died (crashed, exited, terminated: its `finally`
 *   never ran) is dropped, which resumes the children.
 * - `pausedMs()`: total time the children have been stopped, so that job
 *   timeouts do not count a pause (worker-pool.ts).
 *
 * Linux only (threads are named by their kernel id and start time from
 * /proc); elsewhere the gate never pauses anything.
 */
import { availableParallelism } from 'node:os';
import { threadId } from 'node:worker_threads';
import { EsperError } from '../../errors/index.ts';
import { ownThreadId, threadAlive, threadStartTime } from './proc-stat.ts';
import { dutyDecision, POOL_GATE_DEFAULTS, POOL_GATE_MODES, shouldGate, type PoolGateSettings } from './pool-gate-policy.ts';

/** Pool children a gate can hold (the config allows 64 pool workers; several pools may share the process gate). */
const MAX_PIDS = 128;
/** Training threads that can hold a gate at once. */
const MAX_HOLDERS = 64;
/** How often a paused gate looks for dead holders at the least, ms. */
const WATCHDOG_MS = 100;
/** A lock held this long by a thread that no longer exists is taken over, ms. */
const LOCK_STEAL_MS = 50;

// Int32 words.
const LOCK = 0; // kernel tid of the thread inside the gate's critical section, 0 when free
const STATE = 1; // RUNNING or STOPPED
const MODE = 2; // index in POOL_GATE_MODES
const HOLDERS = 3; // threads holding the gate
const PID_COUNT = 4;
const CPUS = 5;
const PAUSES = 6; // pauses begun (statistics)
const FORCED = 7; // forced runs of the duty cycle (statistics)
const PIDS = 8;
const HOLDER_TID = PIDS + MAX_PIDS;
const HOLDER_DEPTH = HOLDER_TID + MAX_HOLDERS;
const INT_WORDS = HOLDER_DEPTH + MAX_HOLDERS;
// Float64 words (after the Int32 ones).
const F_STOPPED_AT = 0;
const F_PAUSED_TOTAL = 1;
const F_FORCED_UNTIL = 2;
const F_MAX_PAUSE = 3;
const F_RESUME = 4;
const F_HOLDER_START = 5;
const FLOAT_WORDS = F_HOLDER_START + MAX_HOLDERS;
const FLOAT_OFFSET = Math.ceil((INT_WORDS * 4) / 8) * 8;
const BYTES = FLOAT_OFFSET + FLOAT_WORDS * 8;

const RUNNING = 0;
const STOPPED = 1;

/** `Atomics.waitAsync` (Node ≥ 16; TypeScript types it from lib es2024 on, this project targets an earlier lib). */
const waitAsync = (Atomics as unknown as { waitAsync: (typed: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync;

/** Wall clock, ms, consistent across threads (each thread's `performance.now()` has its own origin). */
const now = (): number => performance.timeOrigin + performance.now();

/** This thread's kernel id and start time, read once per thread (module state is per thread). */
let self: { tid: number; start: number } | undefined;
function thisThread(): { tid: number; start: number } {
  if (self === undefined) {
    const tid = ownThreadId();
    self = { tid, start: threadStartTime(tid) };
  }
  return self;
}

/** Sends `signal` to `pid`; a process that is gone (ESRCH) or not ours (EPERM: its pid was reused) is left alone. */
function signal(pid: number, name: 'SIGSTOP' | 'SIGCONT'): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

/** What a gate looks like now (for tests, benchmarks and logs). */
export interface PoolGateSnapshot extends PoolGateSettings {
  stopped: boolean;
  holders: number;
  pids: number[];
  cpus: number;
  /** Total time the children have been stopped, ms. */
  pausedMs: number;
  /** Pauses begun. */
  pauses: number;
  /** Pauses broken by the duty cycle. */
  forcedResumes: number;
}

/** Settings a gate is created with; `cpus` overrides `os.availableParallelism()` (tests). */
export type PoolGateOptions = Partial<PoolGateSettings> & { cpus?: number };

/** A process-wide pause switch for the kernel pool's children (see the module comment). */
export class PoolGate {
  /** The shared state: pass it to another thread and {@link PoolGate.attach} it there. */
  readonly buffer: SharedArrayBuffer;
  /** False where the gate cannot work (not Linux): it then never pauses anything. */
  readonly supported = process.platform === 'linux';
  readonly #i: Int32Array;
  readonly #f: Float64Array;

  private constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength !== BYTES) throw new EsperError('ESPER_INTERNAL', `pool gate: shared buffer of ${buffer.byteLength} bytes, expected ${BYTES}`);
    this.buffer = buffer;
    this.#i = new Int32Array(buffer, 0, INT_WORDS);
    this.#f = new Float64Array(buffer, FLOAT_OFFSET, FLOAT_WORDS);
  }

  /** A new gate (default settings: {@link POOL_GATE_DEFAULTS}). */
  static create(options: PoolGateOptions = {}): PoolGate {
    const gate = new PoolGate(new SharedArrayBuffer(BYTES));
    gate.#i[CPUS] = options.cpus ?? availableParallelism();
    gate.configure({ ...POOL_GATE_DEFAULTS, ...options });
    return gate;
  }

  /** The gate whose state is `buffer` (created by {@link PoolGate.create}, maybe in another thread). */
  static attach(buffer: SharedArrayBuffer): PoolGate {
    return new PoolGate(buffer);
  }

  /** Changes the settings; a change takes effect at the next request or tick. */
  configure(settings: Partial<PoolGateSettings>): void {
    const mode = settings.mode === undefined ? undefined : POOL_GATE_MODES.indexOf(settings.mode);
    if (mode === -1) throw new EsperError('ESPER_CONFIG_INVALID', `pool gate: mode must be one of ${POOL_GATE_MODES.join(', ')}, got ${String(settings.mode)}`);
    for (const key of ['maxPauseMs', 'resumeMs'] as const) {
      const value = settings[key];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new EsperError('ESPER_CONFIG_INVALID', `pool gate: ${key} must be ≥ 0, got ${value}`);
    }
    if (settings.resumeMs === 0) throw new EsperError('ESPER_CONFIG_INVALID', 'pool gate: resumeMs must be > 0');
    this.#locked(() => {
      if (mode !== undefined) Atomics.store(this.#i, MODE, mode);
      if (settings.maxPauseMs !== undefined) this.#f[F_MAX_PAUSE] = settings.maxPauseMs;
      if (settings.resumeMs !== undefined) this.#f[F_RESUME] = settings.resumeMs;
    });
  }

  /** The current settings. */
  settings(): PoolGateSettings {
    return { mode: POOL_GATE_MODES[Atomics.load(this.#i, MODE)] ?? 'off', maxPauseMs: this.#f[F_MAX_PAUSE] ?? 0, resumeMs: this.#f[F_RESUME] ?? 0 };
  }

  /** Adds a pool child; stopped at once if the gate is paused. */
  register(pid: number): void {
    if (!this.supported) return;
    this.#locked(() => {
      const count = this.#i[PID_COUNT] ?? 0;
      if (this.#pids().includes(pid)) return;
      if (count >= MAX_PIDS) throw new EsperError('ESPER_INTERNAL', `pool gate: more than ${MAX_PIDS} pool processes`);
      this.#i[PIDS + count] = pid;
      this.#i[PID_COUNT] = count + 1;
      if (Atomics.load(this.#i, STATE) === STOPPED) signal(pid, 'SIGSTOP');
    });
  }

  /** Removes a pool child and continues it (it may be stopped): call before killing it, and when it has exited. */
  unregister(pid: number): void {
    if (!this.supported) return;
    this.#locked(() => {
      const pids = this.#pids().filter((p) => p !== pid);
      pids.forEach((p, k) => (this.#i[PIDS + k] = p));
      this.#i[PID_COUNT] = pids.length;
    });
    signal(pid, 'SIGCONT');
  }

  /**
   * This thread starts training work: the pool is paused if the policy says
   * so. Returns the release (idempotent); the last release resumes the pool.
   */
  enter(): () => void {
    if (!this.supported) return () => undefined;
    const me = thisThread();
    const slot = this.#locked(() => {
      const found = this.#holderSlot(me.tid, me.start);
      if (found === -1) return -1;
      if (this.#i[HOLDER_DEPTH + found] === 0) {
        this.#i[HOLDER_TID + found] = me.tid;
        this.#f[F_HOLDER_START + found] = me.start;
        this.#i[HOLDERS] = (this.#i[HOLDERS] ?? 0) + 1;
      }
      this.#i[HOLDER_DEPTH + found] = (this.#i[HOLDER_DEPTH + found] ?? 0) + 1;
      const at = now();
      if (Atomics.load(this.#i, STATE) === RUNNING && at >= (this.#f[F_FORCED_UNTIL] ?? 0) && this.#gates()) this.#stop(at);
      return found;
    });
    // More training threads than slots: this one trains without the gate.
    if (slot === -1) return () => undefined;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#locked(() => {
        if (this.#i[HOLDER_TID + slot] !== me.tid) return; // reaped meanwhile (cannot happen to a live thread)
        const depth = (this.#i[HOLDER_DEPTH + slot] ?? 1) - 1;
        this.#i[HOLDER_DEPTH + slot] = depth;
        if (depth === 0) this.#dropHolder(slot);
      });
    };
  }

  /** Runs `fn` holding the gate (see {@link PoolGate.enter}); the pool resumes when it settles, throws included. */
  async hold<T>(fn: () => T | Promise<T>): Promise<T> {
    const release = this.enter();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Total time the children have been stopped, the current pause included, ms. */
  pausedMs(): number {
    return this.#locked(() => {
      const total = this.#f[F_PAUSED_TOTAL] ?? 0;
      return Atomics.load(this.#i, STATE) === STOPPED ? total + (now() - (this.#f[F_STOPPED_AT] ?? 0)) : total;
    });
  }

  /**
   * The duty cycle and the watchdog (pool-gate-controller.ts runs it on the
   * event loop): drops holders whose thread is gone, breaks a pause that
   * lasted `maxPauseMs`, pauses again after a forced run. Returns when to
   * call it next, ms, or null: not before the gate pauses the pool again.
   */
  tick(): number | null {
    if (!this.supported) return null;
    return this.#locked(() => {
      this.#reapDeadHolders();
      const stopped = Atomics.load(this.#i, STATE) === STOPPED;
      const at = now();
      const decision = dutyDecision(
        { stopped, holders: this.#i[HOLDERS] ?? 0, gate: this.#gates(), now: at, stoppedAt: this.#f[F_STOPPED_AT] ?? 0, forcedUntil: this.#f[F_FORCED_UNTIL] ?? 0 },
        { ...this.settings(), watchdogMs: WATCHDOG_MS },
      );
      if (decision.action === 'stop') this.#stop(at);
      if (decision.action === 'resume') this.#continue(at);
      if (decision.action === 'force-resume') {
        this.#continue(at);
        this.#f[F_FORCED_UNTIL] = at + (this.#f[F_RESUME] ?? 0);
        Atomics.add(this.#i, FORCED, 1);
      }
      return decision.wakeInMs;
    });
  }

  /**
   * Resolves when the gate pauses the pool (at once if it is paused). The
   * wait does not keep the process alive; {@link PoolGate.wake} ends it early.
   */
  async paused(): Promise<void> {
    const wait = waitAsync(this.#i, STATE, RUNNING);
    if (wait.async) await wait.value;
  }

  /** Ends every {@link PoolGate.paused} wait (the controller is stopping). */
  wake(): void {
    Atomics.notify(this.#i, STATE);
  }

  /** Continues every child now, without the lock (the process is exiting: nothing may stay stopped). */
  resumeAll(): void {
    for (const pid of this.#pids()) signal(pid, 'SIGCONT');
    Atomics.store(this.#i, STATE, RUNNING);
  }

  /** The gate's state. */
  snapshot(): PoolGateSnapshot {
    return this.#locked(() => ({
      ...this.settings(),
      stopped: Atomics.load(this.#i, STATE) === STOPPED,
      holders: this.#i[HOLDERS] ?? 0,
      pids: this.#pids(),
      cpus: this.#i[CPUS] ?? 0,
      pausedMs: (this.#f[F_PAUSED_TOTAL] ?? 0) + (Atomics.load(this.#i, STATE) === STOPPED ? now() - (this.#f[F_STOPPED_AT] ?? 0) : 0),
      pauses: this.#i[PAUSES] ?? 0,
      forcedResumes: this.#i[FORCED] ?? 0,
    }));
  }

  // --- under the lock -------------------------------------------------------------------

  #pids(): number[] {
    return Array.from(this.#i.subarray(PIDS, PIDS + (this.#i[PID_COUNT] ?? 0)));
  }

  #gates(): boolean {
    const mode = POOL_GATE_MODES[Atomics.load(this.#i, MODE)] ?? 'off';
    return shouldGate(mode, { cpus: this.#i[CPUS] ?? 0, trainers: this.#i[HOLDERS] ?? 0, poolWorkers: this.#i[PID_COUNT] ?? 0 });
  }

  #stop(at: number): void {
    for (const pid of this.#pids()) signal(pid, 'SIGSTOP');
    this.#f[F_STOPPED_AT] = at;
    Atomics.add(this.#i, PAUSES, 1);
    Atomics.store(this.#i, STATE, STOPPED);
    Atomics.notify(this.#i, STATE); // the controller's paused() wait
  }

  #continue(at: number): void {
    if (Atomics.load(this.#i, STATE) !== STOPPED) return;
    for (const pid of this.#pids()) signal(pid, 'SIGCONT');
    this.#f[F_PAUSED_TOTAL] = (this.#f[F_PAUSED_TOTAL] ?? 0) + (at - (this.#f[F_STOPPED_AT] ?? at));
    Atomics.store(this.#i, STATE, RUNNING);
  }

  /** This thread's holder slot (its own, else a free one), or -1 when all are taken. */
  #holderSlot(tid: number, start: number): number {
    let free = -1;
    for (let k = 0; k < MAX_HOLDERS; k++) {
      const depth = this.#i[HOLDER_DEPTH + k] ?? 0;
      if (depth > 0 && this.#i[HOLDER_TID + k] === tid && this.#f[F_HOLDER_START + k] === start) return k;
      if (depth === 0 && free === -1) free = k;
    }
    return free;
  }

  #dropHolder(slot: number): void {
    this.#i[HOLDER_DEPTH + slot] = 0;
    this.#i[HOLDER_TID + slot] = 0;
    const holders = Math.max(0, (this.#i[HOLDERS] ?? 1) - 1);
    this.#i[HOLDERS] = holders;
    if (holders === 0) this.#continue(now());
  }

  #reapDeadHolders(): void {
    if ((this.#i[HOLDERS] ?? 0) === 0) return;
    for (let k = 0; k < MAX_HOLDERS; k++) {
      if ((this.#i[HOLDER_DEPTH + k] ?? 0) === 0) continue;
      if (!threadAlive(this.#i[HOLDER_TID + k] ?? 0, this.#f[F_HOLDER_START + k])) this.#dropHolder(k);
    }
  }

  /**
   * Runs `fn` inside the gate's critical section (a spin lock over the
   * shared buffer; sections are a few system calls long). A thread can die
   * inside it (`worker.terminate()` does not run `finally`), so a lock held
   * by a thread that no longer exists is taken over.
   */
  #locked<T>(fn: () => T): T {
    // Linux: the kernel thread id (so that a dead owner can be found in /proc); elsewhere Node's thread id (never 0 here).
    const me = this.supported ? thisThread().tid : threadId + 1;
    const started = now();
    for (;;) {
      const owner = Atomics.compareExchange(this.#i, LOCK, 0, me);
      if (owner === 0) break;
      if (owner === me) throw new EsperError('ESPER_INTERNAL', 'pool gate: re-entered its own critical section');
      Atomics.wait(this.#i, LOCK, owner, 1);
      if (this.supported && now() - started > LOCK_STEAL_MS && !threadAlive(owner)) Atomics.compareExchange(this.#i, LOCK, owner, 0);
    }
    try {
      return fn();
    } finally {
      Atomics.store(this.#i, LOCK, 0);
      Atomics.notify(this.#i, LOCK, 1);
    }
  }
}
