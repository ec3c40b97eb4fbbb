/**
 * The lifecycle gates of a seed (DESIGN §2, digest §2C): pure checks of what
 * has been measured against configurable thresholds. A gate never decides a
 * transition by itself; `transition()` asks the gate of the target stage and
 * refuses the move, with the gate's reasons, when it does not pass.
 *
 * | gate | target stage | passes when |
 * |------|--------------|-------------|
 * | G0 | GERMINATED | a VALIDATED kernel whose interface matches the slot |
 * | G1 | TRAINING   | the kernel is loaded and its parameters are finite |
 * | G2 | BLENDING   | ≥ `g2.minTrainingEpochs` in TRAINING, gradients measured, finite and not exploding, and improvement ≥ `g2.minImprovementPp` or grad ratio ≥ `g2.minGradRatio` (both with `g2.requireBoth`) |
 * | G3 | HOLDING    | α reached its target, ≥ `g3.minBlendingEpochs` in BLENDING |
 * | G5 | FOSSILIZED | α = 1, healthy, counterfactual contribution ≥ `g5.minContributionPp`, or ≥ 0 with the validation loss lowered by ≥ `g5.minLossContributionPct` % |
 */
import { z } from 'zod';
import { BlendSpecSchema, parseFrozen, sameSlotInterface, slotInterfaceKey, type KernelStatus, type SeedGate, type SlotInterface } from '../../contracts/index.ts';

/** α within this distance of its target counts as reached (the ramp snaps exactly; this only absorbs float noise). */
export const ALPHA_EPSILON = 1e-9;

/**
 * Thresholds of the gates and timings of the lifecycle. Parsed once with
 * {@link parseGateConfig}; every field has a default, so `{}` is a valid config.
 */
export const GateConfigSchema = z
  .object({
    g2: z
      .object({
        /** Whole epochs a seed must spend in TRAINING before it may blend. @default 3 (strict mode: 10) */
        minTrainingEpochs: z.number().int().min(0).default(3),
        /** Validation-accuracy improvement since germination that counts as progress, percentage points. @default 0.5 */
        minImprovementPp: z.number().default(0.5),
        /** Seed/host gradient-norm ratio (parameter-normalised, EMA) that counts as a healthy, learning seed. @default 0.10 */
        minGradRatio: z.number().min(0).default(0.1),
        /** A seed gradient L2 norm above this is exploding. @default 1000 */
        maxGradNorm: z.number().positive().default(1000),
        /** Require improvement AND grad ratio (strict mode) instead of either. @default false */
        requireBoth: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    g3: z
      .object({
        /** Whole epochs a seed must spend in BLENDING before it may hold. @default 0 (strict mode: 10) */
        minBlendingEpochs: z.number().int().min(0).default(0),
      })
      .strict()
      .prefault({}),
    g5: z
      .object({
        /** Counterfactual contribution (val accuracy − accuracy with this seed's α = 0) needed to fossilize, percentage points. @default 0.5 (strict mode: 1.0) */
        minContributionPp: z.number().default(0.5),
        /**
         * Or: a relative drop of the validation loss (loss with this seed's α = 0 minus the loss with it, percent of
         * the former) needed to fossilize a seed whose accuracy contribution is not negative. Accuracy on a small
         * validation set moves in steps of 1/n; the loss shows a seed that helps before the accuracy does.
         * @default 2
         */
        minLossContributionPct: z.number().default(2),
      })
      .strict()
      .prefault({}),
    /** Epochs a pruned seed's slot stays EMBARGOED before it is reset. @default 5 */
    embargoEpochs: z.number().int().min(1).default(5),
    /** Epochs a slot spends RESETTING before it is DORMANT again. @default 1 */
    resettingEpochs: z.number().int().min(1).default(1),
    /** α ramp used when neither GERMINATE nor ADVANCE names one. @default { curve: 'linear', tempoEpochs: 5 } */
    defaultBlend: BlendSpecSchema.default({ curve: 'linear', tempoEpochs: 5 }),
  })
  .strict();

/** Parsed, complete gate configuration (see {@link GateConfigSchema} for keys and defaults). */
export type GateConfig = z.output<typeof GateConfigSchema>;
/** What a caller may write: any subset of the keys. */
export type GateConfigInput = z.input<typeof GateConfigSchema>;

/** Fills defaults, validates and freezes a gate config; every problem is listed in one ESPER_CONFIG_INVALID. */
export function parseGateConfig(input: unknown = {}): GateConfig {
  return parseFrozen(GateConfigSchema, input, 'seed gate configuration');
}

/** The defaults, tuned for short runs (3 epochs of TRAINING, 0.5 pp). */
export const DEFAULT_GATE_CONFIG: GateConfig = parseGateConfig({});

/** The digest's strict mode: 10 epochs in TRAINING and BLENDING, improvement and grad ratio both, 1.0 pp to fossilize. */
export const STRICT_GATE_CONFIG: GateConfig = parseGateConfig({
  g2: { minTrainingEpochs: 10, requireBoth: true },
  g3: { minBlendingEpochs: 10 },
  g5: { minContributionPp: 1.0 },
});

/**
 * The latest measurements of a seed, as the trainer reports them at an epoch
 * boundary. Absent fields were not measured. Booleans are explicit flags, so a
 * NaN never has to travel through JSON.
 */
export interface SeedMeasurements {
  /** The kernel's weights are loaded into the slot. */
  kernelLoaded?: boolean | undefined;
  /** Every parameter of the seed is finite (false: a NaN or ±Infinity was seen). */
  paramsFinite?: boolean | undefined;
  /** Every gradient of the seed was finite over the last epoch. */
  gradsFinite?: boolean | undefined;
  /** L2 norm of the seed's gradient over the last epoch. */
  gradNorm?: number | undefined;
  /** Seed/host gradient-norm ratio (parameter-normalised, EMA). */
  gradRatio?: number | undefined;
  /** Validation-accuracy change since germination, percentage points. */
  improvementPp?: number | undefined;
  /** Validation accuracy minus accuracy with this seed's α = 0, percentage points. */
  contributionPp?: number | undefined;
  /** Validation loss with this seed's α = 0 minus the loss with it, percent of the former. */
  lossContributionPct?: number | undefined;
}

/** A measured value as a gate reports it. */
export type MeasuredValue = number | string | boolean | null;

/** Outcome of one gate. `reasons` says why it failed, or, when it passed, what was satisfied. */
export interface GateResult {
  readonly passed: boolean;
  readonly gate: SeedGate;
  readonly reasons: readonly string[];
  readonly measured: Readonly<Record<string, MeasuredValue>>;
}

function result(gate: SeedGate, failures: string[], passes: string[], measured: Record<string, MeasuredValue>): GateResult {
  return failures.length === 0 ? { passed: true, gate, reasons: passes, measured } : { passed: false, gate, reasons: failures, measured };
}

const fmt = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/\.?0+$/, ''));
const num = (value: number | undefined): MeasuredValue => (value === undefined || !Number.isFinite(value) ? null : value);

/** The kernel GERMINATE resolved to, as far as G0 needs it. */
export interface KernelCandidate {
  kernelId: string;
  blueprintId: string;
  status: KernelStatus;
  /** The slot interface the kernel was built for. */
  interface: SlotInterface;
  /** Trainable parameters. */
  paramCount?: number;
}

/** Input of G0. */
export interface G0Input {
  /** The resolved kernel; null when none could be found. */
  kernel: KernelCandidate | null;
  /** The slot's interface. */
  slotInterface: SlotInterface;
  /** What the command asked for (an exact kernel and/or a blueprint). */
  requested: { kernelId?: string; blueprintId?: string };
}

/** G0 (→GERMINATED): a VALIDATED kernel whose interface matches the slot (and what was asked for). */
export function evaluateG0(input: G0Input): GateResult {
  const { kernel, slotInterface, requested } = input;
  const measured: Record<string, MeasuredValue> = {
    kernelId: kernel?.kernelId ?? null,
    kernelStatus: kernel?.status ?? null,
    kernelInterface: kernel === null ? null : slotInterfaceKey(kernel.interface),
    slotInterface: slotInterfaceKey(slotInterface),
  };
  if (kernel === null) {
    const what = requested.kernelId ?? requested.blueprintId ?? '(nothing requested)';
    return result('G0', [`no kernel found for ${what}`], [], measured);
  }
  const failures: string[] = [];
  if (kernel.status !== 'VALIDATED') failures.push(`kernel ${kernel.kernelId} is ${kernel.status}, not VALIDATED`);
  if (!sameSlotInterface(kernel.interface, slotInterface)) {
    failures.push(`kernel interface ${slotInterfaceKey(kernel.interface)} does not match slot ${slotInterfaceKey(slotInterface)}`);
  }
  if (requested.kernelId !== undefined && requested.kernelId !== kernel.kernelId) {
    failures.push(`resolved kernel ${kernel.kernelId} is not the requested ${requested.kernelId}`);
  }
  if (requested.blueprintId !== undefined && requested.blueprintId !== kernel.blueprintId) {
    failures.push(`kernel ${kernel.kernelId} is of blueprint ${kernel.blueprintId}, not the requested ${requested.blueprintId}`);
  }
  return result('G0', failures, [`kernel ${kernel.kernelId} VALIDATED for ${slotInterfaceKey(slotInterface)}`], measured);
}

/** G1 (→TRAINING): the kernel is loaded and no parameter is NaN or infinite. */
export function evaluateG1(measured: SeedMeasurements): GateResult {
  const failures: string[] = [];
  if (measured.kernelLoaded !== true) failures.push('kernel not reported loaded');
  if (measured.paramsFinite === false) failures.push('seed parameters contain NaN or Infinity');
  else if (measured.paramsFinite === undefined) failures.push('parameters not checked for NaN');
  return result('G1', failures, ['kernel loaded, parameters finite'], {
    kernelLoaded: measured.kernelLoaded ?? null,
    paramsFinite: measured.paramsFinite ?? null,
  });
}

/** Input of G2. */
export interface G2Input {
  /** Whole epochs spent in TRAINING. */
  epochsInTraining: number;
  measured: SeedMeasurements;
}

/** G2 (→BLENDING): enough TRAINING epochs, healthy gradients, and measured progress (improvement or grad ratio). */
export function evaluateG2(input: G2Input, config: GateConfig = DEFAULT_GATE_CONFIG): GateResult {
  const { epochsInTraining, measured } = input;
  const { minTrainingEpochs, minImprovementPp, minGradRatio, maxGradNorm, requireBoth } = config.g2;
  const failures: string[] = [];
  const passes: string[] = [];
  if (epochsInTraining < minTrainingEpochs) failures.push(`${epochsInTraining} epochs in TRAINING < ${minTrainingEpochs}`);
  else passes.push(`${epochsInTraining} epochs in TRAINING`);

  const { gradNorm, gradRatio, improvementPp } = measured;
  if (measured.gradsFinite === false) failures.push('seed gradients contain NaN or Infinity');
  if (gradNorm === undefined) failures.push('seed gradients not measured');
  else if (!Number.isFinite(gradNorm)) failures.push('seed gradient norm is not finite');
  else if (gradNorm > maxGradNorm) failures.push(`seed gradients exploding: norm ${fmt(gradNorm)} > ${fmt(maxGradNorm)}`);

  const improved = improvementPp !== undefined && Number.isFinite(improvementPp) && improvementPp >= minImprovementPp;
  const learning = gradRatio !== undefined && Number.isFinite(gradRatio) && gradRatio >= minGradRatio;
  const improvementText =
    improvementPp === undefined || !Number.isFinite(improvementPp) ? 'improvement not measured' : `improvement ${fmt(improvementPp)}pp`;
  const ratioText = gradRatio === undefined || !Number.isFinite(gradRatio) ? 'grad ratio not measured' : `grad ratio ${fmt(gradRatio)}`;
  if (requireBoth) {
    if (!improved) failures.push(`${improvementText} (need ≥ ${fmt(minImprovementPp)}pp)`);
    if (!learning) failures.push(`${ratioText} (need ≥ ${fmt(minGradRatio)})`);
  } else if (!improved && !learning) {
    failures.push(`no progress: ${improvementText} (need ≥ ${fmt(minImprovementPp)}pp) and ${ratioText} (need ≥ ${fmt(minGradRatio)})`);
  }
  if (improved) passes.push(`+${fmt(improvementPp)}pp`);
  if (learning) passes.push(`grad ratio ${fmt(gradRatio)}`);
  return result('G2', failures, passes, {
    epochsInTraining,
    improvementPp: num(improvementPp),
    gradRatio: num(gradRatio),
    gradNorm: num(gradNorm),
    gradsFinite: measured.gradsFinite ?? null,
  });
}

/** Input of G3. */
export interface G3Input {
  alpha: number;
  alphaTarget: number;
  /** Whole epochs spent in BLENDING. */
  epochsInBlending: number;
}

/** G3 (→HOLDING): α reached its target (and, in strict mode, enough BLENDING epochs). */
export function evaluateG3(input: G3Input, config: GateConfig = DEFAULT_GATE_CONFIG): GateResult {
  const { alpha, alphaTarget, epochsInBlending } = input;
  const failures: string[] = [];
  if (!(Math.abs(alpha - alphaTarget) <= ALPHA_EPSILON)) failures.push(`α ${fmt(alpha)} has not reached its target ${fmt(alphaTarget)}`);
  if (epochsInBlending < config.g3.minBlendingEpochs) {
    failures.push(`${epochsInBlending} epochs in BLENDING < ${config.g3.minBlendingEpochs}`);
  }
  return result('G3', failures, [`α reached ${fmt(alphaTarget)}`], { alpha, alphaTarget, epochsInBlending });
}

/** Input of G5. */
export interface G5Input {
  alpha: number;
  measured: SeedMeasurements;
}

/**
 * G5's second way to pass (and Tamiyo's HOLDING rule's): the seed lowers the
 * validation loss by at least `minLossContributionPct` percent while its
 * accuracy contribution is not negative. The loss shows a seed that helps
 * before a small validation set's accuracy does; it never outweighs a
 * negative accuracy contribution.
 */
export function lowersLoss(contributionPp: number, lossContributionPct: number | undefined, minLossContributionPct: number): boolean {
  return lossContributionPct !== undefined && Number.isFinite(lossContributionPct) && lossContributionPct >= minLossContributionPct && contributionPp >= 0;
}

/**
 * G5 (→FOSSILIZED): the seed is healthy, blended at full strength (α = 1:
 * fossilizing merges it into the host as it is) and its counterfactual
 * contribution reaches the threshold.
 */
export function evaluateG5(input: G5Input, config: GateConfig = DEFAULT_GATE_CONFIG): GateResult {
  const { alpha, measured } = input;
  const { minContributionPp, minLossContributionPct } = config.g5;
  const failures: string[] = [];
  if (!(Math.abs(alpha - 1) <= ALPHA_EPSILON)) failures.push(`α ${fmt(alpha)} is not 1 (retarget to 1 before fossilizing)`);
  if (measured.paramsFinite === false) failures.push('seed parameters contain NaN or Infinity');
  if (measured.gradsFinite === false) failures.push('seed gradients contain NaN or Infinity');
  const { contributionPp, lossContributionPct } = measured;
  const lossText = lossContributionPct === undefined ? '' : `, loss ${fmt(lossContributionPct)}%`;
  if (contributionPp === undefined || !Number.isFinite(contributionPp)) failures.push('counterfactual contribution not measured');
  else if (contributionPp < minContributionPp && !lowersLoss(contributionPp, lossContributionPct, minLossContributionPct)) {
    const enoughLoss = lossContributionPct !== undefined && lossContributionPct >= minLossContributionPct;
    const lossWhy = lossContributionPct === undefined ? '' : enoughLoss ? `; loss ${fmt(lossContributionPct)}% but the accuracy contribution is negative` : `; loss ${fmt(lossContributionPct)}% < ${fmt(minLossContributionPct)}%`;
    failures.push(`contribution ${fmt(contributionPp)}pp < ${fmt(minContributionPp)}pp${lossWhy}`);
  }
  return result('G5', failures, [`contribution ${fmt(contributionPp ?? 0)}pp${lossText}`], {
    alpha,
    contributionPp: num(contributionPp),
    lossContributionPct: num(lossContributionPct),
    paramsFinite: measured.paramsFinite ?? null,
    gradsFinite: measured.gradsFinite ?? null,
  });
}
