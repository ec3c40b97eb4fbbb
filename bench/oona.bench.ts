/**
 * Oona vs raw nats.js on the real server (NATS_URL, default 127.0.0.1:4222):
 *
 *  - request/reply latency p50/p99: NatsBus.request + a NatsBus subscriber
 *    responding, vs nc.request + a raw subscriber;
 *  - publish throughput: NatsBus.publish → NatsBus subscriber counting, vs
 *    nc.publish → raw subscriber counting;
 *  - JetStream publish-with-ack, 256 in flight: NatsBus.publishDurable vs js.publish.
 *
 * Raw and Oona alternate over several rounds and the best round of each is
 * kept, so a GC pause or a noisy neighbour does not decide the ratio. Oona
 * runs with a Metrics registry, as a node does. Bounded to well under 60 s.
 *
 *   node --import tsx bench/oona.bench.ts
 *
 * Prints a markdown table and writes bench/results/oona.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { NatsBus } from '../src/actors/oona/index.ts';
import { Metrics } from '../src/infra/metrics.ts';

const NATS_URL = process.env['NATS_URL'] ?? process.env['ESPER_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const ROUNDS = 3;
const REQUESTS = 3000;
const PUBLISHES = 100_000;
const PUBLISH_CHUNK = 5000;
const JS_PUBLISHES = 10_000;
const JS_WINDOW = 256;

interface Row {
  metric: string;
  unit: string;
  raw: number;
  oona: number;
  /** oona / raw for latencies (lower is better), oona / raw for throughputs (higher is better). */
  ratio: number;
  goal: string;
  met: boolean;
}

const payload = new Uint8Array(128).fill(120);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function latencies(request: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await request(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = process.hrtime.bigint();
    await request();
    out.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return out.sort((a, b) => a - b);
}

/** Publishes PUBLISHES messages in chunks (flushing between) until the subscriber has them all; msgs/s. */
async function throughput(publish: () => void, flush: () => Promise<void>, received: () => number): Promise<number> {
  const start = received();
  const t = process.hrtime.bigint();
  for (let sent = 0; sent < PUBLISHES; sent += PUBLISH_CHUNK) {
    for (let i = 0; i < PUBLISH_CHUNK; i++) publish();
    await flush();
  }
  const deadline = Date.now() + 15_000;
  while (received() - start < PUBLISHES) {
    if (Date.now() > deadline) throw new Error(`subscriber got ${received() - start} of ${PUBLISHES}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return PUBLISHES / (Number(process.hrtime.bigint() - t) / 1e9);
}

/** JetStream publishes with at most JS_WINDOW acks outstanding; msgs/s. */
async function pipelined(publish: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < JS_PUBLISHES; i++) {
    const p: Promise<unknown> = publish().finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= JS_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return JS_PUBLISHES / (Number(process.hrtime.bigint() - t) / 1e9);
}

export async function runOonaBench(): Promise<Row[]> {
  const started = Date.now();
  const raw: NatsConnection = await connect({ servers: NATS_URL });
  const rawResponder: NatsConnection = await connect({ servers: NATS_URL });
  const bus = await NatsBus.connect({ servers: NATS_URL }, { metrics: new Metrics() });
  const responder = await NatsBus.connect({ servers: NATS_URL }, { metrics: new Metrics() });
  const id = Math.random().toString(36).slice(2, 8);
  const stream = `BENCH_${id}`;
  try {
    // ---- request/reply
    rawResponder.subscribe(`bench.${id}.raw.req`, { callback: (_e, m) => void m.respond(m.data) });
    responder.subscribe(`bench.${id}.oona.req`, (m) => void m.respond(m.data));
    await Promise.all([rawResponder.flush(), responder.flush()]);

    // ---- publish throughput: each side counts on its own subscriber connection
    let rawCount = 0;
    let oonaCount = 0;
    rawResponder.subscribe(`bench.${id}.raw.pub`, { callback: () => void rawCount++ });
    responder.subscribe(`bench.${id}.oona.pub`, () => void oonaCount++);
    await Promise.all([rawResponder.flush(), responder.flush()]);

    // ---- JetStream
    await bus.ensureStream({ name: stream, subjects: [`bench.${id}.js.>`], duplicateWindowMs: 1000 });
    const js = raw.jetstream();

    const best = { rawP50: Infinity, rawP99: Infinity, oonaP50: Infinity, oonaP99: Infinity, rawPub: 0, oonaPub: 0, rawJs: 0, oonaJs: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const r = await latencies(() => raw.request(`bench.${id}.raw.req`, payload, { timeout: 2000 }));
      const o = await latencies(() => bus.request(`bench.${id}.oona.req`, payload, { timeoutMs: 2000 }));
      best.rawP50 = Math.min(best.rawP50, percentile(r, 50));
      best.rawP99 = Math.min(best.rawP99, percentile(r, 99));
      best.oonaP50 = Math.min(best.oonaP50, percentile(o, 50));
      best.oonaP99 = Math.min(best.oonaP99, percentile(o, 99));

      best.rawPub = Math.max(best.rawPub, await throughput(() => raw.publish(`bench.${id}.raw.pub`, payload), () => raw.flush(), () => rawCount));
      best.oonaPub = Math.max(best.oonaPub, await throughput(() => bus.publish(`bench.${id}.oona.pub`, payload), () => bus.flush(), () => oonaCount));

      best.rawJs = Math.max(best.rawJs, await pipelined(() => js.publish(`bench.${id}.js.raw`, payload)));
      best.oonaJs = Math.max(best.oonaJs, await pipelined(() => bus.publishDurable(`bench.${id}.js.oona`, payload)));
    }

    const latency = (metric: string, rawV: number, oonaV: number): Row => {
      const ratio = oonaV / rawV;
      return { metric, unit: 'µs', raw: rawV, oona: oonaV, ratio, goal: '≤ 1.25× raw', met: ratio <= 1.25 };
    };
    const rate = (metric: string, rawV: number, oonaV: number): Row => {
      const ratio = oonaV / rawV;
      return { metric, unit: 'msgs/s', raw: rawV, oona: oonaV, ratio, goal: '≥ 0.8× raw', met: ratio >= 0.8 };
    };
    const rows = [
      latency('request/reply latency p50', best.rawP50, best.oonaP50),
      latency('request/reply latency p99', best.rawP99, best.oonaP99),
      rate('core publish throughput (128 B)', best.rawPub, best.oonaPub),
      rate(`JetStream publish+ack, ${JS_WINDOW} in flight`, best.rawJs, best.oonaJs),
    ];
    report(rows, Date.now() - started);
    return rows;
  } finally {
    await bus.deleteStream(stream).catch(() => undefined);
    await Promise.all([raw.close(), rawResponder.close(), bus.close(), responder.close()]);
  }
}

function report(rows: Row[], elapsedMs: number): void {
  const fmt = (v: number, unit: string): string => (unit === 'µs' ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'));
  const lines = [
    '| metric | unit | raw nats.js | oona | ratio | goal | met |',
    '|---|---|---:|---:|---:|---|---|',
    ...rows.map((r) => `| ${r.metric} | ${r.unit} | ${fmt(r.raw, r.unit)} | ${fmt(r.oona, r.unit)} | ${r.ratio.toFixed(2)} | ${r.goal} | ${r.met ? 'yes' : 'NO'} |`),
  ];
  console.log(lines.join('\n'));
  console.log(`\n(${ROUNDS} rounds, best of each kept; ${(elapsedMs / 1000).toFixed(1)} s; server ${NATS_URL}; node ${process.version})`);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'oona.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ bench: 'oona', when: new Date().toISOString(), server: NATS_URL, node: process.version, rounds: ROUNDS, elapsedMs, rows }, null, 2)}\n`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runOonaBench().then(
    (rows) => {
      process.exitCode = rows.every((r) => r.met) ? 0 : 1;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 2;
    },
  );
}
