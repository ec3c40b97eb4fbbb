/**
 * The in-process bus: Oona in embedded mode (one node, no NATS server). It
 * mimics NATS closely enough that the same contract suite passes on both:
 * asynchronous delivery (a handler never runs inside `publish`), `*`/`>`
 * wildcards, queue groups, request/reply with immediate no-responders,
 * headers, durable streams and KV buckets (see memory-streams.ts, memory-kv.ts).
 */
import { randomUUID } from 'node:crypto';
import { BusError } from '../../errors/index.ts';
import { subjects as subjectBuilders } from '../../contracts/subjects.ts';
import { systemClock, type Clock } from '../../infra/clock.ts';
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
import { attempt, BaseInboundMessage, BusInstruments, encodePayload, InflightTracker, NO_STREAM, type BusInstrumentOptions } from './message.ts';
import { MemoryKv } from './memory-kv.ts';
import { MemoryStreams, MSG_ID_HEADER } from './memory-streams.ts';
import { isValidPattern, isValidSubject, matchTokens, tokenize } from './subject-match.ts';

/** Options of the in-process bus. */
export interface MemoryBusOptions extends BusInstrumentOptions {
  /** Prefix of the default dead-letter subjects. @default 'esper' */
  subjectPrefix?: string;
  /** Time source for ack waits, timeouts and TTLs. @default the real clock */
  clock?: Clock;
}

const NO_HEADERS: Headers = Object.freeze({});
const INBOX_PREFIX = '_INBOX.';

interface MemorySubscription {
  readonly subject: string;
  readonly tokens: readonly string[];
  /** `<pattern> <queue>`: NATS balances a queue group among subscriptions of one pattern. */
  readonly group: string | undefined;
  readonly handler: MessageHandler;
  readonly tracker: InflightTracker;
  /** A request's reply inbox: kept through drain so replies still arrive. */
  readonly inbox: boolean;
  /** Settles when the subscription stops (unsubscribe, drain or close). */
  readonly stopped: Promise<void>;
  active: boolean;
}

interface Delivery {
  sub: MemorySubscription;
  message: MemoryMessage;
}

class MemoryMessage extends BaseInboundMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly reply: string | undefined;
  readonly #bus: MemoryBus;

  constructor(bus: MemoryBus, subject: string, data: Uint8Array, headers: Headers, reply: string | undefined) {
    super();
    this.subject = subject;
    this.data = data;
    this.headers = headers;
    this.reply = reply;
    this.#bus = bus;
  }

  respond(payload: Payload, options?: { headers?: Headers }): boolean {
    if (this.reply === undefined) return false;
    this.#bus.publish(this.reply, payload, options);
    return true;
  }
}

/** Oona in one process. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  /** One process, one copy. */
  readonly replicas = 1;
  readonly #clock: Clock;
  readonly #instruments: BusInstruments;
  readonly #prefix: string;
  #subs: MemorySubscription[] = [];
  readonly #turns = new Map<string, number>();
  #queue: Delivery[] = [];
  #scheduled = false;
  /** Resolves when the delivery queue is empty; used by drain. */
  #queueWaiters: (() => void)[] = [];
  readonly #requests = new Set<(error: BusError) => void>();
  readonly #consumers = new Set<Consumer>();
  readonly #streams: MemoryStreams;
  readonly #kv: MemoryKv;
  #closed = false;
  #draining = false;

  constructor(options: MemoryBusOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#instruments = new BusInstruments('memory', options);
    const dlq = subjectBuilders(options.subjectPrefix);
    this.#prefix = dlq.prefix;
    this.#streams = new MemoryStreams({
      clock: this.#clock,
      instruments: this.#instruments,
      deadLetterSubject: (stream) => dlq.deadLetter(stream),
      publish: (subject, payload) => this.publish(subject, payload),
    });
    this.#kv = new MemoryKv(this.#clock, this.#instruments);
  }

  /** The subject prefix this bus was built with. */
  get subjectPrefix(): string {
    return this.#prefix;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  publish(subject: string, payload: Payload, options?: PublishOptions): void {
    this.#route(subject, encodePayload(payload), options?.headers, undefined);
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): Subscription {
    this.#assertOpen();
    if (!isValidPattern(subject)) throw new RangeError(`invalid subscription subject ${JSON.stringify(subject)}`);
    let stop!: () => void;
    let active = true;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const sub: MemorySubscription = {
      subject,
      stopped,
      tokens: tokenize(subject),
      group: options?.queue === undefined ? undefined : `${subject} ${options.queue}`,
      handler,
      tracker: new InflightTracker(),
      inbox: subject.startsWith(INBOX_PREFIX),
      get active(): boolean {
        return active;
      },
      set active(value: boolean) {
        active = value;
        if (!value) stop();
      },
    };
    this.#subs.push(sub);
    return {
      subject,
      unsubscribe: (): void => {
        if (!sub.active) return;
        sub.active = false;
        this.#subs = this.#subs.filter((s) => s !== sub);
      },
      // Resolves only after unsubscribe (or close), once the handlers still running are done.
      closed: sub.stopped.then(() => sub.tracker.idle()),
    };
  }

  request(subject: string, payload: Payload, options: RequestOptions = {}): Promise<InboundMessage> {
    if (this.#closed || this.#draining) return Promise.reject(this.#closedError());
    const timeoutMs = options.timeoutMs ?? 5000;
    const tokens = tokenize(subject);
    // NATS answers "no responders" at once when no subscription matches; so do we.
    if (!this.#subs.some((s) => matchTokens(s.tokens, tokens))) {
      return Promise.reject(new BusError('ESPER_NO_RESPONDERS', `no responders for ${subject}`, { details: { subject } }));
    }
    const inbox = `${INBOX_PREFIX}${randomUUID()}`;
    return new Promise<InboundMessage>((resolve, reject) => {
      let inboxSub: Subscription | undefined = undefined;
      const finish = (): void => {
        this.#clock.clearTimeout(timer);
        inboxSub?.unsubscribe();
        this.#requests.delete(fail);
      };
      const fail = (error: BusError): void => {
        finish();
        reject(error);
      };
      const timer = this.#clock.setTimeout(
        () => fail(new BusError('ESPER_TIMEOUT', `request to ${subject} timed out after ${timeoutMs} ms`, { details: { subject, timeoutMs } })),
        timeoutMs,
      );
      this.#requests.add(fail);
      inboxSub = this.subscribe(inbox, (reply) => {
        finish();
        resolve(reply);
      });
      try {
        this.#route(subject, encodePayload(payload), options.headers, inbox);
      } catch (error) {
        finish();
        throw error; // inside the executor: rejects the promise
      }
    });
  }

  ensureStream(config: StreamConfig): Promise<void> {
    return this.#attempt(() => this.#streams.ensure(config));
  }

  deleteStream(name: string): Promise<void> {
    return this.#attempt(() => this.#streams.delete(name));
  }

  publishDurable(subject: string, payload: Payload, options: DurablePublishOptions = {}): Promise<PublishAck> {
    return this.#attempt(() => {
      if (!this.#streams.captures(subject)) {
        throw new BusError('ESPER_STREAM_ERROR', `no stream captures subject ${subject}`, { details: { subject, reason: NO_STREAM } });
      }
      const headers = options.msgId === undefined ? options.headers : { ...options.headers, [MSG_ID_HEADER]: options.msgId };
      return this.#route(subject, encodePayload(payload), headers, undefined) as PublishAck;
    });
  }

  consume(config: ConsumerConfig, handler: DurableHandler): Promise<Consumer> {
    return this.#attempt(() => {
      const consumer = this.#streams.consume(config, handler);
      const tracked: Consumer = {
        stop: async (): Promise<void> => {
          this.#consumers.delete(tracked);
          await consumer.stop();
        },
      };
      this.#consumers.add(tracked);
      return tracked;
    });
  }

  kv(bucket: string, options?: KvOptions): Promise<KvStore> {
    return this.#attempt(() => this.#kv.open(bucket, options));
  }

  /** In-process there is no server: everything published is already "there". */
  flush(): Promise<void> {
    return this.#closed ? Promise.reject(this.#closedError()) : Promise.resolve();
  }

  async drain(): Promise<void> {
    if (this.#closed || this.#draining) return;
    this.#draining = true;
    await Promise.all([...this.#consumers].map((c) => c.stop()));
    // What was published is still delivered; then the subscriptions stop and their handlers are awaited.
    await this.#queueEmpty();
    const subs = this.#subs.filter((s) => !s.inbox);
    this.#subs = this.#subs.filter((s) => s.inbox);
    for (const sub of subs) sub.active = false;
    await Promise.all(subs.map((s) => s.tracker.idle()));
    // Replies those handlers sent still reach this bus's own pending requests.
    await this.#queueEmpty();
    await this.close();
  }

  #queueEmpty(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#queueWaiters.push(resolve));
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const fail of [...this.#requests]) fail(this.#closedError());
    for (const sub of this.#subs) sub.active = false;
    this.#subs = [];
    this.#queue = [];
    this.#streams.close();
    this.#kv.close();
    for (const wake of this.#queueWaiters.splice(0)) wake();
    this.#instruments.close();
    return Promise.resolve();
  }

  #closedError(): BusError {
    return new BusError('ESPER_BUS_CLOSED', this.#draining && !this.#closed ? 'bus is draining' : 'bus is closed');
  }

  #assertOpen(): void {
    if (this.#closed || this.#draining) throw this.#closedError();
  }

  #assertNotClosed(): void {
    // While draining, handlers may still publish (answer requests), as on NATS.
    if (this.#closed) throw this.#closedError();
  }

  /** Runs a sync operation as the async API promises: errors become rejections. */
  #attempt<T>(operation: () => T): Promise<T> {
    return attempt(() => {
      this.#assertOpen();
      return operation();
    });
  }

  /** Delivers to matching subscriptions (one per queue group) and captures into a stream. */
  #route(subject: string, data: Uint8Array, headers: Headers | undefined, reply: string | undefined): PublishAck | undefined {
    this.#assertNotClosed();
    if (!isValidSubject(subject)) throw new RangeError(`invalid publish subject ${JSON.stringify(subject)}`);
    this.#instruments.countOut();
    const frozen = headers === undefined ? NO_HEADERS : Object.freeze({ ...headers });
    const message = new MemoryMessage(this, subject, data, frozen, reply);
    const tokens = tokenize(subject);
    let groups: Map<string, MemorySubscription[]> | undefined;
    for (const sub of this.#subs) {
      if (!matchTokens(sub.tokens, tokens)) continue;
      if (sub.group === undefined) {
        this.#queue.push({ sub, message });
      } else {
        groups ??= new Map();
        const members = groups.get(sub.group);
        if (members === undefined) groups.set(sub.group, [sub]);
        else members.push(sub);
      }
    }
    if (groups !== undefined) {
      for (const [group, members] of groups) {
        // Round robin: each message to exactly one member, spread evenly.
        const turn = this.#turns.get(group) ?? 0;
        this.#turns.set(group, turn + 1);
        this.#queue.push({ sub: members[turn % members.length] as MemorySubscription, message });
      }
    }
    this.#schedule();
    return subject.startsWith(INBOX_PREFIX) ? undefined : this.#streams.capture(subject, data, frozen);
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: a handler that publishes to itself must not starve I/O.
    setImmediate(() => this.#deliver());
  }

  #deliver(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    for (const { sub, message } of batch) {
      if (sub.active) this.#instruments.dispatch(sub.handler, message, sub.tracker);
    }
    if (this.#queue.length > 0) this.#schedule();
    else for (const wake of this.#queueWaiters.splice(0)) wake();
  }
}
