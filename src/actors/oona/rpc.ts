/**
 * Typed request/reply over any Bus: the shape every control-plane endpoint
 * shares (DESIGN §4). `serve` answers every request with a §4 reply — bad
 * input gets a coded error, never silence and never a crash — and `call`
 * returns the data or throws the rehydrated error.
 *
 * @example
 * serve(bus, 'esper.ctl.run.*.status', { schema: z.object({}).optional() }, async () => status());
 * const status = await call(bus, 'esper.ctl.run.r1.status', undefined, { schema: RunStatusSchema });
 */
import type { z } from 'zod';
import { formatZodIssues } from '../../contracts/registry.ts';
import { errorReply, okReply, ReplySchema, replyOf, unwrapReply, type Reply } from '../../contracts/reply.ts';
import { EsperError, InputError, toEsperError } from '../../errors/index.ts';
import { getRootLogger, type Logger } from '../../infra/logger.ts';
import type { Bus, Decoded, Headers, InboundMessage, Payload, Subscription } from './bus.ts';
import { decodeJson, decodeText, validate } from './message.ts';

/** The request size limit of control endpoints: 1 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/** Options of {@link serve}. */
export interface ServeOptions<S extends z.ZodType> {
  /** Validates the request; its issues go back in `details.issues`. */
  schema: S;
  /** Larger requests get ESPER_PAYLOAD_TOO_LARGE. @default 1 MiB */
  maxBytes?: number;
  /** Queue group: each request is answered by one member. */
  queue?: string;
  /** Where unexpected handler failures are logged. @default the root logger */
  logger?: Logger;
}

/** The business part of an endpoint: the validated input in, the reply data out (or a throw). */
export type ServeHandler<S extends z.ZodType, T> = (data: z.infer<S>, message: InboundMessage) => Promise<T> | T;

/** Options of {@link decodeRequest}. */
export interface DecodeRequestOptions {
  /** Larger requests get ESPER_PAYLOAD_TOO_LARGE. @default 1 MiB */
  maxBytes?: number;
  /** What the request is for (a subject or route pattern), named in the schema error. @default 'request' */
  what?: string;
}

/** ESPER_PAYLOAD_TOO_LARGE when `data` is over `maxBytes`, else undefined. */
export function oversizedRequest(data: Uint8Array, maxBytes: number = DEFAULT_MAX_REQUEST_BYTES): InputError | undefined {
  if (data.byteLength <= maxBytes) return undefined;
  return new InputError('ESPER_PAYLOAD_TOO_LARGE', `payload of ${data.byteLength} bytes exceeds the ${maxBytes}-byte limit`, {
    details: { sizeBytes: data.byteLength, maxBytes },
  });
}

/**
 * The one decoder of control requests (every `<prefix>.ctl.>` subject, through
 * the node's control router or {@link serve}): over `maxBytes` →
 * ESPER_PAYLOAD_TOO_LARGE; not UTF-8 or not JSON → ESPER_INVALID_JSON; fails
 * `schema` → ESPER_SCHEMA_VIOLATION with every issue in `details.issues`.
 * An empty (or whitespace) payload means "no input" — what
 * `nats req SUBJECT ''` sends: it is given to the schema as `undefined` when
 * the schema takes that (`z.object({}).optional()`, `z.undefined()`), else as
 * `{}`, so an all-optional object schema needs no special care.
 */
export function decodeRequest<S extends z.ZodType>(data: Uint8Array, schema: S, options: DecodeRequestOptions = {}): Decoded<z.infer<S>> {
  const tooLarge = oversizedRequest(data, options.maxBytes);
  if (tooLarge !== undefined) return { ok: false, error: tooLarge };
  const text = decodeText(data);
  if (!text.ok) return text;
  let value: unknown = {};
  if (text.value.trim() === '') {
    const none = schema.safeParse(undefined);
    if (none.success) return { ok: true, value: none.data };
  } else {
    const json = decodeJson(data);
    if (!json.ok) return json;
    value = json.value;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = formatZodIssues(parsed.error);
  return {
    ok: false,
    error: new InputError('ESPER_SCHEMA_VIOLATION', `invalid request for ${options.what ?? 'request'}: ${issues.join('; ')}`, { details: { issues } }),
  };
}

/**
 * Serves typed requests on `subject`. Never throws and never lets one
 * request kill the subscription: oversized → ESPER_PAYLOAD_TOO_LARGE, not
 * JSON → ESPER_INVALID_JSON, schema fails → ESPER_SCHEMA_VIOLATION (every
 * issue in `details.issues`), handler throws → its coded error, success →
 * `{ ok: true, data }`.
 */
export function serve<S extends z.ZodType, T>(bus: Bus, subject: string, options: ServeOptions<S>, handler: ServeHandler<S, T>): Subscription {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const logger = (options.logger ?? getRootLogger()).child({ component: 'oona.rpc', subject });
  const answer = async (message: InboundMessage): Promise<Reply<T>> => {
    const input = decodeRequest(message.data, options.schema, { maxBytes, what: subject });
    if (!input.ok) return errorReply(input.error);
    try {
      const data = await handler(input.value, message);
      // JSON drops an undefined field, and a reply without `data` is malformed: send null.
      return okReply(data === undefined ? (null as T) : data);
    } catch (thrown) {
      const error = toEsperError(thrown);
      // A coded error is an answer; anything else is a bug worth a log line.
      if (!(thrown instanceof EsperError)) logger.error({ err: thrown }, 'request handler failed');
      return errorReply(error);
    }
  };
  return bus.subscribe(
    subject,
    async (message) => {
      const reply = await answer(message);
      if (message.reply === undefined) return; // a publish, not a request: nobody to tell
      respondSafely(message, reply, logger);
    },
    options.queue === undefined ? undefined : { queue: options.queue },
  );
}

function respondSafely(message: InboundMessage, reply: Reply, logger: Logger): void {
  try {
    message.respond(reply);
  } catch (error) {
    // Typically data JSON cannot encode (a BigInt, a cycle): say so instead of going silent.
    logger.error({ err: error }, 'could not send reply');
    try {
      message.respond(errorReply(new EsperError('ESPER_INTERNAL', `reply could not be encoded: ${toEsperError(error).message}`)));
    } catch {
      // The bus itself is gone; nothing more can be said.
    }
  }
}

/** Options of {@link call}. */
export interface CallOptions<S extends z.ZodType> {
  /** Validates the reply's `data`; a mismatch is ESPER_SCHEMA_VIOLATION. */
  schema?: S;
  /** @default 5000 */
  timeoutMs?: number;
  headers?: Headers;
}

/**
 * Sends a request and returns the reply's data, or throws: the remote's
 * error rehydrated (`unwrapReply`), ESPER_NO_RESPONDERS / ESPER_TIMEOUT from
 * the bus, ESPER_INVALID_JSON or ESPER_SCHEMA_VIOLATION for a malformed reply.
 */
export async function call<S extends z.ZodType = z.ZodType<unknown>>(
  bus: Bus,
  subject: string,
  payload: Payload,
  options: CallOptions<S> = {},
): Promise<z.infer<S>> {
  const message = await bus.request(subject, payload, {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  });
  const json = message.json();
  if (!json.ok) throw new InputError('ESPER_INVALID_JSON', `reply from ${subject} is not JSON`, { details: { subject } });
  const checked = validate(options.schema === undefined ? ReplySchema : replyOf(options.schema), json.value, `reply from ${subject}`);
  if (!checked.ok) throw checked.error;
  return unwrapReply(checked.value as Reply<z.infer<S>>);
}
