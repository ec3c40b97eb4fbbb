/**
 * Kasmina's messages: seed stages, a seed's state, its transitions and its
 * per-epoch telemetry (DESIGN §2, digest §2C).
 */
import { z } from 'zod';
import {
  BlueprintIdSchema,
  CommandIdSchema,
  KernelIdSchema,
  SeedIdSchema,
  SlotIdSchema,
  count,
  finite,
  nonNegative,
  text,
  unitInterval,
} from './common.ts';

/**
 * Seed stages, in lifecycle order. On the wire a stage is its name; the stable
 * numeric codes (append-only, shared with Esper-Lite's leyline) are in
 * {@link SEED_STAGE_CODES}: 0 is UNKNOWN and 5 (formerly SHADOWING) is reserved.
 */
export const SEED_STAGES = [
  'DORMANT',
  'GERMINATED',
  'TRAINING',
  'BLENDING',
  'HOLDING',
  'FOSSILIZED',
  'PRUNED',
  'EMBARGOED',
  'RESETTING',
] as const;
export const SeedStageSchema = z.enum(SEED_STAGES);
export type SeedStage = z.infer<typeof SeedStageSchema>;

/** Stable numeric code of each stage (digest §2C). Never renumber; 0 = UNKNOWN, 5 is reserved. */
export const SEED_STAGE_CODES = {
  DORMANT: 1,
  GERMINATED: 2,
  TRAINING: 3,
  BLENDING: 4,
  HOLDING: 6,
  FOSSILIZED: 7,
  PRUNED: 8,
  EMBARGOED: 9,
  RESETTING: 10,
} as const satisfies Record<SeedStage, number>;

/** The stage with numeric `code`, or undefined for 0 (UNKNOWN), 5 (reserved) and unknown codes. */
export function seedStageFromCode(code: number): SeedStage | undefined {
  return SEED_STAGES.find((stage) => SEED_STAGE_CODES[stage] === code);
}

/** Stages in which a seed is alive (has a kernel attached and can still be pruned). */
export const LIVE_SEED_STAGES = ['GERMINATED', 'TRAINING', 'BLENDING', 'HOLDING'] as const satisfies readonly SeedStage[];

/** Lifecycle gates (DESIGN §2): G0 →GERMINATED, G1 →TRAINING, G2 →BLENDING, G3 →HOLDING, G5 →FOSSILIZED. */
export const SEED_GATES = ['G0', 'G1', 'G2', 'G3', 'G5'] as const;
export const SeedGateSchema = z.enum(SEED_GATES);
export type SeedGate = z.infer<typeof SeedGateSchema>;

/** α ramp curves. */
export const BLEND_CURVES = ['linear', 'cosine', 'sigmoid'] as const;
export const BlendCurveSchema = z.enum(BLEND_CURVES);
export type BlendCurve = z.infer<typeof BlendCurveSchema>;

/**
 * α ramp lengths, in epochs. 1 is no ramp: α reaches its target on entering
 * BLENDING — for width seeds, whose new units start with zero outgoing
 * weights (or the amplitude a line search chose for α = 1), so the network
 * computes what it did whatever α is and the ramp only delays them
 * (docs/growth.md, "Blending at full strength").
 */
export const BLEND_TEMPOS_EPOCHS = [1, 3, 5, 8] as const;
export const BlendTempoSchema = z.literal(BLEND_TEMPOS_EPOCHS);
export type BlendTempo = z.infer<typeof BlendTempoSchema>;

/** How a seed's α ramps from 0 to its target during BLENDING. */
export const BlendSpecSchema = z
  .object({
    curve: BlendCurveSchema,
    /** Epochs the ramp takes: 1 (none), 3, 5 or 8. */
    tempoEpochs: BlendTempoSchema,
  })
  .strict();
export type BlendSpec = z.infer<typeof BlendSpecSchema>;

/**
 * One seed's state as Kasmina knows it at an epoch boundary; part of every
 * SystemStatePacket. Accuracy deltas are in percentage points (`…Pp`).
 */
export const SeedStateSchema = z
  .object({
    seedId: SeedIdSchema,
    /** The slot of the host model this seed occupies. */
    slotId: SlotIdSchema,
    stage: SeedStageSchema,
    /** Whole epochs spent in the current stage (0 in the epoch it was entered). */
    epochsInStage: count(),
    /** Current blend weight α ∈ [0, 1]; 0 before BLENDING, 1 when FOSSILIZED. */
    alpha: unitInterval(),
    /** α the blend ramps towards (1 unless retargeted from HOLDING). */
    alphaTarget: unitInterval().optional(),
    /** Blend schedule, once chosen. */
    blend: BlendSpecSchema.optional(),
    /** Blueprint of the attached kernel (absent while DORMANT). */
    blueprintId: BlueprintIdSchema.optional(),
    /** Kernel attached to the slot (absent while DORMANT). */
    kernelId: KernelIdSchema.optional(),
    /** Trainable parameters of the attached kernel. */
    paramCount: count().optional(),
    /** L2 norm of the seed's gradient over the last epoch. */
    gradNorm: nonNegative().optional(),
    /** Seed/host gradient-norm ratio (parameter-normalised, EMA). */
    gradRatio: nonNegative().optional(),
    /** Validation-accuracy change since germination, percentage points. */
    improvementPp: finite().optional(),
    /** Counterfactual contribution: validation accuracy minus accuracy with this seed's α = 0, percentage points. */
    contributionPp: finite().optional(),
    /** Counterfactual loss contribution: validation loss with this seed's α = 0 minus the loss with it, percent of the former. */
    lossContributionPct: finite().optional(),
    /** Gradient-isolation violations observed (host gradients touched by the seed). */
    isolationViolations: count().optional(),
  })
  .strict();
export type SeedState = z.infer<typeof SeedStateSchema>;

/** Why a transition happened. */
export const TransitionCauseSchema = z
  .object({
    /** The AdaptationCommand that asked for it, when one did. */
    commandId: CommandIdSchema.optional(),
    /** The gate that passed to allow it, when the target stage has one. */
    gate: SeedGateSchema.optional(),
    /** Human-readable reason, e.g. `gate G2 passed: +0.8pp after 10 epochs`, `embargo elapsed`, `rollback`. */
    reason: text(500).min(1),
  })
  .strict();
export type TransitionCause = z.infer<typeof TransitionCauseSchema>;

/** Data of `kasmina.seed.transitioned`: a seed moved from one stage to another at an epoch boundary. */
export const SeedTransitionedSchema = z
  .object({
    seedId: SeedIdSchema,
    slotId: SlotIdSchema.optional(),
    from: SeedStageSchema,
    to: SeedStageSchema,
    /** Epoch at whose boundary the transition happened. */
    epoch: count(),
    cause: TransitionCauseSchema,
    /** Kernel attached after the transition, if any. */
    kernelId: KernelIdSchema.optional(),
    /** α after the transition. */
    alpha: unitInterval().optional(),
  })
  .strict()
  .refine((event) => event.from !== event.to, { message: 'a transition must change the stage', path: ['to'] });
export type SeedTransitioned = z.infer<typeof SeedTransitionedSchema>;

/** Data of `kasmina.seed.telemetry`: one live seed's measurements for one epoch. */
export const SeedTelemetrySchema = z
  .object({
    seedId: SeedIdSchema,
    epoch: count(),
    stage: SeedStageSchema,
    /** L2 norm of the seed's gradient. */
    gradNorm: nonNegative(),
    /** Seed/host gradient-norm ratio (parameter-normalised, EMA). */
    gradRatio: nonNegative(),
    /** Mean of the seed's output activation. */
    activationMean: finite(),
    /** Standard deviation of the seed's output activation. */
    activationStd: nonNegative(),
    /** Validation-accuracy change since germination, percentage points. */
    improvementPp: finite(),
    /** Counterfactual contribution, percentage points; absent until measured. */
    contributionPp: finite().optional(),
    /** Counterfactual loss contribution, percent of the loss without the seed; absent until measured. */
    lossContributionPct: finite().optional(),
    alpha: unitInterval(),
  })
  .strict();
export type SeedTelemetry = z.infer<typeof SeedTelemetrySchema>;
