/**
 * The fan-out to browsers (Server-Sent Events). One upstream subscription set
 * feeds the hub; the hub writes each message once per connected client, so a
 * hundred browsers cost the cluster nothing more than one. Each client has a
 * bounded queue: while its socket is slow the messages wait there, and a
 * client whose queue overflows is dropped (its browser reconnects and starts
 * again from a fresh snapshot) — one stuck browser can never grow the
 * server's memory or delay the others.
 */

/** What the hub needs of one client connection (an HTTP response in production, a fake in tests). */
export interface SseSink {
  /** Writes a chunk; false when the socket's buffer is full (wait for `drain`). */
  write(chunk: string): boolean;
  /** Calls `listener` once the socket's buffer has drained. */
  onDrain(listener: () => void): void;
  /** Ends the connection. */
  end(): void;
}

/** Limits of the hub. */
export interface SseHubOptions {
  /** Messages a client may have queued (beyond its socket buffer) before it is dropped. @default 512 */
  maxQueuedMessages?: number;
  /** Bytes a client may have queued before it is dropped. @default 4 MiB */
  maxQueuedBytes?: number;
  /** Most clients at once; further ones are refused. @default 1000 */
  maxClients?: number;
  /** Interval of keep-alive comments (they also let the page notice a dead server). @default 15000 */
  keepAliveMs?: number;
}

/** The upstream's health, sent to every client as a `status` event. */
export interface UpstreamStatus {
  /** True while the dashboard has lost its upstream (NATS): what the page shows may be old. */
  stale: boolean;
  /** Why it is stale, or what it is connected to. */
  detail: string;
  /** When the status last changed (ISO-8601). */
  since: string;
}

/** Formats one SSE message (`event:` and `data:` lines; data is JSON, so it has no newlines). */
export function formatSse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

class Client {
  readonly id: number;
  readonly sink: SseSink;
  readonly queue: string[] = [];
  queuedBytes = 0;
  blocked = false;
  closed = false;

  constructor(id: number, sink: SseSink) {
    this.id = id;
    this.sink = sink;
  }
}

/** Counters of the hub (for tests, logs and the page's footer). */
export interface SseHubStats {
  clients: number;
  /** Clients dropped because their queue overflowed. */
  dropped: number;
  /** Messages broadcast since start. */
  broadcasts: number;
}

export class SseHub {
  readonly #maxQueuedMessages: number;
  readonly #maxQueuedBytes: number;
  readonly #maxClients: number;
  readonly #clients = new Map<number, Client>();
  readonly #keepAlive: NodeJS.Timeout | undefined;
  #nextId = 1;
  #dropped = 0;
  #broadcasts = 0;
  #status: UpstreamStatus = { stale: true, detail: 'starting', since: new Date().toISOString() };

  constructor(options: SseHubOptions = {}) {
    this.#maxQueuedMessages = options.maxQueuedMessages ?? 512;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.#maxClients = options.maxClients ?? 1000;
    const keepAliveMs = options.keepAliveMs ?? 15_000;
    if (keepAliveMs > 0) {
      this.#keepAlive = setInterval(() => this.#writeAll(': keep-alive\n\n'), keepAliveMs);
      this.#keepAlive.unref();
    }
  }

  /** The upstream status last set. */
  get status(): UpstreamStatus {
    return this.#status;
  }

  get stats(): SseHubStats {
    return { clients: this.#clients.size, dropped: this.#dropped, broadcasts: this.#broadcasts };
  }

  /** True when one more client may connect. */
  get hasRoom(): boolean {
    return this.#clients.size < this.#maxClients;
  }

  /**
   * Adds a client: writes `first` (the snapshot) and the current status to it
   * before anything broadcast later. Returns a function that removes it.
   * Undefined when the hub is full.
   */
  add(sink: SseSink, first: readonly string[]): (() => void) | undefined {
    if (!this.hasRoom) return undefined;
    const client = new Client(this.#nextId++, sink);
    this.#clients.set(client.id, client);
    sink.onDrain(() => this.#flush(client));
    for (const chunk of first) this.#send(client, chunk);
    this.#send(client, formatSse('status', this.#status));
    return () => this.#remove(client, false);
  }

  /** Sends one event to every client. */
  broadcast(event: string, data: unknown): void {
    this.#broadcasts++;
    this.#writeAll(formatSse(event, data));
  }

  /** Sets the upstream status and tells every client when it changed. */
  setStatus(stale: boolean, detail: string): void {
    if (this.#status.stale === stale && this.#status.detail === detail) return;
    this.#status = { stale, detail, since: new Date().toISOString() };
    this.broadcast('status', this.#status);
  }

  /** Ends every client and stops the keep-alive. */
  close(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    for (const client of [...this.#clients.values()]) this.#remove(client, false);
  }

  #writeAll(chunk: string): void {
    for (const client of this.#clients.values()) this.#send(client, chunk);
  }

  #send(client: Client, chunk: string): void {
    if (client.closed) return;
    if (!client.blocked && client.queue.length === 0) {
      if (!client.sink.write(chunk)) client.blocked = true;
      return;
    }
    if (client.queue.length >= this.#maxQueuedMessages || client.queuedBytes + chunk.length > this.#maxQueuedBytes) {
      this.#remove(client, true);
      return;
    }
    client.queue.push(chunk);
    client.queuedBytes += chunk.length;
  }

  #flush(client: Client): void {
    if (client.closed) return;
    client.blocked = false;
    while (client.queue.length > 0) {
      const chunk = client.queue.shift() as string;
      client.queuedBytes -= chunk.length;
      if (!client.sink.write(chunk)) {
        client.blocked = true;
        return;
      }
    }
  }

  #remove(client: Client, slow: boolean): void {
    if (client.closed) return;
    client.closed = true;
    client.queue.length = 0;
    client.queuedBytes = 0;
    this.#clients.delete(client.id);
    if (slow) this.#dropped++;
    try {
      client.sink.end();
    } catch {
      // the socket is already gone
    }
  }
}
