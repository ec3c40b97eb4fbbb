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
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type StoredMsg,
} from 'nats';
import { BusError } from '../../errors/index.ts';
import type { Consumer, ConsumerConfig, DeadLetter, DurableHandler, DurablePublishOptions, PublishAck, StreamConfig } from './bus.ts';
import type { BusInstruments } from './message.ts';
import { MSG_ID_HEADER, PullMember, type ConsumerHost, type MaxDeliveriesAdvisory } from './nats-consumer.ts';
import { fromNatsHeaders, toNatsHeaders } from './nats-headers.ts';
import { JS_CONSUMER_NOT_FOUND, JS_STREAM_NOT_FOUND, NO_STREAM, isApiError, mapNatsError } from './nats-errors.ts';
import { raiseStreamReplicas } from './nats-replicas.ts';
import { noteTransientFailure, type RetryObserver } from './retry.ts';

/** The JetStream side of one NatsBus. */
export class NatsStreams implements ConsumerHost {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #instruments: BusInstruments;
  readonly #deadLetterSubject: (stream: string) => string;
  readonly #replicas: number;
  #jsm: Promise<JetStreamManager> | undefined;
  readonly #consumers = new Set<(graceMs?: number) => Promise<void>>();
  /** Told when a consumer's pulls fail and recover (the node's NATS health; set once it exists). */
  observer: RetryObserver | undefined;

  constructor(nc: NatsConnection, instruments: BusInstruments, deadLetterSubject: (stream: string) => string, replicas = 1) {
    this.#nc = nc;
    this.#replicas = replicas;
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
      const unchanged =
        info.config.subjects.join('\n') === settings.subjects.join('\n') &&
        info.config.duplicate_window === settings.duplicate_window &&
        info.config.max_age === settings.max_age &&
        info.config.num_replicas >= this.#replicas;
      // Idempotent and cheap: every writer ensures before it writes, so an unchanged stream costs one info.
      if (!unchanged) await jsm.streams.update(config.name, settings);
      // Raised, never lowered (an operator may have given it more).
      if (info.config.num_replicas < this.#replicas) await raiseStreamReplicas(jsm, config.name, this.#replicas);
    } catch (error) {
      if (!isApiError(error, JS_STREAM_NOT_FOUND)) throw mapNatsError(error, { what, fallback: 'ESPER_STREAM_ERROR' });
      try {
        await jsm.streams.add({ name: config.name, retention, storage: StorageType.File, num_replicas: this.#replicas, ...settings });
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

  /** The hot path of durable publishing: one nats.js call, no extra awaits (nats.js's PubAck already has our fields). */
  publish(subject: string, data: Uint8Array, options?: DurablePublishOptions): Promise<PublishAck> {
    const sent =
      options === undefined
        ? this.#js.publish(subject, data)
        : this.#js.publish(subject, data, {
            ...(options.msgId === undefined ? {} : { msgID: options.msgId }),
            ...(options.headers === undefined ? {} : { headers: toNatsHeaders(options.headers) }),
          });
    return sent.catch((error: unknown) => {
      const mapped = mapNatsError(error, { what: `durable publish to ${subject}`, fallback: 'ESPER_STREAM_ERROR', details: { subject } });
      // A JetStream publish nobody answers means no stream captures the subject.
      if (mapped instanceof BusError && mapped.code === 'ESPER_NO_RESPONDERS') {
        throw new BusError('ESPER_STREAM_ERROR', `no stream captures subject ${subject}`, { details: { subject, reason: NO_STREAM }, cause: error });
      }
      noteTransientFailure(this.observer, 'durable publish', mapped);
      throw mapped;
    });
  }

  async consume(config: ConsumerConfig, handler: DurableHandler): Promise<Consumer> {
    const jsm = await this.#manager();
    const what = `consume ${config.stream}/${config.durable}`;
    const wanted: Partial<NatsConsumerConfig> = {
      ack_wait: nanos(config.ackWaitMs ?? 30_000),
      max_deliver: config.maxDeliver ?? 5,
      ...(config.maxAckPending === undefined ? {} : { max_ack_pending: config.maxAckPending }),
      ...(config.filterSubject === undefined ? {} : { filter_subject: config.filterSubject }),
    };
    let workQueue: boolean;
    let consumer: NatsConsumer;
    try {
      workQueue = (await jsm.streams.info(config.stream)).config.retention === RetentionPolicy.Workqueue;
      try {
        const info = await jsm.consumers.info(config.stream, config.durable);
        const c = info.config;
        if (c.ack_wait !== wanted.ack_wait || c.max_deliver !== wanted.max_deliver || (wanted.max_ack_pending !== undefined && c.max_ack_pending !== wanted.max_ack_pending) || c.filter_subject !== wanted.filter_subject) {
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

  get instruments(): BusInstruments {
    return this.#instruments;
  }

  get connection(): NatsConnection {
    return this.#nc;
  }

  deadLetterSubject(config: ConsumerConfig): string {
    return config.deadLetterSubject ?? this.#deadLetterSubject(config.stream);
  }

  /** Publishes a dead letter (core NATS: fire and forget, like the advisory it answers). */
  publishDeadLetter(subject: string, letter: DeadLetter): void {
    this.#instruments.logger.warn(
      { stream: letter.stream, consumer: letter.consumer, seq: letter.seq, deliveries: letter.deliveries, reason: letter.reason },
      'durable message dead-lettered',
    );
    this.#nc.publish(subject, JSON.stringify(letter));
    this.#instruments.countOut();
  }

  /** Turns a max-deliveries advisory into a dead letter. */
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
