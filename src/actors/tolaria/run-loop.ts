/**
 * `esper run` (DESIGN §9): one run, in process. Tolaria's loop over a
 * training worker thread (tensors stay off the event loop), Kasmina's seed
 * actors (one per slot, the lifecycle gates decide) and Tamiyo's heuristic
 * policy (it proposes, Kasmina disposes). Per epoch: checkpoint → train →
 * governor (rollback on NaN/divergence) → Kasmina epochEnded → Tamiyo decide
 * → seed commands → tensor slot commands → record.
 *
 * Embedded stand-ins until compiled kernels are wired:
 * - the kernel resolver offers, for every allowed blueprint and every slot
 *   interface, one VALIDATED candidate with id `k-<blueprint>-<width>`;
 * - the tensor side germinates a built-in module for it (see {@link moduleForBlueprint}).
 */
import type { Logger } from '../../infra/logger.ts';
import { slotInterfaceKey, type SlotInterface } from '../../contracts/common.ts';
import type { SeedState, SystemStatePacket } from '../../contracts/index.ts';
import { RunResultsSchema, type EpochSeedSnapshot, type EpochResult, type RunResults, type RunRollbackRecord, type RunSpec, type SeedHistoryEntry, type SeedResult } from '../../contracts/run.ts';
import { ConfigError } from '../../errors/index.ts';
import type { EpochReport, SlotCommand } from '../../tensor/training/training-session.ts';
import { TrainingWorkerClient } from '../../tensor/training/training-worker-client.ts';
import { MemorySeedStateStore, observationFrom, parseGateConfig, slotCommandFor, startKasmina, type KernelCandidate, type SeedObservation, type SeedTransitionedEnvelope } from '../kasmina/index.ts';
import { heuristicPolicy, policyLabel, seedCommand, type KernelChoice } from '../tamiyo/index.ts';
import { GOVERNOR_CAUSE_TRIGGER, initialGovernorState, observe } from './governor.ts';

/** What `onEpoch` receives after every epoch. */
export interface EpochSummary extends EpochResult {
  /** True when the governor rolled this epoch back. */
  rolledBack: boolean;
}

export interface RunTrainingOptions {
  onEpoch?(summary: EpochSummary): void;
  logger?: Logger;
  /** @default `run-<timestamp>` */
  runId?: string;
  /** False: train the host alone (no slots, no policy) — the `--compare` baseline. @default true */
  growth?: boolean;
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

  const histories = new Map<string, SeedHistoryEntry[]>();
  const publish = (envelope: SeedTransitionedEnvelope): void => {
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
    let lastCheckpoint: { bytes: Uint8Array; hash: string; epoch: number } | undefined;
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

    let globalStep = 0;
    for (let i = 0; i < spec.epochs; i++) {
      const started = performance.now();
      const saved = await client.request('checkpoint', { meta: { runId, epoch: i } });
      lastCheckpoint = { ...saved, epoch: i };
      const report = await client.request('runEpoch', null);
      globalStep += report.steps;
      const judged = observe(governor, { epoch: report.epoch, trainLoss: report.trainLoss, validationLoss: report.validationLoss, numClasses, nonFinite: report.nonFinite });
      governor = judged.state;
      if (judged.verdict !== 'ok') {
        const verdict = judged.verdict;
        log?.warn({ runId, epoch: report.epoch, cause: verdict.cause, reason: verdict.reason }, 'governor: rollback');
        await client.request('restore', { bytes: lastCheckpoint.bytes, mode: 'rollback' });
        const evaluation = await client.request('evaluate', null);
        const packet = packetFor({ epoch: report.epoch, steps: report.steps, validationAccuracy: evaluation.accuracy, validationLoss: evaluation.loss, trainLoss: evaluation.loss }, globalStep);
        for (const state of [...current.values()]) {
          if (!LIVE.has(state.stage)) continue;
          const command = seedCommand(packet, state.seedId, { op: 'PRUNE' }, { deadlineMs: COMMAND_DEADLINE_MS, policy: 'tolaria-governor', reason: `rollback: ${verdict.reason}` });
          try {
            await apply(await kasmina.seed(state.slotId).query<SeedState>({ type: 'command', command }, QUERY_MS));
          } catch (error) {
            log?.warn({ err: error, slotId: state.slotId }, 'prune after rollback refused');
          }
        }
        rollbacks.push({ epoch: report.epoch, cause: GOVERNOR_CAUSE_TRIGGER[verdict.cause], checkpointId: `${runId}-ckpt-${lastCheckpoint.epoch}`, toEpoch: lastCheckpoint.epoch, reason: verdict.reason.slice(0, 500) });
        const result: EpochResult = { epoch: report.epoch, trainLoss: evaluation.loss, validationLoss: evaluation.loss, validationAccuracy: evaluation.accuracy, durationMs: performance.now() - started, seeds: snapshot() };
        epochs.push(result);
        blendingAt.push(result.seeds.some((s) => s.stage === 'BLENDING'));
        lastAccuracy = evaluation.accuracy;
        options.onEpoch?.({ ...result, rolledBack: true });
        continue;
      }

      for (const slot of report.slots) lastParams.set(slot.slotId, slot.seedParams);
      const observations: Record<string, SeedObservation> = {};
      for (const slot of report.slots) observations[slot.slotId] = observationFrom(slot, report.validationAccuracy, baseline.get(slot.slotId));
      const blendingDuring = [...current.values()].some((s) => s.stage === 'BLENDING');
      if (ifaces.size > 0) for (const next of await kasmina.epochEnded(report.epoch, observations, QUERY_MS)) await apply(next);
      lastAccuracy = report.validationAccuracy;

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
        const decision = policy.decide(packet, memory, {
          availableKernels,
          budget: { maxSeeds: budgetLeft, maxParamsAdded: spec.budgets.maxParamsAdded ?? Number.MAX_SAFE_INTEGER, paramsAdded },
          slotInterfaces: slotKeys,
        });
        memory = decision.memory;
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
      options.onEpoch?.({ ...result, rolledBack: false });
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
    return RunResultsSchema.parse(results);
  } finally {
    await kasmina.stop().catch(() => undefined);
    await client.terminate().catch(() => undefined);
  }
}
