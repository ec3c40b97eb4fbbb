/**
 * The pool gate's policy (pure): when a training thread's work pauses the
 * kernel pool's child processes, and the duty cycle that bounds a pause so
 * that compile and validation jobs still progress during long training.
 * pool-gate.ts applies it (SIGSTOP / SIGCONT); pool-gate-controller.ts
 * enforces the duty cycle on the node's event loop.
 *
 * Why: on a machine with no spare core, a pool child in SCHED_IDLE at nice
 * 19 still takes time slices whenever a core looks idle for a moment (the
 * trainer waiting on memory, the event loop between messages), and a
 * training step that loses one shows in the step p99 (issue 12, item 4; the
 * stall benchmark measures it).
 */

/**
 * When training pauses the pool:
 * - `auto`: when the CPUs this process may use are no more than the threads
 *   that want them — the training threads holding the gate plus the pool's
 *   workers (`os.availableParallelism() ≤ trainers + poolWorkers`);
 * - `always`: whenever a training thread holds the gate;
 * - `off`: never (the pool runs niced, nothing more).
 */
export type PoolGateMode = 'auto' | 'always' | 'off';

/** The pool gate's modes, for schemas and flags. */
export const POOL_GATE_MODES = ['auto', 'always', 'off'] as const satisfies readonly PoolGateMode[];

/** Settings of a pool gate (config `pipeline.poolGate`, `pipeline.poolGateMaxPauseMs`, `pipeline.poolGateResumeMs`). */
export interface PoolGateSettings {
  mode: PoolGateMode;
  /** Longest the pool stays paused in one stretch while training continues, ms; 0 for no limit. */
  maxPauseMs: number;
  /** How long the pool then runs before it is paused again, ms. */
  resumeMs: number;
}

/**
 * Defaults: gate where the cores are insufficient; the pool runs at least
 * 20 ms in every 1,020 ms of unbroken training (2 %), besides every gap
 * between training requests (between epochs). The stall benchmark measured
 * what shorter pauses cost the step p99 (docs/benchmarks.md).
 */
export const POOL_GATE_DEFAULTS: Readonly<PoolGateSettings> = { mode: 'auto', maxPauseMs: 1000, resumeMs: 20 };

/** What the policy looks at when a training thread starts work. */
export interface GateInputs {
  /** CPUs this process may use (`os.availableParallelism()`). */
  cpus: number;
  /** Training threads holding the gate, this one included. */
  trainers: number;
  /** Pool child processes registered with the gate. */
  poolWorkers: number;
}

/** Whether the pool is paused while `inputs.trainers` threads train. */
export function shouldGate(mode: PoolGateMode, inputs: GateInputs): boolean {
  if (mode === 'off' || inputs.trainers < 1 || inputs.poolWorkers < 1) return false;
  return mode === 'always' || inputs.cpus <= inputs.trainers + inputs.poolWorkers;
}

/** The gate's state as the duty cycle sees it (times in ms on one clock). */
export interface DutyState {
  /** The pool's children are stopped. */
  stopped: boolean;
  /** Training threads holding the gate. */
  holders: number;
  /** What {@link shouldGate} says now. */
  gate: boolean;
  now: number;
  /** When the current pause began (when stopped). */
  stoppedAt: number;
  /** End of a forced run of the pool: until then training does not pause it. */
  forcedUntil: number;
}

/** What the duty cycle does now, and when to look again (null: not before a training thread pauses the pool). */
export interface DutyDecision {
  action: 'none' | 'stop' | 'resume' | 'force-resume';
  wakeInMs: number | null;
}

/**
 * The duty cycle: a pause that has lasted `maxPauseMs` is broken by a forced
 * run of `resumeMs` (the pool runs even though training continues), after
 * which the pool is paused again if training still holds the gate. A pause
 * nobody holds any more (its trainer died: the controller reaps it) ends.
 * `watchdogMs` bounds the time between two looks while the pool is paused,
 * so that a dead holder is noticed soon.
 */
export function dutyDecision(state: DutyState, limits: PoolGateSettings & { watchdogMs: number }): DutyDecision {
  const { now } = state;
  const bounded = limits.maxPauseMs > 0;
  if (state.stopped) {
    if (state.holders === 0 || !state.gate) return { action: 'resume', wakeInMs: null };
    const paused = now - state.stoppedAt;
    if (bounded && paused >= limits.maxPauseMs) return { action: 'force-resume', wakeInMs: limits.resumeMs };
    return { action: 'none', wakeInMs: bounded ? Math.min(limits.maxPauseMs - paused, limits.watchdogMs) : limits.watchdogMs };
  }
  if (state.holders === 0 || !state.gate) return { action: 'none', wakeInMs: null };
  if (now < state.forcedUntil) return { action: 'none', wakeInMs: state.forcedUntil - now };
  return { action: 'stop', wakeInMs: bounded ? Math.min(limits.maxPauseMs, limits.watchdogMs) : limits.watchdogMs };
}
