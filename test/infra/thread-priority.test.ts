import { expect } from 'chai';
import { Worker } from 'node:worker_threads';

const MODULE = new URL('../../src/infra/thread-priority.ts', import.meta.url).href;

// Calls lowerThreadPriority inside a worker thread, then reads that thread's
// and the main thread's nice values back from /proc (Linux only).
const PROBE = `
const { parentPort } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const niceOf = (path) => Number(readFileSync(path, 'utf8').split(') ')[1].split(' ')[16]);
import('tsx/esm/api')
  .then(({ register }) => { register(); return import(${JSON.stringify(MODULE)}); })
  .then(({ lowerThreadPriority }) => {
    const applied = lowerThreadPriority(10);
    parentPort.postMessage({ applied, worker: niceOf('/proc/thread-self/stat'), main: niceOf('/proc/' + process.pid + '/task/' + process.pid + '/stat') });
  });
`;

describe('lowerThreadPriority', () => {
  it('renices only the calling thread, as kernel pool workers do', async function () {
    if (process.platform !== 'linux') this.skip();
    const worker = new Worker(PROBE, { eval: true });
    const result = await new Promise<{ applied: boolean; worker: number; main: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(result.applied).to.equal(true);
    expect(result.worker).to.equal(10);
    expect(result.main).to.equal(0);
  });
});
