/**
 * What both buses share: payload encoding, the lazy never-throwing decoders of
 * `InboundMessage`, handler isolation (a throwing handler is logged and
 * counted, never kills a subscription) and the bus metrics.
 */
import type { z } from 'zod';
import type { Counter } from 'prom-client';
import { EsperError, InputError } from '../../errors/index.ts';
import { getRootLogger, type Logger } from '../../infra/logger.ts';
import type { Metrics } from '../../infra/metrics.ts';
import type { Decoded, Headers, InboundMessage, MessageHandler, Payload } from './bus.ts';

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

/** Every zod issue as `path: message` (`(root)` for the value itself), the shape `details.issues` carries. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map((part) => String(part)).join('.');
    return `${path === '' ? '(root)' : path}: ${issue.message}`;
  });
}

/** Validates a decoded value; ESPER_SCHEMA_VIOLATION listing every issue on failure. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what = 'payload'): Decoded<z.infer<S>> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = formatIssues(parsed.error);
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

/** Logger and metric handles of one bus, bound once so the hot path only increments. */
export class BusInstruments {
  readonly logger: Logger;
  readonly #in: BoundCounter | undefined;
  readonly #out: BoundCounter | undefined;
  readonly #errors: BoundCounter | undefined;

  constructor(kind: 'nats' | 'memory', options: BusInstrumentOptions) {
    this.logger = (options.logger ?? getRootLogger()).child({ component: 'oona', bus: kind });
    if (options.metrics !== undefined) {
      const messages = options.metrics.counter('esper_bus_messages_total', 'Messages through the bus, by direction', ['bus', 'direction']);
      this.#in = messages.labels(kind, 'in');
      this.#out = messages.labels(kind, 'out');
      this.#errors = options.metrics
        .counter('esper_bus_handler_errors_total', 'Subscription handlers that threw or rejected', ['bus'])
        .labels(kind);
    }
  }

  countIn(): void {
    this.#in?.inc();
  }

  countOut(): void {
    this.#out?.inc();
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
    this.#in?.inc();
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
