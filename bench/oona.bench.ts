/**
 * Oona vs raw nats.js on the real server (NATS_URL, default 127.0.0.1:4222):
 *
 *  - request/reply latency p50/p99: NatsBus.request + a NatsBus subscriber
 *    responding, vs nc.request + a raw subscriber;
 *  - publish throughput: NatsBus.publish → NatsBus subscriber counting, vs
 *    nc.publish → raw subscriber counting;
 *  - JetStream publish-with-ack, 256 in flight: NatsBus.publishDurable vs js.publish.
 *
 * Raw and Oona are interleaved — request by request for latency, chunk by
 * chunk for throughput, flipping the order each time — so both see the same
 * machine: on a shared box the noise is far larger than the difference being
 * measured. Oona runs with a Metrics registry, as a node does. Bounded to
 * well under 60 s.
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
/** Interleaved request pairs (each pair: one raw, one Oona request). */
const REQUESTS = 8000;
/** Core publish: chunks of PUBLISH_CHUNK messages, alternating sides. */
const PUBLISH_CHUNKS = 40;
const PUBLISH_CHUNK = 5000;
/** JetStream: chunks of JS_CHUNK publishes, alternating sides. */
const JS_CHUNKS = 40;
const JS_CHUNK = 500;
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

/**
 * Request latencies of both paths, interleaved request by request (the
 * order flipping each time) so both see the same machine: on a shared box
 * the noise is far larger than the difference being measured.
 */
async function latencies(raw: () => Promise<unknown>, oona: () => Promise<unknown>): Promise<{ raw: number[]; oona: number[] }> {
  for (let i = 0; i < 200; i++) {
    await raw();
    await oona();
  }
  const out = { raw: [] as number[], oona: [] as number[] };
  const time = async (f: () => Promise<unknown>, into: number[]): Promise<void> => {
    const t = process.hrtime.bigint();
    await f();
    into.push(Number(process.hrtime.bigint() - t) / 1000);
  };
  for (let i = 0; i < REQUESTS; i++) {
    if (i % 2 === 0) {
      await time(raw, out.raw);
      await time(oona, out.oona);
    } else {
      await time(oona, out.oona);
      await time(raw, out.raw);
    }
  }
  out.raw.sort((a, b) => a - b);
  out.oona.sort((a, b) => a - b);
  return out;
}

/** Seconds to publish one chunk and see the subscriber receive all of it. */
async function publishChunk(publish: () => void, flush: () => Promise<void>, received: () => number): Promise<number> {
  const start = received();
  const t = process.hrtime.bigint();
  for (let i = 0; i < PUBLISH_CHUNK; i++) publish();
  await flush();
  const deadline = Date.now() + 15_000;
  while (received() - start < PUBLISH_CHUNK) {
    if (Date.now() > deadline) throw new Error(`subscriber got ${received() - start} of ${PUBLISH_CHUNK}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Seconds for JS_CHUNK JetStream publishes with at most JS_WINDOW acks outstanding. */
async function pipelinedChunk(publish: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < JS_CHUNK; i++) {
    const p: Promise<unknown> = publish().finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= JS_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Runs both sides chunk by chunk, flipping the order each time; returns the total seconds of each. */
async function interleaved(chunks: number, raw: () => Promise<number>, oona: () => Promise<number>): Promise<{ raw: number; oona: number }> {
  await raw(); // warm-up
  await oona();
  const total = { raw: 0, oona: 0 };
  for (let i = 0; i < chunks; i++) {
    if (i % 2 === 0) {
      total.raw += await raw();
      total.oona += await oona();
    } else {
      total.oona += await oona();
      total.raw += await raw();
    }
  }
  return total;
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

    const { raw: r, oona: o } = await latencies(
      () => raw.request(`bench.${id}.raw.req`, payload, { timeout: 2000 }),
      () => bus.request(`bench.${id}.oona.req`, payload, { timeoutMs: 2000 }),
    );
    const pub = await interleaved(
      PUBLISH_CHUNKS,
      () => publishChunk(() => raw.publish(`bench.${id}.raw.pub`, payload), () => raw.flush(), () => rawCount),
      () => publishChunk(() => bus.publish(`bench.${id}.oona.pub`, payload), () => bus.flush(), () => oonaCount),
    );
    const jsp = await interleaved(
      JS_CHUNKS,
      () => pipelinedChunk(() => js.publish(`bench.${id}.js.raw`, payload)),
      () => pipelinedChunk(() => bus.publishDurable(`bench.${id}.js.oona`, payload)),
    );

    const latency = (metric: string, rawV: number, oonaV: number): Row => {
      const ratio = oonaV / rawV;
      return { metric, unit: 'µs', raw: rawV, oona: oonaV, ratio, goal: '≤ 1.25× raw', met: ratio <= 1.25 };
    };
    const rate = (metric: string, rawV: number, oonaV: number): Row => {
      const ratio = oonaV / rawV;
      return { metric, unit: 'msgs/s', raw: rawV, oona: oonaV, ratio, goal: '≥ 0.8× raw', met: ratio >= 0.8 };
    };
    const rows = [
      latency('request/reply latency p50', percentile(r, 50), percentile(o, 50)),
      latency('request/reply latency p99', percentile(r, 99), percentile(o, 99)),
      rate('core publish → subscriber throughput (128 B)', (PUBLISH_CHUNKS * PUBLISH_CHUNK) / pub.raw, (PUBLISH_CHUNKS * PUBLISH_CHUNK) / pub.oona),
      rate(`JetStream publish+ack, ${JS_WINDOW} in flight`, (JS_CHUNKS * JS_CHUNK) / jsp.raw, (JS_CHUNKS * JS_CHUNK) / jsp.oona),
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
  console.log(`\n(interleaved: ${REQUESTS} request pairs, ${PUBLISH_CHUNKS}×${PUBLISH_CHUNK} publishes, ${JS_CHUNKS}×${JS_CHUNK} JetStream publishes per side; ${(elapsedMs / 1000).toFixed(1)} s; server ${NATS_URL}; node ${process.version})`);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'oona.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ bench: 'oona', when: new Date().toISOString(), server: NATS_URL, node: process.version, requests: REQUESTS, publishes: PUBLISH_CHUNKS * PUBLISH_CHUNK, jetstreamPublishes: JS_CHUNKS * JS_CHUNK, elapsedMs, rows }, null, 2)}\n`,
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
