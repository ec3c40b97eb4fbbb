/**
 * `esper run` (DESIGN §9): one run, in process. Tolaria's loop over a
 * training worker thread (tensors stay off the event loop), Kasmina's seed
 * actors (one per slot, the lifecycle gates decide) and Tamiyo's heuristic
 * policy (it proposes, Kasmina disposes). Per epoch: checkpoint → train →
 * governor (rollback on NaN/divergence) → Kasmina epochEnded → Tamiyo decide
 * → seed commands → tensor slot commands → record.
 *
 * Tamiyo is asked with a deadline, behind a circuit breaker (DESIGN §5): a
 * decision that fails or misses the deadline is answered by the fallback "no
 * change this epoch", and after 3 consecutive failures the breaker opens and
 * answers that fallback at once until its reset timeout lets a trial through.
 *
 * Seeds are compiled kernels: at the start, every allowed catalog blueprint
 * is compiled (Tezzeret) and validated (Urabrask) for each slot interface in
 * the training worker (run-kernels.ts); Tamiyo chooses among the VALIDATED
 * ones, and a germinating seed loads its kernel's artifact.
 */
import type { Logger } from '../../infra/logger.ts';
import { createEnvelope, type Envelope } from '../../contracts/envelope.ts';
import { createMessage } from '../../contracts/registry.ts';
import { slotInterfaceKey, type SlotInterface } from '../../contracts/common.ts';
import type { AdaptationCommand, FieldReport, SeedOperation, SeedState, SystemStatePacket } from '../../contracts/index.ts';
import { RunResultsSchema, type EpochSeedSnapshot, type EpochResult, type RunResults, type RunRollbackRecord, type RunSpec, type SeedHistoryEntry, type SeedResult } from '../../contracts/run.ts';
import { ConfigError, EsperError, InputError } from '../../errors/index.ts';
import { createBreaker, type Breaker } from '../../supervision/breaker.ts';
import type { BreakerState } from '../../contracts/supervision.ts';
import type { EpochReport, SeedModuleSource, SlotCommand } from '../../tensor/training/training-session.ts';
import { TrainingWorkerClient } from './worker/training-worker-client.ts';
import { MemorySeedStateStore, observationFrom, parseGateConfig, slotCommandFor, startKasmina, type KernelCandidate, type SeedObservation, type SeedTransitionedEnvelope } from '../kasmina/index.ts';
import { heuristicPolicy, policyLabel, seedCommand, type KernelChoice, type PolicyContext, type PolicyDecision, type PolicyMemory } from '../tamiyo/index.ts';
import { GOVERNOR_CAUSE_TRIGGER, initialGovernorState, observe, type GovernorState } from './governor.ts';
import { kernelJobs, runKernelEntry, runKernelRow, type RunKernelEntry } from './run-kernels.ts';
import type { BoundaryCheckpointInfo, RunLoopState } from './run-state.ts';

/** How Tamiyo's decision went this epoch (absent when no decision was asked: no growth, no slots, or a rollback). */
export interface EpochTamiyoSummary {
  /** True when the breaker's fallback answered ("no change this epoch"): Tamiyo failed, missed the deadline, or the breaker was open. */
  fallback: boolean;
  /** The breaker's state after the decision. */
  breaker: BreakerState;
  /** The decision's reason (the fallback's, or Tamiyo's). */
  reason: string;
}

/** What a governor rollback did (on `onEpoch` only: the run results' schema has no field for the hashes). */
export interface EpochRollbackSummary {
  cause: RunRollbackRecord['cause'];
  reason: string;
  /** Epoch of the checkpoint restored. */
  toEpoch: number;
  /** Host weights hash captured with that checkpoint. */
  checkpointHostWeightsHash: string;
  /** Host weights hash right after the restore (equals the checkpoint's when the rollback restored the host bit for bit). */
  restoredHostWeightsHash: string;
  /** Slots whose live seeds the restore pruned. */
  prunedSlots: string[];
}

/** What `onEpoch` receives after every epoch. */
export interface EpochSummary extends EpochResult {
  /** True when the governor rolled this epoch back. */
  rolledBack: boolean;
  tamiyo?: EpochTamiyoSummary;
  rollback?: EpochRollbackSummary;
}

/** A checkpoint taken at an epoch boundary, with its bytes. */
export interface BoundaryCheckpoint extends BoundaryCheckpointInfo {
  bytes: Uint8Array;
}

/** What the boundary hook can do (only while it runs: between two epochs). */
export interface EpochBoundary {
  readonly runId: string;
  /** The checkpoint of this boundary (the latest one). */
  readonly checkpoint: BoundaryCheckpoint;
  /** The loop state that goes with {@link EpochBoundary.checkpoint}. */
  readonly state: RunLoopState;
  /** The seeds now. */
  seeds(): SeedState[];
  /**
   * An operator's seed override: Tamiyo is bypassed, Kasmina's gates are not
   * (a refused command throws its coded error). The command and the
   * transition it causes go into the event log. Take a new checkpoint after.
   */
  command(seedOrSlotId: string, operation: SeedOperation, meta: { requestId: string; reason: string }): Promise<{ command: AdaptationCommand; seed: SeedState }>;
  /**
   * Operator rollback: restores the checkpoint `checkpointId` (one of the last
   * {@link KEPT_CHECKPOINTS}), by default the one before this boundary's;
   * live seeds are pruned. Take a new checkpoint after.
   */
  rollback(reason: string, checkpointId?: string): Promise<{ checkpointId: string; toEpoch: number }>;
  /** Takes a new checkpoint of the state now (after commands or a rollback); it becomes {@link EpochBoundary.checkpoint}. */
  recheckpoint(): Promise<void>;
}

/** Checkpoints a run keeps in memory for operator rollbacks. */
export const KEPT_CHECKPOINTS = 3;
/** Source stamped on operator commands. */
export const OPERATOR_SOURCE = 'ctl/operator';

/** Tamiyo's decision function as the run loop calls it; `builtin` is the spec's heuristic policy. */
export type TamiyoDecide = (
  packet: SystemStatePacket,
  memory: PolicyMemory,
  context: PolicyContext,
  builtin: (packet: SystemStatePacket, memory: PolicyMemory, context: PolicyContext) => PolicyDecision<PolicyMemory>,
) => PolicyDecision<PolicyMemory> | Promise<PolicyDecision<PolicyMemory>>;

/** Default deadline of one Tamiyo decision, ms. */
export const TAMIYO_DECISION_TIMEOUT_MS = 2000;
/** Default time the Tamiyo breaker stays open before a trial decision, ms. */
export const TAMIYO_BREAKER_RESET_MS = 10_000;
/** Consecutive failed decisions that open the Tamiyo breaker. */
export const TAMIYO_BREAKER_FAILURES = 3;
/** The fallback decision's reason. */
export const TAMIYO_FALLBACK_REASON = 'fallback: Tamiyo unavailable';

export interface RunTrainingOptions {
  /** Called after every epoch; a returned promise is awaited before the next epoch starts. */
  onEpoch?(summary: EpochSummary): unknown;
  logger?: Logger;
  /** @default `run-<timestamp>` */
  runId?: string;
  /** False: train the host alone (no slots, no policy) — the `--compare` baseline. @default true */
  growth?: boolean;
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
  faults?: {
    /**
     * Epoch (1-based, as reported) whose training starts with every live seed's
     * weights overwritten with NaN; with no live seed then, that epoch is
     * reported non-finite as a NaN epoch would be. Either way the governor rolls it back.
     */
    nanAtEpoch?: number;
  };
}

const QUERY_MS = 10_000;
const COMMAND_DEADLINE_MS = 60_000;

/** The dense interface of each slot of an MLP host: `[w]` with w the hidden width the slot follows. */
export function slotInterfaces(spec: RunSpec): Map<string, SlotInterface> {
  const out = new Map<string, SlotInterface>();
  const host = spec.training.host;
  for (const slot of spec.training.slots) {
    if (host.kind !== 'mlp') throw new ConfigError('esper run grows seeds in MLP hosts only for now', [`training.slots: a ${host.kind} host cannot take slots yet`]);
    const width = host.hidden[slot.afterLayer - 1];
    if (width === undefined) throw new ConfigError('invalid slot', [`training.slots.${slot.id}.afterLayer: ${slot.afterLayer} exceeds the ${host.hidden.length} hidden layers`]);
    out.set(slot.id, { kind: 'dense', inputShape: [width], outputShape: [width], dtype: 'float32' });
  }
  return out;
}

/**
 * Checks what the spec's schema cannot: slots the host can take, blueprints
 * in the catalog that fit them. Throws ConfigError listing the problems; run
 * it before registering or starting a run (`runTraining` checks the same).
 */
export function checkRunSpec(spec: RunSpec): void {
  kernelJobs(spec, slotInterfaces(spec).values());
}

/** Type of the last event of a run: data `{ runId, epochs, seeds: [{ seedId, slotId, stage }] }` (not a registered bus message; stored for `esper replay`). */
export const RUN_COMPLETED_TYPE = 'tolaria.run.completed';
/** Source stamped on the run loop's events. */
export const RUN_LOOP_SOURCE = 'local/tolaria';

const LIVE = new Set<SeedState['stage']>(['GERMINATED', 'TRAINING', 'BLENDING', 'HOLDING']);

/** Runs `spec` to the end and returns its validated results. */
export async function runTraining(spec: RunSpec, options: RunTrainingOptions = {}): Promise<RunResults> {
  const growth = options.growth ?? true;
  const runId = options.runId ?? `run-${Date.now()}`;
  const log = options.logger;
  const resumed = options.resume?.state;
  if (resumed !== undefined && resumed.runId !== runId) throw new ConfigError('cannot resume', [`resume state belongs to run ${resumed.runId}, not ${runId}`]);
  const startedAt = resumed?.startedAt ?? new Date().toISOString();
  const training = growth ? spec.training : { ...spec.training, slots: [] };
  const ifaces = growth ? slotInterfaces(spec) : new Map<string, SlotInterface>();
  // Checked before any thread starts: unknown or unfit blueprint names fail here.
  const jobs = kernelJobs(spec, ifaces.values());
  const kernels: RunKernelEntry[] = [];
  const kernelById = new Map<string, RunKernelEntry>();
  const candidates: (KernelCandidate & { paramCount: number; riskScore: number })[] = [];
  const moduleFor = (kernelId: string): SeedModuleSource => {
    const kernel = kernelById.get(kernelId);
    if (kernel === undefined) throw new EsperError('ESPER_NOT_FOUND', `kernel ${kernelId} is not one of this run's kernels`, { details: { kernelId } });
    return { kernel: { kernelId, artifact: kernel.artifact } };
  };

  const gates = parseGateConfig(spec.gates ?? {});
  const policy = heuristicPolicy({
    plateauEpochs: spec.policy.plateauEpochs,
    plateauThresholdPp: spec.policy.plateauDeltaPp,
    minEpoch: spec.policy.minEpochBeforeGerminate,
    epochsAfterPrune: spec.policy.germinateCooldownEpochs,
    fossilizeContributionPp: spec.policy.fossilizeContributionPp,
    regressionPp: -spec.policy.pruneRegressionPp,
    maxLiveSeeds: spec.policy.maxLiveSeeds,
    advanceTrainingEpochs: gates.g2.minTrainingEpochs,
    // The spec's α schedule rides on the TRAINING → BLENDING advance.
    blend: { curve: spec.blend.curve, tempoEpochs: spec.blend.tempoEpochs },
  });
  const label = policyLabel(policy);
  const builtinDecide = (packet: SystemStatePacket, memory: PolicyMemory, context: PolicyContext): PolicyDecision<PolicyMemory> => policy.decide(packet, memory, context);
  const decideFn = options.tamiyo?.decide;
  const tamiyo: Breaker<[SystemStatePacket, PolicyMemory, PolicyContext], PolicyDecision<PolicyMemory> & { fallback: boolean }> = createBreaker(
    'tamiyo',
    async (packet: SystemStatePacket, memory: PolicyMemory, context: PolicyContext) => ({
      ...(await (decideFn === undefined ? builtinDecide(packet, memory, context) : decideFn(packet, memory, context, builtinDecide))),
      fallback: false as boolean,
    }),
    {
      timeoutMs: options.tamiyo?.timeoutMs ?? TAMIYO_DECISION_TIMEOUT_MS,
      failureThreshold: TAMIYO_BREAKER_FAILURES,
      resetTimeoutMs: options.tamiyo?.resetTimeoutMs ?? TAMIYO_BREAKER_RESET_MS,
      fallback: (error, _packet, memory) => {
        log?.warn({ runId, err: error }, 'tamiyo: no decision, fallback (no change this epoch)');
        return { commands: [], reason: TAMIYO_FALLBACK_REASON, memory, fallback: true };
      },
      ...(log === undefined ? {} : { logger: log }),
    },
  );

  const sink = options.events;
  const emit = (make: () => Envelope): Envelope | undefined => {
    if (sink === undefined) return undefined;
    try {
      const envelope = make();
      sink(envelope);
      return envelope;
    } catch (error) {
      log?.warn({ runId, err: error }, 'run event not emitted');
      return undefined;
    }
  };
  const histories = new Map<string, SeedHistoryEntry[]>(Object.entries(structuredClone(resumed?.histories ?? {})));
  const publish = (envelope: SeedTransitionedEnvelope): void => {
    emit(() => (envelope.runId === undefined ? { ...envelope, runId } : envelope));
    const d = envelope.data;
    const slotId = d.slotId ?? d.seedId;
    const list = histories.get(slotId) ?? [];
    list.push({ epoch: d.epoch, from: d.from, to: d.to, cause: d.cause, ...(d.kernelId === undefined ? {} : { kernelId: d.kernelId }) });
    histories.set(slotId, list);
  };

  const seedStore = new MemorySeedStateStore();
  for (const state of resumed?.seedStates ?? []) await seedStore.save(state);
  const client = new TrainingWorkerClient();
  const kasmina = await startKasmina({
    runId,
    slots: [...ifaces].map(([slotId, iface]) => ({ slotId, interface: iface })),
    store: seedStore,
    publish,
    kernels: {
      resolve: (request) => {
        const key = slotInterfaceKey(request.slotInterface);
        const found = candidates.find(
          (c) => slotInterfaceKey(c.interface) === key && (request.kernelId === undefined || c.kernelId === request.kernelId) && (request.blueprintId === undefined || c.blueprintId === request.blueprintId),
        );
        return Promise.resolve(found ?? null);
      },
    },
    gates,
    ...(log === undefined ? {} : { logger: log }),
  });

  const epochs: EpochResult[] = structuredClone(resumed?.epochs ?? []);
  const rollbacks: RunRollbackRecord[] = structuredClone(resumed?.rollbacks ?? []);
  const fieldReports: FieldReport[] = structuredClone(resumed?.fieldReports ?? []);
  const blendingAt: boolean[] = [...(resumed?.blendingAt ?? [])];
  const lastParams = new Map<string, number>(Object.entries(resumed?.lastParams ?? {}));
  const blueprintOf = new Map<string, string>(Object.entries(resumed?.blueprintOf ?? {}));
  try {
    await client.request('create', training);
    for (const job of jobs) {
      const entry = runKernelEntry(job, await client.request('prepareKernel', job));
      kernels.push(entry);
      kernelById.set(entry.kernelId, entry);
      if (entry.status === 'VALIDATED') {
        candidates.push({ kernelId: entry.kernelId, blueprintId: entry.blueprintId, status: 'VALIDATED', interface: entry.slotInterface, paramCount: entry.paramCount, riskScore: entry.riskScore });
      } else {
        log?.warn({ runId, kernelId: entry.kernelId, blueprintId: entry.blueprintId, reasons: entry.reasons }, 'kernel rejected by validation; not a candidate');
      }
    }
    if (jobs.length > 0) log?.info({ runId, validated: candidates.length, rejected: kernels.length - candidates.length }, 'kernels compiled and validated');
    // What Tamiyo may choose from, every epoch.
    const availableKernels: KernelChoice[] = candidates.map((c) => ({
      kernelId: c.kernelId,
      blueprintId: c.blueprintId,
      interfaceKey: slotInterfaceKey(c.interface),
      riskScore: c.riskScore,
      paramCount: c.paramCount,
      status: 'VALIDATED',
    }));
    if (options.resume !== undefined) await client.request('restore', { bytes: options.resume.checkpoint, mode: 'exact' });
    const current = new Map<string, SeedState>((await kasmina.states()).map((s) => [s.slotId, s]));
    const baseline = new Map<string, number>(Object.entries(resumed?.baseline ?? {}));
    let governor: GovernorState = resumed?.governor ?? initialGovernorState();
    let memory: PolicyMemory = resumed === undefined ? policy.initialMemory() : (structuredClone(resumed.memory) as unknown as PolicyMemory);
    let lastAccuracy: number | undefined = resumed?.lastAccuracy ?? undefined;
    let paramsAdded = resumed?.paramsAdded ?? 0;
    let germinations = resumed?.germinations ?? 0;
    let checkpointCount = resumed?.checkpointCount ?? 0;
    let globalStep = resumed?.globalStep ?? 0;
    let hostParams = resumed?.hostParams ?? 0;
    let iteration = resumed?.iteration ?? 0;
    const recent: BoundaryCheckpoint[] = [];
    let lastCheckpoint: BoundaryCheckpoint | undefined;
    const numClasses = spec.training.dataset.kind === 'fashion-mnist' ? 10 : 2;

    const apply = async (next: SeedState): Promise<void> => {
      const previous = current.get(next.slotId);
      if (next.stage === 'GERMINATED' && previous?.stage !== 'GERMINATED') {
        baseline.set(next.slotId, lastAccuracy ?? 0);
        germinations++;
        const kernel = next.kernelId === undefined ? undefined : kernelById.get(next.kernelId);
        paramsAdded += kernel?.paramCount ?? 0;
        if (next.blueprintId !== undefined) blueprintOf.set(next.slotId, next.blueprintId);
        const history = histories.get(next.slotId);
        const last = history?.[history.length - 1];
        if (last !== undefined && last.to === 'GERMINATED' && next.blueprintId !== undefined) last.blueprintId = next.blueprintId;
      }
      const command: SlotCommand | undefined = slotCommandFor(previous, next, moduleFor);
      if (command !== undefined) await client.request('applySlot', command);
      current.set(next.slotId, next);
    };
    const snapshot = (): EpochSeedSnapshot[] => [...current.values()].map((s) => ({ seedId: s.seedId, slotId: s.slotId, stage: s.stage, alpha: s.alpha }));
    const packetFor = (report: Pick<EpochReport, 'epoch' | 'steps' | 'validationAccuracy' | 'validationLoss' | 'trainLoss'>, step: number): SystemStatePacket => ({
      v: 1,
      packetId: `${runId}-p${report.epoch}`,
      runId,
      epoch: report.epoch,
      globalStep: step,
      validationAccuracy: report.validationAccuracy,
      validationLoss: report.validationLoss,
      trainingLoss: report.trainLoss,
      metrics: {},
      hardware: { backend: spec.training.backend },
      seeds: [...current.values()],
      ts: new Date().toISOString(),
    });

    const emitEpoch = (result: EpochResult, step: number, metrics: Record<string, number>): void => {
      if (sink === undefined) return;
      emit(() =>
        createMessage(
          'tolaria.epoch.completed',
          {
            runId,
            epoch: result.epoch,
            globalStep: step,
            trainingLoss: result.trainLoss,
            validationLoss: result.validationLoss,
            validationAccuracy: result.validationAccuracy,
            epochMs: result.durationMs,
            // Host + every live or fossilized seed's last reported parameters.
            paramCount: hostParams + result.seeds.reduce((sum, s) => sum + (LIVE.has(s.stage) || s.stage === 'FOSSILIZED' ? (lastParams.get(s.slotId) ?? 0) : 0), 0),
            metrics: { ...metrics, liveSeeds: result.seeds.filter((s) => LIVE.has(s.stage)).length },
          },
          { source: RUN_LOOP_SOURCE, runId },
        ),
      );
    };

    const takeCheckpoint = async (): Promise<BoundaryCheckpoint> => {
      const id = `${runId}-ckpt-${checkpointCount}`;
      checkpointCount++;
      const saved = await client.request('checkpoint', { meta: { runId, iteration, checkpointId: id } });
      const summary = await client.request('summary', null);
      hostParams = summary.hostParams;
      const taken: BoundaryCheckpoint = {
        checkpointId: id,
        epoch: iteration,
        globalStep,
        hash: saved.hash,
        hostWeightsHash: summary.hostWeightsHash,
        sizeBytes: saved.bytes.byteLength,
        createdAt: new Date().toISOString(),
        bytes: saved.bytes,
      };
      recent.push(taken);
      while (recent.length > KEPT_CHECKPOINTS) recent.shift();
      lastCheckpoint = taken;
      return taken;
    };
    const loopState = (taken: BoundaryCheckpoint): RunLoopState => {
      const { bytes: _bytes, ...info } = taken;
      return structuredClone({
        v: 1 as const,
        runId,
        startedAt,
        iteration,
        checkpointCount,
        checkpoint: info,
        globalStep,
        hostParams,
        paramsAdded,
        germinations,
        lastAccuracy: lastAccuracy ?? null,
        governor: { window: [...governor.window], consecutive: governor.consecutive, lastEpoch: governor.lastEpoch },
        memory: memory as unknown as Record<string, unknown>,
        seedStates: seedStore.all(),
        histories: Object.fromEntries(histories),
        lastParams: Object.fromEntries(lastParams),
        blueprintOf: Object.fromEntries(blueprintOf),
        baseline: Object.fromEntries(baseline),
        epochs,
        rollbacks,
        blendingAt,
        fieldReports,
      });
    };

    /** Restores `target` (live seeds pruned), prunes the live seeds' actors, records and emits the rollback. */
    const rollbackTo = async (
      target: BoundaryCheckpoint,
      fromEpoch: number,
      trigger: RunRollbackRecord['cause'],
      reason: string,
    ): Promise<{ restoredHostWeightsHash: string; prunedSlots: string[]; evaluation: { loss: number; accuracy: number }; record: RunRollbackRecord }> => {
      const restored = await client.request('restore', { bytes: target.bytes, mode: 'rollback' });
      const restoredHostWeightsHash = (await client.request('summary', null)).hostWeightsHash;
      const evaluation = await client.request('evaluate', null);
      const packet = packetFor({ epoch: fromEpoch, steps: 0, validationAccuracy: evaluation.accuracy, validationLoss: evaluation.loss, trainLoss: evaluation.loss }, globalStep);
      const live = [...current.values()].filter((s) => LIVE.has(s.stage));
      const rolledBackEvent = emit(() =>
        createMessage(
          'tolaria.run.rolled_back',
          {
            runId,
            fromEpoch,
            toEpoch: target.epoch,
            checkpointId: target.checkpointId,
            restoredHash: restoredHostWeightsHash,
            cause: { trigger, reason: reason.slice(0, 500) || trigger },
            prunedSeedIds: live.map((s) => s.seedId),
          },
          { source: RUN_LOOP_SOURCE, runId },
        ),
      );
      for (const state of live) {
        const command = seedCommand(packet, state.seedId, { op: 'PRUNE' }, { deadlineMs: COMMAND_DEADLINE_MS, policy: trigger === 'operator' ? 'operator' : 'tolaria-governor', reason: `rollback: ${reason}` });
        emit(() => createMessage('tamiyo.command.issued', command, { source: RUN_LOOP_SOURCE, runId, ...(rolledBackEvent === undefined ? {} : { causedBy: rolledBackEvent }) }));
        try {
          await apply(await kasmina.seed(state.slotId).query<SeedState>({ type: 'command', command }, QUERY_MS));
        } catch (error) {
          log?.warn({ err: error, slotId: state.slotId }, 'prune after rollback refused');
        }
      }
      const record: RunRollbackRecord = { epoch: fromEpoch, cause: trigger, checkpointId: target.checkpointId, toEpoch: target.epoch, reason: reason.slice(0, 500) };
      rollbacks.push(record);
      lastAccuracy = evaluation.accuracy;
      return { restoredHostWeightsHash, prunedSlots: restored.prunedSlots, evaluation, record };
    };

    const boundaryHook = options.boundary;
    const atBoundary = async (): Promise<void> => {
      let taken = await takeCheckpoint();
      if (boundaryHook === undefined) return;
      const boundary: EpochBoundary = {
        runId,
        get checkpoint() {
          return taken;
        },
        get state() {
          return loopState(taken);
        },
        seeds: () => [...current.values()].map((s) => structuredClone(s)),
        command: async (seedOrSlotId, operation, meta) => {
          const state = [...current.values()].find((s) => s.seedId === seedOrSlotId || s.slotId === seedOrSlotId);
          if (state === undefined) throw new InputError('ESPER_NOT_FOUND', `run ${runId} has no seed or slot ${JSON.stringify(seedOrSlotId)}`);
          if (operation.op === 'GERMINATE' && germinations >= spec.budgets.maxSeeds) {
            throw new EsperError('ESPER_CONFLICT', `run ${runId} has spent its seed budget (${spec.budgets.maxSeeds} germinations)`, { details: { maxSeeds: spec.budgets.maxSeeds } });
          }
          const now = new Date().toISOString();
          const command: AdaptationCommand = {
            commandId: `${meta.requestId}-${operation.op.toLowerCase()}`,
            type: 'SEED',
            targetSeedId: state.seedId,
            deadlineMs: COMMAND_DEADLINE_MS,
            annotations: { policy: 'operator', reason: meta.reason.slice(0, 200), epoch: String(iteration) },
            seedOperation: operation,
            causationPacketId: meta.requestId,
            issuedAt: now,
          };
          emit(() => createMessage('tamiyo.command.issued', command, { source: OPERATOR_SOURCE, runId }));
          const next = await kasmina.seed(state.slotId).query<SeedState>({ type: 'command', command }, QUERY_MS);
          await apply(next);
          return { command, seed: structuredClone(next) };
        },
        rollback: async (reason, checkpointId) => {
          const target = checkpointId === undefined ? recent[recent.length - 2] : recent.find((c) => c.checkpointId === checkpointId);
          if (target === undefined) {
            throw new InputError(
              'ESPER_NOT_FOUND',
              checkpointId === undefined ? `run ${runId} has no checkpoint before this boundary yet` : `run ${runId} keeps checkpoints ${recent.map((c) => c.checkpointId).join(', ')}; ${checkpointId} is not one of them`,
            );
          }
          log?.warn({ runId, checkpointId: target.checkpointId, reason }, 'operator rollback');
          await rollbackTo(target, iteration, 'operator', reason);
          return { checkpointId: target.checkpointId, toEpoch: target.epoch };
        },
        recheckpoint: async () => {
          taken = await takeCheckpoint();
        },
      };
      await boundaryHook(boundary);
    };

    for (; iteration < spec.epochs; iteration++) {
      const started = performance.now();
      await atBoundary();
      const checkpointHere = lastCheckpoint;
      if (checkpointHere === undefined) throw new EsperError('ESPER_INTERNAL', 'run loop: no checkpoint at the epoch boundary');
      let forceNonFinite = false;
      if (options.faults?.nanAtEpoch === iteration + 1) {
        let poisoned = 0;
        for (const state of current.values()) {
          if (LIVE.has(state.stage) && (await client.request('poisonSeed', { slotId: state.slotId })).poisoned) poisoned++;
        }
        forceNonFinite = poisoned === 0;
        log?.warn({ runId, epoch: iteration + 1, poisoned }, 'fault injection: NaN epoch');
      }
      const epochReport = await client.request('runEpoch', null);
      const report: EpochReport = forceNonFinite ? { ...epochReport, trainLoss: Number.NaN, nonFinite: true } : epochReport;
      globalStep += report.steps;
      const judged = observe(governor, { epoch: report.epoch, trainLoss: report.trainLoss, validationLoss: report.validationLoss, numClasses, nonFinite: report.nonFinite });
      governor = judged.state;
      if (judged.verdict !== 'ok') {
        const verdict = judged.verdict;
        log?.warn({ runId, epoch: report.epoch, cause: verdict.cause, reason: verdict.reason }, 'governor: rollback');
        const done = await rollbackTo(checkpointHere, report.epoch, GOVERNOR_CAUSE_TRIGGER[verdict.cause], verdict.reason);
        const result: EpochResult = {
          epoch: report.epoch,
          trainLoss: done.evaluation.loss,
          validationLoss: done.evaluation.loss,
          validationAccuracy: done.evaluation.accuracy,
          durationMs: performance.now() - started,
          seeds: snapshot(),
        };
        epochs.push(result);
        blendingAt.push(result.seeds.some((s) => s.stage === 'BLENDING'));
        emitEpoch(result, globalStep, { rolledBack: 1 });
        await options.onEpoch?.({
          ...result,
          rolledBack: true,
          rollback: {
            cause: done.record.cause,
            reason: verdict.reason,
            toEpoch: checkpointHere.epoch,
            checkpointHostWeightsHash: checkpointHere.hostWeightsHash,
            restoredHostWeightsHash: done.restoredHostWeightsHash,
            prunedSlots: done.prunedSlots,
          },
        });
        continue;
      }

      for (const slot of report.slots) lastParams.set(slot.slotId, slot.seedParams);
      const observations: Record<string, SeedObservation> = {};
      for (const slot of report.slots) observations[slot.slotId] = observationFrom(slot, report.validationAccuracy, baseline.get(slot.slotId));
      const blendingDuring = [...current.values()].some((s) => s.stage === 'BLENDING');
      if (ifaces.size > 0) for (const next of await kasmina.epochEnded(report.epoch, observations, QUERY_MS)) await apply(next);
      lastAccuracy = report.validationAccuracy;

      let tamiyoSummary: EpochTamiyoSummary | undefined;
      if (growth && ifaces.size > 0) {
        const packet = packetFor(report, globalStep);
        const slotKeys: Record<string, string> = {};
        for (const [slotId, iface] of ifaces) slotKeys[slotId] = slotInterfaceKey(iface);
        const budgetLeft = germinations >= spec.budgets.maxSeeds ? 0 : spec.budgets.maxSeeds;
        const packetEvent = emit(() => createMessage('tolaria.state.published', packet, { source: RUN_LOOP_SOURCE, runId }));
        const decisionStarted = performance.now();
        const decision = await tamiyo.call(packet, memory, {
          availableKernels,
          budget: { maxSeeds: budgetLeft, maxParamsAdded: spec.budgets.maxParamsAdded ?? Number.MAX_SAFE_INTEGER, paramsAdded },
          slotInterfaces: slotKeys,
        });
        const decisionMs = performance.now() - decisionStarted;
        // Emitted before its commands run, so each transition follows the decision that caused it.
        const decisionEvent = emit(() =>
          createMessage(
            'tamiyo.decision.made',
            { packetId: packet.packetId, runId, epoch: report.epoch, commands: decision.commands, policy: label, reason: decision.reason, fallback: decision.fallback, decisionMs },
            { source: RUN_LOOP_SOURCE, runId, ...(packetEvent === undefined ? {} : { causedBy: packetEvent }) },
          ),
        );
        // How the seeds Tamiyo followed ended (SUCCESS / NEUTRAL / REGRESSION / ABORTED): into the event log, where the
        // library's event store files them for Karn, and into the results. Never fatal: a report is information.
        try {
          for (const fieldReport of policy.fieldReports?.(memory, decision.memory, packet) ?? []) {
            fieldReports.push(fieldReport);
            emit(() => createMessage('tamiyo.field_report', fieldReport, { source: RUN_LOOP_SOURCE, runId, ...(decisionEvent === undefined ? {} : { causedBy: decisionEvent }) }));
          }
        } catch (error) {
          log?.warn({ runId, err: error }, 'tamiyo: field reports not derived');
        }
        memory = decision.memory;
        tamiyoSummary = { fallback: decision.fallback, breaker: tamiyo.state, reason: decision.reason };
        for (const command of decision.commands) {
          const state = [...current.values()].find((s) => s.seedId === command.targetSeedId);
          if (state === undefined) continue;
          const op = command.seedOperation?.op;
          if (op === 'GERMINATE' && germinations >= spec.budgets.maxSeeds) continue;
          try {
            await apply(await kasmina.seed(state.slotId).query<SeedState>({ type: 'command', command: { ...command, deadlineMs: Math.max(command.deadlineMs, COMMAND_DEADLINE_MS) } }, QUERY_MS));
          } catch (error) {
            // Rejections are normal: the gates decide.
            log?.debug({ slotId: state.slotId, op, err: error }, 'seed command refused');
          }
        }
        log?.debug({ epoch: report.epoch, reason: decision.reason, policy: label }, 'tamiyo decided');
      }

      const result: EpochResult = {
        epoch: report.epoch,
        trainLoss: report.trainLoss,
        validationLoss: report.validationLoss,
        validationAccuracy: report.validationAccuracy,
        durationMs: performance.now() - started,
        seeds: snapshot(),
      };
      epochs.push(result);
      blendingAt.push(blendingDuring || result.seeds.some((s) => s.stage === 'BLENDING'));
      emitEpoch(result, globalStep, {});
      await options.onEpoch?.({ ...result, rolledBack: false, ...(tamiyoSummary === undefined ? {} : { tamiyo: tamiyoSummary }) });
    }

    const final = await client.request('evaluate', null);
    const summary = await client.request('summary', null);
    const states = [...current.values()];
    const seeds: SeedResult[] = states.map((s) => {
      const blueprintId = s.blueprintId ?? blueprintOf.get(s.slotId);
      const kernelId = s.kernelId ?? [...(histories.get(s.slotId) ?? [])].reverse().find((h) => h.kernelId !== undefined)?.kernelId;
      return {
        seedId: s.seedId,
        slotId: s.slotId,
        ...(blueprintId === undefined ? {} : { blueprintId }),
        ...(kernelId === undefined ? {} : { kernelId }),
        history: histories.get(s.slotId) ?? [],
        paramsAdded: s.stage === 'FOSSILIZED' ? (lastParams.get(s.slotId) ?? 0) : 0,
      };
    });
    const fossilParams = seeds.reduce((sum, s) => sum + s.paramsAdded, 0);
    let maxGraftDropPct = 0;
    for (let e = 1; e < epochs.length; e++) {
      const before = epochs[e - 1]?.validationAccuracy ?? 0;
      const after = epochs[e]?.validationAccuracy ?? 0;
      if (blendingAt[e] === true && before > 0) maxGraftDropPct = Math.max(maxGraftDropPct, ((before - after) / before) * 100);
    }
    const results: RunResults = {
      runId,
      spec,
      startedAt,
      finishedAt: new Date().toISOString(),
      backend: spec.training.backend,
      epochs,
      seeds,
      finalAccuracy: final.accuracy,
      parameterCount: { host: summary.hostParams, seeds: fossilParams, total: summary.hostParams + fossilParams },
      weightsHash: summary.weightsHash,
      rollbacks,
      ...(kernels.length === 0 ? {} : { kernels: kernels.map(runKernelRow) }),
      ...(fieldReports.length === 0 ? {} : { fieldReports }),
      maxGraftDropPct: Math.max(0, maxGraftDropPct),
    };
    const parsed = RunResultsSchema.parse(results);
    emit(() =>
      createEnvelope({
        type: RUN_COMPLETED_TYPE,
        source: RUN_LOOP_SOURCE,
        runId,
        data: { runId, epochs: epochs.length, finalAccuracy: final.accuracy, seeds: states.map((s) => ({ seedId: s.seedId, slotId: s.slotId, stage: s.stage })) },
      }),
    );
    return parsed;
  } finally {
    tamiyo.dispose();
    await kasmina.stop().catch(() => undefined);
    await client.terminate().catch(() => undefined);
  }
}
