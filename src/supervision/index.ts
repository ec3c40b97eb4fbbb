/**
 * Supervision (DESIGN §5): OTP-style supervisors over nact actors, policies,
 * backoff, death watch and circuit breakers.
 *
 * @example
 * const root = await startSupervisor({
 *   id: 'weatherlight', strategy: 'one_for_one',
 *   intensity: { maxRestarts: 5, periodMs: 10_000 },
 *   backoff: { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 },
 *   children: [{ id: 'counter', restart: 'permanent', shutdownTimeoutMs: 1_000, subsystem: 'demo',
 *     behaviour: { init: () => 0, handle: (n, msg: 'inc' | 'get', ctx) => { if (msg === 'get') ctx.reply(n); return msg === 'inc' ? n + 1 : n; } } }],
 * }, { metrics, emit: (event) => bus.publish(event) });
 * const counter = root.ref<'inc' | 'get'>('counter')!;
 * counter.dispatch('inc');
 * await counter.query('get', 1_000); // 1
 *
 * @module
 */
export { startSupervisor, type SupervisorOptions } from './root.ts';
export { Supervisor, type ChildSummary } from './supervisor.ts';
export { watch } from './death-watch.ts';
export {
  defaultPolicy,
  alwaysRestart,
  neverRestart,
  byCode,
  applyRestartType,
  decideNormalExit,
  restartCode,
  type Policy,
  type Decision,
  type ChildInfo,
  type RestartRecord,
  type RestartType,
} from './policies.ts';
export { backoffDelay, backoffIssues, NO_BACKOFF, type BackoffSpec } from './backoff.ts';
export { systemClock, ManualClock, settlesWithin, type Clock } from '../infra/clock.ts';
export { restartSet, pruneWindow, exceedsIntensity, type WindowEntry } from './restart-plan.ts';
export { createBreaker, type Breaker, type BreakerOptions } from './breaker.ts';
export { reportBreaker, type BreakerEvent, type BreakerReport, type BreakerReportOptions } from './breaker-report.ts';
export { BREAKER_STATE_VALUE, publishMailboxDepth } from './instruments.ts';
export {
  isWorkerSpec,
  type ActorRef,
  type ActorContext,
  type Replier,
  type Behaviour,
  type ExitReason,
  type WorkerSpec,
  type SupervisorSpec,
  type ChildSpec,
  type Strategy,
  type Intensity,
  type Terminated,
  type Watcher,
  type SupervisionEvent,
} from './types.ts';
