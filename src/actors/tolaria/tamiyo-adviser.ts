/**
 * How Tolaria asks Tamiyo (DESIGN §1, §5): at each epoch end it publishes the
 * SystemStatePacket, asks the run's Tamiyo actor for a decision with a
 * deadline behind a circuit breaker — a decision that fails, misses the
 * deadline or meets an open breaker is answered by the fallback "no change
 * this epoch" (3 consecutive failures open it) — records the decision and
 * the FieldReports it implies, and takes its commands to Kasmina, whose
 * gates have the last word.
 */
import type { BreakerState } from '../../contracts/supervision.ts';
import type { AdaptationCommand, Envelope, SeedState, SystemStatePacket } from '../../contracts/index.ts';
import { createMessage } from '../../contracts/registry.ts';
import type { RunSpec } from '../../contracts/run.ts';
import { createBreaker, type ActorRef, type Breaker } from '../../supervision/index.ts';
import type { GateConfig } from '../kasmina/index.ts';
import { bottleneckPolicy, heuristicPolicy, widthEpochsToMerge, policyLabel, type PolicyContext, type PolicyDecision, type PolicyMemory, type TamiyoAdvisorMessage, type TamiyoPolicy } from '../tamiyo/index.ts';
import { COMMAND_DEADLINE_MS, SEED_QUERY_MS } from './run-checkpoints.ts';
import type { RunContext } from './run-context.ts';
import { RUN_LOOP_SOURCE } from './run-events.ts';

/** Default deadline of one Tamiyo decision, ms. */
export const TAMIYO_DECISION_TIMEOUT_MS = 2000;
/** Default time the Tamiyo breaker stays open before a trial decision, ms. */
export const TAMIYO_BREAKER_RESET_MS = 10_000;
/** Consecutive failed decisions that open the Tamiyo breaker. */
export const TAMIYO_BREAKER_FAILURES = 3;
/** The fallback decision's reason. */
export const TAMIYO_FALLBACK_REASON = 'fallback: Tamiyo unavailable';

/** How Tamiyo's decision went this epoch (absent when no decision was asked: no growth, no slots, or a rollback). */
export interface EpochTamiyoSummary {
  /** True when the breaker's fallback answered ("no change this epoch"): Tamiyo failed, missed the deadline, or the breaker was open. */
  fallback: boolean;
  /** The breaker's state after the decision. */
  breaker: BreakerState;
  /** The decision's reason (the fallback's, or Tamiyo's). */
  reason: string;
  /** The hidden layers revived at this boundary (a HOST REVIVE command carried out), if any. */
  revived?: number[];
}

/**
 * Epochs a width seed trains in isolation before it may blend, unless the
 * spec's gates say otherwise: its outgoing weights start at zero, so it has
 * nothing to prove in isolation that blending does not show, and every epoch
 * spent there delays the capacity the layer lacks.
 */
export const WIDTH_TRAINING_EPOCHS = 1;

/** The gates of width slots: the run's, with {@link WIDTH_TRAINING_EPOCHS} in TRAINING unless the spec sets `g2.minTrainingEpochs`. */
export function widthGates(gates: GateConfig, spec: RunSpec): GateConfig {
  const g2 = spec.gates?.['g2'] as Record<string, unknown> | undefined;
  if (g2?.['minTrainingEpochs'] !== undefined) return gates;
  return { ...gates, g2: { ...gates.g2, minTrainingEpochs: WIDTH_TRAINING_EPOCHS } };
}

/** The run's policy, as its spec configures it (`bottleneck` by default; `heuristic` adds depth only). */
export function runPolicy(spec: RunSpec, gates: GateConfig): TamiyoPolicy<PolicyMemory> {
  const p = spec.policy;
  const heuristic = {
    plateauEpochs: p.plateauEpochs,
    plateauThresholdPp: p.plateauDeltaPp,
    minEpoch: p.minEpochBeforeGerminate,
    epochsAfterPrune: p.germinateCooldownEpochs,
    fossilizeContributionPp: p.fossilizeContributionPp,
    fossilizeLossContributionPct: gates.g5.minLossContributionPct,
    regressionPp: -p.pruneRegressionPp,
    maxLiveSeeds: p.maxLiveSeeds,
    advanceTrainingEpochs: gates.g2.minTrainingEpochs,
    // The spec's α schedule rides on the TRAINING → BLENDING advance.
    blend: { curve: spec.blend.curve, tempoEpochs: spec.blend.tempoEpochs },
  };
  if (p.kind === 'heuristic') return heuristicPolicy(heuristic);
  const widthTrainingEpochs = widthGates(gates, spec).g2.minTrainingEpochs;
  // Width seeds ramp by their own tempo when the spec names one, else by the run's: the window counts the ramp they get.
  const widthTempoEpochs = p.widthTempoEpochs ?? spec.blend.tempoEpochs;
  return bottleneckPolicy({
    ...heuristic,
    // Width seeds advance after fewer epochs in TRAINING than depth seeds: each kind after its own G2 minimum.
    trainingEpochs: widthTrainingEpochs,
    growFromEpoch: p.growFromEpoch,
    growUntilFraction: p.growUntilFraction,
    mergeByFraction: p.mergeByFraction,
    // A width seed's fastest path to its merge: TRAINING, its own α ramp, one epoch at α = 1 (G5 measures it there).
    epochsToMerge: widthEpochsToMerge(widthTrainingEpochs, widthTempoEpochs),
    saturation: p.saturation,
    growthFactor: p.growthFactor,
    patientUntilFraction: p.patientUntilFraction,
    holdingPatienceEpochs: p.holdingPatienceEpochs,
    maxLiveWidthSeeds: p.maxLiveWidthSeeds,
    maxLiveConvWidthSeeds: p.maxLiveConvWidthSeeds,
    germinateTogether: p.germinateTogether,
    denseGrowsWithConv: p.denseGrowsWithConv,
    deferPruneAfterMerge: p.deferPruneAfterMerge,
    tempoEpochs: widthTempoEpochs,
  });
}

export interface TamiyoAdviserOptions {
  /** Deadline of one decision, ms. @default TAMIYO_DECISION_TIMEOUT_MS */
  timeoutMs?: number | undefined;
  /** How long the breaker stays open before a trial decision, ms. @default TAMIYO_BREAKER_RESET_MS */
  resetTimeoutMs?: number | undefined;
}

type Decision = PolicyDecision<PolicyMemory> & { fallback: boolean };

export class TamiyoAdviser {
  readonly #ctx: RunContext;
  readonly #policy: TamiyoPolicy<PolicyMemory>;
  readonly #label: string;
  readonly #breaker: Breaker<[SystemStatePacket, PolicyMemory, PolicyContext], Decision>;

  constructor(ctx: RunContext, policy: TamiyoPolicy<PolicyMemory>, tamiyo: ActorRef<TamiyoAdvisorMessage>, options: TamiyoAdviserOptions = {}) {
    this.#ctx = ctx;
    this.#policy = policy;
    this.#label = policyLabel(policy);
    const timeoutMs = options.timeoutMs ?? TAMIYO_DECISION_TIMEOUT_MS;
    const log = ctx.log;
    this.#breaker = createBreaker(
      'tamiyo',
      async (packet: SystemStatePacket, memory: PolicyMemory, context: PolicyContext): Promise<Decision> => ({
        ...(await tamiyo.query<PolicyDecision<PolicyMemory>>({ type: 'decide', packet, memory, context }, timeoutMs)),
        fallback: false,
      }),
      {
        timeoutMs,
        failureThreshold: TAMIYO_BREAKER_FAILURES,
        resetTimeoutMs: options.resetTimeoutMs ?? TAMIYO_BREAKER_RESET_MS,
        fallback: (error, _packet, memory) => {
          log?.warn({ runId: ctx.runId, err: error }, 'tamiyo: no decision, fallback (no change this epoch)');
          return { commands: [], reason: TAMIYO_FALLBACK_REASON, memory, fallback: true };
        },
        ...(log === undefined ? {} : { logger: log }),
      },
    );
  }

  /** Asks for a decision on `report`'s packet and carries its commands out; what happened. */
  async advise(report: Parameters<RunContext['packetFor']>[0]): Promise<EpochTamiyoSummary> {
    const ctx = this.#ctx;
    const { runId, spec } = ctx;
    const packet = ctx.packetFor(report);
    const packetEvent = ctx.events.emit(() => createMessage('tolaria.state.published', packet, { source: RUN_LOOP_SOURCE, runId }));
    const started = performance.now();
    const decision = await this.#breaker.call(packet, ctx.memory, {
      availableKernels: ctx.availableKernels(),
      budget: { maxSeeds: ctx.germinations >= spec.budgets.maxSeeds ? 0 : spec.budgets.maxSeeds, maxParamsAdded: spec.budgets.maxParamsAdded ?? Number.MAX_SAFE_INTEGER, paramsAdded: ctx.paramsAdded },
      slotInterfaces: ctx.slotInterfaceKeys(),
      slots: ctx.slotPlaces(),
      epochs: spec.epochs,
    });
    const decisionMs = performance.now() - started;
    // Emitted before its commands run, so each transition follows the decision that caused it.
    const decisionEvent = ctx.events.emit(() =>
      createMessage(
        'tamiyo.decision.made',
        { packetId: packet.packetId, runId, epoch: report.epoch, commands: decision.commands, policy: this.#label, reason: decision.reason, fallback: decision.fallback, decisionMs },
        { source: RUN_LOOP_SOURCE, runId, ...(packetEvent === undefined ? {} : { causedBy: packetEvent }) },
      ),
    );
    // How the seeds Tamiyo followed ended (SUCCESS / NEUTRAL / REGRESSION / ABORTED): into the event log, where the
    // library's event store files them for Karn, and into the results. Never fatal: a report is information.
    try {
      for (const fieldReport of this.#policy.fieldReports?.(ctx.memory, decision.memory, packet) ?? []) {
        ctx.fieldReports.push(fieldReport);
        ctx.events.emit(() => createMessage('tamiyo.field_report', fieldReport, { source: RUN_LOOP_SOURCE, runId, ...(decisionEvent === undefined ? {} : { causedBy: decisionEvent }) }));
      }
    } catch (error) {
      ctx.log?.warn({ runId, err: error }, 'tamiyo: field reports not derived');
    }
    ctx.memory = decision.memory;
    let revived: number[] | undefined;
    for (const command of decision.commands) {
      if (command.type === 'HOST') {
        revived = (await this.#host(command, report.epoch, decisionEvent)) ?? revived;
        continue;
      }
      const state = [...ctx.current.values()].find((s) => s.seedId === command.targetSeedId);
      if (state === undefined) continue;
      const op = command.seedOperation?.op;
      if (op === 'GERMINATE' && ctx.germinations >= spec.budgets.maxSeeds) continue;
      try {
        await ctx.apply(await ctx.seeds.seed(state.slotId).query<SeedState>({ type: 'command', command: { ...command, deadlineMs: Math.max(command.deadlineMs, COMMAND_DEADLINE_MS) } }, SEED_QUERY_MS));
      } catch (error) {
        // Rejections are normal: the gates decide.
        ctx.log?.debug({ slotId: state.slotId, op, err: error }, 'seed command refused');
      }
    }
    ctx.log?.debug({ epoch: report.epoch, reason: decision.reason, policy: this.#label }, 'tamiyo decided');
    return { fallback: decision.fallback, breaker: this.#breaker.state, reason: decision.reason, ...(revived === undefined ? {} : { revived }) };
  }

  /** Carries out a HOST command (a dead-layer revival) in the worker; the layers revived, or undefined when refused (logged, never fatal). */
  async #host(command: AdaptationCommand, epoch: number, decisionEvent: Envelope | undefined): Promise<number[] | undefined> {
    const ctx = this.#ctx;
    const op = command.hostOperation;
    if (op?.op !== 'REVIVE') return undefined;
    try {
      const { units } = await ctx.client.request('reviveLayers', { layers: op.layers, epoch });
      ctx.revivals.push({ epoch, layers: [...op.layers], units });
      const reason = command.annotations['reason'] ?? 'revive';
      ctx.events.emit(() =>
        createMessage(
          'tolaria.host.revived',
          { runId: ctx.runId, epoch, layers: [...op.layers], units, commandId: command.commandId, reason },
          { source: RUN_LOOP_SOURCE, runId: ctx.runId, ...(decisionEvent === undefined ? {} : { causedBy: decisionEvent }) },
        ),
      );
      return [...op.layers];
    } catch (error) {
      ctx.log?.warn({ runId: ctx.runId, layers: op.layers, err: error }, 'host revival refused');
      return undefined;
    }
  }

  dispose(): void {
    this.#breaker.dispose();
  }
}
