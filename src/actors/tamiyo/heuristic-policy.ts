/**
 * Tamiyo's heuristic policy (digest §7, `tamiyo/heuristic.py`), adapted to
 * Esper's lifecycle DORMANT → GERMINATED → TRAINING → BLENDING → HOLDING →
 * FOSSILIZED, where every advance is a command and Kasmina's gates decide
 * whether it happens. Pure and deterministic (see `policy.ts`).
 *
 * **Signals**, updated once per new packet:
 * - *plateau*: consecutive epochs whose validation accuracy gained less than
 *   `plateauThresholdPp` (0.5 pp) over the best accuracy seen so far (the best,
 *   not the previous epoch, so a noisy up-and-down never hides a plateau);
 * - *host stabilised*: latches after `stability.epochs` (3) consecutive
 *   epochs whose relative loss change lies in (`minChange`, `maxChange`) =
 *   (−5 %, +3 %); measured on the training loss by default (`stability.loss`);
 * - *last prune*: the epoch of the last PRUNE the policy issued;
 * - *blueprint penalties*: +`penalty.onPrune` (2) to the blueprint of every
 *   seed the policy prunes, ×`penalty.decay` (0.5) per epoch elapsed.
 *
 * A packet whose epoch is not past the last one (a rollback restored an
 * earlier checkpoint) resets the plateau and stability signals (the host must
 * prove itself stable again); penalties and the last prune are kept.
 *
 * **Rules**, for every live seed (GERMINATED, TRAINING, BLENDING, HOLDING),
 * at most one command each:
 *
 * | stage | command |
 * |---|---|
 * | GERMINATED | ADVANCE (→ TRAINING, gate G1) at once |
 * | TRAINING | PRUNE on regression (≥ `pruneMinEpochs` (5) in stage and improvement < `regressionPp` (−2 pp)); PRUNE when stalled (≥ `stallEpochs` (15) in stage: the gate kept refusing); else ADVANCE (→ BLENDING, gate G2) once ≥ `advanceTrainingEpochs` (3, the gate's minimum) in stage |
 * | BLENDING | PRUNE on regression or stall as above; ADVANCE (→ HOLDING, gate G3) once α reached its target (1 unless retargeted) |
 * | HOLDING | no counterfactual yet: wait (PRUNE after `holdingMaxWaitEpochs` (5)); *lowers the loss* = contribution ≥ 0 and validation loss with the seed ≥ `fossilizeLossContributionPct` (2 %, G5's) below the loss without it; contribution > `dependencyContributionPp` (0.1) but improvement < 0, and not lowering the loss: PRUNE (the model leans on a seed that made it worse); contribution ≥ `fossilizeContributionPp` (0.5, G5's threshold) or lowers the loss: FOSSILIZE; else PRUNE |
 *
 * **Germination**, when fewer than `maxLiveSeeds` (1) seeds are live: WAIT
 * while epoch < `minEpoch` (5), the host is not stabilised, fewer than
 * `epochsAfterPrune` (5) epochs have passed since the last prune, the plateau
 * is shorter than `plateauEpochs` (3), no slot is DORMANT, or the seed budget
 * (`maxSeeds` seeds holding a kernel) is spent. Otherwise GERMINATE the
 * best-scored kernel into the most promising free slot:
 * - *kernels*: VALIDATED, matching the slot's interface (when the context
 *   names it), risk ≤ `scoring.maxRiskScore`, parameters within the remaining
 *   budget (`maxParamsAdded − paramsAdded`), blueprint penalty <
 *   `penalty.skipAt` (3). Score (lower is better) = `riskWeight`·risk +
 *   `paramWeight`·paramCount/remaining budget + `penaltyWeight`·penalty; ties
 *   go to fewer parameters, then the smaller kernel id.
 * - *slots*: the DORMANT slots ranked by their signal, largest first — the
 *   packet metric `slot.<slotId>.signal` when Tolaria reports it (e.g. the
 *   host activation or gradient norm at the slot), else the DORMANT seed's
 *   `gradNorm` — then the slots without a signal in packet order (so with no
 *   telemetry, the first free slot). The first slot that has an eligible
 *   kernel is chosen.
 *
 * **FieldReports** ({@link fieldReportsFor}): when a followed seed is seen
 * FOSSILIZED (SUCCESS), pruned or otherwise gone (REGRESSION or NEUTRAL: the
 * policy's verdict when it pruned it, else REGRESSION when its last
 * improvement was negative), or a GERMINATE never took effect (ABORTED).
 */
import { z } from 'zod';
import {
  BlendSpecSchema,
  FieldReportSchema,
  LIVE_SEED_STAGES,
  MAX_COMMANDS_PER_DECISION,
  parseFrozen,
  type AdaptationCommand,
  type BlendSpec,
  type FieldReport,
  type FieldReportOutcome,
  type Metrics,
  type SeedOperation,
  type SeedStage,
  type SeedState,
  type SystemStatePacket,
} from '../../contracts/index.ts';
import { ALPHA_EPSILON, DEFAULT_GATE_CONFIG, lowersLoss } from '../kasmina/index.ts';
import {
  clip,
  deriveCommandId,
  initialPolicyMemory,
  seedCommand,
  trackGermination,
  type FinishedSeed,
  type KernelChoice,
  type PolicyBudget,
  type PolicyContext,
  type PolicyDecision,
  type PolicyMemory,
  type PruneVerdict,
  type TamiyoPolicy,
  type TrackedSeed,
} from './policy.ts';

/** Name of the heuristic policy. */
export const HEURISTIC_POLICY_NAME = 'heuristic';
/** Version of its rules (bump when a rule changes). */
export const HEURISTIC_POLICY_VERSION = 2;

/**
 * Thresholds of the heuristic. Parsed once with {@link parseHeuristicConfig};
 * every field has a default, so `{}` is a valid config.
 */
export const HeuristicConfigSchema = z
  .object({
    /** An epoch gaining less than this over the best validation accuracy so far counts as a plateau epoch, pp. @default 0.5 */
    plateauThresholdPp: z.number().min(0).default(0.5),
    /** Plateau epochs needed to germinate. @default 3 */
    plateauEpochs: z.number().int().min(1).default(3),
    /** No germination before this epoch. @default 5 */
    minEpoch: z.number().int().min(0).default(5),
    /** Epochs after a prune before the next germination. @default 5 */
    epochsAfterPrune: z.number().int().min(0).default(5),
    stability: z
      .object({
        /** Consecutive epochs within the band that latch "host stabilised". @default 3 */
        epochs: z.number().int().min(1).default(3),
        /** Lower bound (exclusive) of the relative loss change of a stable epoch. @default -0.05 */
        minChange: z.number().max(0).default(-0.05),
        /** Upper bound (exclusive) of the relative loss change of a stable epoch. @default 0.03 */
        maxChange: z.number().min(0).default(0.03),
        /** Loss the stability is measured on (the epoch's mean training loss is the smoother signal). @default 'training' */
        loss: z.enum(['training', 'validation']).default('training'),
      })
      .strict()
      .prefault({}),
    /** Most live seeds at once (the digest's heuristic: 1). @default 1 */
    maxLiveSeeds: z.number().int().min(1).default(1),
    /** Epochs in TRAINING before ADVANCE is sent (the G2 gate's minimum). @default 3 */
    advanceTrainingEpochs: z.number().int().min(0).default(DEFAULT_GATE_CONFIG.g2.minTrainingEpochs),
    /** A TRAINING or BLENDING seed whose improvement is below this is pruned (once `pruneMinEpochs` in stage), pp. @default -2 */
    regressionPp: z.number().max(0).default(-2),
    /** Epochs in stage before the regression rule applies. @default 5 */
    pruneMinEpochs: z.number().int().min(0).default(5),
    /** A seed this many epochs in GERMINATED, TRAINING or BLENDING (its gate kept refusing) is pruned as stalled. @default 15 */
    stallEpochs: z.number().int().min(1).default(15),
    /** Counterfactual contribution needed to fossilize, pp (G5's threshold). @default 0.5 */
    fossilizeContributionPp: z.number().default(DEFAULT_GATE_CONFIG.g5.minContributionPp),
    /** Or: the relative validation-loss drop, percent, that fossilizes a seed whose accuracy contribution is ≥ 0 (G5's loss threshold). @default 2 */
    fossilizeLossContributionPct: z.number().default(DEFAULT_GATE_CONFIG.g5.minLossContributionPct),
    /** HOLDING: contribution above this while the total improvement is negative means the model leans on a harmful seed → prune, pp. @default 0.1 */
    dependencyContributionPp: z.number().default(0.1),
    /** HOLDING: epochs to wait for a counterfactual before pruning. @default 5 */
    holdingMaxWaitEpochs: z.number().int().min(0).default(5),
    penalty: z
      .object({
        /** Added to a blueprint's penalty when the policy prunes one of its seeds. @default 2 */
        onPrune: z.number().min(0).default(2),
        /** Factor applied to every penalty per epoch. @default 0.5 */
        decay: z.number().min(0).max(1).default(0.5),
        /** Blueprints whose penalty is at least this are skipped. @default 3 */
        skipAt: z.number().positive().default(3),
      })
      .strict()
      .prefault({}),
    scoring: z
      .object({
        /** Weight of the risk score (0–1). @default 1 */
        riskWeight: z.number().min(0).default(1),
        /** Weight of the parameter cost as a fraction of the remaining budget (0–1). @default 1 */
        paramWeight: z.number().min(0).default(1),
        /** Weight of the blueprint penalty (0–skipAt). @default 0.25 */
        penaltyWeight: z.number().min(0).default(0.25),
        /** Kernels riskier than this are never germinated. @default 1 (no limit) */
        maxRiskScore: z.number().min(0).max(1).default(1),
      })
      .strict()
      .prefault({}),
    /** Packet metric holding a slot's signal; `{slotId}` is replaced by the slot id. @default 'slot.{slotId}.signal' */
    slotSignalMetric: z.string().min(1).max(128).default('slot.{slotId}.signal'),
    /** α ramp sent with the ADVANCE into BLENDING (absent: Kasmina's default). */
    blend: BlendSpecSchema.optional(),
    /** Deadline of every command, ms after the packet's time. @default 60000 */
    commandDeadlineMs: z.number().int().min(1).max(3_600_000).default(60_000),
  })
  .strict();

/** Parsed, complete heuristic configuration (see {@link HeuristicConfigSchema} for keys and defaults). */
export type HeuristicConfig = z.output<typeof HeuristicConfigSchema>;
/** What a caller may write: any subset of the keys. */
export type HeuristicConfigInput = z.input<typeof HeuristicConfigSchema>;

/** Fills defaults, validates and freezes a heuristic config; every problem is listed in one ESPER_CONFIG_INVALID. */
export function parseHeuristicConfig(input: unknown = {}): HeuristicConfig {
  return parseFrozen(HeuristicConfigSchema, input, 'Tamiyo heuristic configuration');
}

/** The defaults. */
export const DEFAULT_HEURISTIC_CONFIG: HeuristicConfig = parseHeuristicConfig({});

// ------------------------------------------------------------------ helpers

const LIVE: readonly SeedStage[] = LIVE_SEED_STAGES;
const isLive = (stage: SeedStage): boolean => LIVE.includes(stage);
/** Stages in which a seed holds a kernel (and so counts against the seed budget). */
const HOLDS_KERNEL: readonly SeedStage[] = [...LIVE_SEED_STAGES, 'FOSSILIZED'];

const fmt = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/\.?0+$/, ''));
const pp = (value: number): string => `${value >= 0 ? '+' : ''}${fmt(value)}pp`;
const pct = (value: number): string => `${value >= 0 ? '+' : ''}${fmt(value)}%`;

/** Longest decision reason (the schema's limit). */
const MAX_REASON = 1000;

/** Penalties after `epochs` epochs of decay (entries below 0.01 dropped). */
export function decayPenalties(penalties: Readonly<Record<string, number>>, epochs: number, decay: number): Record<string, number> {
  const factor = decay ** Math.max(0, epochs);
  const next: Record<string, number> = {};
  for (const [blueprintId, penalty] of Object.entries(penalties)) {
    const value = penalty * factor;
    if (value >= 0.01) next[blueprintId] = value;
  }
  return next;
}

/** A kernel with its score, or why it was skipped. */
export interface ScoredKernel {
  readonly kernel: KernelChoice;
  /** Lower is better; undefined when skipped. */
  readonly score: number | undefined;
  /** Why it was skipped (undefined when eligible). */
  readonly skipped: 'not_validated' | 'interface' | 'risk' | 'over_budget' | 'penalised' | undefined;
}

/**
 * Every kernel scored for a slot of interface `interfaceKey` (undefined: any),
 * eligible ones first, best first (score, then fewer parameters, then kernel id).
 */
export function rankKernels(
  kernels: readonly KernelChoice[],
  interfaceKey: string | undefined,
  budget: PolicyBudget,
  penalties: Readonly<Record<string, number>>,
  config: HeuristicConfig = DEFAULT_HEURISTIC_CONFIG,
): ScoredKernel[] {
  const remaining = budget.maxParamsAdded - budget.paramsAdded;
  const { riskWeight, paramWeight, penaltyWeight, maxRiskScore } = config.scoring;
  const scored = kernels.map((kernel): ScoredKernel => {
    const penalty = penalties[kernel.blueprintId] ?? 0;
    let skipped: ScoredKernel['skipped'];
    if (kernel.status !== undefined && kernel.status !== 'VALIDATED') skipped = 'not_validated';
    else if (interfaceKey !== undefined && kernel.interfaceKey !== interfaceKey) skipped = 'interface';
    else if (!(kernel.riskScore <= maxRiskScore)) skipped = 'risk';
    else if (!(kernel.paramCount <= remaining)) skipped = 'over_budget';
    else if (penalty >= config.penalty.skipAt) skipped = 'penalised';
    if (skipped !== undefined) return { kernel, score: undefined, skipped };
    const cost = remaining > 0 ? kernel.paramCount / remaining : 0;
    return { kernel, score: riskWeight * kernel.riskScore + paramWeight * cost + penaltyWeight * penalty, skipped: undefined };
  });
  return scored.sort((a, b) => {
    if (a.score === undefined || b.score === undefined) return a.score === undefined ? (b.score === undefined ? 0 : 1) : -1;
    if (a.score !== b.score) return a.score - b.score;
    if (a.kernel.paramCount !== b.kernel.paramCount) return a.kernel.paramCount - b.kernel.paramCount;
    return a.kernel.kernelId < b.kernel.kernelId ? -1 : a.kernel.kernelId > b.kernel.kernelId ? 1 : 0;
  });
}

/** A DORMANT slot with its signal (undefined when the packet carries none). */
export interface RankedSlot {
  readonly seed: SeedState;
  readonly signal: number | undefined;
}

/** The DORMANT slots, most promising first: largest signal first, then those without a signal in packet order. */
export function rankFreeSlots(packet: SystemStatePacket, config: HeuristicConfig = DEFAULT_HEURISTIC_CONFIG): RankedSlot[] {
  const slots = packet.seeds
    .filter((seed) => seed.stage === 'DORMANT')
    .map((seed, index) => {
      const metric = packet.metrics[config.slotSignalMetric.replaceAll('{slotId}', seed.slotId)];
      const signal = metric ?? seed.gradNorm;
      return { seed, signal, index };
    });
  slots.sort((a, b) => {
    if (a.signal !== undefined && b.signal !== undefined && a.signal !== b.signal) return b.signal - a.signal;
    if (a.signal === undefined && b.signal !== undefined) return 1;
    if (a.signal !== undefined && b.signal === undefined) return -1;
    return a.index - b.index;
  });
  return slots.map(({ seed, signal }) => ({ seed, signal }));
}

// ------------------------------------------------------------------ signals

interface Draft {
  lastPacketId: string | null;
  lastEpoch: number | null;
  bestAccuracy: number | null;
  plateauEpochs: number;
  previousLoss: number | null;
  stableEpochs: number;
  hostStabilized: boolean;
  lastPruneEpoch: number | null;
  penalties: Record<string, number>;
  seeds: Record<string, TrackedSeed>;
  finished: FinishedSeed[];
  rollbacksSeen: number;
  /** Carried through untouched (the bottleneck policy's count). */
  revivals?: number;
}

/** Updates the run's signals with a new packet (plateau, stability, penalty decay, rollback reset). */
function updateSignals(draft: Draft, packet: SystemStatePacket, config: HeuristicConfig): void {
  const loss = config.stability.loss === 'training' ? packet.trainingLoss : packet.validationLoss;
  const accuracy = packet.validationAccuracy;
  const rolledBack = draft.lastEpoch !== null && packet.epoch <= draft.lastEpoch;
  const elapsed = draft.lastEpoch === null ? 0 : rolledBack ? 1 : packet.epoch - draft.lastEpoch;
  draft.penalties = decayPenalties(draft.penalties, elapsed, config.penalty.decay);
  if (rolledBack) {
    draft.rollbacksSeen += 1;
    draft.bestAccuracy = accuracy;
    draft.plateauEpochs = 0;
    draft.previousLoss = loss;
    draft.stableEpochs = 0;
    draft.hostStabilized = false;
    return;
  }
  if (draft.bestAccuracy === null) {
    draft.bestAccuracy = accuracy;
  } else {
    const gainPp = (accuracy - draft.bestAccuracy) * 100;
    draft.plateauEpochs = gainPp < config.plateauThresholdPp ? draft.plateauEpochs + 1 : 0;
    draft.bestAccuracy = Math.max(draft.bestAccuracy, accuracy);
  }
  if (draft.previousLoss !== null) {
    const change = draft.previousLoss > 0 ? (loss - draft.previousLoss) / draft.previousLoss : loss === 0 ? 0 : Number.POSITIVE_INFINITY;
    const stable = change > config.stability.minChange && change < config.stability.maxChange;
    draft.stableEpochs = stable ? draft.stableEpochs + 1 : 0;
    if (draft.stableEpochs >= config.stability.epochs) draft.hostStabilized = true;
  }
  draft.previousLoss = loss;
}

/** Judges a seed that ended without a verdict of the policy (pruned by a rollback, an operator, …). */
function judge(seed: TrackedSeed): Extract<FieldReportOutcome, 'REGRESSION' | 'NEUTRAL'> {
  return seed.improvementPp !== undefined && seed.improvementPp < 0 ? 'REGRESSION' : 'NEUTRAL';
}

/** Folds the packet's seeds into the followed seeds: refreshes the live ones, finishes the ended ones, follows unknown live ones. */
function observeSeeds(draft: Draft, packet: SystemStatePacket): void {
  const byId = new Map(packet.seeds.map((seed) => [seed.seedId, seed]));
  const seeds: Record<string, TrackedSeed> = {};
  const finished: FinishedSeed[] = [];
  for (const tracked of Object.values(draft.seeds)) {
    const now = byId.get(tracked.seedId);
    const sameKernel = now !== undefined && (tracked.kernelId === undefined || now.kernelId === undefined || now.kernelId === tracked.kernelId);
    if (now !== undefined && isLive(now.stage) && sameKernel) {
      seeds[tracked.seedId] = {
        ...tracked,
        confirmed: true,
        stage: now.stage,
        kernelId: tracked.kernelId ?? now.kernelId,
        paramCount: now.paramCount ?? tracked.paramCount,
        improvementPp: now.improvementPp ?? tracked.improvementPp,
        contributionPp: now.contributionPp ?? tracked.contributionPp,
        lossContributionPct: now.lossContributionPct ?? tracked.lossContributionPct,
      };
      continue;
    }
    const toEpoch = packet.epoch;
    const last =
      now === undefined
        ? tracked
        : {
            ...tracked,
            improvementPp: now.improvementPp ?? tracked.improvementPp,
            contributionPp: now.contributionPp ?? tracked.contributionPp,
            lossContributionPct: now.lossContributionPct ?? tracked.lossContributionPct,
          };
    if (now?.stage === 'FOSSILIZED' && sameKernel) {
      finished.push({ seed: last, outcome: 'SUCCESS', toEpoch, reason: 'fossilized' });
    } else if (!tracked.confirmed && now?.stage === 'DORMANT') {
      finished.push({ seed: last, outcome: 'ABORTED', toEpoch, reason: 'germination did not take effect' });
    } else if (tracked.verdict !== undefined) {
      finished.push({ seed: last, outcome: tracked.verdict.outcome, toEpoch, reason: tracked.verdict.reason });
    } else {
      const where = now === undefined ? 'left the packet' : `went ${now.stage}`;
      finished.push({ seed: last, outcome: judge(last), toEpoch, reason: `${where} without a policy decision` });
    }
  }
  for (const seed of packet.seeds) {
    if (!isLive(seed.stage) || seeds[seed.seedId] !== undefined) continue;
    // Germinated by someone else (an operator, or before this memory began): follow it from here.
    seeds[seed.seedId] = {
      seedId: seed.seedId,
      slotId: seed.slotId,
      blueprintId: seed.blueprintId ?? 'unknown',
      kernelId: seed.kernelId,
      paramCount: seed.paramCount,
      commandId: deriveCommandId(packet.packetId, seed.seedId, 'OBSERVE'),
      fromEpoch: Math.max(0, packet.epoch - seed.epochsInStage),
      confirmed: true,
      stage: seed.stage,
      improvementPp: seed.improvementPp,
      contributionPp: seed.contributionPp,
      lossContributionPct: seed.lossContributionPct,
    };
  }
  draft.seeds = seeds;
  draft.finished = finished;
}

// ------------------------------------------------------------------ rules

/** What to do with one live seed. */
type SeedAction =
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'advance'; readonly reason: string }
  | { readonly kind: 'fossilize'; readonly reason: string }
  | { readonly kind: 'prune'; readonly outcome: PruneVerdict['outcome']; readonly reason: string };

function regressed(seed: SeedState, config: HeuristicConfig): boolean {
  return seed.epochsInStage >= config.pruneMinEpochs && seed.improvementPp !== undefined && seed.improvementPp < config.regressionPp;
}

/** Accuracy contributions within this of a threshold meet it (0.5 pp is one example in 200, computed in floating point). */
const CONTRIBUTION_TOLERANCE_PP = 1e-9;

/**
 * The rule for one live seed (digest §7, adapted). `holdingPatienceEpochs`
 * (0 here; a policy built on this one may grant more to some seeds): an
 * *inconclusive* HOLDING seed — the validation loss lower with it and its
 * accuracy contribution at or above −`fossilizeContributionPp`, but short of
 * fossilizing — keeps holding that many epochs, measured again each epoch,
 * before a prune.
 */
export function liveSeedAction(
  seed: SeedState,
  config: HeuristicConfig = DEFAULT_HEURISTIC_CONFIG,
  holdingPatienceEpochs = 0,
  advanceTrainingEpochs = config.advanceTrainingEpochs,
): SeedAction {
  const { stage, epochsInStage } = seed;
  const improvement = seed.improvementPp;
  if (stage === 'TRAINING' || stage === 'BLENDING') {
    if (regressed(seed, config)) {
      return { kind: 'prune', outcome: 'REGRESSION', reason: `regression ${pp(improvement ?? 0)} < ${pp(config.regressionPp)} after ${epochsInStage} epochs in ${stage}` };
    }
  }
  if ((stage === 'GERMINATED' || stage === 'TRAINING' || stage === 'BLENDING') && epochsInStage >= config.stallEpochs) {
    return { kind: 'prune', outcome: 'NEUTRAL', reason: `stalled: ${epochsInStage} epochs in ${stage}` };
  }
  switch (stage) {
    case 'GERMINATED':
      return { kind: 'advance', reason: 'germinated → start training' };
    case 'TRAINING':
      return epochsInStage >= advanceTrainingEpochs
        ? { kind: 'advance', reason: `${epochsInStage} epochs in TRAINING → blend` }
        : { kind: 'wait', reason: `training ${epochsInStage}/${advanceTrainingEpochs} epochs` };
    case 'BLENDING': {
      const target = seed.alphaTarget ?? 1;
      return seed.alpha >= target - ALPHA_EPSILON
        ? { kind: 'advance', reason: `α reached ${fmt(target)} → hold` }
        : { kind: 'wait', reason: `blending α ${fmt(seed.alpha)}/${fmt(target)}` };
    }
    case 'HOLDING': {
      const contribution = seed.contributionPp;
      if (contribution === undefined) {
        return epochsInStage >= config.holdingMaxWaitEpochs
          ? { kind: 'prune', outcome: 'NEUTRAL', reason: `no counterfactual after ${epochsInStage} epochs in HOLDING` }
          : { kind: 'wait', reason: 'holding: waiting for a counterfactual' };
      }
      const lossContribution = seed.lossContributionPct;
      const measured = `contribution ${pp(contribution)}${lossContribution === undefined ? '' : `, loss ${pct(lossContribution)}`}`;
      const helpsLoss = lowersLoss(contribution, lossContribution, config.fossilizeLossContributionPct);
      if (contribution > config.dependencyContributionPp && improvement !== undefined && improvement < 0 && !helpsLoss) {
        return { kind: 'prune', outcome: 'REGRESSION', reason: `${measured} but total improvement ${pp(improvement)}: the model leans on a harmful seed` };
      }
      if (contribution >= config.fossilizeContributionPp) return { kind: 'fossilize', reason: `${measured}; ≥ ${pp(config.fossilizeContributionPp)}` };
      if (helpsLoss) return { kind: 'fossilize', reason: `${measured}; loss ≥ ${pct(config.fossilizeLossContributionPct)}` };
      const inconclusive = lossContribution !== undefined && lossContribution > 0 && contribution >= -Math.abs(config.fossilizeContributionPp) - CONTRIBUTION_TOLERANCE_PP;
      if (inconclusive && epochsInStage < holdingPatienceEpochs) {
        return { kind: 'wait', reason: `${measured}: inconclusive, holding ${epochsInStage}/${holdingPatienceEpochs} epochs` };
      }
      return {
        kind: 'prune',
        outcome: 'NEUTRAL',
        reason: `contribution ${pp(contribution)} < ${pp(config.fossilizeContributionPp)}${lossWhy(lossContribution, config.fossilizeLossContributionPct)}`,
      };
    }
    default:
      return { kind: 'wait', reason: `${stage} is not live` };
  }
}

/** Why a seed's loss contribution did not save it ('' when not measured). */
function lossWhy(lossContribution: number | undefined, threshold: number): string {
  if (lossContribution === undefined) return '';
  return lossContribution >= threshold ? `; loss ${pct(lossContribution)} does not outweigh a negative accuracy contribution` : `, loss ${pct(lossContribution)} < ${pct(threshold)}`;
}

/** A germination chosen for a packet. */
export interface GerminationChoice {
  readonly seed: SeedState;
  readonly kernel: KernelChoice;
  readonly score: number;
  readonly signal: number | undefined;
}

/** Why no germination, or the germination: the gates of the "no live seed" row of digest §7. */
export function germinationFor(
  packet: SystemStatePacket,
  memory: Pick<PolicyMemory, 'hostStabilized' | 'lastPruneEpoch' | 'plateauEpochs' | 'penalties'>,
  context: PolicyContext,
  config: HeuristicConfig = DEFAULT_HEURISTIC_CONFIG,
): GerminationChoice | { readonly wait: string } {
  if (packet.epoch < config.minEpoch) return { wait: `epoch ${packet.epoch} < ${config.minEpoch}` };
  if (!memory.hostStabilized) return { wait: 'host not stabilised' };
  if (memory.lastPruneEpoch !== null && packet.epoch - memory.lastPruneEpoch < config.epochsAfterPrune) {
    return { wait: `${packet.epoch - memory.lastPruneEpoch} epochs since the last prune < ${config.epochsAfterPrune}` };
  }
  if (memory.plateauEpochs < config.plateauEpochs) return { wait: `plateau ${memory.plateauEpochs}/${config.plateauEpochs} epochs` };
  const slots = rankFreeSlots(packet, config);
  if (slots.length === 0) return { wait: 'no free slot' };
  const holding = packet.seeds.filter((seed) => HOLDS_KERNEL.includes(seed.stage)).length;
  if (holding >= context.budget.maxSeeds) return { wait: `seed budget spent (${holding}/${context.budget.maxSeeds})` };
  const skips = new Map<string, number>();
  for (const slot of slots) {
    const ranked = rankKernels(context.availableKernels, context.slotInterfaces?.[slot.seed.slotId], context.budget, memory.penalties, config);
    const best = ranked[0];
    if (best?.score !== undefined) return { seed: slot.seed, kernel: best.kernel, score: best.score, signal: slot.signal };
    for (const { skipped } of ranked) if (skipped !== undefined) skips.set(skipped, (skips.get(skipped) ?? 0) + 1);
  }
  if (context.availableKernels.length === 0) return { wait: 'no kernel available' };
  // Kernels skipped, by why: e.g. "slot interface ×70" (every slot closed to depth, or built for another width).
  const why = [...skips.entries()].map(([skip, n]) => `${skip === 'interface' ? 'slot interface' : skip.replace('_', ' ')} ×${n}`).join(', ');
  return { wait: `no eligible kernel (${why})` };
}

/** Builds the SEED operation of an action. */
function operationOf(action: Exclude<SeedAction, { kind: 'wait' }>, seed: SeedState, blend: BlendSpec | undefined): SeedOperation {
  switch (action.kind) {
    case 'advance':
      return seed.stage === 'TRAINING' && blend !== undefined ? { op: 'ADVANCE', blend } : { op: 'ADVANCE' };
    case 'fossilize':
      return { op: 'FOSSILIZE' };
    case 'prune':
      return { op: 'PRUNE', params: { reason: clip(action.reason, 512) } };
  }
}

function toMemory(draft: Draft, lastDecision: PolicyMemory['lastDecision']): PolicyMemory {
  return { ...draft, lastDecision };
}

/** What a policy built on the heuristic passes to {@link decideHeuristic}. */
export interface HeuristicExtension {
  /** Labels the commands. @default `heuristic@<version>` */
  readonly policy?: string;
  /** HOLDING patience granted to a live seed, epochs (see {@link liveSeedAction}). @default none */
  readonly holdingPatience?: (seed: SeedState, tracked: TrackedSeed | undefined) => number;
  /**
   * Epochs a live seed trains before the policy advances it to BLENDING,
   * when they differ by seed (width and depth seeds pass gate G2 after
   * different minimums). @default `config.advanceTrainingEpochs` for every seed
   */
  readonly advanceTrainingEpochs?: (seed: SeedState) => number;
  /** The α ramp a live seed's ADVANCE into BLENDING names, when it differs by seed. @default `config.blend` for every seed */
  readonly advanceBlend?: (seed: SeedState) => BlendSpec | undefined;
  /**
   * Why every prune judged on this packet's measurement (a regression, or a
   * HOLDING verdict on its counterfactual) waits an epoch instead; undefined:
   * prune now. @default prune now
   */
  readonly pruneDeferral?: string | undefined;
}

/** True when a prune rests on this epoch's measurement (not on a stall or a missing counterfactual): a disturbed epoch can mislead it. */
function pruneOnMeasurement(seed: SeedState, action: SeedAction): boolean {
  return action.kind === 'prune' && (action.outcome === 'REGRESSION' || (seed.stage === 'HOLDING' && seed.contributionPp !== undefined));
}

/**
 * Epochs from a seed's germination to the packet that fossilizes or prunes it
 * on the fastest path: `advanceTrainingEpochs` in TRAINING, the α ramp's
 * `tempoEpochs` ticks (the first applied on entering BLENDING, so
 * `tempoEpochs` − 1 epochs blending, at least one: with no ramp α is 1 from
 * the first) and one epoch holding, where G5 measures it.
 */
export function epochsToDecision(trainingEpochs: number, tempoEpochs: number): number {
  // A seed spends at least one epoch in BLENDING: G3 (α at its target) is checked at the boundary after it.
  return trainingEpochs + Math.max(tempoEpochs, 2);
}

/**
 * Why a seed germinated at `packet` could not be decided within the run, or
 * undefined: germinated at the end of epoch e, it is fossilized or pruned at
 * the earliest at the packet of epoch e + {@link epochsToDecision}. A seed
 * germinated later ends the run live — part of the final model, never
 * measured by G5, and missing from the topology `--compare` trains as the
 * static model (a 784-128-4-10 run germinated a `norm` seed at epoch 25 of
 * 30 and ended with it in HOLDING at α = 1). Open when the run's length is
 * unknown.
 */
export function decisionWindowClosed(packet: SystemStatePacket, context: Pick<PolicyContext, 'epochs'>, config: HeuristicConfig): string | undefined {
  const decidedAt = packet.epoch + epochsToDecision(config.advanceTrainingEpochs, config.blend?.tempoEpochs ?? DEFAULT_GATE_CONFIG.defaultBlend.tempoEpochs);
  return context.epochs !== undefined && decidedAt > context.epochs ? `a seed germinated now would be decided at epoch ${decidedAt}, past the run's ${context.epochs}` : undefined;
}

/**
 * Decides one packet: the heuristic's pure decision function. The same packet
 * twice (same `packetId` as the memory's last) replays the remembered
 * decision and leaves the memory as it is.
 */
export function decideHeuristic(
  packet: SystemStatePacket,
  memory: PolicyMemory,
  context: PolicyContext,
  config: HeuristicConfig = DEFAULT_HEURISTIC_CONFIG,
  extension: HeuristicExtension = {},
): PolicyDecision<PolicyMemory> {
  const policy = extension.policy ?? `${HEURISTIC_POLICY_NAME}@${HEURISTIC_POLICY_VERSION}`;
  if (memory.lastDecision !== null && memory.lastDecision.packetId === packet.packetId) {
    return { commands: [...memory.lastDecision.commands], reason: memory.lastDecision.reason, memory };
  }
  const draft: Draft = {
    lastPacketId: memory.lastPacketId,
    lastEpoch: memory.lastEpoch,
    bestAccuracy: memory.bestAccuracy,
    plateauEpochs: memory.plateauEpochs,
    previousLoss: memory.previousLoss,
    stableEpochs: memory.stableEpochs,
    hostStabilized: memory.hostStabilized,
    lastPruneEpoch: memory.lastPruneEpoch,
    penalties: { ...memory.penalties },
    seeds: { ...memory.seeds },
    finished: [],
    rollbacksSeen: memory.rollbacksSeen,
    ...(memory.revivals === undefined ? {} : { revivals: memory.revivals }),
  };
  updateSignals(draft, packet, config);
  // updateSignals compares with the previous epoch, so the packet is recorded after it.
  draft.lastPacketId = packet.packetId;
  draft.lastEpoch = packet.epoch;
  observeSeeds(draft, packet);

  const commands: AdaptationCommand[] = [];
  const reasons: string[] = [];
  const live = packet.seeds.filter((seed) => isLive(seed.stage));
  for (const seed of live) {
    const judged = liveSeedAction(
      seed,
      config,
      extension.holdingPatience?.(seed, draft.seeds[seed.seedId]) ?? 0,
      extension.advanceTrainingEpochs?.(seed) ?? config.advanceTrainingEpochs,
    );
    const deferred = extension.pruneDeferral !== undefined && pruneOnMeasurement(seed, judged);
    const action: SeedAction = deferred ? { kind: 'wait', reason: `${judged.reason}, but ${extension.pruneDeferral}` } : judged;
    reasons.push(`${seed.seedId} ${seed.stage}: ${action.kind === 'wait' ? `wait (${action.reason})` : `${action.kind} (${action.reason})`}`);
    if (action.kind === 'wait') continue;
    commands.push(seedCommand(packet, seed.seedId, operationOf(action, seed, extension.advanceBlend?.(seed) ?? config.blend), { deadlineMs: config.commandDeadlineMs, policy, reason: action.reason }));
    if (action.kind === 'prune') {
      draft.lastPruneEpoch = packet.epoch;
      const tracked = draft.seeds[seed.seedId];
      const blueprintId = seed.blueprintId ?? tracked?.blueprintId;
      if (blueprintId !== undefined) draft.penalties[blueprintId] = (draft.penalties[blueprintId] ?? 0) + config.penalty.onPrune;
      if (tracked !== undefined) draft.seeds[seed.seedId] = { ...tracked, verdict: { outcome: action.outcome, epoch: packet.epoch, reason: action.reason } };
    }
  }

  if (live.length < config.maxLiveSeeds) {
    const closed = decisionWindowClosed(packet, context, config);
    const choice = closed === undefined ? germinationFor(packet, draft, context, config) : { wait: `${closed} (plateau ${draft.plateauEpochs}/${config.plateauEpochs} epochs)` };
    if ('wait' in choice) {
      reasons.push(`wait: ${choice.wait}`);
    } else {
      const { seed, kernel } = choice;
      const signal = choice.signal === undefined ? 'first free slot' : `signal ${fmt(choice.signal)}`;
      const reason = `plateau ${draft.plateauEpochs} epochs → germinate ${kernel.blueprintId} (${kernel.kernelId}, risk ${fmt(kernel.riskScore)}, ${kernel.paramCount} params) in ${seed.slotId} (${signal})`;
      const command = seedCommand(packet, seed.seedId, { op: 'GERMINATE', kernelId: kernel.kernelId, blueprintId: kernel.blueprintId }, { deadlineMs: config.commandDeadlineMs, policy, reason });
      commands.push(command);
      reasons.push(reason);
      draft.plateauEpochs = 0;
      draft.seeds[seed.seedId] = trackGermination(seed, kernel, command.commandId, packet.epoch);
    }
  }

  const kept = commands.slice(0, MAX_COMMANDS_PER_DECISION);
  const reason = clip(reasons.join('; '), MAX_REASON);
  return { commands: kept, reason, memory: toMemory(draft, { packetId: packet.packetId, commands: kept, reason }) };
}

// ------------------------------------------------------------------ field reports

/** Options of {@link fieldReportsFor}. */
export interface FieldReportOptions {
  /** @default `heuristic@1` */
  readonly policyVersion?: string;
}

/**
 * FieldReports on the seeds whose end `next` records and `previous` did not
 * (so a replayed packet reports nothing twice): SUCCESS when FOSSILIZED,
 * REGRESSION or NEUTRAL when pruned, ABORTED when a GERMINATE never took
 * effect. The window runs from the germination epoch to the epoch of the
 * packet that showed the end (clamped when a rollback moved time backwards).
 * Metrics: `improvementPp`, `contributionPp` and `lossContributionPct` (last seen, when measured),
 * `paramsAdded` (the kernel's parameters when fossilized, else 0),
 * `paramCount` (when known) and `epochs` (window length).
 */
export function fieldReportsFor(previous: PolicyMemory, next: PolicyMemory, packet: SystemStatePacket, options: FieldReportOptions = {}): FieldReport[] {
  if (next.lastPacketId === previous.lastPacketId) return [];
  const policyVersion = options.policyVersion ?? `${HEURISTIC_POLICY_NAME}@${HEURISTIC_POLICY_VERSION}`;
  return next.finished.map(({ seed, outcome, toEpoch }) => {
    const fromEpoch = Math.min(seed.fromEpoch, toEpoch);
    const metrics: Metrics = {
      paramsAdded: outcome === 'SUCCESS' ? (seed.paramCount ?? 0) : 0,
      epochs: toEpoch - fromEpoch,
    };
    if (seed.improvementPp !== undefined) metrics['improvementPp'] = seed.improvementPp;
    if (seed.contributionPp !== undefined) metrics['contributionPp'] = seed.contributionPp;
    if (seed.lossContributionPct !== undefined) metrics['lossContributionPct'] = seed.lossContributionPct;
    if (seed.paramCount !== undefined) metrics['paramCount'] = seed.paramCount;
    const report: FieldReport = {
      commandId: seed.commandId,
      runId: packet.runId,
      seedId: seed.seedId,
      blueprintId: seed.blueprintId,
      outcome,
      metrics,
      observationWindow: { fromEpoch, toEpoch },
      policyVersion,
      createdAt: packet.ts,
    };
    if (seed.kernelId !== undefined) report.kernelId = seed.kernelId;
    return FieldReportSchema.parse(report);
  });
}

// ------------------------------------------------------------------ policy object

/** The heuristic as a {@link TamiyoPolicy}. */
export function heuristicPolicy(input: HeuristicConfigInput | HeuristicConfig = {}): TamiyoPolicy<PolicyMemory> {
  const config = parseHeuristicConfig(input);
  return {
    name: HEURISTIC_POLICY_NAME,
    version: HEURISTIC_POLICY_VERSION,
    initialMemory: initialPolicyMemory,
    decide: (packet, memory, context) => decideHeuristic(packet, memory, context, config),
    fieldReports: (previous, next, packet) => fieldReportsFor(previous, next, packet),
  };
}
