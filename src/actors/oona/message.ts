/**
 * What both buses share: payload encoding, the lazy never-throwing decoders of
 * `InboundMessage`, handler isolation (a throwing handler is logged and
 * counted, never kills a subscription) and the bus metrics.
 */
import type { z } from 'zod';
import type { Counter } from 'prom-client';
import { formatZodIssues } from '../../contracts/registry.ts';
import { EsperError, InputError } from '../../errors/index.ts';
import { getRootLogger, type Logger } from '../../infra/logger.ts';
import type { Metrics } from '../../infra/metrics.ts';
import type { Decoded, Headers, InboundMessage, KvEntry, MessageHandler, Payload } from './bus.ts';

const encoder = new TextEncoder();
/** Fatal: invalid UTF-8 is an input error, not silently replaced characters. */
const utf8 = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

/** Bytes go as they are; anything else is JSON (`undefined` is the empty payload). */
export function encodePayload(payload: Payload): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (payload === undefined) return EMPTY;
  const text = JSON.stringify(payload) as string | undefined;
  // JSON.stringify returns undefined for functions and symbols: nothing to send.
  return text === undefined ? EMPTY : encoder.encode(text);
}

/** Runs a synchronous operation behind an async API: its throw becomes the rejection. */
export function attempt<T>(operation: () => T): Promise<T> {
  // A throw inside a Promise executor rejects the promise.
  return new Promise<T>((resolve) => resolve(operation()));
}

/** UTF-8 text of a payload; ESPER_INVALID_JSON when the bytes are not UTF-8. */
export function decodeText(data: Uint8Array): Decoded<string> {
  try {
    return { ok: true, value: utf8.decode(data) };
  } catch {
    return { ok: false, error: new InputError('ESPER_INVALID_JSON', 'payload is not UTF-8 text') };
  }
}

/** Parses a payload as JSON; ESPER_INVALID_JSON on failure. */
export function decodeJson(data: Uint8Array): Decoded<unknown> {
  const text = decodeText(data);
  if (!text.ok) return text;
  try {
    return { ok: true, value: JSON.parse(text.value) as unknown };
  } catch (error) {
    return {
      ok: false,
      error: new InputError('ESPER_INVALID_JSON', `payload is not JSON: ${(error as Error).message}`),
    };
  }
}

/** Validates a decoded value; ESPER_SCHEMA_VIOLATION listing every issue (`path: message`, as everywhere in Esper) on failure. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what = 'payload'): Decoded<z.infer<S>> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = formatZodIssues(parsed.error);
  return {
    ok: false,
    error: new InputError('ESPER_SCHEMA_VIOLATION', `${what} does not match its schema: ${issues.join('; ')}`, {
      details: { issues },
    }),
  };
}

/**
 * Base of every message the buses hand out (plain and durable): the decoders
 * only need the bytes, so they are written once.
 */
export abstract class PayloadView {
  abstract readonly data: Uint8Array;

  text(): string {
    const text = decodeText(this.data);
    // Lenient on purpose: text() is for logs and humans; json()/decode() report bad UTF-8.
    return text.ok ? text.value : new TextDecoder().decode(this.data);
  }

  json(): Decoded<unknown> {
    return decodeJson(this.data);
  }

  decode<S extends z.ZodType>(schema: S): Decoded<z.infer<S>> {
    const json = this.json();
    return json.ok ? validate(schema, json.value) : json;
  }
}

/** Base of both buses' plain inbound messages. */
export abstract class BaseInboundMessage extends PayloadView implements InboundMessage {
  abstract readonly subject: string;
  abstract readonly headers: Headers;
  abstract readonly reply: string | undefined;
  abstract respond(payload: Payload, options?: { headers?: Headers }): boolean;
}

/**
 * Counts handlers still running so `Subscription.closed`, `Consumer.stop`
 * and `drain` can wait for them. Sync handlers cost nothing here.
 */
export class InflightTracker {
  #count = 0;
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  enter(): void {
    this.#count++;
  }

  leave(): void {
    this.#count--;
    if (this.#count === 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when no handler is running. */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Options every bus accepts for its instruments. */
export interface BusInstrumentOptions {
  /** @default the root logger, child `{ component: 'oona' }` */
  logger?: Logger;
  /** When given, counts `esper_bus_messages_total{bus,direction}` and `esper_bus_handler_errors_total{bus}`. */
  metrics?: Metrics;
}

type BoundCounter = ReturnType<Counter['labels']>;

/** Buffered counts are pushed into prom-client at least this often (in messages). */
const FLUSH_EVERY = 64;

/** Per counter, the flushers of the buses sharing it; run at each scrape. */
const scrapeFlushers = new WeakMap<Counter, Set<() => void>>();

/**
 * Makes a scrape of `counter` first flush the buffered counts of every live
 * bus using it, so buffering never shows in /metrics. prom-client calls a
 * metric's `collect` at each scrape; it is set here rather than at creation
 * because `Metrics` creates the counter once for everyone.
 */
function flushOnScrape(counter: Counter, flush: () => void): () => void {
  let flushers = scrapeFlushers.get(counter);
  if (flushers === undefined) {
    const all = new Set<() => void>();
    flushers = all;
    scrapeFlushers.set(counter, all);
    const target = counter as unknown as { collect?: (this: Counter) => void | Promise<void> };
    const previous = target.collect;
    target.collect = function (this: Counter): void | Promise<void> {
      for (const f of all) f();
      return previous?.call(this);
    };
  }
  flushers.add(flush);
  const own = flushers;
  return () => own.delete(flush);
}

/**
 * Logger and metric handles of one bus. Message counts are buffered in
 * plain numbers and pushed into prom-client every {@link FLUSH_EVERY}
 * messages and at each scrape: a prom-client `inc()` hashes its labels on
 * every call (~300 ns), which on the publish path would cost several percent
 * of throughput.
 */
export class BusInstruments {
  readonly logger: Logger;
  readonly #in: BoundCounter | undefined;
  readonly #out: BoundCounter | undefined;
  readonly #errors: BoundCounter | undefined;
  readonly #unhook: (() => void) | undefined;
  #pendingIn = 0;
  #pendingOut = 0;

  constructor(kind: 'nats' | 'memory', options: BusInstrumentOptions) {
    this.logger = (options.logger ?? getRootLogger()).child({ component: 'oona', bus: kind });
    if (options.metrics !== undefined) {
      const messages = options.metrics.counter('esper_bus_messages_total', 'Messages through the bus, by direction', ['bus', 'direction']);
      this.#in = messages.labels(kind, 'in');
      this.#out = messages.labels(kind, 'out');
      this.#errors = options.metrics
        .counter('esper_bus_handler_errors_total', 'Subscription handlers that threw or rejected', ['bus'])
        .labels(kind);
      this.#unhook = flushOnScrape(messages, () => this.flush());
    }
  }

  countIn(): void {
    if (this.#in !== undefined && ++this.#pendingIn >= FLUSH_EVERY) this.flush();
  }

  countOut(): void {
    if (this.#out !== undefined && ++this.#pendingOut >= FLUSH_EVERY) this.flush();
  }

  /** Pushes buffered counts into the registry. */
  flush(): void {
    if (this.#pendingIn > 0) this.#in?.inc(this.#pendingIn);
    if (this.#pendingOut > 0) this.#out?.inc(this.#pendingOut);
    this.#pendingIn = 0;
    this.#pendingOut = 0;
  }

  /** Final flush; the bus is closing. */
  close(): void {
    this.flush();
    this.#unhook?.();
  }

  /** Logs and counts a handler failure; the subscription goes on. */
  handlerFailed(subject: string, error: unknown): void {
    this.#errors?.inc();
    const err = error instanceof EsperError ? { code: error.code, message: error.message } : error;
    this.logger.error({ subject, err }, 'bus handler failed; the subscription continues');
  }

  /**
   * Calls a subscription handler so that nothing it does escapes: a throw or
   * a rejection is logged and counted; an async handler is tracked until it
   * settles.
   */
  dispatch(handler: MessageHandler, message: InboundMessage, tracker: InflightTracker): void {
    this.countIn();
    try {
      const result = handler(message);
      if (result instanceof Promise) {
        tracker.enter();
        result.then(
          () => tracker.leave(),
          (error: unknown) => {
            this.handlerFailed(message.subject, error);
            tracker.leave();
          },
        );
      }
    } catch (error) {
      this.handlerFailed(message.subject, error);
    }
  }
}

/** A KV entry (either bus) from its stored fields; `json()` decodes the value on demand. */
export function kvEntry(fields: Pick<KvEntry, 'key' | 'value' | 'revision' | 'operation'>): KvEntry {
  const { key, value, revision, operation } = fields;
  return {
    key,
    value,
    revision,
    operation,
    json(): unknown {
      const decoded = decodeJson(value);
      return decoded.ok ? decoded.value : undefined;
    },
  };
}

/** `details.reason` of the ESPER_STREAM_ERROR a durable publish gets when no stream captures its subject (both buses). */
export const NO_STREAM = 'no_stream';

/** True when a durable publish failed because no stream captures its subject (the stream is missing: the writer ensures it). */
export function isNoStream(error: unknown): boolean {
  return error instanceof EsperError && error.code === 'ESPER_STREAM_ERROR' && (error.details as { reason?: unknown } | undefined)?.reason === NO_STREAM;
}
