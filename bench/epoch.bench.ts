/**
 * Issue 12: one training epoch of the MLP 784-256-128-10 on Fashion-MNIST
 * (20k images: 16k train, 4k validation; Adam 1e-3, batch 128; an epoch is
 * the training pass plus the validation pass, as `esper run` times it in
 * `durationMs`) on wasm, native with 1 OpenBLAS thread and native with 2,
 * against the same training in PyTorch (bench/reference/torch_reference.py,
 * when /usr/bin/python3 has Debian's python3-torch; optional) with 1 and 2
 * threads. Esper's variants alternate epoch by epoch, so load drift hits all
 * of them; the first epoch of each is a warm-up. Ratios are Esper / PyTorch
 * medians of the same run.
 *
 *   node --import tsx bench/epoch.bench.ts          (EPOCHS=4 by default)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { selectBackend } from '../src/tensor/backend.ts';
import { tryLoadNativeAddon } from '../src/tensor/native/native-addon.ts';
import { setNativeThreads } from '../src/tensor/native/native-backend.ts';
import { TrainingSession } from '../src/tensor/training/training-session.ts';
import { percentile } from './stats.ts';

const EPOCHS = Number(process.env['EPOCHS'] ?? 4);
const PYTHON = '/usr/bin/python3';

interface Variant {
  name: string;
  backend: 'wasm' | 'native';
  threads?: number;
  session?: TrainingSession;
  epochMs: number[];
}

async function session(backend: 'wasm' | 'native'): Promise<TrainingSession> {
  return TrainingSession.create({
    backend,
    seed: 0,
    dataset: { kind: 'fashion-mnist', limit: 20000, layout: 'flat' },
    validation: 0.2,
    host: { kind: 'mlp', hidden: [256, 128] },
    optimizer: { kind: 'adam', learningRate: 1e-3 },
    batchSize: 128,
  });
}

function torchEpochs(threads: number): number[] | undefined {
  try {
    const out = execFileSync(PYTHON, ['bench/reference/torch_reference.py', 'epoch', '--threads', String(threads), '--epochs', String(EPOCHS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return (JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { epochMs?: number[] }).epochMs;
  } catch (error) {
    console.log(`PyTorch reference not run (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const [loadBefore = 0] = loadavg();
  const variants: Variant[] = [{ name: 'wasm', backend: 'wasm', epochMs: [] }];
  if (tryLoadNativeAddon().addon !== undefined) {
    variants.push({ name: 'native, 1 thread', backend: 'native', threads: 1, epochMs: [] }, { name: 'native, 2 threads', backend: 'native', threads: 2, epochMs: [] });
  } else {
    console.log(`native backend not built: ${tryLoadNativeAddon().reason ?? ''}`);
  }
  for (const v of variants) {
    await selectBackend(v.backend);
    v.session = await session(v.backend);
  }
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (const v of variants) {
      await selectBackend(v.backend);
      if (v.threads !== undefined) setNativeThreads(v.threads);
      const report = (v.session as TrainingSession).runEpoch();
      if (epoch > 0) v.epochMs.push(report.durationMs); // the first epoch warms up
    }
  }
  const torch = { 1: torchEpochs(1)?.slice(1), 2: torchEpochs(2)?.slice(1) };
  const [loadAfter = 0] = loadavg();
  const median = (xs: readonly number[] | undefined): number | undefined => (xs === undefined || xs.length === 0 ? undefined : percentile(xs, 50));
  const rows = variants.map((v) => {
    const ms = median(v.epochMs) as number;
    const ref = median(torch[(v.threads ?? 1) as 1 | 2]);
    return { variant: v.name, medianMs: ms, torchMs: ref, ratio: ref === undefined ? undefined : ms / ref };
  });
  console.log(`MLP 784-256-128-10, Fashion-MNIST 16k/4k, Adam, batch 128; ${EPOCHS - 1} timed epochs; ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}; load ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`);
  console.log('| Esper variant | epoch ms (median) | PyTorch, same threads | ratio |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.variant} | ${r.medianMs.toFixed(0)} | ${r.torchMs?.toFixed(0) ?? 'n/a'} | ${r.ratio?.toFixed(2) ?? 'n/a'} |`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/epoch.json', JSON.stringify({ epochs: EPOCHS, loadBefore, loadAfter, variants: variants.map(({ session: _s, ...v }) => v), torch, rows }, null, 2));
  for (const v of variants) v.session?.dispose();
}

await main();
