import { z } from 'zod';
import { EsperError, type WireError } from '../errors/index.ts';

/** The error part of a failed reply (DESIGN §4). */
export const WireErrorSchema = z
  .object({
    code: z.string().min(1),
    message: z.string(),
    retryable: z.boolean(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** Every reply on the bus: `{ ok: true, data }` or `{ ok: false, error }`. */
export const ReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), data: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: WireErrorSchema }).strict(),
]);

export type Reply<T = unknown> = { ok: true; data: T } | { ok: false; error: WireError };

/** A successful reply. */
export function okReply<T>(data: T): Reply<T> {
  return { ok: true, data };
}

/** A failed reply carrying the error as data. */
export function errorReply(error: WireError | EsperError): Reply<never> {
  return { ok: false, error: error instanceof EsperError ? error.toWire() : error };
}

/** A reply schema whose success `data` is checked by `dataSchema`. */
export function replyOf<T extends z.ZodType>(dataSchema: T): z.ZodType<Reply<z.infer<T>>> {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), data: dataSchema }).strict(),
    z.object({ ok: z.literal(false), error: WireErrorSchema }).strict(),
  ]) as unknown as z.ZodType<Reply<z.infer<T>>>;
}

/** Returns the data of a successful reply or throws the rehydrated error. */
export function unwrapReply<T>(reply: Reply<T>): T {
  if (reply.ok) return reply.data;
  const error = reply.error;
  throw EsperError.fromWire(
    error.details === undefined
      ? { code: error.code, message: error.message, retryable: error.retryable }
      : error,
  );
}
