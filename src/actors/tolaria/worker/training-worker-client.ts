/**
 * The event-loop side of a training worker: spawns the thread, sends
 * requests, and settles each with the worker's answer. If the thread dies,
 * every pending and later request is rejected with ESPER_WORKER_CRASHED, so a
 * supervisor can restart the run from its last checkpoint.
 */
import { Worker } from 'node:worker_threads';
import { EsperError } from '../../../errors/index.ts';
import type { WorkerOp, WorkerOps, WorkerRequest, WorkerResponse } from './worker-protocol.ts';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

export class TrainingWorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: EsperError) => void }>();
  #nextId = 1;
  #dead: EsperError | undefined;
  /** Resolves when the thread has exited (for any reason). */
  readonly exited: Promise<number>;

  constructor() {
    this.#worker = new Worker(BOOTSTRAP);
    this.#worker.on('message', (response: WorkerResponse) => this.#settle(response));
    this.#worker.on('error', (error) => this.#fail(new EsperError('ESPER_WORKER_CRASHED', `training worker crashed: ${error.message}`, { cause: error })));
    this.exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        this.#fail(new EsperError('ESPER_WORKER_CRASHED', `training worker exited (code ${code})`, { details: { exitCode: code } }));
        resolve(code);
      });
    });
  }

  /** Sends one request; resolves with the result or rejects with the worker's coded error. */
  request<O extends WorkerOp>(op: O, args: WorkerOps[O]['args']): Promise<WorkerOps[O]['result']> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    const message: WorkerRequest<O> = { id, op, args };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage(message);
    });
  }

  /** Stops the thread (pending requests are rejected). */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  #settle(response: WorkerResponse): void {
    const pending = this.#pending.get(response.id);
    if (pending === undefined) return;
    this.#pending.delete(response.id);
    if (response.ok) pending.resolve(response.data);
    else pending.reject(EsperError.fromWire(response.error));
  }

  #fail(error: EsperError): void {
    this.#dead ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
