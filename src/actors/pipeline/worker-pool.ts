/**
 * A small pool of worker threads that compile and validate kernels off the
 * event loop (DESIGN §3): the node's loop only posts jobs and settles
 * promises, so heartbeats and control requests keep flowing while tensors
 * work.
 *
 * - Jobs queue FIFO; each worker runs one job at a time.
 * - A worker that dies mid-job (a native crash, an uncaught error,
 *   `process.exit`, out of memory) rejects that job with
 *   `ESPER_WORKER_CRASHED` (retryable: the work queue redelivers it) and is
 *   replaced; queued jobs wait for the replacement and are not lost.
 * - With `jobTimeoutMs`, a job running longer is abandoned: tensor work
 *   cannot be interrupted, so its worker is terminated and replaced, and the
 *   job rejects with `ESPER_TIMEOUT`.
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
import { Worker } from 'node:worker_threads';
import type { ValidationReport } from '../../contracts/urabrask.ts';
import { EsperError, type WireError } from '../../errors/index.ts';
import type { BackendName } from '../../tensor/backend.ts';
import type { ValidateOptions } from '../urabrask/index.ts';
import type { CompiledKernel, KernelCompileJob } from '../tezzeret/index.ts';

const BOOTSTRAP = new URL('./pool-bootstrap.mjs', import.meta.url);

// --- protocol (shared with pool-worker.ts) ----------------------------------------

/** `workerData` of a pool worker. */
export interface PoolWorkerData {
  backend: BackendName;
  /** Nice value of each worker thread (Linux): kernel work yields the CPU to training. @default 10 */
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
  threadId: number;
  backend: string;
}

/** A worker's answer to one request. */
export type PoolResult = { type: 'result'; id: number; threadId: number; workerMs: number } & ({ ok: true; data: unknown } | { ok: false; error: WireError });

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
}

/** Where and how long a pooled job ran (for tests, logs and metrics). */
export interface PoolDebug {
  /** `threadId` of the worker that ran it (never the main thread's). */
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
  timer: NodeJS.Timeout | undefined;
  resolve(result: { data: unknown; debug: PoolDebug }): void;
  reject(error: EsperError): void;
}

interface Member {
  readonly worker: Worker;
  ready: boolean;
  threadId: number;
  task: Task | undefined;
  /** Set when the pool terminates it (timeout, close): its exit is expected. */
  retiring: boolean;
  lastError: Error | undefined;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new EsperError('ESPER_CONFIG_INVALID', `worker pool: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** A pool of compile/validate worker threads (see the module comment). */
export class KernelWorkerPool {
  readonly size: number;
  readonly backend: BackendName;
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
    const exits: Promise<number>[] = [];
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
      this.#queue.push({ id: this.#nextId++, job, enqueuedAt: performance.now(), startedAt: 0, timer: undefined, resolve, reject });
      this.#dispatch();
    });
  }

  #spawn(): void {
    const data: PoolWorkerData = { backend: this.backend };
    const worker = new Worker(BOOTSTRAP, { workerData: data });
    const member: Member = { worker, ready: false, threadId: worker.threadId, task: undefined, retiring: false, lastError: undefined };
    this.#members.add(member);
    worker.on('message', (message: PoolReady | PoolResult) => {
      if (message.type === 'ready') {
        member.ready = true;
        member.threadId = message.threadId;
        this.#startFailures = 0;
        this.#dispatch();
      } else {
        this.#settle(member, message);
      }
    });
    worker.on('error', (error) => {
      member.lastError = error;
    });
    worker.once('exit', (code) => this.#onExit(member, code));
  }

  #dispatch(): void {
    for (const member of this.#members) {
      if (this.#queue.length === 0) return;
      if (!member.ready || member.task !== undefined || member.retiring) continue;
      const task = this.#queue.shift() as Task;
      member.task = task;
      task.startedAt = performance.now();
      if (this.#jobTimeoutMs > 0) task.timer = setTimeout(() => this.#timeout(member, task), this.#jobTimeoutMs);
      const request: PoolRequest = { ...task.job, id: task.id };
      try {
        member.worker.postMessage(request);
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
      task.resolve({ data: message.data, debug: { threadId: message.threadId, workerMs: message.workerMs, queuedMs: task.startedAt - task.enqueuedAt } });
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
