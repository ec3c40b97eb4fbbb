/**
 * Issues 5 and 12: "zero compilation stalls". Training-step times of the
 * spirals MLP (batch 64, wasm), first alone, then while the kernel worker
 * pool (1 worker, as configured by default) compiles and validates four
 * blueprints in a loop. Phases alternate in short chunks of the same run;
 * goal p99 ratio ≤ 1.05. Also reports compile and validation times per tier.
 *
 *   node --import tsx bench/stall.bench.ts [--isolation process|thread] [--nice N] [--trainer main|worker]
 *     [--gate auto|always|off] [--gate-max-pause-ms N] [--gate-resume-ms N]
 *
 * --isolation / --nice: the pool's (default: what a node uses, process / 19).
 * --trainer worker: the steps run in a worker thread, as a real run's do
 *   (tolaria/worker/); main (default): in this thread, which yields between
 *   steps so that the pool's messages are handled while training runs.
 * --gate*: the pool gate (pipeline.poolGate*; default: a node's, auto /
 *   1000 / 20). The trainer holds it for each chunk of steps, as the training
 *   worker holds it for each request (an epoch): with the gate on, the pool's
 *   child is stopped while a chunk trains, except for the duty cycle's forced
 *   runs, and runs between chunks.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { catalogBlueprint, parseInterfaceFlag } from '../src/actors/karn/index.ts';
import { POOL_GATE_DEFAULTS, POOL_GATE_MODES, type PoolGateSettings } from '../src/actors/pipeline/pool-gate-policy.ts';
import { configureProcessPoolGate, processPoolGate } from '../src/actors/pipeline/process-pool-gate.ts';
import { KernelWorkerPool } from '../src/actors/pipeline/worker-pool.ts';
import { BatchCursor, toTensors } from '../src/tensor/datasets/dataset.ts';
import { twoSpirals } from '../src/tensor/datasets/synthetic.ts';
import { trainStep } from '../src/tensor/optimizer.ts';
import { Rng } from '../src/tensor/rng.ts';
import { TrainingSession } from '../src/tensor/training/training-session.ts';
import { percentile } from './stats.ts';

/** Chunks per phase, steps per chunk: short chunks, so that drift in the shared machine's load hits both phases alike. */
const CHUNKS = 30;
const CHUNK_STEPS = 200;
const BLUEPRINTS = ['mlp_small', 'lora_r16', 'mlp_large', 'attention_se'] as const;

/** A trainer: runs `n` steps and returns each step's time, ms. */
type Trainer = { steps(n: number): Promise<number[]>; close(): Promise<void> };

async function localTrainer(): Promise<Trainer> {
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
  return {
    // Yield between steps, as the trainer's worker thread does: its messages (and, in
    // the main thread, the pool's) are handled while training runs. The chunk holds
    // the pool gate, as the training worker holds it for each request.
    steps: (n) =>
      processPoolGate().hold(async () => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          out.push(step());
          await new Promise((resolve) => setImmediate(resolve));
        }
        return out;
      }),
    close: () => {
      session.dispose();
      return Promise.resolve();
    },
  };
}

/** The trainer in a worker thread of this process, as `esper run` trains. */
async function workerTrainer(): Promise<Trainer> {
  // Loader hooks are not inherited by worker threads: install tsx's first (as tolaria/worker/worker-bootstrap.mjs does).
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: { trainer: true } });
  const replies: { resolve: (times: number[]) => void; reject: (error: unknown) => void }[] = [];
  worker.on('message', (times: number[]) => replies.shift()?.resolve(times));
  worker.on('error', (error) => replies.splice(0).forEach((r) => r.reject(error))); // one listener, not one per request
  const ask = (n: number): Promise<number[]> =>
    new Promise((resolve, reject) => {
      replies.push({ resolve, reject });
      worker.postMessage(n);
    });
  await ask(0);
  return { steps: ask, close: async () => void (await worker.terminate()) };
}

function flag(): { isolation: 'process' | 'thread'; nice: number; trainer: 'main' | 'worker'; gate: PoolGateSettings } {
  const { values } = parseArgs({
    options: {
      isolation: { type: 'string', default: 'process' },
      nice: { type: 'string', default: '19' },
      trainer: { type: 'string', default: 'main' },
      gate: { type: 'string', default: POOL_GATE_DEFAULTS.mode },
      'gate-max-pause-ms': { type: 'string', default: String(POOL_GATE_DEFAULTS.maxPauseMs) },
      'gate-resume-ms': { type: 'string', default: String(POOL_GATE_DEFAULTS.resumeMs) },
    },
  });
  if (values.isolation !== 'process' && values.isolation !== 'thread') throw new Error('--isolation is process or thread');
  if (values.trainer !== 'main' && values.trainer !== 'worker') throw new Error('--trainer is main or worker');
  const mode = POOL_GATE_MODES.find((m) => m === values.gate);
  if (mode === undefined) throw new Error(`--gate is one of ${POOL_GATE_MODES.join(', ')}`);
  const gate = { mode, maxPauseMs: Number(values['gate-max-pause-ms']), resumeMs: Number(values['gate-resume-ms']) };
  return { isolation: values.isolation, nice: Number(values.nice), trainer: values.trainer, gate };
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const options = flag();
  const loadBefore = loadavg();
  // Before the trainer's thread starts: it attaches to the process's gate when it starts.
  const gate = configureProcessPoolGate(options.gate);
  const trainer = options.trainer === 'worker' ? await workerTrainer() : await localTrainer();
  await trainer.steps(300); // warm-up

  const pool = new KernelWorkerPool({ size: 1, isolation: options.isolation, nice: options.nice });
  const iface = parseInterfaceFlag('dense:64');
  // Start the worker before measuring either phase (its start-up is not a compile).
  await pool.compile({ ir: catalogBlueprint('norm', iface), tier: 'fast' });

  const timings: Record<string, number[]> = { 'compile fast': [], 'compile optimized': [], validate: [] };
  /** Wall time of each job (compile + validate of one blueprint), from submission to the validation's answer, ms. */
  const jobWallMs: number[] = [];
  let active = false;
  let stopped = false;
  let busy = false;
  let jobs = 0;
  const loop = (async () => {
    let round = 0;
    while (!stopped) {
      if (!active) {
        busy = false;
        await sleep(5);
        continue;
      }
      busy = true;
      await Promise.all(
        BLUEPRINTS.map(async (name) => {
          const tier = round % 2 === 0 ? 'fast' : 'optimized';
          const submitted = performance.now();
          const compiled = await pool.compile({ ir: catalogBlueprint(name, iface), tier });
          timings[`compile ${tier}`]?.push(compiled.debug.workerMs);
          const validated = await pool.validate(compiled.artifact);
          timings['validate']?.push(validated.debug.workerMs);
          jobWallMs.push(performance.now() - submitted);
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
    while (busy) await sleep(5); // in-flight jobs finish before "alone" starts
    await sleep(20); // the same rest as before a loaded chunk: neither starts while the last results are handled
    alone.push(...(await trainer.steps(CHUNK_STEPS)));
    active = true;
    await sleep(20); // jobs under way
    loaded.push(...(await trainer.steps(CHUNK_STEPS)));
  }
  stopped = true;
  active = false;
  await loop;
  const priority = pool.priority();
  const gateAfter = gate.snapshot();
  await pool.close();
  await trainer.close();

  const row = (samples: number[]): { p50: number; p99: number } => ({ p50: percentile(samples, 50), p99: percentile(samples, 99) });
  const results = {
    pool: { isolation: options.isolation, nice: options.nice, priority },
    gate: { ...options.gate, pausedMs: gateAfter.pausedMs, pauses: gateAfter.pauses, forcedResumes: gateAfter.forcedResumes, cpus: gateAfter.cpus },
    trainer: options.trainer,
    stepsPerPhase: alone.length,
    loadavg: { before: loadBefore, after: loadavg() },
    alone: row(alone),
    withJobs: row(loaded),
    jobsCompletedDuringMeasurement: jobs,
    p99Ratio: percentile(loaded, 99) / percentile(alone, 99),
    p50Ratio: percentile(loaded, 50) / percentile(alone, 50),
    jobWallMs: { n: jobWallMs.length, p50: percentile(jobWallMs, 50), p99: percentile(jobWallMs, 99) },
    pipelineMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, { n: v.length, p50: percentile(v, 50), p99: percentile(v, 99) }])),
  };
  console.log(`pool: ${options.isolation}, nice ${options.nice} (applied: ${priority?.applied ?? '?'}, threads ${priority?.niceMin ?? '?'}..${priority?.niceMax ?? '?'}, SCHED_IDLE: ${String(priority?.idleClass ?? false)}); trainer: ${options.trainer} thread`);
  console.log(
    `pool gate: ${options.gate.mode}, max pause ${options.gate.maxPauseMs} ms, resume ${options.gate.resumeMs} ms (cpus ${gateAfter.cpus}): ${gateAfter.pauses} pauses, ${gateAfter.forcedResumes} broken by the duty cycle, ${(gateAfter.pausedMs / 1000).toFixed(1)} s paused`,
  );
  console.log(`load average before / after: ${results.loadavg.before} / ${results.loadavg.after}\n`);
  console.log(`| training step (ms) | p50 | p99 |`);
  console.log('|---|---:|---:|');
  console.log(`| alone | ${results.alone.p50.toFixed(3)} | ${results.alone.p99.toFixed(3)} |`);
  console.log(`| 4 compile+validate jobs running | ${results.withJobs.p50.toFixed(3)} | ${results.withJobs.p99.toFixed(3)} |`);
  console.log(`| ratio | ${results.p50Ratio.toFixed(3)} | ${results.p99Ratio.toFixed(3)} |`);
  console.log(`\njobs completed while measuring: ${jobs}; job wall time (compile + validate, submission to answer): p50 ${results.jobWallMs.p50.toFixed(0)} ms, p99 ${results.jobWallMs.p99.toFixed(0)} ms (n ${results.jobWallMs.n})`);
  console.log('| pipeline stage (in worker, ms) | n | p50 | p99 |');
  console.log('|---|---:|---:|---:|');
  for (const [name, value] of Object.entries(results.pipelineMs)) console.log(`| ${name} | ${value.n} | ${value.p50.toFixed(1)} | ${value.p99.toFixed(1)} |`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/stall.json', import.meta.url), JSON.stringify(results, null, 2));
}

if (isMainThread) {
  await main();
} else if ((workerData as { trainer?: boolean } | null)?.trainer === true && parentPort !== null) {
  const port = parentPort;
  const trainer = await localTrainer();
  port.on('message', (n: number) => {
    void trainer.steps(n).then((times) => port.postMessage(times));
  });
}
