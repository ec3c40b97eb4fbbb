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
 * Embedded stand-ins until compiled kernels are wired:
 * - the kernel resolver offers, for every allowed blueprint and every slot
 *   interface, one VALIDATED candidate with id `k-<blueprint>-<width>`;
 * - the tensor side germinates a built-in module for it (see {@link moduleForBlueprint}).
 */
import type { Logger } from '../../infra/logger.ts';
import { createEnvelope, type Envelope } from '../../contracts/envelope.ts';
import { createMessage } from '../../contracts/registry.ts';
import { slotInterfaceKey, type SlotInterface } from '../../contracts/common.ts';
import type { SeedState, SystemStatePacket } from '../../contracts/index.ts';
import { RunResultsSchema, type EpochSeedSnapshot, type EpochResult, type RunResults, type RunRollbackRecord, type RunSpec, type SeedHistoryEntry, type SeedResult } from '../../contracts/run.ts';
import { ConfigError } from '../../errors/index.ts';
import { createBreaker, type Breaker } from '../../supervision/breaker.ts';
import type { BreakerState } from '../../contracts/supervision.ts';
import type { EpochReport, SlotCommand } from '../../tensor/training/training-session.ts';
import { TrainingWorkerClient } from '../../tensor/training/training-worker-client.ts';
import { MemorySeedStateStore, observationFrom, parseGateConfig, slotCommandFor, startKasmina, type KernelCandidate, type SeedObservation, type SeedTransitionedEnvelope } from '../kasmina/index.ts';
import { heuristicPolicy, policyLabel, seedCommand, type KernelChoice, type PolicyContext, type PolicyDecision, type PolicyMemory } from '../tamiyo/index.ts';
import { GOVERNOR_CAUSE_TRIGGER, initialGovernorState, observe } from './governor.ts';

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

/** Blueprints offered when the spec says `'catalog'`. */
export const DEFAULT_RUN_BLUEPRINTS = ['mlp_small', 'mlp_large', 'lora_r4'] as const;

const QUERY_MS = 10_000;
const COMMAND_DEADLINE_MS = 60_000;

/**
 * The built-in tensor module a blueprint becomes until compiled kernels are
 * wired (embedded stand-in): names with `lora`/`rank` → `low-rank` with the
 * rank from `_r<N>` (default 4); names with `large` → `residual-dense` with
 * hidden = 2 × width; anything else → `residual-dense` with hidden = width.
 */
export function moduleForBlueprint(blueprintId: string, width: number): { kind: string; config: Record<string, number>; paramCount: number } {
  if (/lora|rank/i.test(blueprintId)) {
    const rank = Number(/_r(\d+)/.exec(blueprintId)?.[1] ?? 4);
    return { kind: 'low-rank', config: { rank }, paramCount: 2 * width * rank };
  }
  const hidden = /large/i.test(blueprintId) ? 2 * width : width;
  return { kind: 'residual-dense', config: { hidden }, paramCount: 2 * width * hidden + hidden + width };
}

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
  const startedAt = new Date().toISOString();
  const training = growth ? spec.training : { ...spec.training, slots: [] };
  const ifaces = growth ? slotInterfaces(spec) : new Map<string, SlotInterface>();
  const blueprints = spec.seedModules.blueprints === 'catalog' ? [...DEFAULT_RUN_BLUEPRINTS] : spec.seedModules.blueprints;

  // Embedded kernel catalog: one VALIDATED candidate per blueprint × slot interface.
  const candidates: (KernelCandidate & { paramCount: number; width: number })[] = [];
  const seenKernels = new Set<string>();
  for (const iface of ifaces.values()) {
    const width = iface.inputShape[0] ?? 0;
    for (const blueprintId of blueprints) {
      const kernelId = `k-${blueprintId}-${width}`;
      if (seenKernels.has(kernelId)) continue;
      seenKernels.add(kernelId);
      candidates.push({ kernelId, blueprintId, status: 'VALIDATED', interface: iface, paramCount: moduleForBlueprint(blueprintId, width).paramCount, width });
    }
  }
  const kernelById = new Map(candidates.map((c) => [c.kernelId, c]));
  const moduleFor = (kernelId: string, blueprintId: string | undefined): { kind: string; config: Record<string, number> } => {
    const kernel = kernelById.get(kernelId);
    const module = moduleForBlueprint(kernel?.blueprintId ?? blueprintId ?? kernelId, kernel?.width ?? 0);
    return { kind: module.kind, config: module.config };
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
  const histories = new Map<string, SeedHistoryEntry[]>();
  const publish = (envelope: SeedTransitionedEnvelope): void => {
    emit(() => (envelope.runId === undefined ? { ...envelope, runId } : envelope));
    const d = envelope.data;
    const slotId = d.slotId ?? d.seedId;
    const list = histories.get(slotId) ?? [];
    list.push({ epoch: d.epoch, from: d.from, to: d.to, cause: d.cause, ...(d.kernelId === undefined ? {} : { kernelId: d.kernelId }) });
    histories.set(slotId, list);
  };

  const client = new TrainingWorkerClient();
  const kasmina = await startKasmina({
    runId,
    slots: [...ifaces].map(([slotId, iface]) => ({ slotId, interface: iface })),
    store: new MemorySeedStateStore(),
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

  const epochs: EpochResult[] = [];
  const rollbacks: RunRollbackRecord[] = [];
  const blendingAt: boolean[] = [];
  const lastParams = new Map<string, number>();
  const blueprintOf = new Map<string, string>();
  try {
    await client.request('create', training);
    const current = new Map<string, SeedState>((await kasmina.states()).map((s) => [s.slotId, s]));
    const baseline = new Map<string, number>();
    let governor = initialGovernorState();
    let memory = policy.initialMemory();
    let lastAccuracy: number | undefined;
    let paramsAdded = 0;
    let germinations = 0;
    let lastCheckpoint: { bytes: Uint8Array; hash: string; epoch: number; hostWeightsHash: string } | undefined;
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
    const packetFor = (report: Pick<EpochReport, 'epoch' | 'steps' | 'validationAccuracy' | 'validationLoss' | 'trainLoss'>, globalStep: number): SystemStatePacket => ({
      v: 1,
      packetId: `${runId}-p${report.epoch}`,
      runId,
      epoch: report.epoch,
      globalStep,
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

    let globalStep = 0;
    let hostParams = 0;
    for (let i = 0; i < spec.epochs; i++) {
      const started = performance.now();
      const saved = await client.request('checkpoint', { meta: { runId, epoch: i } });
      const atCheckpoint = await client.request('summary', null);
      hostParams = atCheckpoint.hostParams;
      lastCheckpoint = { ...saved, epoch: i, hostWeightsHash: atCheckpoint.hostWeightsHash };
      let forceNonFinite = false;
      if (options.faults?.nanAtEpoch === i + 1) {
        let poisoned = 0;
        for (const state of current.values()) {
          if (LIVE.has(state.stage) && (await client.request('poisonSeed', { slotId: state.slotId })).poisoned) poisoned++;
        }
        forceNonFinite = poisoned === 0;
        log?.warn({ runId, epoch: i + 1, poisoned }, 'fault injection: NaN epoch');
      }
      const epochReport = await client.request('runEpoch', null);
      const report: EpochReport = forceNonFinite ? { ...epochReport, trainLoss: Number.NaN, nonFinite: true } : epochReport;
      globalStep += report.steps;
      const judged = observe(governor, { epoch: report.epoch, trainLoss: report.trainLoss, validationLoss: report.validationLoss, numClasses, nonFinite: report.nonFinite });
      governor = judged.state;
      if (judged.verdict !== 'ok') {
        const verdict = judged.verdict;
        log?.warn({ runId, epoch: report.epoch, cause: verdict.cause, reason: verdict.reason }, 'governor: rollback');
        const restored = await client.request('restore', { bytes: lastCheckpoint.bytes, mode: 'rollback' });
        const restoredHostWeightsHash = (await client.request('summary', null)).hostWeightsHash;
        const evaluation = await client.request('evaluate', null);
        const packet = packetFor({ epoch: report.epoch, steps: report.steps, validationAccuracy: evaluation.accuracy, validationLoss: evaluation.loss, trainLoss: evaluation.loss }, globalStep);
        const live = [...current.values()].filter((s) => LIVE.has(s.stage));
        const rolledBackEvent = emit(() =>
          createMessage(
            'tolaria.run.rolled_back',
            {
              runId,
              fromEpoch: report.epoch,
              toEpoch: lastCheckpoint?.epoch ?? 0,
              checkpointId: `${runId}-ckpt-${lastCheckpoint?.epoch ?? 0}`,
              restoredHash: restoredHostWeightsHash,
              cause: { trigger: GOVERNOR_CAUSE_TRIGGER[verdict.cause], reason: verdict.reason.slice(0, 500) || verdict.cause },
              prunedSeedIds: live.map((s) => s.seedId),
            },
            { source: RUN_LOOP_SOURCE, runId },
          ),
        );
        for (const state of live) {
          const command = seedCommand(packet, state.seedId, { op: 'PRUNE' }, { deadlineMs: COMMAND_DEADLINE_MS, policy: 'tolaria-governor', reason: `rollback: ${verdict.reason}` });
          emit(() => createMessage('tamiyo.command.issued', command, { source: RUN_LOOP_SOURCE, runId, ...(rolledBackEvent === undefined ? {} : { causedBy: rolledBackEvent }) }));
          try {
            await apply(await kasmina.seed(state.slotId).query<SeedState>({ type: 'command', command }, QUERY_MS));
          } catch (error) {
            log?.warn({ err: error, slotId: state.slotId }, 'prune after rollback refused');
          }
        }
        const record: RunRollbackRecord = { epoch: report.epoch, cause: GOVERNOR_CAUSE_TRIGGER[verdict.cause], checkpointId: `${runId}-ckpt-${lastCheckpoint.epoch}`, toEpoch: lastCheckpoint.epoch, reason: verdict.reason.slice(0, 500) };
        rollbacks.push(record);
        const result: EpochResult = { epoch: report.epoch, trainLoss: evaluation.loss, validationLoss: evaluation.loss, validationAccuracy: evaluation.accuracy, durationMs: performance.now() - started, seeds: snapshot() };
        epochs.push(result);
        blendingAt.push(result.seeds.some((s) => s.stage === 'BLENDING'));
        lastAccuracy = evaluation.accuracy;
        emitEpoch(result, globalStep, { rolledBack: 1 });
        await options.onEpoch?.({
          ...result,
          rolledBack: true,
          rollback: {
            cause: record.cause,
            reason: verdict.reason,
            toEpoch: lastCheckpoint.epoch,
            checkpointHostWeightsHash: lastCheckpoint.hostWeightsHash,
            restoredHostWeightsHash,
            prunedSlots: restored.prunedSlots,
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
        const availableKernels: KernelChoice[] = candidates.map((c) => ({
          kernelId: c.kernelId,
          blueprintId: c.blueprintId,
          interfaceKey: slotInterfaceKey(c.interface),
          riskScore: 0.2,
          paramCount: c.paramCount,
          status: 'VALIDATED',
        }));
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
        emit(() =>
          createMessage(
            'tamiyo.decision.made',
            { packetId: packet.packetId, runId, epoch: report.epoch, commands: decision.commands, policy: label, reason: decision.reason, fallback: decision.fallback, decisionMs },
            { source: RUN_LOOP_SOURCE, runId, ...(packetEvent === undefined ? {} : { causedBy: packetEvent }) },
          ),
        );
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
