/**
 * Durable streams of the in-process bus: an in-memory imitation of the
 * JetStream features Esper relies on — capture by subject, de-duplication by
 * message id, durable pull consumers shared by several members, explicit
 * ack with ack-wait redelivery, max deliveries, dead letters, work-queue
 * retention. Nothing survives the process; that is the embedded mode's deal.
 */
import { BusError } from '../../errors/index.ts';
import type { Clock } from '../../infra/clock.ts';
import type {
  Consumer,
  ConsumerConfig,
  DeadLetter,
  DurableHandler,
  Headers,
  Payload,
  PublishAck,
  StreamConfig,
} from './bus.ts';
import { InflightTracker, type BusInstruments } from './message.ts';
import { MemoryDurableMessage, type Settlement, type StoredMessage } from './memory-message.ts';
import { isValidPattern, matchSubject, patternsOverlap } from './subject-match.ts';

/** The header NATS uses for the de-duplication id; kept in-process too, for parity. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';

const STREAM_NAME = /^[A-Za-z0-9_-]+$/;

/** What the streams need from the bus that owns them. */
export interface StreamHost {
  readonly clock: Clock;
  readonly instruments: BusInstruments;
  /** Default dead-letter subject of a stream. */
  deadLetterSubject(stream: string): string;
  /** Core publish, for dead letters. */
  publish(subject: string, payload: Payload): void;
}


interface Stream {
  config: Required<StreamConfig>;
  messages: Map<number, StoredMessage>;
  lastSeq: number;
  /** msgId → { seq, time } within the duplicate window. */
  seen: Map<string, { seq: number; time: number }>;
  durables: Map<string, Durable>;
}

interface Pending {
  deliveries: number;
  timer: unknown;
  /** Bumped at every delivery so a stale timer or message cannot act on a newer delivery. */
  token: number;
}

interface Member {
  handler: DurableHandler;
  maxInFlight: number;
  inFlight: number;
  stopped: boolean;
  tracker: InflightTracker;
}

interface Durable {
  stream: Stream;
  name: string;
  filter: string | undefined;
  ackWaitMs: number;
  maxDeliver: number;
  /** Unacked deliveries at most (redeliveries go first; new messages wait). */
  maxAckPending: number;
  deadLetterSubject: string;
  /** Next stream sequence never delivered to this durable. */
  nextSeq: number;
  pending: Map<number, Pending>;
  /** Sequences waiting for redelivery, ascending. */
  ready: number[];
  members: Member[];
  turn: number;
}


let tokens = 0;

function streamError(message: string, details?: Record<string, unknown>): BusError {
  return new BusError('ESPER_STREAM_ERROR', message, details === undefined ? {} : { details });
}

/** The durable streams of one memory bus. */
export class MemoryStreams {
  readonly #host: StreamHost;
  readonly #streams = new Map<string, Stream>();

  constructor(host: StreamHost) {
    this.#host = host;
  }

  ensure(config: StreamConfig): void {
    if (!STREAM_NAME.test(config.name)) throw streamError(`invalid stream name ${JSON.stringify(config.name)}`);
    if (config.subjects.length === 0 || !config.subjects.every(isValidPattern)) {
      throw streamError(`stream ${config.name}: invalid subjects ${JSON.stringify(config.subjects)}`);
    }
    for (const other of this.#streams.values()) {
      if (other.config.name === config.name) continue;
      const clash = config.subjects.find((s) => other.config.subjects.some((o) => patternsOverlap(s, o)));
      if (clash !== undefined) throw streamError(`stream ${config.name}: subject ${clash} overlaps stream ${other.config.name}`);
    }
    const maxAgeMs = config.maxAgeMs ?? 0;
    // As on the server, the duplicate window may not outlast the messages.
    const window = config.duplicateWindowMs ?? 120_000;
    const resolved: Required<StreamConfig> = {
      name: config.name,
      subjects: [...config.subjects],
      duplicateWindowMs: maxAgeMs > 0 ? Math.min(window, maxAgeMs) : window,
      maxAgeMs,
      workQueue: config.workQueue ?? false,
    };
    const existing = this.#streams.get(config.name);
    if (existing === undefined) {
      this.#streams.set(config.name, { config: resolved, messages: new Map(), lastSeq: 0, seen: new Map(), durables: new Map() });
      return;
    }
    if (existing.config.workQueue !== resolved.workQueue) {
      throw streamError(`stream ${config.name}: retention cannot change between limits and work queue`);
    }
    existing.config = resolved;
  }

  delete(name: string): void {
    const stream = this.#streams.get(name);
    if (stream === undefined) return;
    this.#streams.delete(name);
    for (const durable of stream.durables.values()) this.#detach(durable);
  }

  /** True when some stream captures `subject`. */
  captures(subject: string): boolean {
    return this.#streamFor(subject) !== undefined;
  }

  /** Stores a message in the stream that captures its subject; undefined when none does. */
  capture(subject: string, data: Uint8Array, headers: Headers): PublishAck | undefined {
    const stream = this.#streamFor(subject);
    if (stream === undefined) return undefined;
    const now = this.#host.clock.now();
    this.#expire(stream, now);
    const msgId = headers[MSG_ID_HEADER];
    if (msgId !== undefined) {
      const seen = stream.seen.get(msgId);
      if (seen !== undefined) return { stream: stream.config.name, seq: seen.seq, duplicate: true };
    }
    const seq = ++stream.lastSeq;
    stream.messages.set(seq, { seq, subject, data, headers, msgId, time: now });
    if (msgId !== undefined) stream.seen.set(msgId, { seq, time: now });
    for (const durable of stream.durables.values()) this.#pump(durable);
    return { stream: stream.config.name, seq, duplicate: false };
  }

  consume(config: ConsumerConfig, handler: DurableHandler): Consumer {
    const stream = this.#streams.get(config.stream);
    if (stream === undefined) throw streamError(`stream ${config.stream} not found`, { stream: config.stream });
    if (!STREAM_NAME.test(config.durable)) throw streamError(`invalid durable name ${JSON.stringify(config.durable)}`);
    let durable = stream.durables.get(config.durable);
    if (durable === undefined) {
      durable = {
        stream,
        name: config.durable,
        filter: undefined,
        ackWaitMs: 0,
        maxDeliver: 0,
        maxAckPending: Number.POSITIVE_INFINITY,
        deadLetterSubject: '',
        nextSeq: 1,
        pending: new Map(),
        ready: [],
        members: [],
        turn: 0,
      };
      stream.durables.set(config.durable, durable);
    }
    // Like a consumer update on the server: the latest member's settings win.
    durable.filter = config.filterSubject;
    durable.ackWaitMs = config.ackWaitMs ?? 30_000;
    durable.maxDeliver = config.maxDeliver ?? 5;
    durable.maxAckPending = config.maxAckPending ?? Number.POSITIVE_INFINITY;
    durable.deadLetterSubject = config.deadLetterSubject ?? this.#host.deadLetterSubject(stream.config.name);
    const member: Member = {
      handler,
      maxInFlight: Math.max(1, config.maxInFlight ?? 1),
      inFlight: 0,
      stopped: false,
      tracker: new InflightTracker(),
    };
    durable.members.push(member);
    this.#pump(durable);
    return {
      stop: async (): Promise<void> => {
        if (!member.stopped) {
          member.stopped = true;
          const d = durable;
          d.members = d.members.filter((m) => m !== member);
        }
        // Its unacked messages stay pending: the ack-wait timers hand them to the others.
        await member.tracker.idle();
      },
    };
  }

  /** Stops every timer; the bus is closing. */
  close(): void {
    for (const stream of this.#streams.values()) for (const durable of stream.durables.values()) this.#detach(durable);
    this.#streams.clear();
  }

  #streamFor(subject: string): Stream | undefined {
    for (const stream of this.#streams.values()) {
      if (stream.config.subjects.some((pattern) => matchSubject(pattern, subject))) return stream;
    }
    return undefined;
  }

  #expire(stream: Stream, now: number): void {
    const { maxAgeMs, duplicateWindowMs } = stream.config;
    for (const [id, seen] of stream.seen) {
      if (now - seen.time < duplicateWindowMs) break; // insertion order is time order
      stream.seen.delete(id);
    }
    if (maxAgeMs > 0) {
      for (const [seq, message] of stream.messages) {
        if (now - message.time < maxAgeMs) break;
        stream.messages.delete(seq);
      }
    }
  }

  #detach(durable: Durable): void {
    for (const member of durable.members) member.stopped = true;
    durable.members = [];
    for (const pending of durable.pending.values()) this.#host.clock.clearTimeout(pending.timer);
    durable.pending.clear();
    durable.ready = [];
  }

  /** Hands deliverable messages to members with free slots, round robin. */
  #pump(durable: Durable): void {
    if (!this.#streams.has(durable.stream.config.name)) return;
    this.#expire(durable.stream, this.#host.clock.now());
    for (;;) {
      const member = this.#nextMember(durable);
      if (member === undefined) return;
      const message = this.#nextMessage(durable);
      if (message === undefined) return;
      this.#deliver(durable, member, message);
    }
  }

  #nextMember(durable: Durable): Member | undefined {
    const { members } = durable;
    for (let i = 0; i < members.length; i++) {
      const member = members[(durable.turn + i) % members.length];
      if (member !== undefined && member.inFlight < member.maxInFlight) {
        durable.turn = (durable.turn + i + 1) % members.length;
        return member;
      }
    }
    return undefined;
  }

  #nextMessage(durable: Durable): StoredMessage | undefined {
    const { stream } = durable;
    while (durable.ready.length > 0) {
      const seq = durable.ready.shift() as number;
      const message = stream.messages.get(seq);
      if (message !== undefined && durable.pending.has(seq)) return message;
      durable.pending.delete(seq); // aged out or removed meanwhile
    }
    while (durable.nextSeq <= stream.lastSeq && durable.pending.size < durable.maxAckPending) {
      const message = stream.messages.get(durable.nextSeq++);
      if (message !== undefined && (durable.filter === undefined || matchSubject(durable.filter, message.subject))) return message;
    }
    return undefined;
  }

  #deliver(durable: Durable, member: Member, stored: StoredMessage): void {
    const { clock } = this.#host;
    let pending = durable.pending.get(stored.seq);
    if (pending === undefined) {
      pending = { deliveries: 0, timer: undefined, token: 0 };
      durable.pending.set(stored.seq, pending);
    }
    pending.deliveries++;
    const token = ++tokens;
    pending.token = token;
    clock.clearTimeout(pending.timer);
    pending.timer = clock.setTimeout(() => this.#ackWaitExpired(durable, stored.seq, token), durable.ackWaitMs);
    member.inFlight++;
    member.tracker.enter();
    const message = new MemoryDurableMessage(durable.stream.config.name, stored, pending.deliveries, (how, delayMs, detail) =>
      this.#settle(durable, stored.seq, token, how, delayMs, detail),
    );
    // Never inside publish: delivery is asynchronous, as over the network.
    setImmediate(() => {
      void this.#run(durable, member, message);
    });
  }

  async #run(durable: Durable, member: Member, message: MemoryDurableMessage): Promise<void> {
    try {
      // A member stopped before its message started leaves it to the ack wait, like a crashed process.
      if (member.stopped) return;
      this.#host.instruments.countIn();
      await member.handler(message);
    } catch (error) {
      this.#host.instruments.handlerFailed(message.subject, error);
      if (!message.settled) message.nak();
    } finally {
      member.inFlight--;
      member.tracker.leave();
      this.#pump(durable);
    }
  }

  #ackWaitExpired(durable: Durable, seq: number, token: number): void {
    const pending = durable.pending.get(seq);
    if (pending === undefined || pending.token !== token) return;
    pending.timer = undefined;
    this.#retry(durable, seq, pending);
  }

  /** Redelivers, or dead-letters when the deliveries are spent. */
  #retry(durable: Durable, seq: number, pending: Pending): void {
    if (durable.maxDeliver > 0 && pending.deliveries >= durable.maxDeliver) {
      this.#deadLetter(durable, seq, pending.deliveries, 'max_deliveries');
      return;
    }
    const at = durable.ready.findIndex((s) => s > seq);
    if (at === -1) durable.ready.push(seq);
    else durable.ready.splice(at, 0, seq);
    this.#pump(durable);
  }

  /** Settles one delivery of a message (ack, nak or term). */
  #settle(durable: Durable, seq: number, token: number, how: Settlement, delayMs: number, detail: string | undefined): void {
    const pending = durable.pending.get(seq);
    if (pending === undefined) return;
    const { clock } = this.#host;
    if (how === 'ack') {
      // An ack counts even from an older delivery, as on the server: the work is done.
      clock.clearTimeout(pending.timer);
      durable.pending.delete(seq);
      if (durable.stream.config.workQueue) durable.stream.messages.delete(seq);
      return;
    }
    if (pending.token !== token) return; // a stale delivery cannot nak or term a newer one
    clock.clearTimeout(pending.timer);
    pending.timer = undefined;
    if (how === 'term') {
      this.#deadLetter(durable, seq, pending.deliveries, 'terminated', detail);
      return;
    }
    if (delayMs > 0) {
      pending.timer = clock.setTimeout(() => this.#ackWaitExpired(durable, seq, token), delayMs);
      return;
    }
    this.#retry(durable, seq, pending);
  }

  #deadLetter(durable: Durable, seq: number, deliveries: number, reason: DeadLetter['reason'], detail?: string): void {
    const pending = durable.pending.get(seq);
    if (pending !== undefined) this.#host.clock.clearTimeout(pending.timer);
    durable.pending.delete(seq);
    const stream = durable.stream;
    const stored = stream.messages.get(seq);
    if (stored === undefined) return;
    // A work queue hands the message over to the dead-letter subject; a limits stream keeps it for its other readers.
    if (stream.config.workQueue) stream.messages.delete(seq);
    const letter: DeadLetter = {
      stream: stream.config.name,
      consumer: durable.name,
      subject: stored.subject,
      seq,
      deliveries,
      reason,
      dataBase64: Buffer.from(stored.data).toString('base64'),
    };
    if (detail !== undefined) letter.detail = detail;
    if (stored.msgId !== undefined) letter.msgId = stored.msgId;
    this.#host.instruments.logger.warn({ stream: letter.stream, consumer: letter.consumer, seq, deliveries, reason }, 'durable message dead-lettered');
    try {
      this.#host.publish(durable.deadLetterSubject, letter);
    } catch (error) {
      this.#host.instruments.logger.error({ err: error, seq }, 'could not publish dead letter');
    }
  }
}
