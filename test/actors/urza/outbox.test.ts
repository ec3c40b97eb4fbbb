import { mkdtemp, readFile, rm, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { z } from 'zod';
import { Outbox, type OutboxOptions } from '../../../src/actors/urza/index.ts';
import { EsperError } from '../../../src/errors/index.ts';
import { Metrics } from '../../../src/infra/metrics.ts';
import { rejectsWith } from './library-contract.ts';

const WriteSchema = z.object({ n: z.number().int(), refuse: z.boolean().optional() }).strict();
type Write = z.infer<typeof WriteSchema>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A store that can be taken down, refuses writes marked `refuse`, and may be slow. */
class FakeStore {
  up = true;
  delayMs = 0;
  attempts = 0;
  readonly applied: number[] = [];

  readonly apply = async (write: Write): Promise<void> => {
    this.attempts++;
    const up = this.up; // decided when the call starts, answered after the delay
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (!up) throw new EsperError('ESPER_STORAGE_UNAVAILABLE', 'store is down');
    if (write.refuse === true) throw new EsperError('ESPER_CONFLICT', `write ${write.n} contradicts the store`);
    this.applied.push(write.n);
  };
}

async function gauge(metrics: Metrics, name: string): Promise<number | undefined> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values as { value: number }[] | undefined)?.[0]?.value;
}

describe('Outbox', () => {
  let dir: string;
  const opened: Outbox<Write>[] = [];

  function open(store: FakeStore, options: Partial<OutboxOptions<Write>> = {}): Promise<Outbox<Write>> {
    return Outbox.open<Write>({
      name: 'test.storage',
      apply: store.apply,
      parse: (value) => WriteSchema.parse(value),
      file: join(dir, 'outbox.jsonl'),
      breaker: { failureThreshold: 2, resetTimeoutMs: 150, timeoutMs: 1000 },
      retryMs: 20,
      ...options,
    }).then((outbox) => {
      opened.push(outbox);
      return outbox;
    });
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'esper-outbox-'));
  });

  afterEach(async () => {
    for (const outbox of opened.splice(0)) await outbox.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes straight through while the store is up', async () => {
    const store = new FakeStore();
    const outbox = await open(store);
    expect(await outbox.write({ n: 1 })).to.equal('stored');
    expect(await Promise.all([outbox.write({ n: 2 }), outbox.write({ n: 3 })])).to.deep.equal(['stored', 'stored']);
    expect(store.applied).to.deep.equal([1, 2, 3]);
    expect(outbox.pending).to.equal(0);
    expect(await outbox.read(() => Promise.resolve(42))).to.equal(42);
  });

  it('queues while the store is down, fails fast once the breaker opens, and replays in order when it returns', async () => {
    const store = new FakeStore();
    const metrics = new Metrics();
    const outbox = await open(store, { metrics });
    store.up = false;
    expect(await outbox.write({ n: 1 })).to.equal('queued');
    // Queued writes are retried by the timer until the breaker opens.
    await waitFor(() => outbox.breakerState === 'open', 2000, 'the breaker to open');
    const attemptsWhenOpen = store.attempts;
    const started = Date.now();
    for (let n = 2; n <= 5; n++) expect(await outbox.write({ n })).to.equal('queued');
    expect(Date.now() - started, 'callers do not wait on an open breaker').to.be.lessThan(100);
    await rejectsWith(outbox.read(() => Promise.resolve(1)), 'ESPER_BREAKER_OPEN');
    expect(outbox.pending).to.equal(5);
    expect(await gauge(metrics, 'esper_outbox_pending')).to.equal(5);
    expect(store.attempts - attemptsWhenOpen, 'nothing reaches a store behind an open breaker (bar one half-open trial)').to.be.at.most(1);
    store.up = true;
    await waitFor(() => outbox.pending === 0, 3000, 'the outbox to drain');
    expect(store.applied).to.deep.equal([1, 2, 3, 4, 5]);
    expect(outbox.breakerState).to.equal('closed');
    expect(await gauge(metrics, 'esper_outbox_pending')).to.equal(0);
    expect(await outbox.write({ n: 6 })).to.equal('stored');
    expect(store.applied).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(await readFile(join(dir, 'outbox.jsonl'), 'utf8'), 'compacted once empty').to.equal('');
  });

  it('keeps the order of writes made while an earlier one is failing', async () => {
    const store = new FakeStore();
    const outbox = await open(store);
    store.up = false;
    store.delayMs = 30;
    const outcomes = Promise.all([1, 2, 3].map((n) => outbox.write({ n })));
    await sleep(5);
    store.up = true; // the first attempt still fails (it checked before), the rest must queue behind it
    store.delayMs = 0;
    expect(await outcomes).to.deep.equal(['queued', 'queued', 'queued']);
    expect(await outbox.write({ n: 4 })).to.equal('queued');
    await outbox.flush();
    expect(store.applied).to.deep.equal([1, 2, 3, 4]);
  });

  it('survives a restart: queued writes are reloaded from the file (a torn last line is skipped)', async () => {
    const store = new FakeStore();
    store.up = false;
    const first = await open(store);
    for (let n = 1; n <= 3; n++) await first.write({ n });
    await first.close();
    await appendFile(join(dir, 'outbox.jsonl'), '{"seq":99,"wri'); // a crash in the middle of a line
    const lines = (await readFile(join(dir, 'outbox.jsonl'), 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines).to.have.length(4);
    store.up = true;
    const second = await open(store);
    expect(second.pending).to.equal(3);
    expect(await second.write({ n: 4 }), 'behind the reloaded writes').to.equal('queued');
    await waitFor(() => second.pending === 0, 3000, 'the reloaded writes to flush');
    expect(store.applied).to.deep.equal([1, 2, 3, 4]);
  });

  it('rejects a refused write to its caller, and dead-letters one met during a replay', async () => {
    const store = new FakeStore();
    const outbox = await open(store);
    await rejectsWith(outbox.write({ n: 1, refuse: true }), 'ESPER_CONFLICT');
    expect(outbox.pending).to.equal(0);
    store.up = false;
    await outbox.write({ n: 2 });
    await outbox.write({ n: 3, refuse: true });
    await outbox.write({ n: 4 });
    store.up = true;
    expect(await outbox.flush()).to.equal(0);
    expect(store.applied).to.deep.equal([2, 4]);
    const dead = (await readFile(join(dir, 'outbox.jsonl.dead.jsonl'), 'utf8')).trim().split('\n');
    expect(dead).to.have.length(1);
    expect(JSON.parse(dead[0]!)).to.deep.include({ write: { n: 3, refuse: true } });
    expect((JSON.parse(dead[0]!) as { error: { code: string } }).error.code).to.equal('ESPER_CONFLICT');
    expect(store.applied).to.deep.equal([2, 4]);
  });

  it('counts only transient failures against the breaker', async () => {
    const store = new FakeStore();
    const outbox = await open(store);
    for (let n = 0; n < 5; n++) await rejectsWith(outbox.write({ n, refuse: true }), 'ESPER_CONFLICT');
    expect(outbox.breakerState).to.equal('closed');
    await rejectsWith(outbox.read(() => Promise.reject(new EsperError('ESPER_NOT_FOUND', 'no such kernel'))), 'ESPER_NOT_FOUND');
    expect(outbox.breakerState).to.equal('closed');
  });
});
