import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { POOL_GATE_DEFAULTS } from '../../../src/actors/pipeline/pool-gate-policy.ts';
import { configureProcessPoolGate, processPoolGate } from '../../../src/actors/pipeline/process-pool-gate.ts';
import { processState } from '../../../src/actors/pipeline/proc-stat.ts';
import { TrainingWorkerClient } from '../../../src/actors/tolaria/worker/training-worker-client.ts';
import { rejectionOf, rejectsWith } from '../../helpers/rejects-with.ts';
import { until } from '../../helpers/until.ts';

describe('Process pool gate and the training worker', function () {
  this.timeout(60_000);

  before(function () {
    if (process.platform !== 'linux') this.skip();
  });

  after(() => {
    configureProcessPoolGate(POOL_GATE_DEFAULTS);
  });

  it('is one gate per process', () => {
    expect(processPoolGate()).to.equal(processPoolGate());
  });

  it('pauses the pool while a training worker serves a request, resumes it after a failed one, and after the thread dies mid-request', async () => {
    // No duty cycle: only the end of a request, or the watchdog, resumes the child.
    const gate = configureProcessPoolGate({ mode: 'always', maxPauseMs: 0 });
    const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    const pid = sleeper.pid as number;
    gate.register(pid);
    // Started after the gate exists: the thread attaches to it (worker_threads environment data).
    const client = new TrainingWorkerClient();
    try {
      await client.request('create', { backend: 'wasm', seed: 3, dataset: { kind: 'spirals', n: 2000 }, host: { kind: 'mlp', hidden: [64, 64] }, batchSize: 16 });
      const before = gate.snapshot().pauses;
      const pausedBefore = gate.snapshot().pausedMs;
      // The child is stopped ('T' in /proc) while the epoch trains, and continued when it ends.
      let sawStopped = false;
      const watch = setInterval(() => (sawStopped ||= processState(pid) === 'T'), 2);
      const started = performance.now();
      const report = await client.request('runEpoch', null).finally(() => clearInterval(watch));
      const epochMs = performance.now() - started;
      expect(report.steps).to.equal(100);
      expect(sawStopped, 'the child was stopped during the epoch').to.equal(true);
      expect(gate.snapshot()).to.include({ pauses: before + 1, stopped: false, holders: 0 });
      expect(gate.snapshot().pausedMs - pausedBefore).to.be.within(epochMs * 0.5, epochMs + 5);
      expect(processState(pid)).to.not.equal('T');
      // A request that throws inside the worker (a checkpoint that is not one): the gate is released anyway.
      await rejectsWith(client.request('restore', { bytes: new Uint8Array([1, 2, 3]), mode: 'exact' }), 'ESPER_CHECKPOINT_CORRUPT');
      expect(gate.snapshot()).to.include({ pauses: before + 2, stopped: false, holders: 0 });
      expect(processState(pid)).to.not.equal('T');
      // The thread dies holding the gate (its finally never runs): the watchdog continues the child.
      const crashed = rejectionOf(client.request('crash', null));
      await client.exited;
      await crashed;
      expect(gate.snapshot().pauses).to.equal(before + 3);
      await until(() => Promise.resolve(processState(pid) !== 'T' && !gate.snapshot().stopped ? true : undefined), 2000, 10);
      expect(gate.snapshot().holders).to.equal(0);
    } finally {
      gate.unregister(pid);
      sleeper.kill('SIGKILL');
      await client.terminate();
    }
  });
});
