import { expect } from 'chai';
import { formatSse, SseHub, type SseSink } from '../../src/dashboard/sse-hub.ts';

/** A client socket whose buffer fills after `capacity` writes until drained. */
class FakeSink implements SseSink {
  readonly chunks: string[] = [];
  ended = false;
  capacity: number;
  #drain: (() => void) | undefined;
  #inBuffer = 0;

  constructor(capacity = Number.POSITIVE_INFINITY) {
    this.capacity = capacity;
  }

  write(chunk: string): boolean {
    if (this.ended) throw new Error('write after end');
    this.chunks.push(chunk);
    this.#inBuffer++;
    return this.#inBuffer < this.capacity;
  }

  onDrain(listener: () => void): void {
    this.#drain = listener;
  }

  end(): void {
    this.ended = true;
  }

  drain(): void {
    this.#inBuffer = 0;
    this.#drain?.();
  }

  events(): string[] {
    return this.chunks.filter((c) => c.startsWith('event: ')).map((c) => c.slice(7, c.indexOf('\n')));
  }
}

describe('SseHub', () => {
  it('formats one SSE message per event, JSON on one data line', () => {
    expect(formatSse('run.point', { a: 'x\ny' })).to.equal('event: run.point\ndata: {"a":"x\\ny"}\n\n');
  });

  it('writes the snapshot then the status first, then every broadcast to every client (fan-out)', () => {
    const hub = new SseHub({ keepAliveMs: 0 });
    const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
    for (const sink of sinks) hub.add(sink, [formatSse('snapshot', { n: 1 })]);
    hub.broadcast('node', { nodeId: 'a' });
    hub.broadcast('run', { runId: 'r' });
    for (const sink of sinks) expect(sink.events()).to.deep.equal(['snapshot', 'status', 'node', 'run']);
    expect(hub.stats).to.include({ clients: 3, broadcasts: 2, dropped: 0 });
    hub.close();
  });

  it('queues for a slow client and flushes in order on drain', () => {
    const hub = new SseHub({ keepAliveMs: 0, maxQueuedMessages: 10 });
    const slow = new FakeSink(1);
    hub.add(slow, []); // the status write fills its buffer
    for (let i = 0; i < 5; i++) hub.broadcast('n', { i });
    expect(slow.chunks).to.have.length(1);
    slow.capacity = Number.POSITIVE_INFINITY;
    slow.drain();
    expect(slow.chunks.slice(1).map((c) => JSON.parse(c.split('data: ')[1] ?? '') as { i: number }).map((d) => d.i)).to.deep.equal([0, 1, 2, 3, 4]);
    hub.close();
  });

  it('drops a client whose queue overflows, and only that client', () => {
    const hub = new SseHub({ keepAliveMs: 0, maxQueuedMessages: 3 });
    const stuck = new FakeSink(1);
    const fine = new FakeSink();
    hub.add(stuck, []);
    hub.add(fine, []);
    for (let i = 0; i < 4; i++) hub.broadcast('n', { i });
    expect(stuck.ended).to.equal(true);
    expect(fine.ended).to.equal(false);
    expect(hub.stats).to.include({ clients: 1, dropped: 1 });
    hub.broadcast('n', { i: 99 });
    expect(fine.events()).to.have.length(6);
    hub.close();
  });

  it('drops a client whose queued bytes pass the byte limit', () => {
    const hub = new SseHub({ keepAliveMs: 0, maxQueuedBytes: 1000 });
    const stuck = new FakeSink(1);
    hub.add(stuck, []);
    hub.broadcast('big', { text: 'x'.repeat(600) });
    expect(stuck.ended).to.equal(false);
    hub.broadcast('big', { text: 'x'.repeat(600) });
    expect(stuck.ended).to.equal(true);
    hub.close();
  });

  it('tells every client when the upstream goes stale and comes back; a new client gets the current status', () => {
    const hub = new SseHub({ keepAliveMs: 0 });
    const sink = new FakeSink();
    hub.add(sink, []);
    hub.setStatus(false, 'connected');
    hub.setStatus(false, 'connected'); // unchanged: not sent again
    hub.setStatus(true, 'NATS connection lost; reconnecting');
    const statuses = sink.chunks.filter((c) => c.startsWith('event: status')).map((c) => JSON.parse(c.split('data: ')[1] ?? '') as { stale: boolean });
    expect(statuses.map((s) => s.stale)).to.deep.equal([true, false, true]);
    const late = new FakeSink();
    hub.add(late, []);
    expect(JSON.parse(late.chunks[0]?.split('data: ')[1] ?? '')).to.include({ stale: true, detail: 'NATS connection lost; reconnecting' });
    hub.close();
  });

  it('refuses clients past maxClients and frees the slot when one leaves', () => {
    const hub = new SseHub({ keepAliveMs: 0, maxClients: 2 });
    const remove = hub.add(new FakeSink(), []);
    expect(hub.add(new FakeSink(), [])).to.be.a('function');
    expect(hub.add(new FakeSink(), [])).to.equal(undefined);
    remove?.();
    expect(hub.add(new FakeSink(), [])).to.be.a('function');
    hub.close();
  });

  it('sends keep-alive comments', async () => {
    const hub = new SseHub({ keepAliveMs: 20 });
    const sink = new FakeSink();
    hub.add(sink, []);
    await new Promise((resolve) => setTimeout(resolve, 70));
    expect(sink.chunks.filter((c) => c.startsWith(': keep-alive'))).to.have.length.greaterThan(0);
    hub.close();
  });
});
