/**
 * The one contract every Bus implementation honours (DESIGN §1: "same
 * interface and same contract tests"). `memory-bus.test.ts` runs it on the
 * in-process bus, `test/integration/oona/nats-bus.test.ts` on NATS.
 *
 * Every stream and bucket gets a random name and is deleted after its test,
 * so runs never collide on a shared server.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { z } from 'zod';
import type { Bus, DeadLetter, DurableMessage, InboundMessage, KvEntry, KvStore, StreamConfig } from '../../../src/actors/oona/bus.ts';
import { call, serve } from '../../../src/actors/oona/rpc.ts';
import { EsperError } from '../../../src/errors/index.ts';
import { Metrics } from '../../../src/infra/metrics.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

export { rejectsWith };

/** Makes a fresh bus for one test. */
export type MakeBus = (options: { metrics?: Metrics }) => Promise<Bus>;

export interface ContractOptions {
  /** Ack wait used by the durable tests. @default 400 */
  ackWaitMs?: number;
}

const encoder = new TextEncoder();

export function uid(): string {
  return randomBytes(5).toString('hex');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `predicate` holds, failing after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}


async function counterValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

export function runBusContract(label: string, makeBus: MakeBus, options: ContractOptions = {}): void {
  const ackWaitMs = options.ackWaitMs ?? 400;

  describe(`Bus contract: ${label}`, function () {
    this.timeout(20_000);
    let bus: Bus;
    let metrics: Metrics;
    let base: string;
    let streams: string[];
    let buckets: KvStore[];

    beforeEach(async () => {
      metrics = new Metrics();
      bus = await makeBus({ metrics });
      base = `test.${uid()}`;
      streams = [];
      buckets = [];
    });

    afterEach(async () => {
      for (const kv of buckets) await kv.destroy().catch(() => undefined);
      for (const name of streams) await bus.deleteStream(name).catch(() => undefined);
      await bus.close();
    });

    async function stream(config: Partial<StreamConfig> = {}): Promise<string> {
      const name = `T_${uid()}`;
      streams.push(name);
      await bus.ensureStream({ name, subjects: [`${base}.d.>`], ...config });
      return name;
    }

    async function bucket(ttlMs?: number): Promise<KvStore> {
      const kv = await bus.kv(`B_${uid()}`, ttlMs === undefined ? {} : { ttlMs });
      buckets.push(kv);
      return kv;
    }

    function collect(subject: string): InboundMessage[] {
      const got: InboundMessage[] = [];
      bus.subscribe(subject, (m) => {
        got.push(m);
      });
      return got;
    }

    function deadLetters(subject: string): DeadLetter[] {
      const got: DeadLetter[] = [];
      bus.subscribe(subject, (m) => {
        got.push(m.json().ok ? (JSON.parse(m.text()) as DeadLetter) : ({} as DeadLetter));
      });
      return got;
    }

    // ------------------------------------------------------------ core

    describe('publish / subscribe', () => {
      it('delivers JSON and bytes, asynchronously and in order', async () => {
        const got = collect(`${base}.a`);
        await bus.flush();
        bus.publish(`${base}.a`, { n: 1 });
        bus.publish(`${base}.a`, encoder.encode('raw'));
        expect(got, 'never inside publish').to.have.length(0);
        await waitFor(() => got.length === 2);
        expect(got[0]!.json()).to.deep.equal({ ok: true, value: { n: 1 } });
        expect(got[1]!.text()).to.equal('raw');
        expect(got[0]!.subject).to.equal(`${base}.a`);
        expect(got[0]!.reply).to.equal(undefined);
      });

      it('matches * on one token and > on one or more', async () => {
        const star = collect(`${base}.*.x`);
        const full = collect(`${base}.>`);
        await bus.flush();
        for (const s of ['a.x', 'b.x', 'a.y', 'a.b.x']) bus.publish(`${base}.${s}`, s);
        await waitFor(() => full.length === 4);
        await sleep(50);
        expect(star.map((m) => m.subject).sort()).to.deep.equal([`${base}.a.x`, `${base}.b.x`]);
      });

      it('gives each queue-group message to exactly one member, spread across members', async () => {
        const a: InboundMessage[] = [];
        const b: InboundMessage[] = [];
        const plain = collect(`${base}.q`);
        bus.subscribe(`${base}.q`, (m) => void a.push(m), { queue: 'workers' });
        bus.subscribe(`${base}.q`, (m) => void b.push(m), { queue: 'workers' });
        await bus.flush();
        for (let i = 0; i < 40; i++) bus.publish(`${base}.q`, i);
        await waitFor(() => a.length + b.length === 40 && plain.length === 40);
        await sleep(50);
        expect(a.length + b.length).to.equal(40);
        expect(a.length).to.be.greaterThan(0);
        expect(b.length).to.be.greaterThan(0);
        const seen = [...a, ...b].map((m) => m.text()).sort();
        expect(new Set(seen).size).to.equal(40);
      });

      it('carries headers', async () => {
        const got = collect(`${base}.h`);
        await bus.flush();
        bus.publish(`${base}.h`, 'x', { headers: { 'Esper-Trace': 't-1', other: 'v' } });
        await waitFor(() => got.length === 1);
        expect(got[0]!.headers['Esper-Trace']).to.equal('t-1');
        expect(got[0]!.headers['other']).to.equal('v');
      });

      it('survives a throwing or rejecting handler, logging and counting it', async () => {
        const seen: number[] = [];
        bus.subscribe(`${base}.boom`, async (m) => {
          const n = JSON.parse(m.text()) as number;
          seen.push(n);
          if (n === 1) throw new Error('sync-ish boom');
          await sleep(1);
          if (n === 2) throw new Error('async boom');
        });
        const sync = bus.subscribe(`${base}.boom`, () => {
          throw new Error('plain throw');
        });
        await bus.flush();
        for (const n of [1, 2, 3]) bus.publish(`${base}.boom`, n);
        await waitFor(() => seen.length === 3);
        expect(seen).to.deep.equal([1, 2, 3]);
        await sleep(20);
        expect(await counterValue(metrics, 'esper_bus_handler_errors_total', { bus: bus.kind })).to.equal(5);
        expect(await counterValue(metrics, 'esper_bus_messages_total', { bus: bus.kind, direction: 'out' })).to.be.at.least(3);
        expect(await counterValue(metrics, 'esper_bus_messages_total', { bus: bus.kind, direction: 'in' })).to.be.at.least(6);
        sync.unsubscribe();
        await sync.closed;
      });

      it('stops delivering after unsubscribe and resolves closed', async () => {
        const got: InboundMessage[] = [];
        const sub = bus.subscribe(`${base}.u`, (m) => void got.push(m));
        await bus.flush();
        bus.publish(`${base}.u`, 1);
        await waitFor(() => got.length === 1);
        sub.unsubscribe();
        sub.unsubscribe();
        await sub.closed;
        bus.publish(`${base}.u`, 2);
        await bus.flush();
        await sleep(50);
        expect(got).to.have.length(1);
      });
    });

    describe('request / reply', () => {
      it('answers a request, headers both ways', async () => {
        bus.subscribe(`${base}.echo`, (m) => {
          m.respond({ echo: m.json(), trace: m.headers['trace'] }, { headers: { replied: 'yes' } });
        });
        await bus.flush();
        const reply = await bus.request(`${base}.echo`, { hi: 1 }, { timeoutMs: 2000, headers: { trace: 'abc' } });
        expect(JSON.parse(reply.text())).to.deep.equal({ echo: { ok: true, value: { hi: 1 } }, trace: 'abc' });
        expect(reply.headers['replied']).to.equal('yes');
      });

      it('fails at once with ESPER_NO_RESPONDERS when nobody listens', async () => {
        const started = Date.now();
        await rejectsWith(bus.request(`${base}.nobody`, {}, { timeoutMs: 3000 }), 'ESPER_NO_RESPONDERS');
        expect(Date.now() - started).to.be.lessThan(500);
      });

      it('times out with ESPER_TIMEOUT when the responder stays silent', async () => {
        bus.subscribe(`${base}.silent`, () => undefined);
        await bus.flush();
        const started = Date.now();
        await rejectsWith(bus.request(`${base}.silent`, {}, { timeoutMs: 250 }), 'ESPER_TIMEOUT');
        expect(Date.now() - started).to.be.within(200, 2000);
      });

      it('respond() is false without a reply subject', async () => {
        const results: boolean[] = [];
        bus.subscribe(`${base}.nr`, (m) => void results.push(m.respond('x')));
        await bus.flush();
        bus.publish(`${base}.nr`, 1);
        await waitFor(() => results.length === 1);
        expect(results).to.deep.equal([false]);
      });
    });

    describe('serve / call', () => {
      const Input = z.object({ a: z.number(), b: z.string() }).strict();

      it('answers { ok: true, data } and call returns the data', async () => {
        serve(bus, `${base}.add`, { schema: Input }, ({ a, b }) => ({ sum: `${b}${a + 1}` }));
        await bus.flush();
        expect(await call(bus, `${base}.add`, { a: 1, b: 'n' })).to.deep.equal({ sum: 'n2' });
      });

      it('answers malformed JSON with ESPER_INVALID_JSON and keeps answering', async () => {
        serve(bus, `${base}.json`, { schema: Input }, () => 'fine');
        await bus.flush();
        const bad = await bus.request(`${base}.json`, encoder.encode('{"a": 1,'), { timeoutMs: 2000 });
        const reply = JSON.parse(bad.text()) as { ok: boolean; error: { code: string; retryable: boolean } };
        expect(reply.ok).to.equal(false);
        expect(reply.error.code).to.equal('ESPER_INVALID_JSON');
        expect(reply.error.retryable).to.equal(false);
        await rejectsWith(call(bus, `${base}.json`, new Uint8Array([0xff, 0xfe])), 'ESPER_INVALID_JSON');
        expect(await call(bus, `${base}.json`, { a: 1, b: 'x' })).to.equal('fine');
      });

      it('lists every schema issue in details.issues', async () => {
        serve(bus, `${base}.schema`, { schema: Input }, () => 'never');
        await bus.flush();
        const error = await rejectsWith(call(bus, `${base}.schema`, { a: 'one', extra: true }), 'ESPER_SCHEMA_VIOLATION');
        const issues = error.details?.['issues'] as string[];
        expect(issues).to.be.an('array').with.length.of.at.least(3);
        expect(issues.some((i) => i.startsWith('a: '))).to.equal(true);
        expect(issues.some((i) => i.startsWith('b: '))).to.equal(true);
        expect(issues.some((i) => i.includes('extra'))).to.equal(true);
      });

      it('refuses an oversized payload with ESPER_PAYLOAD_TOO_LARGE', async () => {
        let called = false;
        serve(bus, `${base}.big`, { schema: z.unknown(), maxBytes: 1024 }, () => (called = true));
        await bus.flush();
        const error = await rejectsWith(call(bus, `${base}.big`, { blob: 'x'.repeat(2000) }), 'ESPER_PAYLOAD_TOO_LARGE');
        expect(error.details?.['maxBytes']).to.equal(1024);
        expect(called).to.equal(false);
      });

      it('treats an empty payload as no input', async () => {
        serve(bus, `${base}.opt`, { schema: z.object({ verbose: z.boolean().optional() }) }, (input) => input);
        serve(bus, `${base}.none`, { schema: z.undefined() }, (input) => ({ got: input ?? 'nothing' }));
        await bus.flush();
        expect(await call(bus, `${base}.opt`, new Uint8Array(0))).to.deep.equal({});
        expect(await call(bus, `${base}.opt`, encoder.encode('  '))).to.deep.equal({});
        expect(await call(bus, `${base}.none`, undefined)).to.deep.equal({ got: 'nothing' });
      });

      it('turns handler throws into coded replies that call rehydrates', async () => {
        serve(bus, `${base}.fail`, { schema: z.object({ kind: z.string() }) }, ({ kind }) => {
          if (kind === 'coded') throw new EsperError('ESPER_NOT_FOUND', 'no such run', { details: { runId: 'r9' } });
          throw new Error('a bug');
        });
        await bus.flush();
        const coded = await rejectsWith(call(bus, `${base}.fail`, { kind: 'coded' }), 'ESPER_NOT_FOUND');
        expect(coded.message).to.equal('no such run');
        expect(coded.details).to.deep.equal({ runId: 'r9' });
        await rejectsWith(call(bus, `${base}.fail`, { kind: 'bug' }), 'ESPER_INTERNAL');
        // The endpoint is still there.
        await rejectsWith(call(bus, `${base}.fail`, {}), 'ESPER_SCHEMA_VIOLATION');
      });

      it('checks replies: data schema, malformed replies, no responders', async () => {
        serve(bus, `${base}.shape`, { schema: z.unknown() }, () => ({ n: 'not a number' }));
        bus.subscribe(`${base}.garbage`, (m) => void m.respond(encoder.encode('not json')));
        bus.subscribe(`${base}.odd`, (m) => void m.respond({ hello: 'world' }));
        await bus.flush();
        await rejectsWith(call(bus, `${base}.shape`, {}, { schema: z.object({ n: z.number() }) }), 'ESPER_SCHEMA_VIOLATION');
        await rejectsWith(call(bus, `${base}.garbage`, {}), 'ESPER_INVALID_JSON');
        await rejectsWith(call(bus, `${base}.odd`, {}), 'ESPER_SCHEMA_VIOLATION');
        await rejectsWith(call(bus, `${base}.nobody`, {}, { timeoutMs: 3000 }), 'ESPER_NO_RESPONDERS');
      });

      it('balances a queue-group endpoint', async () => {
        const served: string[] = [];
        serve(bus, `${base}.qs`, { schema: z.unknown(), queue: 'q' }, () => void served.push('a'));
        serve(bus, `${base}.qs`, { schema: z.unknown(), queue: 'q' }, () => void served.push('b'));
        await bus.flush();
        for (let i = 0; i < 20; i++) await call(bus, `${base}.qs`, {});
        expect(served).to.have.length(20);
        expect(served).to.include('a').and.to.include('b');
      });
    });

    // ------------------------------------------------------------ streams

    describe('durable streams', () => {
      it('publishes, consumes in order and acks', async () => {
        const name = await stream();
        const core = collect(`${base}.d.>`);
        await bus.flush();
        const acks = [];
        for (let i = 1; i <= 3; i++) acks.push(await bus.publishDurable(`${base}.d.job`, { i }));
        expect(acks.map((a) => a.seq)).to.deep.equal([acks[0]!.seq, acks[0]!.seq + 1, acks[0]!.seq + 2]);
        expect(acks.every((a) => a.stream === name && !a.duplicate)).to.equal(true);
        const got: DurableMessage[] = [];
        const consumer = await bus.consume({ stream: name, durable: 'w', ackWaitMs }, async (m) => {
          got.push(m);
          await m.ack();
        });
        await waitFor(() => got.length === 3);
        expect(got.map((m) => m.json())).to.deep.equal([1, 2, 3].map((i) => ({ ok: true, value: { i } })));
        expect(got.map((m) => m.deliveryCount)).to.deep.equal([1, 1, 1]);
        expect(got[0]!.stream).to.equal(name);
        expect(got[0]!.subject).to.equal(`${base}.d.job`);
        expect(got.map((m) => m.seq)).to.deep.equal(acks.map((a) => a.seq));
        await sleep(ackWaitMs * 2.5);
        expect(got, 'acked messages are not redelivered').to.have.length(3);
        expect(core, 'core subscribers see durable publishes too').to.have.length(3);
        await consumer.stop();
      });

      it('rejects a durable publish no stream captures', async () => {
        await rejectsWith(bus.publishDurable(`${base}.nowhere`, {}), 'ESPER_STREAM_ERROR');
      });

      it('ensureStream is idempotent and refuses a retention change', async () => {
        const name = await stream();
        await bus.ensureStream({ name, subjects: [`${base}.d.>`], duplicateWindowMs: 1000 });
        await rejectsWith(bus.ensureStream({ name, subjects: [`${base}.d.>`], workQueue: true }), 'ESPER_STREAM_ERROR');
        await bus.deleteStream(name);
        await bus.deleteStream(name); // absent: no error
        await rejectsWith(bus.consume({ stream: name, durable: 'x' }, () => undefined), 'ESPER_STREAM_ERROR');
      });

      it('de-duplicates by msgId within the window', async () => {
        const name = await stream({ duplicateWindowMs: 60_000 });
        const first = await bus.publishDurable(`${base}.d.e`, { v: 1 }, { msgId: 'evt-1' });
        const again = await bus.publishDurable(`${base}.d.e`, { v: 2 }, { msgId: 'evt-1' });
        const other = await bus.publishDurable(`${base}.d.e`, { v: 3 }, { msgId: 'evt-2' });
        expect(first.duplicate).to.equal(false);
        expect(again).to.deep.include({ duplicate: true, seq: first.seq });
        expect(other.seq).to.equal(first.seq + 1);
        const got: DurableMessage[] = [];
        const consumer = await bus.consume({ stream: name, durable: 'd', ackWaitMs }, async (m) => {
          got.push(m);
          await m.ack();
        });
        await waitFor(() => got.length === 2);
        await sleep(100);
        expect(got.map((m) => m.msgId)).to.deep.equal(['evt-1', 'evt-2']);
        expect(got[0]!.json()).to.deep.equal({ ok: true, value: { v: 1 } });
        await consumer.stop();
      });

      it('redelivers to another member after the ack wait when a consumer dies unacked', async () => {
        const name = await stream();
        const firstAt: number[] = [];
        const a = await bus.consume({ stream: name, durable: 'shared', ackWaitMs }, (m) => {
          firstAt.push(Date.now());
          expect(m.deliveryCount).to.equal(1);
        });
        await bus.publishDurable(`${base}.d.job`, 'work');
        await waitFor(() => firstAt.length === 1);
        await a.stop(); // dies without ack
        const second: DurableMessage[] = [];
        const secondAt: number[] = [];
        const b = await bus.consume({ stream: name, durable: 'shared', ackWaitMs }, async (m) => {
          second.push(m);
          secondAt.push(Date.now());
          await m.ack();
        });
        await waitFor(() => second.length === 1, ackWaitMs * 10, 'redelivery');
        expect(second[0]!.deliveryCount).to.equal(2);
        expect(second[0]!.text()).to.equal('"work"');
        expect(secondAt[0]! - firstAt[0]!).to.be.at.least(ackWaitMs - 50);
        expect(firstAt).to.have.length(1);
        await b.stop();
      });

      it('shares the work of one durable among its members', async () => {
        const name = await stream();
        for (let i = 0; i < 20; i++) await bus.publishDurable(`${base}.d.job`, i);
        const byMember: Record<string, number[]> = { a: [], b: [] };
        const handler = (member: string) => async (m: DurableMessage) => {
          byMember[member]!.push(JSON.parse(m.text()) as number);
          await sleep(15);
          await m.ack();
        };
        const a = await bus.consume({ stream: name, durable: 'pool', ackWaitMs: 5000 }, handler('a'));
        const b = await bus.consume({ stream: name, durable: 'pool', ackWaitMs: 5000 }, handler('b'));
        await waitFor(() => byMember['a']!.length + byMember['b']!.length === 20, 10_000);
        await sleep(100);
        const all = [...byMember['a']!, ...byMember['b']!].sort((x, y) => x - y);
        expect(all).to.deep.equal([...Array(20).keys()]);
        expect(byMember['a']!.length).to.be.greaterThan(0);
        expect(byMember['b']!.length).to.be.greaterThan(0);
        await Promise.all([a.stop(), b.stop()]);
      });

      it('never runs more than maxInFlight handlers of a member at once', async () => {
        const name = await stream();
        for (let i = 0; i < 5; i++) await bus.publishDurable(`${base}.d.job`, i);
        let running = 0;
        let peak = 0;
        let done = 0;
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const consumer = await bus.consume({ stream: name, durable: 'par', ackWaitMs: 5000, maxInFlight: 3 }, async (m) => {
          running++;
          peak = Math.max(peak, running);
          await gate;
          running--;
          done++;
          await m.ack();
        });
        await waitFor(() => running === 3);
        await sleep(150);
        expect(running).to.equal(3);
        release();
        await waitFor(() => done === 5);
        expect(peak).to.equal(3);
        await consumer.stop();
      });

      /** The order a durable's handler sees when the first delivery of message 0 is lost (never settled). */
      async function orderAfterALostDelivery(durable: string, maxAckPending?: number): Promise<number[]> {
        const name = await stream();
        for (let i = 0; i < 4; i++) await bus.publishDurable(`${base}.d.job`, i);
        const seen: number[] = [];
        const consumer = await bus.consume({ stream: name, durable, ackWaitMs, maxInFlight: 1, ...(maxAckPending === undefined ? {} : { maxAckPending }) }, async (m) => {
          const value = JSON.parse(m.text()) as number;
          seen.push(value);
          // As if the delivery never reached this process (its server was killed): no ack, no nak.
          if (value === 0 && m.deliveryCount === 1) return;
          await m.ack();
        });
        await waitFor(() => seen.length === 5, ackWaitMs * 10, 'every message handled');
        await consumer.stop();
        return seen;
      }

      it('with maxAckPending 1, a lost delivery is redelivered before any later message (the stream order holds)', async () => {
        expect(await orderAfterALostDelivery('ordered', 1)).to.deep.equal([0, 0, 1, 2, 3]);
      });

      it('without it, later messages overtake a lost delivery (what maxAckPending 1 prevents)', async () => {
        expect(await orderAfterALostDelivery('overtaken')).to.deep.equal([0, 1, 2, 3, 0]);
      });

      it('naks a message whose handler throws: redelivered before the ack wait', async () => {
        const name = await stream();
        const deliveries: number[] = [];
        const consumer = await bus.consume({ stream: name, durable: 'nak', ackWaitMs: 10_000 }, async (m) => {
          deliveries.push(m.deliveryCount);
          if (m.deliveryCount === 1) throw new Error('transient');
          await m.ack();
        });
        await bus.publishDurable(`${base}.d.job`, 'x');
        await waitFor(() => deliveries.length === 2, 3000, 'redelivery after a throw');
        expect(deliveries).to.deep.equal([1, 2]);
        await consumer.stop();
      });

      it('dead-letters after maxDeliver deliveries without an ack', async () => {
        const name = await stream();
        const letters = deadLetters(`esper.dlq.${name}`);
        await bus.flush();
        const deliveries: number[] = [];
        const consumer = await bus.consume({ stream: name, durable: 'dl', ackWaitMs, maxDeliver: 2 }, (m) => {
          deliveries.push(m.deliveryCount); // never acks
        });
        const ack = await bus.publishDurable(`${base}.d.poison`, { bad: true }, { msgId: 'poison-1' });
        await waitFor(() => letters.length === 1, ackWaitMs * 12, 'dead letter');
        const letter = letters[0]!;
        expect(letter).to.deep.include({
          stream: name,
          consumer: 'dl',
          subject: `${base}.d.poison`,
          seq: ack.seq,
          deliveries: 2,
          reason: 'max_deliveries',
          msgId: 'poison-1',
        });
        expect(Buffer.from(letter.dataBase64, 'base64').toString()).to.equal('{"bad":true}');
        await sleep(ackWaitMs * 2);
        expect(deliveries).to.deep.equal([1, 2]);
        expect(letters).to.have.length(1);
        await consumer.stop();
      });

      it('dead-letters a message whose last holder died unacked, on a custom subject', async () => {
        const name = await stream({ workQueue: true });
        const dlq = `${base}.dead`;
        const letters = deadLetters(dlq);
        await bus.flush();
        const config = { stream: name, durable: 'wq', ackWaitMs, maxDeliver: 2, deadLetterSubject: dlq };
        // Two members in turn take a delivery and die without acking; the second had the last one.
        const holders: number[] = [];
        for (let i = 0; i < 2; i++) {
          const member = await bus.consume(config, (m) => void holders.push(m.deliveryCount));
          if (i === 0) await bus.publishDurable(`${base}.d.job`, 'cursed');
          await waitFor(() => holders.length === i + 1, ackWaitMs * 10, `delivery ${i + 1}`);
          await member.stop();
        }
        expect(holders).to.deep.equal([1, 2]);
        // A survivor of the same durable is the one that hears of it and publishes the dead letter.
        const seenBySurvivor: number[] = [];
        const survivor = await bus.consume(config, (m) => void seenBySurvivor.push(m.deliveryCount));
        await waitFor(() => letters.length === 1, ackWaitMs * 12, 'dead letter');
        expect(letters[0]).to.deep.include({ reason: 'max_deliveries', deliveries: 2, consumer: 'wq', stream: name });
        await sleep(ackWaitMs);
        expect(seenBySurvivor).to.deep.equal([]);
        await survivor.stop();
      });

      it('dead-letters a termed message at once, with its reason', async () => {
        const name = await stream();
        const letters = deadLetters(`esper.dlq.${name}`);
        await bus.flush();
        const deliveries: number[] = [];
        const consumer = await bus.consume({ stream: name, durable: 't', ackWaitMs }, (m) => {
          deliveries.push(m.deliveryCount);
          m.term('unparseable blueprint');
        });
        const ack = await bus.publishDurable(`${base}.d.job`, 'bad');
        await waitFor(() => letters.length === 1, 3000, 'dead letter');
        expect(letters[0]).to.deep.include({ reason: 'terminated', detail: 'unparseable blueprint', deliveries: 1, seq: ack.seq });
        await sleep(ackWaitMs * 2.5);
        expect(deliveries, 'a termed message is not redelivered').to.deep.equal([1]);
        await consumer.stop();
      });

      it('lets a second durable re-read a limits stream', async () => {
        const name = await stream();
        await bus.publishDurable(`${base}.d.e`, 1);
        await bus.publishDurable(`${base}.d.e`, 2);
        const read = async (durable: string): Promise<string[]> => {
          const got: string[] = [];
          const c = await bus.consume({ stream: name, durable, ackWaitMs }, async (m) => {
            got.push(m.text());
            await m.ack();
          });
          await waitFor(() => got.length === 2);
          await c.stop();
          return got;
        };
        expect(await read('first')).to.deep.equal(['1', '2']);
        expect(await read('second')).to.deep.equal(['1', '2']);
      });
    });

    // ------------------------------------------------------------ key-value

    describe('key-value', () => {
      it('puts, gets, deletes and lists keys', async () => {
        const kv = await bucket();
        const r1 = await kv.put('node.a', { load: 1 });
        const r2 = await kv.put('node.b', encoder.encode('raw'));
        const r3 = await kv.put('node.a', { load: 2 });
        expect(r2).to.be.greaterThan(r1);
        expect(r3).to.be.greaterThan(r2);
        const a = await kv.get('node.a');
        expect(a?.json()).to.deep.equal({ load: 2 });
        expect(a).to.deep.include({ key: 'node.a', revision: r3, operation: 'PUT' });
        expect(new TextDecoder().decode((await kv.get('node.b'))!.value)).to.equal('raw');
        expect((await kv.get('node.b'))!.json()).to.equal(undefined);
        expect((await kv.keys()).sort()).to.deep.equal(['node.a', 'node.b']);
        await kv.delete('node.a');
        expect(await kv.get('node.a')).to.equal(null);
        expect(await kv.get('missing')).to.equal(null);
        expect(await kv.keys()).to.deep.equal(['node.b']);
      });

      it('lists each key once while the keys are being rewritten', async function () {
        this.timeout(10_000);
        const kv = await bucket();
        const names = Array.from({ length: 20 }, (_, i) => `node.n${i}`);
        for (const name of names) await kv.put(name, { beat: 0 });
        let writing = true;
        const writer = (async (): Promise<void> => {
          for (let beat = 1; writing; beat++) await Promise.all(names.map((name) => kv.put(name, { beat })));
        })();
        try {
          for (let round = 0; round < 20; round++) {
            const listed = await kv.keys();
            expect([...listed].sort(), `round ${round}`).to.deep.equal([...names].sort());
          }
        } finally {
          writing = false;
          await writer;
        }
      });

      it('expires entries ttlMs after their last put', async function () {
        this.timeout(10_000);
        const kv = await bucket(1000);
        await kv.put('gone', 1);
        await kv.put('kept', 1);
        await sleep(600);
        await kv.put('kept', 2); // refreshes its TTL
        expect((await kv.get('gone'))?.json()).to.equal(1);
        await sleep(700);
        expect(await kv.get('gone')).to.equal(null);
        expect((await kv.get('kept'))?.json()).to.equal(2);
        expect(await kv.keys()).to.deep.equal(['kept']);
        await sleep(700);
        expect(await kv.get('kept')).to.equal(null);
        expect(await kv.keys()).to.deep.equal([]);
      });

      it('watches puts and deletes, optionally from the current values, with a key filter', async () => {
        const kv = await bucket();
        await kv.put('a.old', 'before');
        const updates: KvEntry[] = [];
        const withCurrent: KvEntry[] = [];
        const w1 = await kv.watch((e) => void updates.push(e), { key: 'a.*' });
        const w2 = await kv.watch((e) => void withCurrent.push(e), { includeCurrent: true });
        await kv.put('a.new', 'after');
        await kv.put('b.other', 'x');
        await kv.delete('a.new');
        await waitFor(() => updates.length === 2 && withCurrent.length === 4);
        expect(updates.map((e) => [e.key, e.operation])).to.deep.equal([
          ['a.new', 'PUT'],
          ['a.new', 'DEL'],
        ]);
        expect(updates[0]!.json()).to.equal('after');
        expect(withCurrent.map((e) => e.key)).to.deep.equal(['a.old', 'a.new', 'b.other', 'a.new']);
        w1.stop();
        w2.stop();
        await kv.put('a.late', 1);
        await sleep(100);
        expect(updates).to.have.length(2);
      });

      it('creates only absent keys and updates only from the expected revision (compare-and-set)', async () => {
        const kv = await bucket();
        const r1 = await kv.create('run.r1', { owner: 'a' });
        const conflict = async (write: Promise<number>): Promise<string | undefined> => write.then(() => undefined, (error: unknown) => (error as { code?: string }).code);
        expect(await conflict(kv.create('run.r1', { owner: 'b' }))).to.equal('ESPER_CONFLICT');
        const r2 = await kv.update('run.r1', { owner: 'b' }, r1);
        expect(r2).to.be.greaterThan(r1);
        // A second writer holding the old revision loses.
        expect(await conflict(kv.update('run.r1', { owner: 'c' }, r1))).to.equal('ESPER_CONFLICT');
        expect((await kv.get('run.r1'))?.json()).to.deep.equal({ owner: 'b' });
        // A deleted key can be created again.
        await kv.delete('run.r1');
        await kv.create('run.r1', { owner: 'd' });
        expect((await kv.get('run.r1'))?.json()).to.deep.equal({ owner: 'd' });
      });

      it('destroys a bucket and everything in it', async () => {
        const kv = await bucket();
        await kv.put('k', 1);
        await kv.destroy();
        const again = await bus.kv(kv.bucket);
        buckets.push(again);
        expect(await again.get('k')).to.equal(null);
        expect(await again.keys()).to.deep.equal([]);
      });
    });

    // ------------------------------------------------------------ lifecycle

    describe('lifecycle', () => {
      it('drains: in-flight handlers finish and their replies leave', async () => {
        let finished = false;
        bus.subscribe(`${base}.slow`, async (m) => {
          await sleep(150);
          finished = true;
          m.respond('late but sent');
        });
        await bus.flush();
        const reply = bus.request(`${base}.slow`, {}, { timeoutMs: 3000 });
        await sleep(50);
        await bus.drain();
        expect(finished).to.equal(true);
        expect((await reply).text()).to.equal('"late but sent"');
        expect(bus.isClosed).to.equal(true);
      });

      it('reports ESPER_BUS_CLOSED after close', async () => {
        await bus.close();
        expect(bus.isClosed).to.equal(true);
        expect(() => bus.publish(`${base}.x`, 1)).to.throw(EsperError).with.property('code', 'ESPER_BUS_CLOSED');
        await rejectsWith(bus.request(`${base}.x`, 1), 'ESPER_BUS_CLOSED');
        await bus.close(); // idempotent
      });
    });
  });
}
