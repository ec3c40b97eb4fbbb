/**
 * What Tolaria keeps between epochs, as data (DESIGN §3 "everything needed to
 * resume lives in the stores"). Captured at every epoch boundary together
 * with the tensor checkpoint taken there; a run resumed from the pair
 * continues exactly where the boundary left it: same seeds and stages, same
 * policy memory and governor window, same epoch results so far.
 */
import { z } from 'zod';
import { CheckpointIdSchema, RunIdSchema } from '../../contracts/common.ts';
import { EpochResultSchema, RunRevivalRecordSchema, RunRollbackRecordSchema, SeedHistoryEntrySchema } from '../../contracts/run.ts';
import { FieldReportSchema } from '../../contracts/tamiyo.ts';
import { SeedLifecycleStateSchema } from '../kasmina/index.ts';

/** The checkpoint a boundary took (its bytes travel separately). */
export const BoundaryCheckpointInfoSchema = z
  .object({
    checkpointId: CheckpointIdSchema,
    /** Loop iterations (epochs, rolled back or not) completed when it was taken. */
    epoch: z.number().int().nonnegative(),
    globalStep: z.number().int().nonnegative(),
    /** sha256 of the checkpoint (verified on restore). */
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    hostWeightsHash: z.string(),
    sizeBytes: z.number().int().nonnegative(),
    createdAt: z.string(),
  })
  .strict();
export type BoundaryCheckpointInfo = z.infer<typeof BoundaryCheckpointInfoSchema>;

export const RunLoopStateSchema = z
  .object({
    v: z.literal(1),
    runId: RunIdSchema,
    startedAt: z.string(),
    /** Loop iterations completed: the next epoch to train is iteration + 1. */
    iteration: z.number().int().nonnegative(),
    /** Checkpoints taken so far (ids are numbered by it). */
    checkpointCount: z.number().int().nonnegative(),
    checkpoint: BoundaryCheckpointInfoSchema,
    globalStep: z.number().int().nonnegative(),
    hostParams: z.number().int().nonnegative(),
    paramsAdded: z.number().int().nonnegative(),
    germinations: z.number().int().nonnegative(),
    lastAccuracy: z.number().nullable(),
    governor: z.object({ window: z.array(z.number()), consecutive: z.number().int(), lastEpoch: z.number().int().nullable() }).strict(),
    /** Tamiyo's policy memory (plain data; the policy validates its own shape). */
    memory: z.record(z.string(), z.unknown()),
    /** Kasmina's persisted seed states, one per slot. */
    seedStates: z.array(SeedLifecycleStateSchema),
    histories: z.record(z.string(), z.array(SeedHistoryEntrySchema)),
    lastParams: z.record(z.string(), z.number()),
    blueprintOf: z.record(z.string(), z.string()),
    baseline: z.record(z.string(), z.number()),
    epochs: z.array(EpochResultSchema),
    rollbacks: z.array(RunRollbackRecordSchema),
    /** Per epoch: trained with a seed grafting, BLENDING or HOLDING, or right after such a seed was pruned or merged (states written before mark BLENDING epochs only; before 2026-12-07 merges did not count). */
    blendingAt: z.array(z.boolean()),
    /** Tamiyo's FieldReports so far (absent in states written before they were recorded). */
    fieldReports: z.array(FieldReportSchema).optional(),
    /** Dead layers revived so far (absent in states written before revivals, or with none). */
    revivals: z.array(RunRevivalRecordSchema).optional(),
  })
  .strict();
export type RunLoopState = z.infer<typeof RunLoopStateSchema>;
