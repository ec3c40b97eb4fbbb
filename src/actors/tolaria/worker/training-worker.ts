/**
 * The training worker thread: owns one TrainingSession and serves requests
 * from the node's event loop, one at a time, in order. Tensor work never runs
 * on the node's event loop (DESIGN §3).
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { EsperError, toWireError } from '../../../errors/index.ts';
import { processPoolGate } from '../../pipeline/index.ts';
import { prepareKernel } from './kernel-preparation.ts';
import { TrainingSession } from '../../../tensor/training/training-session.ts';
import type { WorkerOps, WorkerRequest, WorkerResponse } from './worker-protocol.ts';

if (parentPort === null) throw new Error('training-worker.ts must run in a worker thread');
const port = parentPort;
let session: TrainingSession | undefined;

function requireSession(): TrainingSession {
  if (session === undefined) throw new EsperError('ESPER_INTERNAL', 'the training worker has no session yet (send create first)');
  return session;
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case 'create': {
      session?.dispose();
      session = await TrainingSession.create(request.args as WorkerOps['create']['args']);
      return session.summary();
    }
    case 'runEpoch':
      return requireSession().runEpoch();
    case 'evaluate':
      return requireSession().evaluate();
    case 'evaluateTest':
      return requireSession().evaluateTest();
    case 'applySlot': {
      const s = requireSession();
      const applied = s.applySlot(request.args as WorkerOps['applySlot']['args']);
      return { ...s.summary(), ...applied };
    }
    case 'summary':
      return requireSession().summary();
    case 'reviveLayers':
      return requireSession().reviveLayers(request.args as WorkerOps['reviveLayers']['args']);
    case 'inspectSlot':
      return requireSession().inspectSlot((request.args as WorkerOps['inspectSlot']['args']).slotId);
    case 'checkpoint':
      return requireSession().checkpoint((request.args as WorkerOps['checkpoint']['args']).meta);
    case 'restore': {
      const { bytes, mode } = request.args as WorkerOps['restore']['args'];
      return requireSession().restore(bytes, mode);
    }
    case 'poisonSeed':
      return { poisoned: requireSession().poisonSeed((request.args as WorkerOps['poisonSeed']['args']).slotId) };
    case 'memory': {
      const memory = tf.memory();
      return { numTensors: memory.numTensors, numBytes: memory.numBytes };
    }
    case 'prepareKernel':
      requireSession();
      return prepareKernel(request.args as WorkerOps['prepareKernel']['args']);
    case 'crash':
      setImmediate(() => {
        throw new Error('training worker crash requested');
      });
      return new Promise(() => undefined);
  }
}

// Requests are served strictly in order: tensors are not thread-safe and an
// epoch must finish before the next slot change applies.
let queue: Promise<void> = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    let response: WorkerResponse;
    try {
      // The kernel pool's children pause while this thread works, where the cores are too few for both (pipeline/pool-gate.ts).
      response = { id: request.id, ok: true, data: await processPoolGate().hold(() => handle(request)) };
    } catch (error) {
      response = { id: request.id, ok: false, error: toWireError(error) };
    }
    port.postMessage(response);
  });
});
