/**
 * Nissa's messages: telemetry packets (`tel.<runId>.<kind>`, loss acceptable)
 * and audit records (the event store's rows).
 */
import { z } from 'zod';
import { MetricsSchema, RunIdSchema, SeedIdSchema, TimestampSchema, count, label, text } from './common.ts';
import { EnvelopeSchema } from './envelope.ts';
import { TELEMETRY_KINDS } from './subjects.ts';

export const TelemetryKindSchema = z.enum(TELEMETRY_KINDS);

/** Data of `nissa.telemetry.reported`: a batch of measurements. */
export const TelemetryPacketSchema = z
  .object({
    runId: RunIdSchema,
    /** Telemetry kind: `epoch`, `seed`, `step`, `node` (also the last subject token). */
    kind: TelemetryKindSchema,
    ts: TimestampSchema,
    epoch: count().optional(),
    globalStep: count().optional(),
    /** The seed measured (kind `seed`). */
    seedId: SeedIdSchema.optional(),
    /** Finite numbers only; at most 256. */
    metrics: MetricsSchema,
  })
  .strict()
  .refine((packet) => packet.kind !== 'seed' || packet.seedId !== undefined, { message: "kind 'seed' needs seedId", path: ['seedId'] });
export type TelemetryPacket = z.infer<typeof TelemetryPacketSchema>;

/**
 * One row of the audit trail: an event as persisted in the event store,
 * ordered per run by `seq`. `envelope` is the event exactly as published.
 */
export const AuditRecordSchema = z
  .object({
    /** Position in the run's event sequence (1-based, gap-free per run). */
    seq: z.number().int().min(1),
    /** The run, or absent for events that belong to no run (supervision, library). */
    runId: RunIdSchema.optional(),
    /** The seed the event concerns, extracted for `esper audit RUN --seed`. */
    seedId: SeedIdSchema.optional(),
    /** Envelope type, copied for indexing. */
    type: label(200),
    envelope: EnvelopeSchema,
    /** When the store recorded it. */
    recordedAt: TimestampSchema,
  })
  .strict();
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/**
 * Data of `nissa.operator.action`: an operator action on a run and its
 * outcome, in the run's event stream (and so the audit trail). The node
 * hosting the run records every pause, resume and stop it serves, whoever
 * sent it (`via: "node <id>"`); the dashboard records each action it
 * forwards (`via: "dashboard@<host> from <address>"`, issue 14), so an action
 * from the dashboard appears twice: who sent it, and that the run got it.
 * The action itself travels on the ordinary control subject.
 */
export const OperatorActionSchema = z
  .object({
    /** Control subject the request went to, e.g. `esper.ctl.run.r1.pause`. */
    subject: text(300).min(1),
    /** The verb, e.g. `pause`, `prune`. */
    verb: label(32),
    runId: RunIdSchema,
    seedId: SeedIdSchema.optional(),
    /** The reason the operator gave, if any. */
    reason: text(500).optional(),
    /** Who recorded it: `node <id>` (the node serving the run) or `dashboard@<host> from <address>`. */
    via: text(300).min(1),
    /** True when the control reply was ok. */
    ok: z.boolean(),
    /** Error code of a failed reply. */
    code: label(64).optional(),
  })
  .strict();
export type OperatorAction = z.infer<typeof OperatorActionSchema>;
