/**
 * A compile/validate pool worker (DESIGN §3) — a child process (the default)
 * or a worker thread: lowers its CPU priority (priority.ts), selects its
 * tensor backend, says `ready`, then serves one job at a time — compile
 * (compiler.ts) or validate (urabrask/validator.ts) — answering each with its
 * result or a coded error. Spawned by worker-pool.ts through
 * pool-bootstrap.mjs.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { toWireError } from '../../errors/index.ts';
import { isBackendName, selectBackend } from '../../tensor/backend.ts';
import { validateKernel } from '../urabrask/index.ts';
import { compileKernel } from '../tezzeret/index.ts';
import { lowerPriority } from './priority.ts';
import type { PoolReady, PoolRequest, PoolResult, PoolWorkerData } from './worker-pool.ts';

/** The channel to the pool: a worker thread's parent port, or a child process's IPC channel. */
interface Port {
  post(message: PoolReady | PoolResult, transfer: ArrayBuffer[]): void;
  onMessage(listener: (request: PoolRequest) => void): void;
}

function connect(): { port: Port; data: PoolWorkerData; scope: 'thread' | 'process' } {
  if (parentPort !== null) {
    const thread = parentPort;
    return {
      port: { post: (message, transfer) => thread.postMessage(message, transfer), onMessage: (listener) => thread.on('message', listener) },
      data: workerData as PoolWorkerData,
      scope: 'thread',
    };
  }
  const send = process.send?.bind(process);
  // The pool passes the worker data as the first argument (JSON).
  const encoded = process.argv[2];
  if (send === undefined || encoded === undefined) throw new Error('pool-worker.ts must run in a worker thread or a child process forked by the kernel worker pool');
  // The pool is gone (it closed, or its process died): so is this worker.
  process.once('disconnect', () => process.exit(0));
  return {
    // The channel copies (structured clone, 'advanced' serialization): nothing to transfer.
    port: { post: (message) => void send(message), onMessage: (listener) => process.on('message', listener as (message: unknown) => void) },
    data: JSON.parse(encoded) as PoolWorkerData,
    scope: 'process',
  };
}

const { port, data, scope } = connect();

async function handle(request: PoolRequest): Promise<{ data: unknown; transfer: ArrayBuffer[] }> {
  switch (request.op) {
    case 'compile': {
      const result = await compileKernel(request.job);
      // The artifact owns its buffer (compileKernel allocates it), so it can move instead of being copied.
      const transfer = result.artifact.byteOffset === 0 && result.artifact.byteLength === result.artifact.buffer.byteLength ? [result.artifact.buffer as ArrayBuffer] : [];
      return { data: result, transfer };
    }
    case 'validate':
      return { data: await validateKernel(request.artifact, request.options), transfer: [] };
    case 'crash':
      // Test hook: die in the middle of a job, as a native crash or an uncaught error would.
      if (request.mode === 'exit') process.exit(3);
      setImmediate(() => {
        throw new Error('pool worker crash requested');
      });
      return new Promise(() => undefined);
  }
}

async function main(): Promise<void> {
  // Kernel work is background work: the training thread must win the CPU (the stall benchmark measures it).
  const priority = lowerPriority(data.nice ?? 19, scope);
  const backend = isBackendName(data.backend) ? data.backend : 'wasm';
  await selectBackend(backend);
  // One job at a time: the pool sends the next only after this one is answered.
  port.onMessage((request) => {
    const started = performance.now();
    void handle(request).then(
      ({ data: result, transfer }) => {
        const message: PoolResult = { type: 'result', id: request.id, ok: true, data: result, pid: process.pid, threadId, workerMs: performance.now() - started };
        port.post(message, transfer);
      },
      (error: unknown) => {
        const message: PoolResult = { type: 'result', id: request.id, ok: false, error: toWireError(error), pid: process.pid, threadId, workerMs: performance.now() - started };
        port.post(message, []);
      },
    );
  });
  const ready: PoolReady = { type: 'ready', pid: process.pid, threadId, backend, priority };
  port.post(ready, []);
}

await main();
