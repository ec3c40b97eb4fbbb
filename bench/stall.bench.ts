/**
 * Issue 5: "zero compilation stalls". Training-step times of the spirals MLP
 * (batch 64, wasm) in this thread, first alone, then while the kernel worker
 * pool (1 worker, as configured by default) compiles and validates four
 * blueprints in a loop. Same run; goal p99 ratio ≤ 1.05. Also reports compile
 * and validation times per tier.
 *
 *   node --import tsx bench/stall.bench.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { catalogBlueprint, parseInterfaceFlag } from '../src/actors/karn/index.ts';
import { KernelWorkerPool } from '../src/actors/pipeline/worker-pool.ts';
import { toTensors } from '../src/tensor/datasets/dataset.ts';
import { trainStep } from '../src/tensor/optimizer.ts';
import { TrainingSession } from '../src/tensor/training/training-session.ts';
import { BatchCursor } from '../src/tensor/datasets/dataset.ts';
import { twoSpirals } from '../src/tensor/datasets/synthetic.ts';
import { Rng } from '../src/tensor/rng.ts';
import { percentile } from './stats.ts';

const STEPS = 6000;
const CHUNKS = 6;
const BLUEPRINTS = ['mlp_small', 'lora_r16', 'mlp_large', 'attention_se'] as const;

async function main(): Promise<void> {
  const session = await TrainingSession.create({
    backend: 'wasm',
    seed: 1,
    dataset: { kind: 'spirals', n: 4000 },
    host: { kind: 'mlp', hidden: [64, 64] },
    batchSize: 64,
  });
  const cursor = new BatchCursor(twoSpirals(new Rng(2), { n: 4000 }), { batchSize: 64, rng: new Rng(3) });
  const step = (): number => {
    const batch = cursor.next();
    const started = performance.now();
    tf.tidy(() => {
      const { xs, ys } = toTensors(batch);
      trainStep(session.model, session.optimizer, xs, ys);
    });
    return performance.now() - started;
  };
  // Yield between steps, as the trainer's worker thread leaves this event loop
  // free in production: the pool's messages are handled while training runs.
  const steps = async (n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.push(step());
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  };
  await steps(300); // warm-up

  const pool = new KernelWorkerPool({ size: 1 });
  const iface = parseInterfaceFlag('dense:64');
  // Start the worker before measuring either phase (its start-up is not a compile).
  await pool.compile({ ir: catalogBlueprint('norm', iface), tier: 'fast' });

  // Phases alternate in chunks (alone, with jobs, alone, …) so drift in the
  // machine's load hits both sides alike.
  const timings: Record<string, number[]> = { 'compile fast': [], 'compile optimized': [], validate: [] };
  let active = false;
  let stopped = false;
  let jobs = 0;
  const loop = (async () => {
    let round = 0;
    while (!stopped) {
      if (!active) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      await Promise.all(
        BLUEPRINTS.map(async (name) => {
          const tier = round % 2 === 0 ? 'fast' : 'optimized';
          const compiled = await pool.compile({ ir: catalogBlueprint(name, iface), tier });
          timings[`compile ${tier}`]?.push(compiled.debug.workerMs);
          const validated = await pool.validate(compiled.artifact);
          timings['validate']?.push(validated.debug.workerMs);
          if (active) jobs++;
        }),
      );
      round++;
    }
  })();
  const alone: number[] = [];
  const loaded: number[] = [];
  for (let chunk = 0; chunk < CHUNKS; chunk++) {
    active = false;
    await new Promise((resolve) => setTimeout(resolve, 150)); // let in-flight jobs finish
    alone.push(...(await steps(STEPS / CHUNKS)));
    active = true;
    await new Promise((resolve) => setTimeout(resolve, 50)); // jobs under way
    loaded.push(...(await steps(STEPS / CHUNKS)));
  }
  stopped = true;
  active = false;
  await loop;
  await pool.close();

  const row = (samples: number[]): { p50: number; p99: number } => ({ p50: percentile(samples, 50), p99: percentile(samples, 99) });
  const results = {
    steps: STEPS,
    alone: row(alone),
    withJobs: row(loaded),
    jobsCompletedDuringMeasurement: jobs,
    p99Ratio: percentile(loaded, 99) / percentile(alone, 99),
    p50Ratio: percentile(loaded, 50) / percentile(alone, 50),
    pipelineMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, { n: v.length, p50: percentile(v, 50), p99: percentile(v, 99) }])),
  };
  console.log(`| training step (ms) | p50 | p99 |`);
  console.log('|---|---:|---:|');
  console.log(`| alone | ${results.alone.p50.toFixed(3)} | ${results.alone.p99.toFixed(3)} |`);
  console.log(`| 4 compile+validate jobs running | ${results.withJobs.p50.toFixed(3)} | ${results.withJobs.p99.toFixed(3)} |`);
  console.log(`| ratio | ${results.p50Ratio.toFixed(3)} | ${results.p99Ratio.toFixed(3)} |`);
  console.log(`\njobs completed while measuring: ${jobs}`);
  console.log('| pipeline stage (in worker, ms) | n | p50 | p99 |');
  console.log('|---|---:|---:|---:|');
  for (const [name, value] of Object.entries(results.pipelineMs)) console.log(`| ${name} | ${value.n} | ${value.p50.toFixed(1)} | ${value.p99.toFixed(1)} |`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/stall.json', import.meta.url), JSON.stringify(results, null, 2));
  session.dispose();
}

await main();
