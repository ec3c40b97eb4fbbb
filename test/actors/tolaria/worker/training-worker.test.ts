import { expect } from 'chai';
import { TrainingWorkerClient } from '../../../../src/actors/tolaria/worker/training-worker-client.ts';
import { LayerSignalsSchema } from '../../../../src/contracts/tolaria.ts';
import { EsperError } from '../../../../src/errors/index.ts';

describe('training worker thread', function () {
  this.timeout(60_000);

  it('runs epochs off the event loop: the loop keeps ticking while the worker trains', async () => {
    const worker = new TrainingWorkerClient();
    try {
      const summary = await worker.request('create', {
        backend: 'wasm',
        seed: 3,
        dataset: { kind: 'spirals', n: 2000 },
        host: { kind: 'mlp', hidden: [64, 64] },
        batchSize: 16,
      });
      expect(summary.totalParams).to.equal(2 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const started = Date.now();
      const report = await worker.request('runEpoch', null);
      clearInterval(timer);
      const elapsed = Date.now() - started;
      expect(report.epoch).to.equal(1);
      expect(report.steps).to.equal(100);
      // A blocked loop would fire the interval at most once or twice over the whole epoch.
      expect(ticks).to.be.greaterThan(Math.min(10, Math.floor(elapsed / 20)));
      const memory = await worker.request('memory', null);
      expect(memory.numTensors).to.be.greaterThan(0);
    } finally {
      await worker.terminate();
    }
  });

  it("carries the per-layer signals of a model with slots in the epoch report, as the contract's LayerSignals", async () => {
    const worker = new TrainingWorkerClient();
    try {
      await worker.request('create', {
        backend: 'cpu',
        seed: 1,
        dataset: { kind: 'spirals', n: 300 },
        host: { kind: 'mlp', hidden: [6, 4] },
        slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }],
        batchSize: 32,
      });
      const report = await worker.request('runEpoch', null);
      const layers = (report.layers ?? []).map((s) => LayerSignalsSchema.parse(s));
      expect(layers.map((s) => [s.layer, s.kind, s.width])).to.deep.equal([
        [1, 'dense', 6],
        [2, 'dense', 4],
      ]);
    } finally {
      await worker.terminate();
    }
  });

  it('answers a bad request with a coded error and keeps serving', async () => {
    const worker = new TrainingWorkerClient();
    try {
      const error = await worker.request('runEpoch', null).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(EsperError);
      expect((error as EsperError).code).to.equal('ESPER_INTERNAL');
      const bad = await worker.request('create', { dataset: { kind: 'nope' } } as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((bad as EsperError).code).to.be.a('string');
      const summary = await worker.request('create', { backend: 'cpu', dataset: { kind: 'xor', n: 100 }, host: { kind: 'mlp', hidden: [4] } });
      expect(summary.hostParams).to.be.greaterThan(0);
    } finally {
      await worker.terminate();
    }
  });

  it('rejects pending and later requests with ESPER_WORKER_CRASHED when the thread dies', async () => {
    const worker = new TrainingWorkerClient();
    const crash = worker.request('crash', null).then(
      () => undefined,
      (e: unknown) => e,
    );
    const error = await crash;
    expect((error as EsperError).code).to.equal('ESPER_WORKER_CRASHED');
    const later = await worker.request('summary', null).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((later as EsperError).code).to.equal('ESPER_WORKER_CRASHED');
    await worker.exited;
  });
});
