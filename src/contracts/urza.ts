/**
 * Urza's query contracts: `ctl.urza.blueprints` and `ctl.urza.kernels`
 * (DESIGN §9). Every filter is optional, so `{}` lists the first 100.
 */
import { z } from 'zod';
import { BlueprintIdSchema, KernelIdSchema, SlotInterfaceSchema, TagsSchema, TimestampSchema, count, label, nonNegative, unitInterval } from './common.ts';
import { BlueprintRecordSchema, BlueprintStatusSchema } from './karn.ts';
import { KernelMetadataSchema, KernelStatusSchema } from './tezzeret.ts';

/** Most rows one query returns. */
export const MAX_QUERY_LIMIT = 1000;
/** Rows returned when `limit` is not given. */
export const DEFAULT_QUERY_LIMIT = 100;

/** Rows to return: 1–1000. @default 100 */
const LimitSchema = z.number().int().min(1).max(MAX_QUERY_LIMIT).default(DEFAULT_QUERY_LIMIT);
/** Opaque continuation token from a previous reply's `nextCursor`. */
const CursorSchema = z.string().min(1).max(512);

/** Request on `ctl.urza.blueprints`. */
export const BlueprintQuerySchema = z
  .object({
    blueprintId: BlueprintIdSchema.optional(),
    /** Catalog name. */
    name: label(64).optional(),
    status: BlueprintStatusSchema.optional(),
    /** Blueprints carrying every one of these tags. */
    tags: TagsSchema.optional(),
    /** Blueprints built for exactly this slot interface. */
    interface: SlotInterfaceSchema.optional(),
    /** Include each blueprint's IR. @default false */
    includeIr: z.boolean().default(false),
    limit: LimitSchema,
    cursor: CursorSchema.optional(),
  })
  .strict();
export type BlueprintQuery = z.infer<typeof BlueprintQuerySchema>;

/** Reply of `ctl.urza.blueprints`. */
export const BlueprintQueryReplySchema = z
  .object({
    blueprints: z.array(BlueprintRecordSchema).max(MAX_QUERY_LIMIT),
    /** Present when more rows match. */
    nextCursor: CursorSchema.optional(),
  })
  .strict();
export type BlueprintQueryReply = z.infer<typeof BlueprintQueryReplySchema>;

/** Request on `ctl.urza.kernels`. Filters combine with AND. */
export const KernelQuerySchema = z
  .object({
    kernelId: KernelIdSchema.optional(),
    blueprintId: BlueprintIdSchema.optional(),
    /** Kernels matching exactly this slot interface. */
    interface: SlotInterfaceSchema.optional(),
    status: KernelStatusSchema.optional(),
    /** Kernels whose blueprint carries every one of these tags. */
    tags: TagsSchema.optional(),
    /** At most this many trainable parameters. */
    maxParams: count().optional(),
    /** Validated p50 latency at most this (kernels without a report are excluded when set). */
    maxLatencyMs: nonNegative().optional(),
    /** Risk score at most this (kernels without a report are excluded when set). */
    maxRisk: unitInterval().optional(),
    limit: LimitSchema,
    cursor: CursorSchema.optional(),
  })
  .strict();
export type KernelQuery = z.infer<typeof KernelQuerySchema>;

/** A kernel with the summary of its latest validation report. */
export const KernelRecordSchema = KernelMetadataSchema.extend({
  validation: z
    .object({
      riskScore: unitInterval(),
      latencyP50Ms: nonNegative(),
      latencyP99Ms: nonNegative(),
      validatedAt: TimestampSchema,
    })
    .strict()
    .optional(),
  /** Blueprint tags, copied for filtering. */
  tags: TagsSchema.optional(),
}).strict();
export type KernelRecord = z.infer<typeof KernelRecordSchema>;

/** Reply of `ctl.urza.kernels`. */
export const KernelQueryReplySchema = z
  .object({
    kernels: z.array(KernelRecordSchema).max(MAX_QUERY_LIMIT),
    nextCursor: CursorSchema.optional(),
  })
  .strict();
export type KernelQueryReply = z.infer<typeof KernelQueryReplySchema>;
