/** What the in-process durable streams store, and the message their consumers receive. */
import type { DurableMessage, Headers } from './bus.ts';
import { PayloadView } from './message.ts';

/** One message in an in-memory stream. */
export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: Headers;
  msgId: string | undefined;
  time: number;
}

export type Settlement = 'ack' | 'nak' | 'term';
export type Settle = (how: Settlement, delayMs: number, detail: string | undefined) => void;

/** A delivery of a stored message; settles once (ack, nak or term) through `settle`. */
export class MemoryDurableMessage extends PayloadView implements DurableMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly stream: string;
  readonly seq: number;
  readonly deliveryCount: number;
  readonly msgId: string | undefined;
  settled = false;
  readonly #settle: Settle;

  constructor(stream: string, stored: StoredMessage, deliveryCount: number, settle: Settle) {
    super();
    this.subject = stored.subject;
    this.data = stored.data;
    this.headers = stored.headers;
    this.stream = stream;
    this.seq = stored.seq;
    this.deliveryCount = deliveryCount;
    this.msgId = stored.msgId;
    this.#settle = settle;
  }

  ack(): Promise<void> {
    if (!this.settled) {
      this.settled = true;
      this.#settle('ack', 0, undefined);
    }
    return Promise.resolve();
  }

  nak(delayMs?: number): void {
    if (this.settled) return;
    this.settled = true;
    this.#settle('nak', delayMs ?? 0, undefined);
  }

  term(reason?: string): void {
    if (this.settled) return;
    this.settled = true;
    this.#settle('term', 0, reason);
  }
}
