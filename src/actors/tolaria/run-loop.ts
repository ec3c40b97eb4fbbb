/**
 * `esper run` (DESIGN §9): one run, in process. Tolaria's loop over a
 * training worker thread (tensors stay off the event loop), with the run's
 * Kasmina (a supervisor of seed actors, one per slot: the lifecycle gates
 * decide) and Tamiyo (an advisor actor: it proposes, Kasmina disposes) as
 * supervised children of the run's supervisor. Per epoch: boundary
 * (checkpoint, operator hook) → train → governor (rollback on
 * NaN/divergence) → Kasmina epochEnded → Tamiyo advises → record.
 *
 * The parts, over one {@link RunContext}: run-checkpoints.ts (checkpoints
 * and rollback), epoch-boundary.ts (the boundary API), tamiyo-adviser.ts
 * (Tamiyo behind a breaker with a deadline), epoch-step.ts (one epoch),
 * run-results.ts (results.json). run-actor.ts supervises the whole loop.
 *
 * Seeds are compiled kernels: at the start, every allowed catalog blueprint
 * is compiled (Tezzeret) and validated (Urabrask) for each slot interface in
 * the training worker (run-kernels.ts); Tamiyo chooses among the VALIDATED
 * ones, and a germinating seed loads its kernel's artifact.
 */
import type { Envelope } from '../../contracts/envelope.ts';
import type { RunResults, RunSpec } from '../../contracts/run.ts';
import { ConfigError, EsperError } from '../../errors/index.ts';
import type { Logger } from '../../infra/logger.ts';
import { startSupervisor, type Supervisor } from '../../supervision/index.ts';
import { parseGateConfig, startKasmina } from '../kasmina/index.ts';
import { tamiyoAdvisorSpec, type TamiyoDecide } from '../tamiyo/index.ts';
import { runSupervisorSpec } from './run-supervision.ts';
import { crossBoundary, type EpochBoundary } from './epoch-boundary.ts';
import { runEpoch, type EpochFaults, type EpochSummary } from './epoch-step.ts';
import { RunCheckpoints } from './run-checkpoints.ts';
import { RunContext } from './run-context.ts';
import { RunEvents } from './run-events.ts';
import { kernelJobs, runKernelEntry } from './run-kernels.ts';
import { finishRun } from './run-results.ts';
import type { RunLoopState } from './run-state.ts';
import { runPolicy, TamiyoAdviser, widthGates } from './tamiyo-adviser.ts';
import { runSlots } from './run-slots.ts';
import { TrainingWorkerClient } from './worker/training-worker-client.ts';

export { KEPT_CHECKPOINTS } from './run-checkpoints.ts';
export type { BoundaryCheckpoint } from './run-context.ts';
export { OPERATOR_SOURCE, type EpochBoundary } from './epoch-boundary.ts';
export type { EpochRollbackSummary, EpochSummary } from './epoch-step.ts';
export { RUN_LOOP_SOURCE } from './run-events.ts';
export { RUN_COMPLETED_TYPE } from './run-results.ts';
export { TAMIYO_BREAKER_FAILURES, TAMIYO_BREAKER_RESET_MS, TAMIYO_DECISION_TIMEOUT_MS, TAMIYO_FALLBACK_REASON, type EpochTamiyoSummary } from './tamiyo-adviser.ts';
export type { TamiyoDecide } from '../tamiyo/index.ts';

export interface RunTrainingOptions {
  /** Called after every epoch; a returned promise is awaited before the next epoch starts. */
  onEpoch?(summary: EpochSummary): unknown;
  logger?: Logger;
  /** @default `run-<timestamp>` */
  runId?: string;
  /** False: train the host alone (no slots, no policy) — the `--compare` baseline. @default true */
  growth?: boolean;
  /**
   * The run's supervisor: the run's Kasmina and Tamiyo start under it (and
   * stop with the loop). @default a root supervisor of its own
   */
  supervisor?: Supervisor;
  /** Operator / test overrides of how Tamiyo is asked. */
  tamiyo?: {
    /** Replaces the decision (e.g. a remote Tamiyo, or an unreachable one in tests). @default the spec's heuristic policy */
    decide?: TamiyoDecide;
    /** Deadline of one decision, ms. @default TAMIYO_DECISION_TIMEOUT_MS */
    timeoutMs?: number;
    /** How long the breaker stays open before a trial decision, ms. @default TAMIYO_BREAKER_RESET_MS */
    resetTimeoutMs?: number;
  };
  /**
   * Event sink (audit trail): called synchronously, in causal order, with every
   * event of the run — `tolaria.state.published` (the packet Tamiyo answers),
   * `tamiyo.decision.made` (its commands inside, caused by the packet),
   * `kasmina.seed.transitioned` (caused by the command, when one asked),
   * `tamiyo.command.issued` (governor prunes, caused by the rollback),
   * `tolaria.run.rolled_back`, `tolaria.epoch.completed` and, last,
   * `tolaria.run.completed` (the final seed states). A throwing sink is logged and ignored.
   */
  events?: (envelope: Envelope) => void;
  /**
   * Continue a run from an epoch boundary captured by {@link RunTrainingOptions.boundary}
   * (crash recovery): the tensors come back bit for bit from `checkpoint`, the
   * loop (seeds, policy memory, governor, results so far) from `state`.
   */
  resume?: { state: RunLoopState; checkpoint: Uint8Array };
  /**
   * Called at every epoch boundary (before each epoch trains), right after the
   * boundary's checkpoint: persist it, serve operator requests, pause. Training
   * waits for the returned promise; a throw ends the run with that error.
   */
  boundary?: (boundary: EpochBoundary) => Promise<void>;
  /** Fault injection (tests, drills). */
  faults?: EpochFaults;
}

/**
 * Checks what the spec's schema cannot: slots the host can take, blueprints
 * in the catalog that fit them. Throws ConfigError listing the problems; run
 * it before registering or starting a run (`runTraining` checks the same).
 */
export function checkRunSpec(spec: RunSpec): void {
  kernelJobs(spec, runSlots(spec));
}

/** The supervisor a run's children start under: the given one, or a root of its own (stopped with the run). */
async function runSupervisor(runId: string, given: Supervisor | undefined, logger: Logger | undefined): Promise<{ supervisor: Supervisor; owned: boolean }> {
  if (given !== undefined) return { supervisor: given, owned: false };
  const supervisor = await startSupervisor({ ...runSupervisorSpec(runId), restart: 'permanent' }, logger === undefined ? {} : { logger });
  return { supervisor, owned: true };
}

/** Runs `spec` to the end and returns its validated results. */
export async function runTraining(spec: RunSpec, options: RunTrainingOptions = {}): Promise<RunResults> {
  const growth = options.growth ?? true;
  const runId = options.runId ?? `run-${Date.now()}`;
  const log = options.logger;
  const resumed = options.resume?.state;
  if (resumed !== undefined && resumed.runId !== runId) throw new ConfigError('cannot resume', [`resume state belongs to run ${resumed.runId}, not ${runId}`]);
  const slots = growth ? runSlots(spec) : [];
  // Checked before any thread starts: unknown or unfit blueprint names fail here.
  const jobs = kernelJobs(spec, slots);
  const gates = parseGateConfig(spec.gates ?? {});
  const policy = runPolicy(spec, gates);
  const client = new TrainingWorkerClient();
  const ctx = new RunContext({ runId, spec, growth, slots, client, events: new RunEvents(runId, options.events, log), resumed, initialMemory: policy.initialMemory(), log });
  for (const state of resumed?.seedStates ?? []) await ctx.seedStore.save(state);
  const { supervisor, owned } = await runSupervisor(runId, options.supervisor, log);
  let adviser: TamiyoAdviser | undefined;
  let tamiyoStarted = false;
  try {
    ctx.kasmina = await startKasmina({
      runId,
      parent: supervisor,
      slots: slots.map((slot) => ({ slotId: slot.slotId, interface: slot.interface, ...(slot.role === 'width' ? { gates: widthGates(gates, spec) } : {}) })),
      store: ctx.seedStore,
      publish: ctx.onTransition,
      kernels: { resolve: (request) => Promise.resolve(ctx.resolveKernel(request)) },
      gates,
      ...(log === undefined ? {} : { logger: log }),
    });
    if (growth && slots.length > 0) {
      const tamiyo = await supervisor.startChild(tamiyoAdvisorSpec(policy, options.tamiyo?.decide));
      tamiyoStarted = true;
      adviser = new TamiyoAdviser(ctx, policy, tamiyo, { timeoutMs: options.tamiyo?.timeoutMs, resetTimeoutMs: options.tamiyo?.resetTimeoutMs });
    }
    const created = await client.request('create', ctx.training);
    ctx.backend = { active: created.backend.active ?? ctx.backend.active, ...(created.backend.fallbackReason === undefined ? {} : { fallbackReason: created.backend.fallbackReason }) };
    log?.info({ runId, backend: ctx.backend.active, requested: created.backend.requested, ...(ctx.backend.fallbackReason === undefined ? {} : { fallbackReason: ctx.backend.fallbackReason }) }, `tensors run on the ${ctx.backend.active} backend`);
    for (const job of jobs) ctx.addKernel(runKernelEntry(job, await client.request('prepareKernel', job)));
    if (jobs.length > 0) log?.info({ runId, validated: ctx.candidates.length, rejected: ctx.kernels.length - ctx.candidates.length }, 'kernels compiled and validated');
    if (options.resume !== undefined) await client.request('restore', { bytes: options.resume.checkpoint, mode: 'exact' });
    for (const state of await ctx.seeds.states()) ctx.current.set(state.slotId, state);

    const checkpoints = new RunCheckpoints(ctx);
    for (; ctx.iteration < spec.epochs; ctx.iteration++) {
      await crossBoundary(ctx, checkpoints, options.boundary);
      const checkpoint = checkpoints.last;
      if (checkpoint === undefined) throw new EsperError('ESPER_INTERNAL', 'run loop: no checkpoint at the epoch boundary');
      const summary = await runEpoch(ctx, checkpoint, checkpoints, adviser, options.faults);
      await options.onEpoch?.(summary);
    }
    return await finishRun(ctx);
  } finally {
    adviser?.dispose();
    if (tamiyoStarted && !owned) await supervisor.stopChild('tamiyo').catch(() => undefined);
    await ctx.kasmina?.stop().catch(() => undefined);
    if (owned) await supervisor.stop().catch(() => undefined);
    await client.terminate().catch(() => undefined);
  }
}
