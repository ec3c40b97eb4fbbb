/**
 * A compile/validate pool worker thread (DESIGN §3): selects its tensor
 * backend, says `ready`, then serves one job at a time — compile
 * (compiler.ts) or validate (urabrask/validator.ts) — answering each with its
 * result or a coded error. Spawned by worker-pool.ts through
 * pool-bootstrap.mjs.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { toWireError } from '../../errors/index.ts';
import { lowerThreadPriority } from '../../infra/thread-priority.ts';
import { isBackendName, selectBackend } from '../../tensor/backend.ts';
import { validateKernel } from '../urabrask/index.ts';
import { compileKernel } from '../tezzeret/index.ts';
import type { PoolReady, PoolRequest, PoolResult, PoolWorkerData } from './worker-pool.ts';

if (parentPort === null) throw new Error('pool-worker.ts must run in a worker thread');
const port = parentPort;
const data = workerData as PoolWorkerData;

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
  lowerThreadPriority(data.nice ?? 10);
  const backend = isBackendName(data.backend) ? data.backend : 'wasm';
  await selectBackend(backend);
  // One job at a time: the pool sends the next only after this one is answered.
  port.on('message', (request: PoolRequest) => {
    const started = performance.now();
    void handle(request).then(
      ({ data: result, transfer }) => {
        const message: PoolResult = { type: 'result', id: request.id, ok: true, data: result, threadId, workerMs: performance.now() - started };
        port.postMessage(message, transfer);
      },
      (error: unknown) => {
        const message: PoolResult = { type: 'result', id: request.id, ok: false, error: toWireError(error), threadId, workerMs: performance.now() - started };
        port.postMessage(message);
      },
    );
  });
  const ready: PoolReady = { type: 'ready', threadId, backend };
  port.postMessage(ready);
}

await main();
