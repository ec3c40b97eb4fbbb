import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/** Current version of the envelope itself. Message schemas carry their own `v`. */
export const ENVELOPE_VERSION = 1;

/**
 * The envelope every event and command travels in (DESIGN §4). `type` is
 * namespaced (`kasmina.seed.transitioned`); `data` is validated by the schema
 * registered for that type.
 */
export const EnvelopeSchema = z
  .object({
    /** Unique message id; also the JetStream de-duplication key. */
    id: z.string().min(1).max(200),
    /** Namespaced message type, e.g. `kasmina.seed.transitioned`. */
    type: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'type must be namespaced: lowercase words joined by dots'),
    /** Schema version of `data` for this type. */
    v: z.number().int().positive(),
    /** Creation time, ISO-8601 UTC. */
    ts: z.iso.datetime(),
    /** Who produced it: `<nodeId>/<actorPath>`. */
    source: z.string().min(1),
    runId: z.string().min(1).optional(),
    /** The conversation this message belongs to (the first message's id). */
    correlationId: z.string().min(1).optional(),
    /** The message that directly caused this one. */
    causationId: z.string().min(1).optional(),
    data: z.unknown(),
  })
  .strict();

export type Envelope<T = unknown> = Omit<z.infer<typeof EnvelopeSchema>, 'data'> & { data: T };

/** Fields a producer supplies; the rest are generated. */
export interface EnvelopeInit<T> {
  type: string;
  data: T;
  source: string;
  v?: number;
  id?: string;
  runId?: string;
  /** When set, the new envelope continues this message's conversation and names it as its cause. */
  causedBy?: Pick<Envelope, 'id' | 'correlationId'>;
  now?: () => Date;
}

/** Wraps `data` in a fresh envelope; with `causedBy` it inherits the correlation and points its causation at the parent. */
export function createEnvelope<T>(init: EnvelopeInit<T>): Envelope<T> {
  const id = init.id ?? randomUUID();
  const envelope: Envelope<T> = {
    id,
    type: init.type,
    v: init.v ?? 1,
    ts: (init.now ?? (() => new Date()))().toISOString(),
    source: init.source,
    data: init.data,
  };
  if (init.runId !== undefined) envelope.runId = init.runId;
  if (init.causedBy !== undefined) {
    envelope.correlationId = init.causedBy.correlationId ?? init.causedBy.id;
    envelope.causationId = init.causedBy.id;
  } else {
    envelope.correlationId = id;
  }
  return envelope;
}

/** An envelope schema whose `data` is checked by `dataSchema`. */
export function envelopeOf<T extends z.ZodType>(dataSchema: T): z.ZodType<Envelope<z.infer<T>>> {
  return EnvelopeSchema.extend({ data: dataSchema }) as unknown as z.ZodType<Envelope<z.infer<T>>>;
}
