/**
 * Durable streams over JetStream: streams, de-duplicated publishing, durable
 * pull consumers shared by several members, and dead letters.
 *
 * Dead letters. The server does not move a message anywhere when its
 * deliveries run out; it only emits the advisory
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`. Every
 * `consume()` call therefore also subscribes to that advisory, in one queue
 * group per durable, so exactly one live member turns each advisory into a
 * DeadLetter: it fetches the message by stream sequence, publishes the JSON
 * on the dead-letter subject and, on a work-queue stream, deletes it. The
 * listener lives with whoever consumes — not with whoever received the last
 * delivery — so a member that died holding the message is covered by the
 * survivors; and the server only emits the advisory while some member pulls,
 * so someone is always there to hear it. What is not covered: advisories are
 * core NATS, so one emitted during a network partition of every member is
 * lost and the message stays in the stream (visible with `nats stream view`).
 * `term(reason)` publishes its dead letter itself, then terms.
 */
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type ConsumerConfig as NatsConsumerConfig,
  type Consumer as NatsConsumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StoredMsg,
} from 'nats';
import { BusError } from '../../errors/index.ts';
import type { Consumer, ConsumerConfig, DeadLetter, DurableHandler, DurableMessage, DurablePublishOptions, Headers, PublishAck, StreamConfig } from './bus.ts';
import { InflightTracker, PayloadView, decodeJson, type BusInstruments } from './message.ts';
import { fromNatsHeaders, toNatsHeaders } from './nats-headers.ts';
import { JS_CONSUMER_NOT_FOUND, JS_STREAM_NOT_FOUND, isApiError, mapNatsError } from './nats-errors.ts';

const MSG_ID_HEADER = 'Nats-Msg-Id';
/** How long one pull waits for messages before asking again. */
const PULL_EXPIRES_MS = 5000;

/** The advisory payload fields we use. */
interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

function isAdvisory(value: unknown): value is MaxDeliveriesAdvisory {
  const v = value as Partial<MaxDeliveriesAdvisory> | null;
  return typeof v === 'object' && v !== null && typeof v.stream_seq === 'number' && typeof v.deliveries === 'number';
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The JetStream side of one NatsBus. */
export class NatsStreams {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #instruments: BusInstruments;
  readonly #deadLetterSubject: (stream: string) => string;
  #jsm: Promise<JetStreamManager> | undefined;
  readonly #consumers = new Set<(graceMs?: number) => Promise<void>>();

  constructor(nc: NatsConnection, instruments: BusInstruments, deadLetterSubject: (stream: string) => string) {
    this.#nc = nc;
    this.#js = nc.jetstream();
    this.#instruments = instruments;
    this.#deadLetterSubject = deadLetterSubject;
  }

  /** The manager, created on first use so a core-only server still serves pub/sub. */
  #manager(): Promise<JetStreamManager> {
    this.#jsm ??= this.#nc.jetstreamManager().catch((error: unknown) => {
      this.#jsm = undefined;
      throw mapNatsError(error, { what: 'JetStream', fallback: 'ESPER_STREAM_ERROR' });
    });
    return this.#jsm;
  }

  async ensure(config: StreamConfig): Promise<void> {
    const jsm = await this.#manager();
    const maxAgeMs = config.maxAgeMs ?? 0;
    const window = config.duplicateWindowMs ?? 120_000;
    const settings = {
      subjects: [...config.subjects],
      // The server refuses a duplicate window longer than the max age.
      duplicate_window: nanos(maxAgeMs > 0 ? Math.min(window, maxAgeMs) : window),
      max_age: nanos(maxAgeMs),
    };
    const retention = config.workQueue === true ? RetentionPolicy.Workqueue : RetentionPolicy.Limits;
    const what = `ensure stream ${config.name}`;
    try {
      const info = await jsm.streams.info(config.name);
      if (info.config.retention !== retention) {
        throw new BusError('ESPER_STREAM_ERROR', `stream ${config.name}: retention cannot change between limits and work queue`);
      }
      await jsm.streams.update(config.name, settings);
    } catch (error) {
      if (!isApiError(error, JS_STREAM_NOT_FOUND)) throw mapNatsError(error, { what, fallback: 'ESPER_STREAM_ERROR' });
      try {
        await jsm.streams.add({ name: config.name, retention, storage: StorageType.File, ...settings });
      } catch (addError) {
        throw mapNatsError(addError, { what, fallback: 'ESPER_STREAM_ERROR' });
      }
    }
  }

  async delete(name: string): Promise<void> {
    const jsm = await this.#manager();
    try {
      await jsm.streams.delete(name);
    } catch (error) {
      if (!isApiError(error, JS_STREAM_NOT_FOUND)) throw mapNatsError(error, { what: `delete stream ${name}`, fallback: 'ESPER_STREAM_ERROR' });
    }
  }

  async publish(subject: string, data: Uint8Array, options?: DurablePublishOptions): Promise<PublishAck> {
    try {
      const ack =
        options === undefined
          ? await this.#js.publish(subject, data)
          : await this.#js.publish(subject, data, {
              ...(options.msgId === undefined ? {} : { msgID: options.msgId }),
              ...(options.headers === undefined ? {} : { headers: toNatsHeaders(options.headers) }),
            });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      const mapped = mapNatsError(error, { what: `durable publish to ${subject}`, fallback: 'ESPER_STREAM_ERROR', details: { subject } });
      // A JetStream publish nobody answers means no stream captures the subject.
      if (mapped instanceof BusError && mapped.code === 'ESPER_NO_RESPONDERS') {
        throw new BusError('ESPER_STREAM_ERROR', `no stream captures subject ${subject}`, { details: { subject }, cause: error });
      }
      throw mapped;
    }
  }

  async consume(config: ConsumerConfig, handler: DurableHandler): Promise<Consumer> {
    const jsm = await this.#manager();
    const what = `consume ${config.stream}/${config.durable}`;
    const wanted: Partial<NatsConsumerConfig> = {
      ack_wait: nanos(config.ackWaitMs ?? 30_000),
      max_deliver: config.maxDeliver ?? 5,
      ...(config.filterSubject === undefined ? {} : { filter_subject: config.filterSubject }),
    };
    let workQueue: boolean;
    let consumer: NatsConsumer;
    try {
      workQueue = (await jsm.streams.info(config.stream)).config.retention === RetentionPolicy.Workqueue;
      try {
        const info = await jsm.consumers.info(config.stream, config.durable);
        const c = info.config;
        if (c.ack_wait !== wanted.ack_wait || c.max_deliver !== wanted.max_deliver || c.filter_subject !== wanted.filter_subject) {
          await jsm.consumers.update(config.stream, config.durable, wanted);
        }
      } catch (error) {
        if (!isApiError(error, JS_CONSUMER_NOT_FOUND)) throw error;
        await jsm.consumers.add(config.stream, {
          ...wanted,
          durable_name: config.durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
        });
      }
      consumer = await this.#js.consumers.get(config.stream, config.durable);
    } catch (error) {
      throw mapNatsError(error, { what, fallback: 'ESPER_STREAM_ERROR', details: { stream: config.stream, durable: config.durable } });
    }
    const member = new PullMember(this, consumer, config, workQueue, handler);
    const stop = (graceMs?: number): Promise<void> => {
      this.#consumers.delete(stop);
      return member.stop(graceMs);
    };
    this.#consumers.add(stop);
    return { stop: () => stop() };
  }

  /** Stops every consumer of this bus (drain, close); `graceMs` bounds the wait for running handlers. */
  async stopAll(graceMs?: number): Promise<void> {
    await Promise.all([...this.#consumers].map((stop) => stop(graceMs)));
  }

  /** @internal */
  get instruments(): BusInstruments {
    return this.#instruments;
  }

  /** @internal */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /** @internal */
  deadLetterSubject(config: ConsumerConfig): string {
    return config.deadLetterSubject ?? this.#deadLetterSubject(config.stream);
  }

  /** @internal publishes a dead letter (core NATS: fire and forget, like the advisory it answers). */
  publishDeadLetter(subject: string, letter: DeadLetter): void {
    this.#instruments.logger.warn(
      { stream: letter.stream, consumer: letter.consumer, seq: letter.seq, deliveries: letter.deliveries, reason: letter.reason },
      'durable message dead-lettered',
    );
    this.#nc.publish(subject, JSON.stringify(letter));
    this.#instruments.countOut();
  }

  /** @internal turns a max-deliveries advisory into a dead letter. */
  async onMaxDeliveries(config: ConsumerConfig, workQueue: boolean, advisory: MaxDeliveriesAdvisory): Promise<void> {
    const jsm = await this.#manager();
    let stored: StoredMsg;
    try {
      stored = await jsm.streams.getMessage(config.stream, { seq: advisory.stream_seq });
    } catch (error) {
      // Gone already (aged out, or another member handled it): nothing to move.
      this.#instruments.logger.warn({ err: error, stream: config.stream, seq: advisory.stream_seq }, 'dead letter: message no longer in stream');
      return;
    }
    const headers = fromNatsHeaders(stored.header);
    const letter: DeadLetter = {
      stream: config.stream,
      consumer: config.durable,
      subject: stored.subject,
      seq: stored.seq,
      deliveries: advisory.deliveries,
      reason: 'max_deliveries',
      dataBase64: Buffer.from(stored.data).toString('base64'),
    };
    const msgId = headers[MSG_ID_HEADER];
    if (msgId !== undefined) letter.msgId = msgId;
    this.publishDeadLetter(this.deadLetterSubject(config), letter);
    // A work queue hands the message over; a limits stream keeps it for its other readers.
    if (workQueue) await jsm.streams.deleteMessage(config.stream, stored.seq, false).catch(() => false);
  }
}

/** One member of a durable consumer: a pull loop that never holds more than `maxInFlight` messages. */
class PullMember {
  readonly #owner: NatsStreams;
  readonly #consumer: NatsConsumer;
  readonly #config: ConsumerConfig;
  readonly #handler: DurableHandler;
  readonly #max: number;
  readonly #heartbeatMs: number;
  readonly #tracker = new InflightTracker();
  readonly #advisory;
  readonly #loop: Promise<void>;
  #batch: ConsumerMessages | undefined;
  #stopped = false;
  #slotFreed: (() => void) | undefined;

  constructor(owner: NatsStreams, consumer: NatsConsumer, config: ConsumerConfig, workQueue: boolean, handler: DurableHandler) {
    this.#owner = owner;
    this.#consumer = consumer;
    this.#config = config;
    this.#handler = handler;
    this.#max = Math.max(1, config.maxInFlight ?? 1);
    // The server drops the pull request of a member that went away (stopped, crashed) only at
    // its next wait-queue pass, which runs at the heartbeat interval; until then a redelivery
    // can go to the dead member's inbox and cost a whole extra ack wait. So beat well within
    // the ack wait.
    this.#heartbeatMs = Math.min(2000, Math.max(100, Math.floor((config.ackWaitMs ?? 30_000) / 4)));
    const { logger } = owner.instruments;
    // One queue group per durable: each advisory is handled by exactly one live member.
    this.#advisory = owner.connection.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${config.stream}.${config.durable}`, {
      queue: `esper-dlq.${config.stream}.${config.durable}`,
      callback: (error, msg) => {
        if (error !== null) return;
        const advisory = decodeJson(msg.data);
        if (!advisory.ok || !isAdvisory(advisory.value)) {
          logger.warn({ subject: msg.subject }, 'unreadable max-deliveries advisory');
          return;
        }
        owner.onMaxDeliveries(config, workQueue, advisory.value).catch((e: unknown) => logger.error({ err: e }, 'dead letter failed'));
      },
    });
    this.#loop = this.#pull();
  }

  async #pull(): Promise<void> {
    const { logger } = this.#owner.instruments;
    while (!this.#stopped) {
      // Pull only what free slots can take: nothing waits in a buffer while its ack wait runs out.
      while (this.#tracker.count >= this.#max && !this.#stopped) {
        await new Promise<void>((resolve) => (this.#slotFreed = resolve));
      }
      if (this.#stopped) break;
      try {
        this.#batch = await this.#consumer.fetch({
          max_messages: this.#max - this.#tracker.count,
          expires: PULL_EXPIRES_MS,
          idle_heartbeat: this.#heartbeatMs,
        });
        // stop() may have come while the pull was being set up: end it now, before anything arrives.
        if (this.#stopped) this.#batch.stop();
        for await (const m of this.#batch) {
          if (this.#stopped) {
            m.nak(); // hand it straight to another member
            continue;
          }
          void this.#run(m);
        }
      } catch (error) {
        if (this.#stopped || this.#owner.connection.isClosed()) break;
        logger.warn({ err: error, stream: this.#config.stream, durable: this.#config.durable }, 'pull failed; retrying');
        await delay(1000);
      } finally {
        this.#batch = undefined;
      }
    }
  }

  async #run(m: JsMsg): Promise<void> {
    this.#tracker.enter();
    const message = new NatsDurableMessage(m, this.#owner, this.#config);
    try {
      this.#owner.instruments.countIn();
      await this.#handler(message);
    } catch (error) {
      this.#owner.instruments.handlerFailed(m.subject, error);
      if (!message.settled) message.nak();
    } finally {
      this.#tracker.leave();
      const wake = this.#slotFreed;
      this.#slotFreed = undefined;
      wake?.();
    }
  }

  /** Stops pulling and waits for running handlers (at most `graceMs` when given); unacked messages go to others after the ack wait. */
  async stop(graceMs?: number): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#advisory.unsubscribe();
      this.#batch?.stop();
      const wake = this.#slotFreed;
      this.#slotFreed = undefined;
      wake?.();
    }
    const done = Promise.all([this.#loop, this.#tracker.idle()]).then(() => undefined);
    await (graceMs === undefined ? done : Promise.race([done, delay(graceMs)]));
  }
}

class NatsDurableMessage extends PayloadView implements DurableMessage {
  readonly #m: JsMsg;
  readonly #owner: NatsStreams;
  readonly #config: ConsumerConfig;
  #headers: Headers | undefined;
  settled = false;

  constructor(m: JsMsg, owner: NatsStreams, config: ConsumerConfig) {
    super();
    this.#m = m;
    this.#owner = owner;
    this.#config = config;
  }

  get subject(): string {
    return this.#m.subject;
  }
  get data(): Uint8Array {
    return this.#m.data;
  }
  get headers(): Headers {
    this.#headers ??= fromNatsHeaders(this.#m.headers);
    return this.#headers;
  }
  get stream(): string {
    return this.#m.info.stream;
  }
  get seq(): number {
    return this.#m.info.streamSequence;
  }
  get deliveryCount(): number {
    return this.#m.info.deliveryCount;
  }
  get msgId(): string | undefined {
    return this.headers[MSG_ID_HEADER];
  }

  async ack(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    try {
      // Confirmed by the server, so "acked" really means it will not come back.
      await this.#m.ackAck();
    } catch (error) {
      throw mapNatsError(error, { what: `ack ${this.stream}#${this.seq}`, fallback: 'ESPER_STREAM_ERROR' });
    }
  }

  nak(delayMs?: number): void {
    if (this.settled) return;
    this.settled = true;
    this.#m.nak(delayMs);
  }

  term(reason?: string): void {
    if (this.settled) return;
    this.settled = true;
    const letter: DeadLetter = {
      stream: this.stream,
      consumer: this.#config.durable,
      subject: this.subject,
      seq: this.seq,
      deliveries: this.deliveryCount,
      reason: 'terminated',
      dataBase64: Buffer.from(this.data).toString('base64'),
    };
    if (reason !== undefined) letter.detail = reason;
    const msgId = this.msgId;
    if (msgId !== undefined) letter.msgId = msgId;
    this.#owner.publishDeadLetter(this.#owner.deadLetterSubject(this.#config), letter);
    // No reason on the wire: servers before 2.11 do not recognise "+TERM <reason>" and would redeliver.
    this.#m.term();
  }
}
