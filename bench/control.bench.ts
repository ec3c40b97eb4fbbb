/**
 * Control-request latency of a node daemon, idle and while the same process
 * runs a CPU-heavy job in a worker thread (a stand-in for training). The event
 * loop must stay free: goal p99 under load ≤ 2× idle.
 *
 *   node --import tsx bench/control.bench.ts                  (load: a JS matmul loop)
 *   node --import tsx bench/control.bench.ts --load training  (load: Esper training the
 *     MLP 784-256-128-10 in a worker thread on the default backend — native where built,
 *     whose OpenBLAS runs outside the JS heap; bench/load/training-worker.ts)
 *
 * Needs NATS on 127.0.0.1:4222 (ESPER_BENCH_NATS_URL to override).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { connect } from 'nats';
import { NodeConfigSchema } from '../src/config/schema.ts';
import { createLogger } from '../src/infra/logger.ts';
import { EsperNode } from '../src/node/esper-node.ts';
import { percentile } from './stats.ts';

const NATS_URL = process.env['ESPER_BENCH_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const REQUESTS = 3000;

// A worker that multiplies 256×256 matrices until told to stop: pure CPU, no I/O.
const HEAVY_JOB = `
const { parentPort } = require('node:worker_threads');
const n = 256, a = new Float64Array(n * n).fill(1.0001), b = new Float64Array(n * n).fill(0.9999), c = new Float64Array(n * n);
let running = true, rounds = 0;
parentPort.on('message', () => { running = false; });
function round() {
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) { const x = a[i * n + k]; for (let j = 0; j < n; j++) c[i * n + j] += x * b[k * n + j]; }
  rounds++;
  if (running) setImmediate(round); else parentPort.postMessage(rounds);
}
round();
`;

async function measure(request: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await request(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = process.hrtime.bigint();
    await request();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return samples;
}

async function main(): Promise<void> {
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const config = NodeConfigSchema.parse({
    node: { name: 'bench-node' },
    nats: { url: NATS_URL },
    subjectPrefix: prefix,
    membership: { bucket: `${prefix}_nodes` },
    log: { level: 'warn' },
  });
  const node = new EsperNode({ config, logger: createLogger({ level: 'warn' }) });
  await node.start();
  // The client runs in this process too, but only awaits replies: the node's
  // handler work is what shares the event loop with the heavy worker's host.
  const nc = await connect({ servers: NATS_URL });
  const subject = `${prefix}.ctl.node.bench-node.status`;
  const empty = new Uint8Array();
  const request = (): Promise<unknown> => nc.request(subject, empty, { timeout: 5000 });

  const idle = await measure(request);
  const training = process.argv.includes('--load') && process.argv[process.argv.indexOf('--load') + 1] === 'training';
  let loadName = 'cpu-heavy worker';
  let worker: Worker;
  if (training) {
    // Loader hooks are not inherited by worker threads: install tsx's first (as tolaria/worker/worker-bootstrap.mjs does).
    const entry = new URL('./load/training-worker.ts', import.meta.url).href;
    worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
    const ready = await new Promise<{ ready: string }>((resolve) => worker.once('message', resolve));
    loadName = `training worker (${ready.ready})`;
  } else {
    worker = new Worker(HEAVY_JOB, { eval: true });
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const loaded = await measure(request);
  worker.postMessage('stop');
  const rounds = await new Promise<unknown>((resolve) => worker.once('message', resolve));
  await worker.terminate();

  const row = (name: string, samples: number[]): { name: string; p50: number; p99: number } => ({
    name,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
  });
  const results = {
    requests: REQUESTS,
    idle: row('idle', idle),
    loaded: row(loadName, loaded),
    workerRounds: rounds,
    p99Ratio: percentile(loaded, 99) / percentile(idle, 99),
    p50Ratio: percentile(loaded, 50) / percentile(idle, 50),
  };
  console.log('| condition | p50 (ms) | p99 (ms) |');
  console.log('|---|---|---|');
  for (const r of [results.idle, results.loaded]) console.log(`| ${r.name} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} |`);
  console.log(`| ratio loaded/idle | ${results.p50Ratio.toFixed(2)}× | ${results.p99Ratio.toFixed(2)}× |`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/control.json', import.meta.url), JSON.stringify(results, null, 2));
  await nc.close();
  await node.stop('bench done');
  const jsm = await (await connect({ servers: NATS_URL })).jetstreamManager();
  await jsm.streams.delete(`KV_${prefix}_nodes`).catch(() => undefined);
  process.exit(0);
}

await main();
