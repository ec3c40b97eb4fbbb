import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { registerNativeBackend } from '../../../src/tensor/native/native-backend.ts';

interface ProbeResult {
  backend: string;
  product: number[];
}

function probe(): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker-probe.mjs', import.meta.url));
    worker.once('message', (message: ProbeResult) => {
      resolve(message);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('native backend: worker threads', function () {
  this.timeout(60_000);
  before(function () {
    const registration = registerNativeBackend(); // loads the addon in this thread too
    if (!registration.ok) {
      if (process.env['ESPER_REQUIRE_NATIVE'] === '1') throw new Error(`ESPER_REQUIRE_NATIVE=1 but the native backend is unavailable: ${registration.reason}`);
      console.log(`      (skipped: native backend unavailable: ${registration.reason})`);
      this.skip();
    }
  });

  it('loads and computes in two worker threads at once, beside the main thread (context-aware addon)', async () => {
    const results = await Promise.all([probe(), probe()]);
    for (const r of results) expect(r).to.deep.equal({ backend: 'native', product: [17, 23, 39, 53] });
  });
});
