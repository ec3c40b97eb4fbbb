/**
 * Tolaria (DESIGN §1): the training orchestrator. This module holds its pure
 * parts; the stability governor judges every epoch end (NaN/Inf, divergence,
 * collapse to chance → rollback).
 *
 * @example
 * let governor = initialGovernorState();
 * const { state, verdict } = observe(governor, { epoch, trainLoss, validationLoss, numClasses: 10, nonFinite: false });
 * governor = state;
 * if (verdict !== 'ok') rollback(GOVERNOR_CAUSE_TRIGGER[verdict.cause], verdict.reason);
 *
 * @module
 */
export {
  DEFAULT_GOVERNOR_CONFIG,
  GOVERNOR_CAUSE_TRIGGER,
  GovernorConfigSchema,
  divergenceCeiling,
  initialGovernorState,
  observe,
  parseGovernorConfig,
  windowStats,
  type GovernorCause,
  type GovernorConfig,
  type GovernorConfigInput,
  type GovernorObservation,
  type GovernorResult,
  type GovernorState,
  type GovernorVerdict,
  type RollbackVerdict,
} from './governor.ts';
export { type EpochBoundary, type EpochSummary, type RunTrainingOptions, checkRunSpec, runTraining } from './run-loop.ts';
export { RUN_LOOP_ACTOR_ID, restartable, startRun, type RunHandle, type StartRunOptions } from './run-actor.ts';
export { type EpochFaults } from './epoch-step.ts';
export { largestDropPct } from './run-results.ts';
export { runSupervisionPolicy, runSupervisorSpec } from './run-supervision.ts';
export { type RunLoopState, RunLoopStateSchema } from './run-state.ts';
export { ORPHAN_SWEEPER_ID, TOLARIA_SUPERVISOR_ID, orphanSweeperSpec, tolariaSupervisorSpec, type TolariaNodeOptions } from './tolaria.actor.ts';
