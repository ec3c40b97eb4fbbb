/**
 * Tolaria's messages: the SystemStatePacket sent to Tamiyo at each epoch end,
 * epoch and rollback events, checkpoint metadata and a run's status.
 * (The run spec belongs to the run-start contract, defined elsewhere.)
 */
import { z } from 'zod';
import { WireErrorSchema } from './reply.ts';
import {
  ArtifactRefSchema,
  CheckpointIdSchema,
  CommandIdSchema,
  MetricsSchema,
  NodeIdSchema,
  PacketIdSchema,
  RunIdSchema,
  SeedIdSchema,
  Sha256Schema,
  TimestampSchema,
  count,
  label,
  nonNegative,
  text,
  unitInterval,
} from './common.ts';
import { SeedStageSchema, SeedStateSchema } from './kasmina.ts';

/**
 * What the training worker measured about one hidden layer at an epoch's end
 * (on a fixed probe batch of validation examples): how much of its width the
 * layer uses, and how much the loss would gain from a new unit there. Tamiyo's
 * bottleneck policy decides where, what and how much to grow from these.
 */
export const LayerSignalsSchema = z
  .object({
    /** Hidden layer, 1-based (as a slot's `afterLayer`). */
    layer: z.number().int().min(1).max(64),
    /** `dense` (units) or `conv` (channels). */
    kind: z.enum(['dense', 'conv']),
    /** Units (or channels) now, merged width seeds included. */
    width: z.number().int().min(1),
    /**
     * Output positions per unit: a conv block's pooled pixels (h′·w′), 1 for a
     * dense layer (absent in packets written before it was measured: 1).
     */
    positions: z.number().int().min(1).optional(),
    /**
     * Effective rank of the layer's activations: exp of the entropy of the
     * normalised eigenvalues of their correlation matrix, in [0, width]; near
     * `width` when every unit carries its own direction (the layer is saturated).
     */
    effectiveRank: nonNegative(),
    /** Fraction of units (channels) that were zero on every probe example (dead ReLUs). */
    deadFraction: unitInterval(),
    /**
     * GradMax's first-order gain of growing this layer: the largest singular
     * value of Hᵀ·G / batch, with H the layer's input and G the loss gradient
     * at the next layer's pre-activation — how fast the loss would fall along
     * the best new unit's outgoing weights. A conv channel's gain sums over
     * its `positions`; Tamiyo rescales conv blocks to the coarsest one's
     * pixels (see the bottleneck policy).
     */
    gradientScore: nonNegative(),
  })
  .strict();
export type LayerSignals = z.infer<typeof LayerSignalsSchema>;

/** Version of the SystemStatePacket layout (the packet carries it, as leyline's does). */
export const SYSTEM_STATE_PACKET_VERSION = 1;

/** Most seeds one packet may carry. */
export const MAX_SEEDS_PER_RUN = 1024;

/** Where the run's tensors execute and what they cost. */
export const HardwareInfoSchema = z
  .object({
    /** tfjs backend in use: `wasm`, `cpu`, `tensorflow` (tfjs-node), … */
    backend: label(64),
    /** Device description, e.g. `NVIDIA H100` or `cpu x16`. */
    device: label().optional(),
    /** Live tensors after the epoch (a leak shows as growth). */
    numTensors: count().optional(),
    /** Bytes held by tensors after the epoch. */
    tensorBytes: count().optional(),
    /** Resident set size of the training worker. */
    rssBytes: count().optional(),
    /** Wall time of the epoch. */
    epochMs: nonNegative().optional(),
  })
  .strict();
export type HardwareInfo = z.infer<typeof HardwareInfoSchema>;

/**
 * Data of `tolaria.state.published`: the run's state at an epoch boundary, sent
 * to Tamiyo, who answers with a TamiyoDecision naming this `packetId`.
 * Accuracies are fractions in [0, 1].
 */
export const SystemStatePacketSchema = z
  .object({
    /** Packet layout version; always 1. */
    v: z.literal(SYSTEM_STATE_PACKET_VERSION),
    packetId: PacketIdSchema,
    runId: RunIdSchema,
    /** The epoch that just completed (0-based). */
    epoch: count(),
    /** Optimizer steps since the run began. */
    globalStep: count(),
    validationAccuracy: unitInterval(),
    validationLoss: nonNegative(),
    trainingLoss: nonNegative(),
    /** Current learning rate (Tolaria owns it). */
    learningRate: nonNegative().optional(),
    /** Extra named metrics (finite numbers). */
    metrics: MetricsSchema,
    hardware: HardwareInfoSchema,
    /** Every slot's seed, DORMANT ones included. */
    seeds: z.array(SeedStateSchema).max(MAX_SEEDS_PER_RUN),
    /** Per hidden layer signals (absent when the worker measured none, e.g. growth off). */
    layers: z.array(LayerSignalsSchema).max(64).optional(),
    /** When the epoch ended. */
    ts: TimestampSchema,
  })
  .strict();
export type SystemStatePacket = z.infer<typeof SystemStatePacketSchema>;

/** Data of `tolaria.epoch.completed`. Accuracies are fractions in [0, 1]. */
export const EpochCompletedSchema = z
  .object({
    runId: RunIdSchema,
    epoch: count(),
    globalStep: count(),
    trainingLoss: nonNegative(),
    validationLoss: nonNegative(),
    validationAccuracy: unitInterval(),
    /** Wall time of the epoch. */
    epochMs: nonNegative(),
    /** Trainable parameters of host + fossils + live seeds. */
    paramCount: count(),
    /** Checkpoint taken at the end of the epoch, if any. */
    checkpointId: CheckpointIdSchema.optional(),
    metrics: MetricsSchema.optional(),
  })
  .strict();
export type EpochCompleted = z.infer<typeof EpochCompletedSchema>;

/** Why a checkpoint was taken. */
export const CHECKPOINT_REASONS = ['epoch', 'pre_structural_change', 'manual', 'final'] as const;
export const CheckpointReasonSchema = z.enum(CHECKPOINT_REASONS);
export type CheckpointReason = z.infer<typeof CheckpointReasonSchema>;

/** Metadata of a checkpoint (stored in Urza; the bytes are an artifact). Data of `tolaria.checkpoint.saved`. */
export const CheckpointMetadataSchema = z
  .object({
    checkpointId: CheckpointIdSchema,
    runId: RunIdSchema,
    /** Epoch whose end state it holds. */
    epoch: count(),
    globalStep: count().optional(),
    /** sha256 of host + fossils + optimizer state; a restore must reproduce it. */
    hash: Sha256Schema,
    sizeBytes: count(),
    createdAt: TimestampSchema,
    reason: CheckpointReasonSchema,
    /** Where the bytes are stored. */
    artifactRef: ArtifactRefSchema.optional(),
  })
  .strict();
export type CheckpointMetadata = z.infer<typeof CheckpointMetadataSchema>;

/** What triggered a rollback: the governor (NaN/Inf, divergence, collapse to chance), a command, an operator, a failing seed, the graft guard (a grafting epoch's accuracy fell past its bound). */
export const ROLLBACK_TRIGGERS = ['non_finite', 'divergence', 'chance_collapse', 'command', 'operator', 'seed_failure', 'graft_regression'] as const;
export const RollbackTriggerSchema = z.enum(ROLLBACK_TRIGGERS);
export type RollbackTrigger = z.infer<typeof RollbackTriggerSchema>;

/** Data of `tolaria.run.rolled_back`: host + fossils + optimizer restored from a checkpoint; live seeds pruned. */
export const RunRolledBackSchema = z
  .object({
    runId: RunIdSchema,
    /** Epoch in progress when the rollback was decided. */
    fromEpoch: count(),
    /** Epoch of the restored checkpoint. */
    toEpoch: count(),
    checkpointId: CheckpointIdSchema,
    /** Hash of the restored state; equals the checkpoint's hash (verified). */
    restoredHash: Sha256Schema,
    cause: z
      .object({
        trigger: RollbackTriggerSchema,
        reason: text(500).min(1),
        /** The ROLLBACK/EMERGENCY command, when one asked for it. */
        commandId: CommandIdSchema.optional(),
        /** The seed blamed, when one is. */
        seedId: SeedIdSchema.optional(),
      })
      .strict(),
    /** Live seeds the rollback pruned. */
    prunedSeedIds: z.array(SeedIdSchema).max(MAX_SEEDS_PER_RUN),
    /** Time the restore took. */
    durationMs: nonNegative().optional(),
  })
  .strict()
  .refine((event) => event.toEpoch <= event.fromEpoch, { message: 'a rollback cannot move forward in time', path: ['toEpoch'] });
export type RunRolledBack = z.infer<typeof RunRolledBackSchema>;

/**
 * Data of `tolaria.host.revived`: Tolaria revived a chain of hidden layers
 * whose units were all dead (a HOST REVIVE command): new incoming weights,
 * zero biases, zero weights where the next layer reads them.
 */
export const HostRevivedSchema = z
  .object({
    runId: RunIdSchema,
    /** The epoch boundary it happened at (after this epoch). */
    epoch: count(),
    /** The hidden layers revived (1-based, consecutive). */
    layers: z.array(z.number().int().min(1).max(64)).min(1).max(64),
    /** Units given new incoming weights. */
    units: count(),
    /** The HOST command that asked for it. */
    commandId: CommandIdSchema,
    /** Why (the command's reason). */
    reason: text(512),
  })
  .strict();
export type HostRevived = z.infer<typeof HostRevivedSchema>;

/**
 * States of a run. `rolling_back` is transient (a rolled-back run goes on
 * `running`); `stopped` is an operator stop, `completed` the epoch budget spent.
 */
export const RUN_STATES = ['pending', 'running', 'paused', 'rolling_back', 'stopping', 'stopped', 'completed', 'failed'] as const;
export const RunStateSchema = z.enum(RUN_STATES);
export type RunState = z.infer<typeof RunStateSchema>;

/** Terminal run states. */
export const TERMINAL_RUN_STATES = ['stopped', 'completed', 'failed'] as const satisfies readonly RunState[];

/** A run's status: reply of `ctl.run.<runId>.status` and element of `ctl.cluster.runs`. */
export const RunStatusSchema = z
  .object({
    runId: RunIdSchema,
    state: RunStateSchema,
    /** Last completed epoch (0 before the first ends). */
    epoch: count(),
    /** Epoch budget of the run. */
    maxEpochs: count().optional(),
    /** Trainer node hosting it (absent while pending). */
    nodeId: NodeIdSchema.optional(),
    startedAt: TimestampSchema.optional(),
    updatedAt: TimestampSchema,
    validationAccuracy: unitInterval().optional(),
    lastCheckpointId: CheckpointIdSchema.optional(),
    /** Seeds per stage name, e.g. `{ "TRAINING": 1, "DORMANT": 3 }`. */
    seedStages: z.partialRecord(SeedStageSchema, count()).optional(),
    /** Why it failed (state `failed`). */
    error: WireErrorSchema.optional(),
  })
  .strict();
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** Data of `tolaria.run.state_changed`. */
export const RunStateChangedSchema = z
  .object({
    runId: RunIdSchema,
    from: RunStateSchema,
    to: RunStateSchema,
    epoch: count(),
    nodeId: NodeIdSchema.optional(),
    reason: text(500).optional(),
  })
  .strict()
  .refine((event) => event.from !== event.to, { message: 'a state change must change the state', path: ['to'] });
export type RunStateChanged = z.infer<typeof RunStateChangedSchema>;
