/**
 * The process's pool gate (pool-gate.ts), one per process, shared by its
 * threads: the main thread creates it on first use, starts its controller
 * (duty cycle and watchdog) and hands its buffer to every worker thread
 * started afterwards (`worker_threads.setEnvironmentData`), where
 * {@link processPoolGate} attaches to it. A node configures it at start,
 * before any training thread exists (`pipeline.poolGate`); the kernel pool
 * registers its children with it, and the training worker
 * (tolaria/worker/training-worker.ts) holds it while it serves a request.
 *
 * A worker thread started before the main thread created the gate (or in a
 * process that never does) gets a gate of its own that is `off`: with no
 * pool children registered in it, it pauses nothing.
 */
import { getEnvironmentData, isMainThread, setEnvironmentData } from 'node:worker_threads';
import { PoolGate } from './pool-gate.ts';
import { PoolGateController } from './pool-gate-controller.ts';
import type { PoolGateSettings } from './pool-gate-policy.ts';

const KEY = 'esper.poolGate';
let gate: PoolGate | undefined;

/** This process's pool gate (see the module comment). */
export function processPoolGate(): PoolGate {
  if (gate !== undefined) return gate;
  const shared = getEnvironmentData(KEY);
  if (shared instanceof SharedArrayBuffer) {
    gate = PoolGate.attach(shared);
  } else if (isMainThread) {
    const created = PoolGate.create();
    gate = created;
    setEnvironmentData(KEY, created.buffer);
    new PoolGateController(created).start();
    // Nothing may stay stopped after this process: a stopped child would not even see its channel close.
    process.once('exit', () => created.resumeAll());
  } else {
    gate = PoolGate.create({ mode: 'off' });
  }
  return gate;
}

/** Sets the process gate's settings (a node does, from `pipeline.poolGate*`, before it starts training threads). */
export function configureProcessPoolGate(settings: Partial<PoolGateSettings>): PoolGate {
  const shared = processPoolGate();
  shared.configure(settings);
  return shared;
}
