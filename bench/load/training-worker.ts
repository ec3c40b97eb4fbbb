/**
 * A worker-thread training loop for benchmarks that need "training in this
 * process" as their load (bench/control.bench.ts --load training): the MLP
 * 784-256-128-10, Adam, batch 128 on random data, on the backend named in
 * workerData (`auto` by default: native where built), stepping until the
 * parent posts 'stop'; it then posts the number of steps it ran.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../../src/tensor/backend.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import { Optimizer, trainStep } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';

const backend = ((workerData as { backend?: BackendName } | undefined)?.backend ?? 'auto');
await selectBackend(backend);
const rng = new Rng(1);
const model = mlpHost({ widths: [784, 256, 128, 10], rng });
const optimizer = new Optimizer({ kind: 'adam', learningRate: 1e-3 });
const xs = tf.tensor2d(Float32Array.from({ length: 128 * 784 }, () => rng.normal()), [128, 784]);
const ys = tf.tensor1d(Int32Array.from({ length: 128 }, () => rng.int(10)), 'int32');
let running = true;
let steps = 0;
parentPort?.on('message', () => {
  running = false;
});
parentPort?.postMessage({ ready: tf.getBackend() });
// Steps back to back, yielding between them (as the real training worker handles its messages).
function step(): void {
  trainStep(model, optimizer, xs, ys);
  steps++;
  if (running) setImmediate(step);
  else parentPort?.postMessage({ steps });
}
step();
