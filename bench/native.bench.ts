// Training-step time on the native backend (OpenBLAS addon) against wasm (issue 12, DESIGN §8).
//   npm run build:native && node --import tsx bench/native.bench.ts
// Esper's own training path (mlpHost / cnnHost, Optimizer, trainStep: what `esper run` does),
// batch 128, Adam: (1) the MLP 784-256-128-10, (2) the CNN of bench/tensor.bench.ts (conv 3×3×16 →
// pool → conv 3×3×32 → pool → dense). Variants: wasm, native with OpenBLAS on 1 thread, native on
// 2 threads (setThreads between rounds). Every round times each variant in turn, so load drift on
// a shared machine hits all of them; the table gives the median ms/step over rounds and the ratio
// wasm / native. Then one step of each variant is profiled (tf.profile) and its kernels grouped.
// Then the same steps in PyTorch (bench/reference/torch_reference.py, when /usr/bin/python3 has Debian's
// python3-torch; optional), 1 and 2 threads, in the same run: the ratio column is Esper / PyTorch.
// Writes bench/results/native.json. Env: ROUNDS, MLP_STEPS, CNN_STEPS.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { quietCpuBackend, selectBackend } from '../src/tensor/backend.ts';
import { cnnHost } from '../src/tensor/hosts/cnn-host.ts';
import type { HostModel } from '../src/tensor/hosts/model.ts';
import { mlpHost } from '../src/tensor/hosts/mlp-host.ts';
import { tryLoadNativeAddon } from '../src/tensor/native/native-addon.ts';
import { registerNativeBackend, setNativeThreads } from '../src/tensor/native/native-backend.ts';
import { Optimizer, trainStep } from '../src/tensor/optimizer.ts';
import { Rng } from '../src/tensor/rng.ts';

const BATCH = 128;
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const STEPS = { mlp: Number(process.env['MLP_STEPS'] ?? 20), cnn: Number(process.env['CNN_STEPS'] ?? 4) };
const WARMUP = 3;

type Model = 'mlp' | 'cnn';
const MODEL_NAMES: Record<Model, string> = { mlp: 'MLP 784-256-128-10', cnn: 'CNN conv16-pool-conv32-pool-dense' };

interface Variant {
  name: string;
  backend: 'wasm' | 'native';
  threads?: number;
}

interface Trainer {
  step: () => number;
  dispose: () => void;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** A host, an Adam optimizer and a fixed batch, all on the active backend. */
function trainer(model: Model): Trainer {
  const rng = new Rng(1);
  const host: HostModel =
    model === 'mlp' ? mlpHost({ widths: [784, 256, 128, 10], rng }) : cnnHost({ inputShape: [28, 28, 1], convs: [{ filters: 16 }, { filters: 32 }], classes: 10, rng });
  const shape = model === 'mlp' ? [BATCH, 784] : [BATCH, 28, 28, 1];
  const xs = tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const ys = tf.tensor1d(Int32Array.from({ length: BATCH }, () => rng.int(10)), 'int32');
  const optimizer = new Optimizer({ kind: 'adam', learningRate: 1e-3 });
  return {
    step: () => trainStep(host, optimizer, xs, ys).loss, // reads the loss: the step has finished
    dispose: () => {
      optimizer.dispose();
      host.dispose();
      tf.dispose([xs, ys]);
    },
  };
}

async function activate(variant: Variant): Promise<void> {
  await selectBackend(variant.backend);
  if (variant.threads !== undefined) setNativeThreads(variant.threads);
}

/** Wall ms/step, and process CPU ms/step (all threads: on a loaded machine it moves less than wall time). */
function timeSteps(t: Trainer, steps: number, warmup: number): { wall: number; cpu: number } {
  for (let i = 0; i < warmup; i++) t.step();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) t.step();
  const wall = (performance.now() - t0) / steps;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / steps };
}

/** Kernel time of one step grouped by kernel name, largest first (top 8, then the rest summed). */
async function profileStep(t: Trainer): Promise<{ kernel: string; ms: number; calls: number }[]> {
  const info = await tf.profile(() => {
    t.step();
  });
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const entry = by.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.calls += 1;
    by.set(k.name, entry);
  }
  const rows = [...by].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms);
  const rest = rows.slice(8).reduce((acc, r) => ({ kernel: 'other', ms: acc.ms + r.ms, calls: acc.calls + r.calls }), { kernel: 'other', ms: 0, calls: 0 });
  return [...rows.slice(0, 8), rest];
}

const registration = registerNativeBackend();
if (!registration.ok) {
  console.log(`native backend unavailable (${registration.reason}); nothing to compare. Build it with \`npm run build:native\`.`);
  process.exit(1);
}
quietCpuBackend();
const variants: Variant[] = [
  { name: 'wasm', backend: 'wasm' },
  { name: 'native, 1 thread', backend: 'native', threads: 1 },
  { name: 'native, 2 threads', backend: 'native', threads: 2 },
];
const [loadBefore = 0] = loadavg();

interface Row {
  model: string;
  variant: string;
  msPerStep: number;
  cpuMsPerStep: number;
  rounds: number[];
  profile: { kernel: string; ms: number; calls: number }[];
}
const rows: Row[] = [];

for (const model of ['mlp', 'cnn'] as const) {
  // One trainer per backend (its tensors live there); the two native variants share one and switch threads.
  const trainers = new Map<string, Trainer>();
  for (const v of variants) {
    await activate(v);
    if (!trainers.has(v.backend)) trainers.set(v.backend, trainer(model));
  }
  const rounds = new Map<string, { wall: number; cpu: number }[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of variants) {
      await activate(v);
      rounds.get(v.name)!.push(timeSteps(trainers.get(v.backend)!, STEPS[model], r === 0 ? WARMUP : 1));
    }
  }
  for (const v of variants) {
    await activate(v);
    const times = rounds.get(v.name)!;
    const ms = times.map((t) => t.wall);
    rows.push({
      model: MODEL_NAMES[model],
      variant: v.name,
      msPerStep: median(ms),
      cpuMsPerStep: median(times.map((t) => t.cpu)),
      rounds: ms,
      profile: await profileStep(trainers.get(v.backend)!),
    });
  }
  for (const [backend, t] of trainers) {
    await selectBackend(backend as 'wasm' | 'native');
    t.dispose();
  }
}
await selectBackend('wasm');

/** PyTorch's ms/step for the same model and thread count (bench/reference/torch_reference.py; Debian's python3-torch, optional). */
function torchStep(model: Model, threads: number): number | undefined {
  try {
    const args = ['bench/reference/torch_reference.py', 'step', '--model', model, '--threads', String(threads), '--rounds', String(ROUNDS), '--steps', String(STEPS[model])];
    const out = execFileSync('/usr/bin/python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return (JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { msPerStep?: number }).msPerStep;
  } catch {
    return undefined;
  }
}
const torch = new Map<string, number | undefined>();
for (const model of ['mlp', 'cnn'] as const) for (const threads of [1, 2]) torch.set(`${MODEL_NAMES[model]}/${threads}`, torchStep(model, threads));
const torchFor = (r: Row): number | undefined => torch.get(`${r.model}/${r.variant.includes('2 threads') ? 2 : 1}`);
const [loadAfter = 0] = loadavg();

const wasmMs = (model: string): number => rows.find((r) => r.model === model && r.variant === 'wasm')!.msPerStep;
console.log(`\nTraining step, batch ${BATCH}, Adam, Esper's trainStep (node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores, load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)})`);
console.log(`OpenBLAS: ${tryLoadNativeAddon().addon?.blasConfig() ?? '?'}\n`);
console.log('| model | variant | ms/step (median) | wasm / this | PyTorch, same threads (ms) | this / PyTorch | CPU ms/step (median, all threads) | rounds (ms/step) |');
console.log('|---|---|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  const rounds = r.rounds.map((v) => v.toFixed(1)).join(', ');
  const ref = torchFor(r);
  const vsTorch = ref === undefined ? 'n/a' : (r.msPerStep / ref).toFixed(2);
  console.log(`| ${r.model} | ${r.variant} | ${r.msPerStep.toFixed(2)} | ${(wasmMs(r.model) / r.msPerStep).toFixed(2)}× | ${ref?.toFixed(2) ?? 'n/a'} | ${vsTorch} | ${r.cpuMsPerStep.toFixed(2)} | ${rounds} |`);
}
if ([...torch.values()].every((v) => v === undefined)) console.log('(PyTorch reference not run: /usr/bin/python3 with python3-torch is not installed)');
console.log('\nKernel time of one profiled step (ms, calls):');
for (const r of rows) {
  console.log(`- ${r.model}, ${r.variant}: ${r.profile.map((p) => `${p.kernel} ${p.ms.toFixed(2)} (${p.calls})`).join(', ')}`);
}

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'native.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      benchmark: 'native',
      at: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      blas: tryLoadNativeAddon().addon?.blasConfig() ?? null,
      loadAverage1m: { before: loadBefore, after: loadAfter },
      config: { batch: BATCH, rounds: ROUNDS, steps: STEPS, optimizer: 'adam', path: 'trainStep' },
      results: rows,
      pytorch: Object.fromEntries(torch),
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${out}`);
