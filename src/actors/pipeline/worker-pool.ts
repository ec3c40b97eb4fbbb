/**
 * A small pool of workers that compile and validate kernels off the event
 * loop (DESIGN §3): the node's loop only posts jobs and settles promises, so
 * heartbeats and control requests keep flowing while tensors work.
 *
 * - Workers are child processes by default (`isolation: 'process'`), every
 *   thread of which runs at nice `nice` (19): kernel work is background work
 *   and training must win the CPU (issue 12, "zero stalls"; the stall
 *   benchmark measures it). Worker threads (`isolation: 'thread'`) can lower
 *   only their own thread's priority (Linux): the V8 GC and JIT helper
 *   threads they use are the process's, shared with training, and keep the
 *   normal priority. The priority applied is logged once (a warning when the
 *   OS refuses it; the pool works either way) and {@link KernelWorkerPool.priority}
 *   returns it.
 * - Jobs queue FIFO; each worker runs one job at a time.
 * - A worker that dies mid-job (a native crash, an uncaught error,
 *   `process.exit`, out of memory) rejects that job with
 *   `ESPER_WORKER_CRASHED` (retryable: the work queue redelivers it) and is
 *   replaced; queued jobs wait for the replacement and are not lost.
 * - With `jobTimeoutMs`, a job running longer is abandoned: tensor work
 *   cannot be interrupted, so its worker is terminated and replaced, and the
 *   job rejects with `ESPER_TIMEOUT`. Time the pool gate kept the worker
 *   paused does not count.
 * - Child workers are registered with the process's pool gate
 *   (process-pool-gate.ts): while a training thread of this process works
 *   and the cores are insufficient for both, they are paused (SIGSTOP) and
 *   continued afterwards, so that they take no time slice from a training
 *   step (pool-gate-policy.ts). A worker the pool kills or loses is
 *   unregistered first, which continues it.
 * - Workers that die before they are ready (bad install, backend failure)
 *   are retried with backoff; after `maxStartFailures` in a row the pool
 *   gives up and every queued and later job rejects with
 *   `ESPER_WORKER_CRASHED` (details.startFailures).
 *
 * @example
 * const pool = new KernelWorkerPool({ size: 1 });
 * const { metadata, artifact } = await pool.compile({ ir, tier: 'fast' });
 * const { report } = await pool.validate(artifact, { kernelId: metadata.kernelId });
 * await pool.close();
 */
import { fork } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { getRootLogger, type Logger } from '../../infra/logger.ts';
import type { ValidationReport } from '../../contracts/urabrask.ts';
import { EsperError, type WireError } from '../../errors/index.ts';
import type { BackendName } from '../../tensor/backend.ts';
import type { ValidateOptions } from '../urabrask/index.ts';
import type { CompiledKernel, KernelCompileJob } from '../tezzeret/index.ts';
import type { PoolGate } from './pool-gate.ts';
import type { PriorityReport } from './priority.ts';
import { processPoolGate } from './process-pool-gate.ts';

export type { PriorityReport } from './priority.ts';

const BOOTSTRAP = new URL('./pool-bootstrap.mjs', import.meta.url);

// --- protocol (shared with pool-worker.ts) ----------------------------------------

/** `workerData` of a pool worker thread; a pool child process gets it as JSON in its first argument. */
export interface PoolWorkerData {
  backend: BackendName;
  /** Nice value the worker runs at (see priority.ts): kernel work yields the CPU to training. @default 19 */
  nice?: number;
}

/** A job as it crosses to the worker. */
export type PoolJob =
  | { op: 'compile'; job: KernelCompileJob }
  | { op: 'validate'; artifact: Uint8Array; options: ValidateOptions }
  /** Test hook: the worker dies in the middle of this job. */
  | { op: 'crash'; mode: 'throw' | 'exit' };

/** A job with its request id. */
export type PoolRequest = PoolJob & { id: number };

/** Sent once by a worker when its backend is selected. */
export interface PoolReady {
  type: 'ready';
  pid: number;
  threadId: number;
  backend: string;
  /** The priority the worker gave itself. */
  priority: PriorityReport;
}

/** A worker's answer to one request. */
export type PoolResult = { type: 'result'; id: number; pid: number; threadId: number; workerMs: number } & ({ ok: true; data: unknown } | { ok: false; error: WireError });

// --- the pool -------------------------------------------------------------------------

/** Options of {@link KernelWorkerPool}. */
export interface WorkerPoolOptions {
  /** Worker threads (each runs one job at a time). @default 1 */
  size?: number;
  /** Tensor backend every worker selects. @default 'wasm' */
  backend?: BackendName;
  /** Longest a job may run before its worker is terminated and the job rejects with ESPER_TIMEOUT; 0 for no limit. @default 0 */
  jobTimeoutMs?: number;
  /** Workers in a row that may die before becoming ready before the pool gives up. @default 3 */
  maxStartFailures?: number;
  /** What a worker is: a child process (all its threads niced) or a worker thread of this process (only its own thread niced). @default 'process' */
  isolation?: PoolIsolation;
  /** Nice value (0–19) the workers run at; 0 leaves their priority as it is. @default 19 */
  nice?: number;
  /** Where the pool says (once) what priority its workers got. @default the process logger */
  logger?: Logger;
  /** The gate that pauses child workers while training runs; null for none. Thread workers are never gated. @default the process's ({@link processPoolGate}) */
  gate?: PoolGate | null;
}

/** Where pool workers run. */
export type PoolIsolation = 'process' | 'thread';

/** Where and how long a pooled job ran (for tests, logs and metrics). */
export interface PoolDebug {
  /** Process that ran it: a pool child process's, or this one's for a worker thread. */
  pid: number;
  /** `threadId` of the thread that ran it (0 in a child process: its main thread). Never this process's event loop. */
  threadId: number;
  /** Time inside the worker, ms. */
  workerMs: number;
  /** Time waiting in the queue, ms. */
  queuedMs: number;
}

/** A compile run by the pool. */
export type PooledCompile = CompiledKernel & { debug: PoolDebug };

/** A validation run by the pool. */
export interface PooledValidation {
  report: ValidationReport;
  debug: PoolDebug;
}

/** Counters of a pool. */
export interface PoolStats {
  size: number;
  /** Workers alive (ready or starting). */
  workers: number;
  busy: number;
  queued: number;
  /** Workers replaced after dying or being terminated. */
  restarts: number;
  closed: boolean;
}

interface Task {
  readonly id: number;
  readonly job: PoolJob;
  readonly enqueuedAt: number;
  startedAt: number;
  /** The gate's paused total when the job started (its timeout does not count pauses). */
  pausedAtStart: number;
  timer: NodeJS.Timeout | undefined;
  resolve(result: { data: unknown; debug: PoolDebug }): void;
  reject(error: EsperError): void;
}

/** A worker as the pool drives it: a worker thread or a child process. */
interface Channel {
  /** Sends a request; throws when it cannot be serialized. */
  post(request: PoolRequest): void;
  /** Stops the worker now (a running job is abandoned); resolves once it is gone. */
  terminate(): Promise<void>;
}

interface Member {
  worker: Channel;
  ready: boolean;
  threadId: number;
  task: Task | undefined;
  /** Set when the pool terminates it (timeout, close): its exit is expected. */
  retiring: boolean;
  lastError: Error | undefined;
}

/** Node flags a child worker inherits: not the inspector's (its port is taken). */
function childExecArgv(): string[] {
  return process.execArgv.filter((flag) => !/^--(inspect|debug)/.test(flag));
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new EsperError('ESPER_CONFIG_INVALID', `worker pool: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** A pool of compile/validate worker threads (see the module comment). */
export class KernelWorkerPool {
  readonly size: number;
  readonly backend: BackendName;
  readonly isolation: PoolIsolation;
  readonly nice: number;
  readonly #logger: Logger | undefined;
  readonly #gate: PoolGate | undefined;
  #priority: PriorityReport | undefined;
  #priorityLogged = false;
  readonly #jobTimeoutMs: number;
  readonly #maxStartFailures: number;
  readonly #members = new Set<Member>();
  readonly #queue: Task[] = [];
  #nextId = 1;
  #restarts = 0;
  #startFailures = 0;
  #closed = false;
  #failed: EsperError | undefined;
  #respawnTimer: NodeJS.Timeout | undefined;

  constructor(options: WorkerPoolOptions = {}) {
    this.size = positiveInt('size', options.size ?? 1);
    this.backend = options.backend ?? 'wasm';
    const timeout = options.jobTimeoutMs ?? 0;
    if (!(timeout >= 0) || !Number.isFinite(timeout)) throw new EsperError('ESPER_CONFIG_INVALID', `worker pool: jobTimeoutMs must be ≥ 0, got ${timeout}`);
    this.#jobTimeoutMs = timeout;
    this.#maxStartFailures = positiveInt('maxStartFailures', options.maxStartFailures ?? 3);
    this.isolation = options.isolation ?? 'process';
    if (this.isolation !== 'process' && this.isolation !== 'thread') throw new EsperError('ESPER_CONFIG_INVALID', `worker pool: isolation must be 'process' or 'thread', got ${String(this.isolation)}`);
    const nice = options.nice ?? 19;
    if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new EsperError('ESPER_CONFIG_INVALID', `worker pool: nice must be an integer in 0..19, got ${nice}`);
    this.nice = nice;
    this.#logger = options.logger;
    this.#gate = this.isolation === 'process' ? (options.gate === undefined ? processPoolGate() : (options.gate ?? undefined)) : undefined;
    for (let i = 0; i < this.size; i++) this.#spawn();
  }

  /** Compiles a blueprint in a worker (see compiler.ts); rejects with the compiler's coded error or ESPER_WORKER_CRASHED / ESPER_TIMEOUT. */
  async compile(job: KernelCompileJob): Promise<PooledCompile> {
    const { data, debug } = await this.#submit({ op: 'compile', job });
    return { ...(data as CompiledKernel), debug };
  }

  /** Validates a kernel artifact in a worker (see validator.ts); a bad kernel resolves with a REJECTED report. */
  async validate(artifact: Uint8Array, options: ValidateOptions = {}): Promise<PooledValidation> {
    const { data, debug } = await this.#submit({ op: 'validate', artifact, options });
    return { report: data as ValidationReport, debug };
  }

  /**
   * Test hook: a job whose worker dies in the middle of it — by an uncaught
   * error (`throw`) or `process.exit` (`exit`). Always rejects, with
   * ESPER_WORKER_CRASHED; the pool replaces the worker.
   */
  async debugCrash(mode: 'throw' | 'exit' = 'throw'): Promise<never> {
    await this.#submit({ op: 'crash', mode });
    throw new EsperError('ESPER_INTERNAL', 'worker pool: the crash job returned');
  }

  /** The priority the last worker to start gave itself; undefined before one is ready. */
  priority(): PriorityReport | undefined {
    return this.#priority;
  }

  /** Current counters. */
  stats(): PoolStats {
    let busy = 0;
    for (const m of this.#members) if (m.task !== undefined) busy++;
    return { size: this.size, workers: this.#members.size, busy, queued: this.#queue.length, restarts: this.#restarts, closed: this.#closed };
  }

  /**
   * Stops the pool: queued and later jobs reject with ESPER_UNAVAILABLE
   * (retryable), running jobs get up to `drainMs` to finish, then every
   * worker is terminated (a job still running rejects with ESPER_UNAVAILABLE).
   */
  async close(options: { drainMs?: number } = {}): Promise<void> {
    if (this.#closed && this.#members.size === 0) return;
    this.#closed = true;
    if (this.#respawnTimer !== undefined) clearTimeout(this.#respawnTimer);
    const closing = new EsperError('ESPER_UNAVAILABLE', 'worker pool closed before the job ran', { retryable: true });
    for (const task of this.#queue.splice(0)) task.reject(closing);
    const drainMs = options.drainMs ?? 0;
    if (drainMs > 0) {
      const deadline = Date.now() + drainMs;
      while ([...this.#members].some((m) => m.task !== undefined) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    const exits: Promise<void>[] = [];
    for (const member of [...this.#members]) {
      const task = member.task;
      if (task !== undefined) {
        member.task = undefined;
        this.#finish(task);
        task.reject(new EsperError('ESPER_UNAVAILABLE', 'worker pool closed while the job ran', { retryable: true }));
      }
      member.retiring = true;
      exits.push(member.worker.terminate());
    }
    await Promise.allSettled(exits);
  }

  #submit(job: PoolJob): Promise<{ data: unknown; debug: PoolDebug }> {
    if (this.#closed) return Promise.reject(new EsperError('ESPER_UNAVAILABLE', 'worker pool is closed', { retryable: true }));
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, job, enqueuedAt: performance.now(), startedAt: 0, pausedAtStart: 0, timer: undefined, resolve, reject });
      this.#dispatch();
    });
  }

  #spawn(): void {
    const data: PoolWorkerData = { backend: this.backend, nice: this.nice };
    const member: Member = { worker: undefined as unknown as Channel, ready: false, threadId: -1, task: undefined, retiring: false, lastError: undefined };
    const onMessage = (message: PoolReady | PoolResult): void => {
      if (message.type === 'ready') {
        member.ready = true;
        member.threadId = message.threadId;
        this.#startFailures = 0;
        this.#onPriority(message.priority);
        this.#dispatch();
      } else {
        this.#settle(member, message);
      }
    };
    const onError = (error: Error): void => {
      member.lastError = error;
    };
    const onExit = (code: number): void => this.#onExit(member, code);
    member.worker = this.isolation === 'thread' ? this.#thread(data, onMessage, onError, onExit) : this.#process(data, onMessage, onError, onExit);
    this.#members.add(member);
  }

  #thread(data: PoolWorkerData, onMessage: (message: PoolReady | PoolResult) => void, onError: (error: Error) => void, onExit: (code: number) => void): Channel {
    const worker = new Worker(BOOTSTRAP, { workerData: data });
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.once('exit', onExit);
    return {
      post: (request) => worker.postMessage(request),
      terminate: async () => {
        await worker.terminate();
      },
    };
  }

  #process(data: PoolWorkerData, onMessage: (message: PoolReady | PoolResult) => void, onError: (error: Error) => void, onExit: (code: number) => void): Channel {
    // 'advanced' serialization is the structured clone worker threads use: artifacts (Uint8Array) and errors cross as they are.
    const child = fork(fileURLToPath(BOOTSTRAP), [JSON.stringify(data)], { serialization: 'advanced', execArgv: childExecArgv() });
    const gate = this.#gate;
    const pid = child.pid;
    if (gate !== undefined && pid !== undefined) gate.register(pid);
    child.on('message', (message) => onMessage(message as PoolReady | PoolResult));
    child.on('error', onError);
    // A signal (SIGKILL on timeout or close, a native crash) reads as 128 + its number, as in a shell.
    child.once('exit', (code, signal) => {
      if (gate !== undefined && pid !== undefined) gate.unregister(pid);
      onExit(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      post: (request) => {
        child.send(request, (error) => {
          // The channel closed under the request: the exit that follows rejects the job.
          if (error !== null) onError(error);
        });
      },
      terminate: async () => {
        // Out of the gate first: no training thread stops it again, and a stopped child is continued (SIGKILL would end it anyway).
        if (gate !== undefined && pid !== undefined) gate.unregister(pid);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await gone;
      },
    };
  }

  #onPriority(report: PriorityReport): void {
    this.#priority = report;
    if (this.#priorityLogged) return;
    this.#priorityLogged = true;
    const logger = this.#logger ?? getRootLogger();
    const fields = { component: 'kernel-pool', isolation: this.isolation, size: this.size, ...report };
    if (report.applied) {
      logger.info(fields, `kernel pool: ${this.size} ${this.isolation === 'process' ? 'child process' : 'worker thread'}(s) at nice ${report.requested}${report.idleClass === true ? ', SCHED_IDLE' : ''}`);
    } else {
      logger.warn(fields, `kernel pool: could not lower the workers' CPU priority to nice ${report.requested} (${report.error ?? `threads at nice ${report.niceMin ?? '?'}..${report.niceMax ?? '?'}`}); kernel work may slow training`);
    }
  }

  #dispatch(): void {
    for (const member of this.#members) {
      if (this.#queue.length === 0) return;
      if (!member.ready || member.task !== undefined || member.retiring) continue;
      const task = this.#queue.shift() as Task;
      member.task = task;
      task.startedAt = performance.now();
      task.pausedAtStart = this.#gate?.pausedMs() ?? 0;
      if (this.#jobTimeoutMs > 0) task.timer = setTimeout(() => this.#timeout(member, task), this.#jobTimeoutMs);
      const request: PoolRequest = { ...task.job, id: task.id };
      try {
        member.worker.post(request);
      } catch (error) {
        // Not cloneable (e.g. a function in the options): the job fails, the worker is fine.
        member.task = undefined;
        this.#finish(task);
        task.reject(new EsperError('ESPER_SCHEMA_VIOLATION', `worker pool: the job cannot be sent to a worker: ${error instanceof Error ? error.message : String(error)}`));
      }
    }
  }

  #settle(member: Member, message: PoolResult): void {
    const task = member.task;
    if (task === undefined || task.id !== message.id) return;
    member.task = undefined;
    this.#finish(task);
    if (message.ok) {
      task.resolve({ data: message.data, debug: { pid: message.pid, threadId: message.threadId, workerMs: message.workerMs, queuedMs: task.startedAt - task.enqueuedAt } });
    } else {
      task.reject(EsperError.fromWire(message.error));
    }
    this.#dispatch();
  }

  #finish(task: Task): void {
    if (task.timer !== undefined) clearTimeout(task.timer);
    task.timer = undefined;
  }

  #timeout(member: Member, task: Task): void {
    if (member.task !== task) return;
    // Time the gate kept the worker stopped is not the job's: wait for the rest.
    const paused = (this.#gate?.pausedMs() ?? 0) - task.pausedAtStart;
    const ran = performance.now() - task.startedAt - paused;
    if (ran < this.#jobTimeoutMs) {
      task.timer = setTimeout(() => this.#timeout(member, task), this.#jobTimeoutMs - ran);
      return;
    }
    member.task = undefined;
    member.retiring = true;
    task.reject(
      new EsperError('ESPER_TIMEOUT', `worker pool: ${task.job.op} job ran longer than ${this.#jobTimeoutMs} ms; its worker was terminated`, {
        details: { op: task.job.op, timeoutMs: this.#jobTimeoutMs, threadId: member.threadId },
      }),
    );
    void member.worker.terminate();
  }

  #onExit(member: Member, code: number): void {
    this.#members.delete(member);
    const task = member.task;
    member.task = undefined;
    if (task !== undefined) {
      this.#finish(task);
      const why = member.lastError === undefined ? `exited with code ${code}` : `crashed: ${member.lastError.message}`;
      task.reject(
        new EsperError('ESPER_WORKER_CRASHED', `worker pool: the worker running a ${task.job.op} job ${why}`, {
          details: { op: task.job.op, exitCode: code, threadId: member.threadId },
          ...(member.lastError === undefined ? {} : { cause: member.lastError }),
        }),
      );
    }
    if (this.#closed) return;
    if (!member.ready && !member.retiring) {
      this.#startFailures++;
      if (this.#startFailures >= this.#maxStartFailures) {
        this.#failed = new EsperError('ESPER_WORKER_CRASHED', `worker pool: ${this.#startFailures} workers in a row died before becoming ready; giving up`, {
          details: { startFailures: this.#startFailures, exitCode: code, lastError: member.lastError?.message ?? null },
        });
        for (const queued of this.#queue.splice(0)) queued.reject(this.#failed);
        return;
      }
    }
    this.#restarts++;
    const delayMs = this.#startFailures === 0 ? 0 : 100 * 2 ** (this.#startFailures - 1);
    if (delayMs === 0) {
      this.#spawn();
    } else {
      this.#respawnTimer = setTimeout(() => {
        this.#respawnTimer = undefined;
        if (!this.#closed) this.#spawn();
      }, delayMs);
    }
  }
}
