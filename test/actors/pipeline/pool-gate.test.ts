import { spawn, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { PoolGate } from '../../../src/actors/pipeline/pool-gate.ts';
import { PoolGateController } from '../../../src/actors/pipeline/pool-gate-controller.ts';
import { processState } from '../../../src/actors/pipeline/proc-stat.ts';
import { rejectionOf } from '../../helpers/rejects-with.ts';
import { untilStopped as stopped } from '../../helpers/process-state.ts';

const GATE_MODULE = new URL('../../../src/actors/pipeline/pool-gate.ts', import.meta.url).href;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A real child process standing in for a pool worker. */
function child(): ChildProcess & { pid: number } {
  const spawned = spawn('sleep', ['300'], { stdio: 'ignore' });
  if (spawned.pid === undefined) throw new Error('sleep did not start');
  return spawned as ChildProcess & { pid: number };
}

/**
 * A training thread stand-in: holds `gate` (attached in the thread) and then
 * ends by an uncaught error, process.exit, or waiting to be terminated —
 * never releasing it.
 */
function holderThread(gate: PoolGate, end: 'throw' | 'exit' | 'terminate'): Promise<Worker> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import('tsx/esm/api')
      .then(({ register }) => { register(); return import(workerData.module); })
      .then(({ PoolGate }) => {
        PoolGate.attach(workerData.buffer).enter();
        parentPort.postMessage('holding');
        if (workerData.end === 'throw') setTimeout(() => { throw new Error('trainer crashed'); }, 100);
        if (workerData.end === 'exit') setTimeout(() => process.exit(3), 100);
        if (workerData.end === 'terminate') setInterval(() => undefined, 1000);
      });`;
  const worker = new Worker(source, { eval: true, workerData: { module: GATE_MODULE, buffer: gate.buffer, end } });
  worker.on('error', () => undefined); // the 'throw' case
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve(worker));
    worker.once('exit', (code) => reject(new Error(`holder thread exited (${code}) before holding the gate`)));
  });
}

describe('Pool gate', function () {
  this.timeout(60_000);
  const children: ChildProcess[] = [];
  let controller: PoolGateController | undefined;

  before(function () {
    if (process.platform !== 'linux') this.skip();
  });

  afterEach(() => {
    controller?.stop();
    controller = undefined;
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  function gated(options: Parameters<typeof PoolGate.create>[0] = {}): { gate: PoolGate; pid: number } {
    const gate = PoolGate.create({ mode: 'always', ...options });
    const spawned = child();
    children.push(spawned);
    gate.register(spawned.pid);
    controller = new PoolGateController(gate);
    controller.start();
    return { gate, pid: spawned.pid };
  }

  it('stops a real child while a thread holds the gate and continues it when the hold ends, a throw included', async () => {
    const { gate, pid } = gated();
    await stopped(pid, false);
    await gate.hold(async () => {
      await stopped(pid, true);
      expect(gate.snapshot()).to.include({ stopped: true, holders: 1 });
    });
    await stopped(pid, false);
    const failing = gate.hold(async () => {
      await stopped(pid, true);
      throw new Error('the request failed');
    });
    expect(String(await rejectionOf(failing))).to.include('the request failed');
    await stopped(pid, false);
    expect(gate.snapshot()).to.include({ stopped: false, holders: 0, pauses: 2 });
  });

  it('is re-entrant: nested holds resume the child only when the outer one ends', async () => {
    const { gate, pid } = gated();
    const outer = gate.enter();
    const inner = gate.enter();
    await stopped(pid, true);
    inner();
    inner(); // a release is idempotent
    await sleep(50);
    expect(processState(pid)).to.equal('T');
    outer();
    await stopped(pid, false);
  });

  for (const end of ['throw', 'exit', 'terminate'] as const) {
    it(`continues the child when the thread holding the gate dies (${end})`, async () => {
      const { gate, pid } = gated({ maxPauseMs: 0 }); // no duty cycle: only the watchdog can resume it
      const worker = await holderThread(gate, end);
      await stopped(pid, true);
      expect(gate.snapshot().holders).to.equal(1);
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      if (end === 'terminate') await worker.terminate();
      await exited;
      await stopped(pid, false, 2000);
      expect(gate.snapshot()).to.include({ stopped: false, holders: 0 });
    });
  }

  it('in auto mode, stops the child only when the cores are too few for the trainers and the pool', async () => {
    const roomy = gated({ mode: 'auto', cpus: 8 });
    await roomy.gate.hold(async () => {
      await sleep(50);
      expect(processState(roomy.pid)).to.not.equal('T');
    });
    expect(roomy.gate.snapshot().pauses).to.equal(0);
    controller?.stop();
    const tight = gated({ mode: 'auto', cpus: 2 });
    await tight.gate.hold(() => stopped(tight.pid, true));
    await stopped(tight.pid, false);
  });

  it('breaks a long pause on the duty cycle (the child runs resumeMs every maxPauseMs) and counts only the paused time', async () => {
    const { gate, pid } = gated({ maxPauseMs: 100, resumeMs: 40 });
    const started = performance.now();
    let sawRunning = false;
    await gate.hold(async () => {
      while (performance.now() - started < 700) {
        if (processState(pid) !== 'T') sawRunning = true;
        await sleep(5);
      }
    });
    const held = performance.now() - started;
    const snapshot = gate.snapshot();
    expect(sawRunning, 'the child ran during the hold').to.equal(true);
    expect(snapshot.forcedResumes).to.be.within(3, 6);
    // Paused again after every forced run but one that the hold's end overtook.
    expect(snapshot.pauses).to.be.within(snapshot.forcedResumes, snapshot.forcedResumes + 1);
    // About 100 of every 140 ms paused.
    expect(snapshot.pausedMs).to.be.within(held * 0.5, held * 0.85);
  });

  it('stops a child registered during a pause, and continues a child unregistered during one', async () => {
    const { gate, pid } = gated();
    const release = gate.enter();
    await stopped(pid, true);
    const late = child();
    children.push(late);
    gate.register(late.pid);
    await stopped(late.pid, true);
    gate.unregister(pid);
    await stopped(pid, false);
    expect(gate.snapshot().pids).to.deep.equal([late.pid]);
    release();
    await stopped(late.pid, false);
  });

  it('with mode off, never stops the child', async () => {
    const { gate, pid } = gated({ mode: 'off' });
    await gate.hold(async () => {
      await sleep(50);
      expect(processState(pid)).to.not.equal('T');
    });
    expect(gate.snapshot().pausedMs).to.equal(0);
  });

  it('rejects invalid settings', () => {
    const gate = PoolGate.create();
    expect(() => gate.configure({ mode: 'sometimes' as never })).to.throw(/mode/);
    expect(() => gate.configure({ maxPauseMs: -1 })).to.throw(/maxPauseMs/);
    expect(() => gate.configure({ resumeMs: 0 })).to.throw(/resumeMs/);
  });
});
