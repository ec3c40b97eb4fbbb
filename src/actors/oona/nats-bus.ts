/**
 * Oona over NATS (nats.js 2.29): core pub/sub, queue groups and
 * request/reply, with durable streams (nats-streams.ts) and KV buckets
 * (nats-kv.ts) over JetStream. The wrapper is kept thin on the hot paths —
 * bytes pass through untouched, headers are converted only when present and
 * inbound headers only when read — so Oona costs little over raw nats.js
 * (see bench/oona.bench.ts).
 */
import { connect, Events, type ConnectionOptions, type Msg, type NatsConnection, type Subscription as NatsSubscription } from 'nats';
import { subjects as subjectBuilders } from '../../contracts/subjects.ts';
import type {
  Bus,
  Consumer,
  ConsumerConfig,
  DurableHandler,
  DurablePublishOptions,
  Headers,
  InboundMessage,
  KvOptions,
  KvStore,
  MessageHandler,
  Payload,
  PublishAck,
  PublishOptions,
  RequestOptions,
  StreamConfig,
  SubscribeOptions,
  Subscription,
} from './bus.ts';
import { BaseInboundMessage, BusInstruments, encodePayload, InflightTracker, type BusInstrumentOptions } from './message.ts';
import { mapNatsError } from './nats-errors.ts';
import { fromNatsHeaders, toNatsHeaders } from './nats-headers.ts';
import { openNatsKv } from './nats-kv.ts';
import { NatsStreams } from './nats-streams.ts';
import { chooseReplicas, type ReplicaChoice } from './nats-replicas.ts';
import { retryTransient, type RetryObserver } from './retry.ts';

/**
 * How long {@link NatsBus.ensureStream} retries a transient failure (a timeout,
 * no responders, an election in progress) before it gives up, ms. A node that
 * starts while its JetStream cluster is still electing, or creating a
 * 3-replica stream, waits this out instead of failing its start.
 */
export const ENSURE_STREAM_BUDGET_MS = 30_000;

/** Options of the NATS bus, besides the nats.js connection options. */
export interface NatsBusOptions extends BusInstrumentOptions {
  /** Prefix of the default dead-letter subjects. @default 'esper' */
  subjectPrefix?: string;
  /**
   * Replicas of the streams and KV buckets this bus creates (existing ones
   * with fewer are raised). @default 3 when the server reports a cluster of
   * ≥ 3 servers with JetStream, else 1 ({@link chooseReplicas})
   */
  replicas?: number | undefined;
}

class NatsInboundMessage extends BaseInboundMessage {
  readonly #msg: Msg;
  readonly #bus: NatsBus;
  #headers: Headers | undefined;

  constructor(msg: Msg, bus: NatsBus) {
    super();
    this.#msg = msg;
    this.#bus = bus;
  }

  get subject(): string {
    return this.#msg.subject;
  }

  get data(): Uint8Array {
    return this.#msg.data;
  }

  get reply(): string | undefined {
    const reply = this.#msg.reply;
    return reply === undefined || reply === '' ? undefined : reply;
  }

  get headers(): Headers {
    // Lazily: most handlers never look at headers.
    this.#headers ??= fromNatsHeaders(this.#msg.headers);
    return this.#headers;
  }

  respond(payload: Payload, options?: { headers?: Headers }): boolean {
    if (this.reply === undefined) return false;
    this.#bus.publish(this.reply, payload, options);
    return true;
  }
}

/** Oona over a NATS connection. */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  /** The underlying connection (for NATS-only features such as micro services). */
  readonly connection: NatsConnection;
  readonly #instruments: BusInstruments;
  readonly #streams: NatsStreams;
  readonly #subs = new Set<{ sub: NatsSubscription; tracker: InflightTracker }>();
  /** How the replica count was chosen (the node logs it once). */
  readonly replicaChoice: ReplicaChoice;
  #draining = false;
  #connected = true;
  #disconnectedSince: number | undefined;
  #reconnects = 0;

  private constructor(connection: NatsConnection, options: NatsBusOptions) {
    this.connection = connection;
    this.#instruments = new BusInstruments('nats', options);
    this.replicaChoice = chooseReplicas(connection.info, options.replicas);
    const builders = subjectBuilders(options.subjectPrefix);
    this.#streams = new NatsStreams(connection, this.#instruments, (stream) => builders.deadLetter(stream), this.replicaChoice.replicas);
    void this.#watchStatus();
  }

  get replicas(): number {
    return this.replicaChoice.replicas;
  }

  /**
   * The connection as the node reports it: connected (to which server), or
   * for how long no server has been reachable; reconnections so far.
   */
  connectionHealth(now: number = Date.now()): { connected: boolean; server: string | undefined; disconnectedMs: number; reconnects: number } {
    const server = this.#connected ? this.connection.getServer() : undefined;
    return {
      connected: this.#connected,
      server: server === '' ? undefined : server,
      disconnectedMs: this.#disconnectedSince === undefined ? 0 : Math.max(0, now - this.#disconnectedSince),
      reconnects: this.#reconnects,
    };
  }

  /**
   * Connects to NATS. `connection` goes to nats.js unchanged (servers,
   * authentication, TLS, reconnection); failure to connect is
   * ESPER_BUS_UNAVAILABLE.
   */
  static async connect(connection: ConnectionOptions = {}, options: NatsBusOptions = {}): Promise<NatsBus> {
    try {
      return new NatsBus(await connect(connection), options);
    } catch (error) {
      throw mapNatsError(error, { what: `connect to ${String(connection.servers ?? 'nats://127.0.0.1:4222')}`, fallback: 'ESPER_BUS_UNAVAILABLE' });
    }
  }

  get isClosed(): boolean {
    return this.connection.isClosed();
  }

  /** Tells `observer` (the node's NATS health) of its JetStream failures: pulls failing and answered again, acks, KV operations and publishes that failed transiently. */
  observe(observer: RetryObserver): void {
    this.#streams.observer = observer;
  }

  publish(subject: string, payload: Payload, options?: PublishOptions): void {
    const data = payload instanceof Uint8Array ? payload : encodePayload(payload);
    try {
      if (options?.headers === undefined) this.connection.publish(subject, data);
      else this.connection.publish(subject, data, { headers: toNatsHeaders(options.headers) });
    } catch (error) {
      throw mapNatsError(error, { what: `publish to ${subject}`, fallback: 'ESPER_BUS_UNAVAILABLE' });
    }
    this.#instruments.countOut();
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): Subscription {
    const tracker = new InflightTracker();
    let sub: NatsSubscription;
    try {
      sub = this.connection.subscribe(subject, {
        ...(options?.queue === undefined ? {} : { queue: options.queue }),
        callback: (error, msg) => {
          if (error !== null) {
            // Permission violations and the like end the subscription on the server side.
            this.#instruments.logger.error({ subject, err: error }, 'subscription error');
            return;
          }
          this.#instruments.dispatch(handler, new NatsInboundMessage(msg, this), tracker);
        },
      });
    } catch (error) {
      throw mapNatsError(error, { what: `subscribe to ${subject}`, fallback: 'ESPER_BUS_UNAVAILABLE' });
    }
    const entry = { sub, tracker };
    this.#subs.add(entry);
    const closed = sub.closed
      .catch(() => undefined)
      .then(() => tracker.idle())
      .finally(() => this.#subs.delete(entry));
    return {
      subject,
      unsubscribe: (): void => {
        if (!sub.isClosed()) sub.unsubscribe();
      },
      closed,
    };
  }

  request(subject: string, payload: Payload, options: RequestOptions = {}): Promise<InboundMessage> {
    const timeout = options.timeoutMs ?? 5000;
    const data = payload instanceof Uint8Array ? payload : encodePayload(payload);
    let sent;
    try {
      sent = this.connection.request(subject, data, options.headers === undefined ? { timeout } : { timeout, headers: toNatsHeaders(options.headers) });
    } catch (error) {
      return Promise.reject(mapNatsError(error, { what: `request to ${subject}`, fallback: 'ESPER_BUS_UNAVAILABLE' }));
    }
    this.#instruments.countOut();
    // then(), not async/await: one promise hop less on the latency path.
    return sent.then(
      (reply) => {
        this.#instruments.countIn();
        return new NatsInboundMessage(reply, this);
      },
      (error: unknown) => {
        throw mapNatsError(error, { what: `request to ${subject}`, fallback: 'ESPER_BUS_UNAVAILABLE', details: { subject, timeoutMs: timeout } });
      },
    );
  }

  ensureStream(config: StreamConfig): Promise<void> {
    // Idempotent (info, then add or update), so safe to repeat after a timeout whose request may have landed.
    return retryTransient(() => this.#streams.ensure(config), {
      what: `ensure stream ${config.name}`,
      logger: this.#instruments.logger,
      budgetMs: ENSURE_STREAM_BUDGET_MS,
      observer: this.#streams.observer,
    });
  }

  deleteStream(name: string): Promise<void> {
    return this.#streams.delete(name);
  }

  publishDurable(subject: string, payload: Payload, options?: DurablePublishOptions): Promise<PublishAck> {
    this.#instruments.countOut();
    return this.#streams.publish(subject, payload instanceof Uint8Array ? payload : encodePayload(payload), options);
  }

  consume(config: ConsumerConfig, handler: DurableHandler): Promise<Consumer> {
    return this.#streams.consume(config, handler);
  }

  kv(bucket: string, options: KvOptions = {}): Promise<KvStore> {
    // Idempotent (binds to the bucket or creates it), so safe to repeat after a timeout: a node starting while the
    // cluster elects its JetStream leader (or under load) waits for it instead of failing to start.
    return retryTransient(() => openNatsKv(this.connection, bucket, options, this.#instruments, this.replicas, () => this.#streams.observer), {
      what: `open bucket ${bucket}`,
      logger: this.#instruments.logger,
      budgetMs: ENSURE_STREAM_BUDGET_MS,
      observer: this.#streams.observer,
    });
  }

  async flush(): Promise<void> {
    try {
      await this.connection.flush();
    } catch (error) {
      throw mapNatsError(error, { what: 'flush', fallback: 'ESPER_BUS_UNAVAILABLE' });
    }
  }

  /**
   * Graceful stop: consumers stop pulling, subscriptions stop receiving and
   * finish what they hold (async handlers included, so their replies still
   * leave), then the connection drains and closes.
   */
  async drain(): Promise<void> {
    if (this.isClosed || this.#draining) return;
    this.#draining = true;
    await this.#streams.stopAll();
    const subs = [...this.#subs];
    await Promise.all(subs.filter(({ sub }) => !sub.isClosed()).map(({ sub }) => sub.drain().catch(() => undefined)));
    await Promise.all(subs.map(({ tracker }) => tracker.idle()));
    try {
      await this.connection.drain();
    } catch (error) {
      if (!this.isClosed) throw mapNatsError(error, { what: 'drain', fallback: 'ESPER_BUS_UNAVAILABLE' });
    } finally {
      this.#instruments.close();
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    await this.#streams.stopAll(250);
    await this.connection.close();
    this.#instruments.close();
  }

  /**
   * Logs connection events and tracks whether a server is reachable; nats.js
   * reconnects by itself (to any server of the cluster: those configured and
   * those the servers advertise) and resubscribes every subscription.
   */
  async #watchStatus(): Promise<void> {
    const { logger } = this.#instruments;
    try {
      for await (const status of this.connection.status()) {
        if (status.type === Events.Disconnect) {
          this.#connected = false;
          this.#disconnectedSince ??= Date.now();
        } else if (status.type === Events.Reconnect) {
          this.#connected = true;
          this.#disconnectedSince = undefined;
          this.#reconnects++;
        }
        // One line per disconnection and per reconnection; the reconnect attempts in between are debug.
        const level = status.type === Events.Disconnect || status.type === Events.Error ? 'warn' : status.type === Events.Reconnect ? 'info' : 'debug';
        logger[level]({ status: status.type, data: status.data }, 'nats connection status');
      }
    } catch (error) {
      logger.debug({ err: error }, 'nats status stream ended');
    }
  }
}
