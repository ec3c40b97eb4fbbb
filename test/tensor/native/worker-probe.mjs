// A worker thread that selects the native backend and multiplies two matrices
// (test/tensor/native/native-worker.test.ts): the addon must load in a worker,
// as training runs in one. Installs the TypeScript loader in this thread first.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const tf = await import('@tensorflow/tfjs');
const { selectBackend } = await import('../../../src/tensor/backend.ts');
const backend = await selectBackend('native');
const product = tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]), false, true).dataSync()));
parentPort.postMessage({ backend, product });
