/**
 * Issue 4: what seed slots cost. Same run, same backend (wasm):
 *  - train step of the 784-256-128-10 MLP (batch 128) with K DORMANT slots vs
 *    the same host without slots (goal ≤ 1% overhead);
 *  - inference (forward only) with K dormant slots vs none;
 *  - checkpoint capture + encode, and decode + verify + restore, of that model.
 *
 *   node --import tsx bench/slots.bench.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/tensor/backend.ts';
import { capture, decodeCheckpoint, encodeCheckpoint, restore } from '../src/tensor/checkpoint.ts';
import { mlpHost } from '../src/tensor/hosts/mlp-host.ts';
import type { HostModel } from '../src/tensor/hosts/model.ts';
import { Optimizer, trainStep } from '../src/tensor/optimizer.ts';
import { Rng } from '../src/tensor/rng.ts';
import { percentile } from './stats.ts';

const WIDTHS = [784, 256, 128, 10];
const BATCH = 128;
const ROUNDS = 7;
const STEPS_PER_ROUND = 30;

function build(slots: number): { model: HostModel; optimizer: Optimizer } {
  const model = mlpHost({
    widths: WIDTHS,
    rng: new Rng(1),
    slots: Array.from({ length: slots }, (_, i) => ({ id: `s${i}`, afterLayer: (i % 2) + 1 })),
  });
  return { model, optimizer: new Optimizer({ kind: 'adam', learningRate: 1e-3 }, model.paramGroups()) };
}

/** Median over rounds of the mean per-step time, ms; the two models alternate round by round. */
function alternate(models: { name: string; run: () => void }[], stepsPerRound = STEPS_PER_ROUND): Map<string, number> {
  const times = new Map<string, number[]>(models.map((m) => [m.name, []]));
  for (const m of models) for (let i = 0; i < 5; i++) m.run(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of models) {
      const started = performance.now();
      for (let i = 0; i < stepsPerRound; i++) m.run();
      times.get(m.name)?.push((performance.now() - started) / stepsPerRound);
    }
  }
  return new Map([...times].map(([name, samples]) => [name, percentile(samples, 50)]));
}

async function main(): Promise<void> {
  const backend = await selectBackend('wasm');
  const rng = new Rng(9);
  const x = tf.tensor2d(Float32Array.from({ length: BATCH * 784 }, () => rng.next()), [BATCH, 784]);
  const y = tf.oneHot(tf.tensor1d(Int32Array.from({ length: BATCH }, () => rng.int(10)), 'int32'), 10).toFloat();
  const plain = build(0);
  const slotted = build(4);
  const train = alternate([
    { name: 'no slots', run: () => void trainStep(plain.model, plain.optimizer, x, y) },
    { name: '4 dormant slots', run: () => void trainStep(slotted.model, slotted.optimizer, x, y) },
  ]);
  const infer = alternate([
    { name: 'no slots', run: () => tf.tidy(() => void plain.model.forward(x).dataSync()) },
    { name: '4 dormant slots', run: () => tf.tidy(() => void slotted.model.forward(x).dataSync()) },
  ], 200);

  // The dormant path itself, timed directly: a slot's apply() on a real activation, no tensor work.
  const h = tf.zeros([BATCH, 256]);
  const dormant = slotted.model.slots[0];
  const calls = 200_000;
  let started = performance.now();
  for (let i = 0; i < calls; i++) dormant?.apply(h);
  const dormantApplyUs = ((performance.now() - started) * 1000) / calls;
  h.dispose();

  const captureMs: number[] = [];
  const restoreMs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 10; i++) {
    started = performance.now();
    const encoded = encodeCheckpoint(capture(slotted.model, slotted.optimizer, { rng, cursor: { epoch: i } }));
    captureMs.push(performance.now() - started);
    bytes = encoded.byteLength;
    started = performance.now();
    restore(decodeCheckpoint(encoded), { model: slotted.model, optimizer: slotted.optimizer, rng });
    restoreMs.push(performance.now() - started);
  }

  const trainPlain = train.get('no slots') ?? Number.NaN;
  const trainSlotted = train.get('4 dormant slots') ?? Number.NaN;
  const inferPlain = infer.get('no slots') ?? Number.NaN;
  const inferSlotted = infer.get('4 dormant slots') ?? Number.NaN;
  const results = {
    backend,
    model: WIDTHS.join('-'),
    batch: BATCH,
    trainStepMs: { noSlots: trainPlain, dormant4: trainSlotted, overheadPct: (trainSlotted / trainPlain - 1) * 100 },
    inferenceMs: { noSlots: inferPlain, dormant4: inferSlotted, overheadPct: (inferSlotted / inferPlain - 1) * 100 },
    dormantApplyUs,
    dormantPathShareOfStepPct: ((4 * dormantApplyUs) / 1000 / trainPlain) * 100,
    checkpoint: { bytes, captureMsP50: percentile(captureMs, 50), restoreMsP50: percentile(restoreMs, 50) },
  };
  console.log(`backend ${backend}, MLP ${results.model}, batch ${BATCH}, median of ${ROUNDS} rounds × ${STEPS_PER_ROUND} steps`);
  console.log('| measure | no slots | 4 dormant slots | overhead |');
  console.log('|---|---:|---:|---:|');
  console.log(`| train step (ms) | ${trainPlain.toFixed(2)} | ${trainSlotted.toFixed(2)} | ${results.trainStepMs.overheadPct.toFixed(2)}% |`);
  console.log(`| inference (ms) | ${inferPlain.toFixed(2)} | ${inferSlotted.toFixed(2)} | ${results.inferenceMs.overheadPct.toFixed(2)}% |`);
  console.log(`| one dormant slot's apply() (µs) | | ${dormantApplyUs.toFixed(3)} | ${results.dormantPathShareOfStepPct.toFixed(4)}% of a step for 4 slots |`);
  console.log(`| checkpoint capture+encode (ms, ${(bytes / 1e6).toFixed(2)} MB) | | ${results.checkpoint.captureMsP50.toFixed(1)} | |`);
  console.log(`| checkpoint decode+verify+restore (ms) | | ${results.checkpoint.restoreMsP50.toFixed(1)} | |`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/slots.json', import.meta.url), JSON.stringify(results, null, 2));
}

await main();
