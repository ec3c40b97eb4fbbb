/**
 * Tamiyo's messages: adaptation commands (what Tolaria and Kasmina execute),
 * the decision that carries them, and field reports on their outcome
 * (digest §4).
 */
import { z } from 'zod';
import {
  AnnotationsSchema,
  BlueprintIdSchema,
  CommandIdSchema,
  KernelIdSchema,
  MetricsSchema,
  PacketIdSchema,
  ParamsSchema,
  RunIdSchema,
  SeedIdSchema,
  TimestampSchema,
  count,
  label,
  nonNegative,
  text,
} from './common.ts';
import { BlendSpecSchema } from './kasmina.ts';

/** Kinds of adaptation command (leyline's CommandType, and HOST: a change to the host's own layers that Tolaria executes). */
export const COMMAND_TYPES = ['SEED', 'ROLLBACK', 'OPTIMIZER', 'BREAKER', 'PAUSE', 'EMERGENCY', 'HOST'] as const;
export const CommandTypeSchema = z.enum(COMMAND_TYPES);
export type CommandType = z.infer<typeof CommandTypeSchema>;

/** Operations on a seed (a SEED command carries one). */
export const SEED_OPERATIONS = ['GERMINATE', 'ADVANCE', 'PRUNE', 'FOSSILIZE', 'CANCEL'] as const;
export const SeedOperationKindSchema = z.enum(SEED_OPERATIONS);
export type SeedOperationKind = z.infer<typeof SeedOperationKindSchema>;

/** Most commands in one decision. */
export const MAX_COMMANDS_PER_DECISION = 100;

/** What to do to the target seed. GERMINATE names a blueprint or a kernel. */
export const SeedOperationSchema = z
  .object({
    op: SeedOperationKindSchema,
    /** Blueprint to germinate; Kasmina resolves it to a VALIDATED kernel for the slot. */
    blueprintId: BlueprintIdSchema.optional(),
    /** Exact kernel to germinate (takes precedence over `blueprintId`). */
    kernelId: KernelIdSchema.optional(),
    /** Operation parameters (e.g. `alphaTarget`). */
    params: ParamsSchema.optional(),
    /** α schedule for the coming BLENDING stage. */
    blend: BlendSpecSchema.optional(),
  })
  .strict()
  .refine((op) => op.op !== 'GERMINATE' || op.blueprintId !== undefined || op.kernelId !== undefined, {
    message: 'GERMINATE needs a blueprintId or a kernelId',
    path: ['blueprintId'],
  });
export type SeedOperation = z.infer<typeof SeedOperationSchema>;

/** Operations on the host's own layers (a HOST command carries one). */
export const HOST_OPERATIONS = ['REVIVE'] as const;

/**
 * What to do to the host. REVIVE: the hidden layers `layers` (1-based,
 * consecutive) have every unit dead — new incoming weights, zero biases,
 * zero weights where the next layer reads them (the model computes what it
 * did wherever they were dead; see docs/growth.md, "Dead layers").
 */
export const HostOperationSchema = z
  .object({
    op: z.enum(HOST_OPERATIONS),
    layers: z.array(z.number().int().min(1).max(64)).min(1).max(64),
  })
  .strict()
  .refine((op) => op.layers.every((l, i) => i === 0 || l === (op.layers[i - 1] as number) + 1), { message: 'layers must be consecutive, in order', path: ['layers'] });
export type HostOperation = z.infer<typeof HostOperationSchema>;

/**
 * One adaptation command. `commandId` is the idempotency key: executors
 * de-duplicate on it, so a redelivered command is applied once. A SEED command
 * must name its `targetSeedId` and carry a `seedOperation`; other types must
 * not carry a `seedOperation`.
 */
export const AdaptationCommandSchema = z
  .object({
    commandId: CommandIdSchema,
    type: CommandTypeSchema,
    /** The seed it acts on (required for SEED). */
    targetSeedId: SeedIdSchema.optional(),
    /** Milliseconds after `issuedAt` past which the command must not be executed (it is dropped and reported ABORTED). */
    deadlineMs: z.number().int().min(1).max(3_600_000),
    /** Free-form notes (policy features, operator name, …). */
    annotations: AnnotationsSchema,
    seedOperation: SeedOperationSchema.optional(),
    /** What to do to the host (required for HOST). */
    hostOperation: HostOperationSchema.optional(),
    /** The SystemStatePacket this command answers (or an operator request id for manual overrides). */
    causationPacketId: PacketIdSchema,
    issuedAt: TimestampSchema,
  })
  .strict()
  .superRefine((cmd, ctx) => {
    if (cmd.type === 'SEED') {
      if (cmd.targetSeedId === undefined) ctx.addIssue({ code: 'custom', message: 'a SEED command needs targetSeedId', path: ['targetSeedId'] });
      if (cmd.seedOperation === undefined) ctx.addIssue({ code: 'custom', message: 'a SEED command needs seedOperation', path: ['seedOperation'] });
    } else if (cmd.seedOperation !== undefined) {
      ctx.addIssue({ code: 'custom', message: `a ${cmd.type} command cannot carry seedOperation`, path: ['seedOperation'] });
    }
    if (cmd.type === 'HOST' && cmd.hostOperation === undefined) ctx.addIssue({ code: 'custom', message: 'a HOST command needs hostOperation', path: ['hostOperation'] });
    if (cmd.type !== 'HOST' && cmd.hostOperation !== undefined) ctx.addIssue({ code: 'custom', message: `a ${cmd.type} command cannot carry hostOperation`, path: ['hostOperation'] });
  });
export type AdaptationCommand = z.infer<typeof AdaptationCommandSchema>;

/** Data of `tamiyo.decision.made`: Tamiyo's answer to one SystemStatePacket (possibly no commands). */
export const TamiyoDecisionSchema = z
  .object({
    /** The packet answered. */
    packetId: PacketIdSchema,
    runId: RunIdSchema,
    epoch: count(),
    commands: z.array(AdaptationCommandSchema).max(MAX_COMMANDS_PER_DECISION),
    /** Policy that decided, with its version, e.g. `heuristic@1`. */
    policy: label(),
    /** Why (e.g. `plateau 3 epochs → germinate conv_light`, `wait: host unstable`). */
    reason: text(1000),
    /** True when the breaker's fallback answered (no change this epoch). */
    fallback: z.boolean(),
    /** Time the policy took. */
    decisionMs: nonNegative().optional(),
  })
  .strict();
export type TamiyoDecision = z.infer<typeof TamiyoDecisionSchema>;

/** Outcome of a command, judged over its observation window. */
export const FIELD_REPORT_OUTCOMES = ['SUCCESS', 'NEUTRAL', 'REGRESSION', 'ABORTED'] as const;
export const FieldReportOutcomeSchema = z.enum(FIELD_REPORT_OUTCOMES);
export type FieldReportOutcome = z.infer<typeof FieldReportOutcomeSchema>;

/** Data of `tamiyo.field_report`: how a command's seed fared (Karn and the policy learn from it). */
export const FieldReportSchema = z
  .object({
    commandId: CommandIdSchema,
    runId: RunIdSchema.optional(),
    seedId: SeedIdSchema,
    blueprintId: BlueprintIdSchema,
    kernelId: KernelIdSchema.optional(),
    outcome: FieldReportOutcomeSchema,
    /** Measurements over the window (e.g. `improvementPp`, `contributionPp`, `paramCount`). */
    metrics: MetricsSchema,
    /** Epochs observed, inclusive. */
    observationWindow: z
      .object({ fromEpoch: count(), toEpoch: count() })
      .strict()
      .refine((w) => w.fromEpoch <= w.toEpoch, { message: 'fromEpoch must be ≤ toEpoch', path: ['toEpoch'] }),
    /** Version of the policy that issued the command. */
    policyVersion: label(),
    createdAt: TimestampSchema.optional(),
  })
  .strict();
export type FieldReport = z.infer<typeof FieldReportSchema>;
/** Type of the event whose data is a {@link FieldReport}. */
export const FIELD_REPORT_EVENT_TYPE = 'tamiyo.field_report';
