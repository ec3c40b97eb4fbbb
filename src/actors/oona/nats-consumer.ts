/**
 * One member of a durable JetStream consumer (see nats-streams.ts for the
 * dead-letter design): a pull loop that never holds more messages than it
 * has free handler slots, and the DurableMessage it hands to handlers.
 *
 * While pulls fail (a server lost, the consumer's leader being elected, no
 * server reachable) the loop asks again every second, tells the node's
 * health (its `jetstream` breaker) and logs once when it starts failing,
 * then once per {@link PULL_FAILURE_LOG_MS} — not once per attempt — and
 * once when a pull is answered again.
 */
import type { Consumer as NatsConsumer, ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import { systemClock, type Clock } from '../../infra/clock.ts';
import { LogThrottle } from '../../infra/log-throttle.ts';
import type { ConsumerConfig, DeadLetter, DurableHandler, DurableMessage, Headers } from './bus.ts';
import { InflightTracker, PayloadView, decodeJson, type BusInstruments } from './message.ts';
import { fromNatsHeaders } from './nats-headers.ts';
import { mapNatsError } from './nats-errors.ts';
import { noteTransientFailure, type RetryObserver } from './retry.ts';

export const MSG_ID_HEADER = 'Nats-Msg-Id';
/** How long one pull waits for messages before asking again. */
const PULL_EXPIRES_MS = 5000;
/** Wait after a failed pull before the next, ms. */
export const PULL_RETRY_MS = 1000;
/** While pulls keep failing, one log line per this many ms. */
export const PULL_FAILURE_LOG_MS = 10_000;

/** The fields of a max-deliveries advisory that Oona uses. */
export interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

function isAdvisory(value: unknown): value is MaxDeliveriesAdvisory {
  const v = value as Partial<MaxDeliveriesAdvisory> | null;
  return typeof v === 'object' && v !== null && typeof v.stream_seq === 'number' && typeof v.deliveries === 'number';
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What a member needs from the bus's JetStream side. */
export interface ConsumerHost {
  readonly instruments: BusInstruments;
  readonly connection: NatsConnection;
  /** Told when pulls start failing and when they are answered again (the node's NATS health). */
  readonly observer?: RetryObserver | undefined;
  /** Time and timers of the retry loop. @default systemClock */
  readonly clock?: Clock | undefined;
  deadLetterSubject(config: ConsumerConfig): string;
  publishDeadLetter(subject: string, letter: DeadLetter): void;
  onMaxDeliveries(config: ConsumerConfig, workQueue: boolean, advisory: MaxDeliveriesAdvisory): Promise<void>;
}

/** One member of a durable consumer: a pull loop that never holds more than `maxInFlight` messages. */
export class PullMember {
  readonly #owner: ConsumerHost;
  readonly #consumer: NatsConsumer;
  readonly #config: ConsumerConfig;
  readonly #handler: DurableHandler;
  readonly #max: number;
  readonly #heartbeatMs: number;
  readonly #tracker = new InflightTracker();
  readonly #advisory;
  readonly #loop: Promise<void>;
  readonly #clock: Clock;
  readonly #failureLog: LogThrottle;
  /** Pulls failed in a row, and since when. */
  #failures = 0;
  #failingSince = 0;
  #batch: ConsumerMessages | undefined;
  #stopped = false;
  #slotFreed: (() => void) | undefined;

  constructor(owner: ConsumerHost, consumer: NatsConsumer, config: ConsumerConfig, workQueue: boolean, handler: DurableHandler) {
    this.#owner = owner;
    this.#consumer = consumer;
    this.#config = config;
    this.#handler = handler;
    this.#max = Math.max(1, config.maxInFlight ?? 1);
    this.#clock = owner.clock ?? systemClock;
    this.#failureLog = new LogThrottle(PULL_FAILURE_LOG_MS, () => this.#clock.now());
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
          this.#answered();
          if (this.#stopped) {
            m.nak(); // hand it straight to another member
            continue;
          }
          void this.#run(m);
        }
        // Ended without an error: the server answered (a 408 at expiry), unless the connection went away meanwhile.
        if (!this.#owner.connection.isClosed()) this.#answered();
      } catch (error) {
        if (this.#stopped || this.#owner.connection.isClosed()) break;
        this.#failed(error);
        await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, PULL_RETRY_MS));
      } finally {
        this.#batch = undefined;
      }
    }
    // Stopped while failing: the node's health must not stay degraded for a loop that is gone.
    if (this.#failures > 0) this.#owner.observer?.settled(this.#what, false, this.#failures, this.#clock.now() - this.#failingSince);
  }

  get #what(): string {
    return `pull ${this.#config.stream}/${this.#config.durable}`;
  }

  #failed(error: unknown): void {
    const now = this.#clock.now();
    if (this.#failures === 0) this.#failingSince = now;
    this.#failures++;
    this.#owner.observer?.failing(this.#what, error, this.#failures, PULL_RETRY_MS);
    if (this.#failureLog.allow()) {
      this.#owner.instruments.logger.warn(
        { err: error, stream: this.#config.stream, durable: this.#config.durable, failures: this.#failures, failingForMs: now - this.#failingSince },
        `pull failed; retrying every ${PULL_RETRY_MS} ms (logged once per ${PULL_FAILURE_LOG_MS / 1000} s while it fails)`,
      );
    }
  }

  /** A pull was answered: ends a failing streak, if one. */
  #answered(): void {
    if (this.#failures === 0) return;
    const outageMs = this.#clock.now() - this.#failingSince;
    this.#owner.instruments.logger.info({ stream: this.#config.stream, durable: this.#config.durable, failures: this.#failures, outageMs }, 'pull answered again');
    this.#owner.observer?.settled(this.#what, true, this.#failures + 1, outageMs);
    this.#failures = 0;
    this.#failureLog.reset();
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
  readonly #owner: ConsumerHost;
  readonly #config: ConsumerConfig;
  #headers: Headers | undefined;
  settled = false;

  constructor(m: JsMsg, owner: ConsumerHost, config: ConsumerConfig) {
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
      const mapped = mapNatsError(error, { what: `ack ${this.stream}#${this.seq}`, fallback: 'ESPER_STREAM_ERROR' });
      noteTransientFailure(this.#owner.observer, `ack ${this.stream}/${this.#config.durable}`, mapped);
      throw mapped;
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
