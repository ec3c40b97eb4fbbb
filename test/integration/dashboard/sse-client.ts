/** A small SSE reader for tests: records every event with its arrival time and lets a test wait for one. */
export interface SseEvent {
  event: string;
  data: unknown;
  at: number;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly #controller = new AbortController();
  #waiters: Array<{ predicate: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = [];
  readonly done: Promise<void>;

  constructor(url: string) {
    this.done = this.#read(url).catch(() => undefined);
  }

  async #read(url: string): Promise<void> {
    const response = await fetch(url, { signal: this.#controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (name === undefined || data === undefined) continue;
        const event: SseEvent = { event: name, data: JSON.parse(data) as unknown, at: Date.now() };
        this.events.push(event);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.predicate(event)) return true;
          w.resolve(event);
          return false;
        });
      }
    }
  }

  /** The first event (already received or coming) matching `predicate`. */
  waitFor(predicate: (e: SseEvent) => boolean, timeoutMs = 60_000, what = 'event'): Promise<SseEvent> {
    const seen = this.events.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SSE ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        predicate,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  close(): void {
    this.#controller.abort();
  }
}
