/**
 * Supervision events (DESIGN §5): breaker state changes, child restarts and
 * terminations, and escalations. Published on `sys.<type>` (no run).
 */
import { z } from 'zod';
import { WireErrorSchema } from './reply.ts';
import { TimestampSchema, count, label, nonNegative, text } from './common.ts';

/** Circuit-breaker states. */
export const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
export const BreakerStateSchema = z.enum(BREAKER_STATES);
export type BreakerState = z.infer<typeof BreakerStateSchema>;

/** An actor path, e.g. `node-a/weatherlight/tolaria/r1`. */
const ActorPathSchema = z.string().min(1).max(512);

/** Data of `supervision.breaker.state`. */
export const BreakerStateChangedSchema = z
  .object({
    /** Breaker name, e.g. `tamiyo.decide`, `urza.storage`. */
    name: label(),
    from: BreakerStateSchema,
    to: BreakerStateSchema,
    at: TimestampSchema,
    /** Failures counted in the breaker's window when it changed. */
    failures: count().optional(),
    reason: text(500).optional(),
  })
  .strict()
  .refine((event) => event.from !== event.to, { message: 'a state change must change the state', path: ['to'] });
export type BreakerStateChanged = z.infer<typeof BreakerStateChangedSchema>;

/** Data of `supervision.child.restarted`. */
export const ChildRestartedSchema = z
  .object({
    supervisor: ActorPathSchema,
    child: label(),
    /** Restarts of this child within the current intensity period, this one included. */
    restartCount: z.number().int().min(1),
    /** Backoff waited before the restart. */
    backoffMs: nonNegative(),
    /** The crash that caused it. */
    error: WireErrorSchema,
    at: TimestampSchema,
  })
  .strict();
export type ChildRestarted = z.infer<typeof ChildRestartedSchema>;

/** Why a child ended: normal exit, ordered shutdown, crash not restarted, or killed after its shutdown timeout. */
export const TERMINATION_REASONS = ['normal', 'shutdown', 'error', 'killed'] as const;
export const TerminationReasonSchema = z.enum(TERMINATION_REASONS);
export type TerminationReason = z.infer<typeof TerminationReasonSchema>;

/** Data of `supervision.child.terminated` (the death-watch `Terminated` message, as an event). */
export const ChildTerminatedSchema = z
  .object({
    supervisor: ActorPathSchema,
    child: label(),
    reason: TerminationReasonSchema,
    error: WireErrorSchema.optional(),
    at: TimestampSchema,
  })
  .strict();
export type ChildTerminated = z.infer<typeof ChildTerminatedSchema>;

/** Data of `supervision.escalated`: a supervisor gave up (restart intensity exceeded, or an unknown error) and escalated to its parent. */
export const EscalatedSchema = z
  .object({
    supervisor: ActorPathSchema,
    /** The child whose failure escalated, if one. */
    child: label().optional(),
    error: WireErrorSchema,
    /** Restarts seen within the period. */
    restarts: count(),
    /** The intensity period. */
    periodMs: nonNegative(),
    at: TimestampSchema,
  })
  .strict();
export type Escalated = z.infer<typeof EscalatedSchema>;
