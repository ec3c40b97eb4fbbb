/**
 * Oona's one interface (DESIGN §1, §4). Two implementations honour it — NATS
 * (`nats-bus.ts`) and in-process (`memory-bus.ts`) — and one contract suite
 * (`test/actors/oona/bus-contract.ts`) runs against both.
 *
 * Payloads are JSON values (encoded by the bus) or raw bytes (`Uint8Array`,
 * sent as is). Inbound messages expose bytes plus lazy decoders that never
 * throw: decoding failures come back as coded `EsperError`s.
 */
import type { z } from 'zod';
import type { EsperError } from '../../errors/index.ts';

/** A payload: a JSON-serialisable value, or bytes sent unchanged. */
export type Payload = unknown;

/** Message headers (NATS headers; emulated in-process). */
export type Headers = Readonly<Record<string, string>>;

/** The result of decoding an inbound payload. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: EsperError };

/** A message as a subscriber sees it. */
export interface InboundMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** Reply subject, when the sender expects an answer. */
  readonly reply: string | undefined;
  /** The payload as UTF-8 text. */
  text(): string;
  /** Parses JSON; ESPER_INVALID_JSON on failure. */
  json(): Decoded<unknown>;
  /** Parses JSON and validates it; ESPER_INVALID_JSON or ESPER_SCHEMA_VIOLATION (details.issues) on failure. */
  decode<S extends z.ZodType>(schema: S): Decoded<z.infer<S>>;
  /** Answers a request; false when there is nobody to answer. */
  respond(payload: Payload, options?: { headers?: Headers }): boolean;
}

/** Handler of a subscription. A throw or rejection is logged and counted, never kills the subscription. */
export type MessageHandler = (message: InboundMessage) => void | Promise<void>;

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
}

export interface Subscription {
  readonly subject: string;
  /** Stops delivery; idempotent. */
  unsubscribe(): void;
  /** Resolves once in-flight handlers have finished (after `unsubscribe`). */
  readonly closed: Promise<void>;
}

export interface RequestOptions {
  /** Give up after this long with ESPER_TIMEOUT. @default 5000 */
  timeoutMs?: number;
  headers?: Headers;
}

export interface PublishOptions {
  headers?: Headers;
}

// ---------------------------------------------------------------- streams

export interface StreamConfig {
  /** Stream name: letters, digits, '_' and '-'. */
  name: string;
  /** Subjects captured by the stream (wildcards allowed). */
  subjects: string[];
  /** Window during which a repeated message id is dropped. @default 120000 */
  duplicateWindowMs?: number;
  /** Discard messages older than this; 0 keeps them. @default 0 */
  maxAgeMs?: number;
  /** Work-queue retention: a message is removed once acked. @default false */
  workQueue?: boolean;
}

export interface DurablePublishOptions {
  /** De-duplication key (NATS `Nats-Msg-Id`); repeated ids within the window are stored once. */
  msgId?: string;
  headers?: Headers;
}

export interface PublishAck {
  stream: string;
  seq: number;
  /** True when the message id was seen within the window and the message was not stored again. */
  duplicate: boolean;
}

export interface ConsumerConfig {
  stream: string;
  /** Durable consumer name; consumers with the same name share the work. */
  durable: string;
  filterSubject?: string;
  /** Unacked messages are redelivered after this long. @default 30000 */
  ackWaitMs?: number;
  /** After this many deliveries without an ack the message is dead-lettered; -1: never (redelivered until acked). @default 5 */
  maxDeliver?: number;
  /** Where dead letters go. @default `<prefix>.dlq.<stream>` */
  deadLetterSubject?: string;
  /** Messages handed to the handler at once. @default 1 */
  maxInFlight?: number;
  /**
   * Messages delivered and not yet acked, across all members, at most (the
   * server's limit; `maxInFlight` only bounds what one member pulls). 1 makes
   * the handler see the stream's order even through failures: a delivery lost
   * in transit (its server killed) or naked blocks the later messages until
   * it is redelivered, instead of being overtaken by them.
   * @default the server's (1000 on NATS; unbounded in memory)
   */
  maxAckPending?: number;
}

/** A message from a durable stream; it must be acked, naked or termed. */
export interface DurableMessage extends Omit<InboundMessage, 'respond' | 'reply'> {
  readonly stream: string;
  readonly seq: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly msgId: string | undefined;
  ack(): Promise<void>;
  /** Asks for redelivery, after `delayMs` if given. */
  nak(delayMs?: number): void;
  /** Gives up on the message (no redelivery; it is dead-lettered with `reason`). */
  term(reason?: string): void;
}

/** Handler of a durable consumer. Returning without ack leaves the message to redelivery after the ack wait; a throw naks it. */
export type DurableHandler = (message: DurableMessage) => Promise<void> | void;

export interface Consumer {
  /** Stops pulling; unacked messages are redelivered to other members after their ack wait. */
  stop(): Promise<void>;
}

/**
 * A dead letter as published on the dead-letter subject (JSON):
 * the original message plus why it died.
 */
export interface DeadLetter {
  stream: string;
  consumer: string;
  subject: string;
  seq: number;
  deliveries: number;
  reason: 'max_deliveries' | 'terminated';
  detail?: string;
  /** Original payload, base64. */
  dataBase64: string;
  msgId?: string;
}

// ---------------------------------------------------------------- key-value

export interface KvOptions {
  /** Entries expire this long after their last put; 0 never. @default 0 */
  ttlMs?: number;
  /** Revisions kept per key. @default 1 */
  history?: number;
}

export interface KvEntry {
  key: string;
  value: Uint8Array;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  /** Value parsed as JSON (undefined when not JSON). */
  json(): unknown;
}

export interface KvWatcher {
  stop(): void;
}

export interface KvStore {
  readonly bucket: string;
  put(key: string, value: Payload): Promise<number>;
  /** Writes a key that has no value (never written, or deleted); ESPER_CONFLICT when it has one. Returns the revision. */
  create(key: string, value: Payload): Promise<number>;
  /** Writes only when the key's latest revision is `revision` (compare-and-set); ESPER_CONFLICT otherwise. Returns the new revision. */
  update(key: string, value: Payload, revision: number): Promise<number>;
  get(key: string): Promise<KvEntry | null>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
  /** Calls `onEntry` for every change after the watch starts (and, with `includeCurrent`, the current values first). */
  watch(onEntry: (entry: KvEntry) => void, options?: { key?: string; includeCurrent?: boolean }): Promise<KvWatcher>;
  /** Deletes the bucket and everything in it. */
  destroy(): Promise<void>;
}

// ---------------------------------------------------------------- the bus

export interface Bus {
  readonly kind: 'nats' | 'memory';
  /** Replicas of every stream and KV bucket this bus creates (1 in-process; on NATS `nats.replicas`, or chosen from the server's INFO). */
  readonly replicas: number;
  publish(subject: string, payload: Payload, options?: PublishOptions): void;
  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): Subscription;
  /** Rejects at once with ESPER_NO_RESPONDERS when nobody listens, ESPER_TIMEOUT after `timeoutMs`. */
  request(subject: string, payload: Payload, options?: RequestOptions): Promise<InboundMessage>;
  /** Creates or updates a durable stream. */
  ensureStream(config: StreamConfig): Promise<void>;
  deleteStream(name: string): Promise<void>;
  publishDurable(subject: string, payload: Payload, options?: DurablePublishOptions): Promise<PublishAck>;
  consume(config: ConsumerConfig, handler: DurableHandler): Promise<Consumer>;
  kv(bucket: string, options?: KvOptions): Promise<KvStore>;
  /** Resolves when everything published so far has reached the server. */
  flush(): Promise<void>;
  /** Finishes in-flight handlers, then closes. */
  drain(): Promise<void>;
  close(): Promise<void>;
  readonly isClosed: boolean;
}
