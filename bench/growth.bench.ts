/**
 * Issue 11 ("growth adds no per-step cost beyond the new units' own work") and
 * issue 12 item 5 (inference of a grown model, fossils merged, vs the static
 * model of the same topology ≤ 5%). wasm backend (or BACKEND), MLP on Fashion-MNIST-shaped
 * random data (784 inputs, 10 classes, batch 128), Adam, in one run:
 *
 *  1. training step of a host with a live width seed (TRAINING — live, the
 *     default, and straight-through — then BLENDING at α = 0.5, and at α = 1 as
 *     with no ramp, `policy.widthTempoEpochs: 1`) on layer 1 vs the static MLP with the same units as one
 *     layer: 784-4-10 + k = 16 vs 784-20-10, 784-32-10 + k = 32 vs 784-64-10
 *     (the seed's matmuls are exactly the FLOPs the static layer spends on
 *     those units, so ratio 1 = no cost beyond their own work);
 *  2. the grown model (784-4-10 + 16, trained through TRAINING and BLENDING,
 *     then FOSSILIZED: merged into the host) vs static 784-20-10: training
 *     step, and inference (forward only) at batch 128 and batch 1;
 *  3. host 784-4-10 with 4 DORMANT width slots vs the same host without;
 *  1b. as 1 on a CNN (28×28×1 → conv → dense 10): a channel-width seed of
 *     k = 8 on a 1- and an 8-channel conv block vs the static CNN with 9 and
 *     16 channels.
 *
 * Variants of a comparison alternate within every round (ABAB…, the starting
 * variant rotating), each step is timed on its own; median and p90 are over
 * all timed steps, the ratio is the median over rounds of the paired round
 * ratio (variant round median / baseline round median), so load drift hits
 * both sides. Kernels per call (tf.profile's entries: kernels plus a few
 * custom-gradient scopes), split into forward / backward / Adam for the live
 * seeds, explain any extra cost.
 *
 *   node --import tsx bench/growth.bench.ts            (BACKEND=native for the native backend)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../src/tensor/backend.ts';
import { cnnHost } from '../src/tensor/hosts/cnn-host.ts';
import { mlpHost } from '../src/tensor/hosts/mlp-host.ts';
import type { HostModel, SlotSpec } from '../src/tensor/hosts/model.ts';
import { Optimizer, softmaxCrossEntropy, trainStep, withResidentSeeds } from '../src/tensor/optimizer.ts';
import { Rng } from '../src/tensor/rng.ts';
import { forkSeedRng } from '../src/tensor/seed-slot.ts';
import type { SlotMode } from '../src/tensor/slot-state.ts';
import { initWidthSeed } from '../src/tensor/width/width-init.ts';
import type { WidthTrainingForward } from '../src/tensor/width/width-slot.ts';
import { percentile } from './stats.ts';

/** Backend to measure on (`BACKEND=native` for the OpenBLAS addon). @default 'wasm' */
const BENCH_BACKEND = (process.env['BACKEND'] ?? 'wasm') as BackendName;
const INPUTS = 784;
const CLASSES = 10;
const BATCH = 128;
const ADAM = { kind: 'adam', learningRate: 1e-3 } as const;
const WARMUP = 30;
const TRAIN_ROUNDS = 25;
const TRAIN_STEPS = 20;
const INFER_ROUNDS = 25;
const INFER_CALLS = 200;
/** Steps the grown model trains in each mode before it is merged (the lifecycle it would go through in a run). */
const LIFECYCLE_STEPS = 5;

interface Net {
  model: HostModel;
  optimizer: Optimizer;
}

/** Makes the net's blending seed resident in its host layers, as `esper run` trains it (withResidentSeeds); disposing the optimizer and the model leaves the form. */
function resident(net: Net): Net {
  const fusion = net.model.fuseResidentSeeds();
  if (fusion === undefined) throw new Error('the blending seed cannot be resident');
  net.optimizer.fuse(fusion);
  return net;
}

/** An MLP 784-`hidden`-10; with `units`, a random-init width seed of that many units on layer 1 in `mode`; `dormantSlots` empty width slots. */
function build(hidden: number, seed?: { units: number; mode: SlotMode; forward?: WidthTrainingForward; alpha?: number }, dormantSlots = 0): Net {
  const slots: SlotSpec[] = Array.from({ length: dormantSlots }, (_, i) => ({ id: `d${i}`, afterLayer: 1, kind: 'width' as const }));
  if (seed !== undefined) slots.push({ id: 'w1', afterLayer: 1, kind: 'width', ...(seed.forward === undefined ? {} : { options: { trainingForward: seed.forward } }) });
  const model = mlpHost({ widths: [INPUTS, hidden, CLASSES], rng: new Rng(1), slots });
  if (seed !== undefined) {
    const slot = model.widthSlot('w1');
    slot.attach(initWidthSeed(model, slot.layer, slot.geometry, { units: seed.units }, forkSeedRng(new Rng(7), 'w1')));
    slot.setMode(seed.mode, seed.mode === 'BLENDING' ? (seed.alpha ?? 0.5) : undefined);
  }
  return { model, optimizer: new Optimizer(ADAM, model.paramGroups()) };
}

/** CNN rounds and steps: a CNN step is 20–100× an MLP step. */
const CNN_ROUNDS = 10;
const CNN_STEPS = 5;

/** A CNN 28×28×1 → conv `filters` → dense 10; with `units`, a random-init channel-width seed of that many channels on the conv block in `mode`. */
function buildCnn(filters: number, seed?: { units: number; mode: SlotMode; forward?: WidthTrainingForward; alpha?: number }): Net {
  const slots: SlotSpec[] = seed === undefined ? [] : [{ id: 'c1', afterLayer: 1, kind: 'width', ...(seed.forward === undefined ? {} : { options: { trainingForward: seed.forward } }) }];
  const model = cnnHost({ inputShape: [28, 28, 1], convs: [{ filters }], dense: [], classes: CLASSES, rng: new Rng(1), slots });
  if (seed !== undefined) {
    const slot = model.widthSlot('c1');
    slot.attach(initWidthSeed(model, slot.layer, slot.geometry, { units: seed.units }, forkSeedRng(new Rng(7), 'c1')));
    slot.setMode(seed.mode, seed.mode === 'BLENDING' ? (seed.alpha ?? 0.5) : undefined);
  }
  return { model, optimizer: new Optimizer(ADAM, model.paramGroups()) };
}

/** 784-`hidden`-10 grown by `units` the way a run grows it: TRAINING, BLENDING (α 0.5 → 1), FOSSILIZED (merged; Adam state carried). */
function grown(hidden: number, units: number, x: tf.Tensor, y: tf.Tensor): Net {
  const net = build(hidden, { units, mode: 'TRAINING' });
  const slot = net.model.widthSlot('w1');
  for (let i = 0; i < LIFECYCLE_STEPS; i++) trainStep(net.model, net.optimizer, x, y);
  slot.setMode('BLENDING', 0.5);
  withResidentSeeds(net.model, net.optimizer, () => {
    for (let i = 0; i < LIFECYCLE_STEPS; i++) trainStep(net.model, net.optimizer, x, y);
  });
  slot.setMode('BLENDING', 1);
  slot.setMode('FOSSILIZED');
  trainStep(net.model, net.optimizer, x, y); // rebinds the optimizer to the merged host
  const widths = (net.model.config['widths'] as number[]).join('-');
  if (widths !== `${INPUTS}-${hidden + units}-${CLASSES}` || net.optimizer.groupIds().join() !== 'host') throw new Error(`grown model is ${widths}, groups ${net.optimizer.groupIds().join()}`);
  return net;
}

interface Variant {
  name: string;
  run: () => void;
}

interface Timing {
  /** Every timed call, ms. */
  samples: number[];
  /** Per round, the median of that round's calls, ms. */
  rounds: number[];
}

/** Times `calls` calls of each variant per round, variants alternating within a round (the first one rotating). */
function alternate(variants: readonly Variant[], rounds: number, calls: number): Map<string, Timing> {
  const out = new Map<string, Timing>(variants.map((v) => [v.name, { samples: [], rounds: [] }]));
  for (const v of variants) for (let i = 0; i < WARMUP; i++) v.run();
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(r + j) % variants.length] as Variant;
      const timing = out.get(v.name) as Timing;
      const round: number[] = [];
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        v.run();
        round.push(performance.now() - started);
      }
      timing.samples.push(...round);
      timing.rounds.push(percentile(round, 50));
    }
  }
  return out;
}

interface Row {
  section: string;
  variant: string;
  baseline: string;
  medianMs: number;
  p90Ms: number;
  /** Median over rounds of variant / baseline (paired by round). */
  ratio: number;
  /** 25th–75th percentile of the paired round ratios. */
  ratioIqr: [number, number];
  /** Median over rounds of variant − baseline (paired by round), ms. */
  extraMs: number;
  /** Kernels one call runs (tf.profile), when counted. */
  kernels?: number;
}

function rows(section: string, baseline: string, timings: Map<string, Timing>, kernels: Map<string, number> = new Map()): Row[] {
  const base = timings.get(baseline) as Timing;
  return [...timings].map(([variant, t]) => {
    const paired = t.rounds.map((ms, r) => ms / (base.rounds[r] as number));
    const k = kernels.get(variant);
    return {
      section,
      variant,
      baseline,
      medianMs: percentile(t.samples, 50),
      p90Ms: percentile(t.samples, 90),
      ratio: percentile(paired, 50),
      ratioIqr: [percentile(paired, 25), percentile(paired, 75)],
      extraMs: percentile(t.rounds.map((ms, r) => ms - (base.rounds[r] as number)), 50),
      ...(k === undefined ? {} : { kernels: k }),
    };
  });
}

/** Kernels one call of `fn` runs. */
async function kernelCount(fn: () => void): Promise<number> {
  const info = await tf.profile(() => {
    fn();
  });
  return info.kernels.length;
}

function trainVariant(name: string, net: Net, x: tf.Tensor, y: tf.Tensor): Variant {
  return { name, run: () => void trainStep(net.model, net.optimizer, x, y) };
}

function inferVariant(name: string, net: Net, x: tf.Tensor): Variant {
  return { name, run: () => tf.tidy(() => void net.model.forward(x).dataSync()) };
}

/** Kernels of the forward pass, of forward + backward, and of the whole step (the rest is the Adam update). */
async function stepKernels(net: Net, x: tf.Tensor, y: tf.Tensor): Promise<{ forward: number; backward: number; adam: number; params: number }> {
  // The variables a step differentiates: trainStep skips frozen ones (a TRAINING width seed's Ψ and b) when no norm is read.
  const vars = net.model.paramGroups().flatMap((g) => g.params.filter((_, j) => g.frozen?.includes(j) !== true));
  const forward = await kernelCount(() => tf.tidy(() => void net.model.forward(x)));
  const withGrads = await kernelCount(() => tf.tidy(() => void tf.variableGrads(() => softmaxCrossEntropy(net.model.forward(x), y), vars)));
  const step = await kernelCount(() => void trainStep(net.model, net.optimizer, x, y));
  return { forward, backward: withGrads - forward, adam: step - withGrads, params: vars.length };
}

async function counted(variants: readonly Variant[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of variants) out.set(v.name, await kernelCount(v.run));
  return out;
}

async function main(): Promise<void> {
  const backend = await selectBackend(BENCH_BACKEND);
  const [loadBefore = 0] = loadavg();
  const rng = new Rng(9);
  const x = tf.tensor2d(Float32Array.from({ length: BATCH * INPUTS }, () => rng.next()), [BATCH, INPUTS]);
  const x1 = tf.slice(x, [0, 0], [1, INPUTS]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from({ length: BATCH }, () => rng.int(CLASSES)), 'int32'), CLASSES).toFloat());
  const all: Row[] = [];
  const breakdown: { variant: string; forward: number; backward: number; adam: number; params: number }[] = [];

  // 1. A live width seed vs the same units as one static layer (and the host alone, for reference).
  const sizes = [
    { host: 4, units: 16 },
    { host: 32, units: 32 },
    { host: 128, units: 128 }, // for scale: the seed's fixed extra kernels against a larger layer
  ];
  for (const { host, units } of sizes) {
    const wide = host + units;
    const nets = {
      static: build(wide),
      training: build(host, { units, mode: 'TRAINING', forward: 'live' }),
      straightThrough: build(host, { units, mode: 'TRAINING', forward: 'straight-through' }),
      blending: resident(build(host, { units, mode: 'BLENDING' })),
      branch: build(host, { units, mode: 'BLENDING' }),
      // With no α ramp (policy.widthTempoEpochs 1) a width seed blends at α = 1 only: no row scale.
      full: resident(build(host, { units, mode: 'BLENDING', alpha: 1 })),
      hostOnly: build(host),
    };
    const baseline = `static 784-${wide}-10`;
    const variants = [
      trainVariant(baseline, nets.static, x, y),
      trainVariant(`784-${host}-10 + k=${units} TRAINING (live)`, nets.training, x, y),
      trainVariant(`784-${host}-10 + k=${units} TRAINING (straight-through)`, nets.straightThrough, x, y),
      trainVariant(`784-${host}-10 + k=${units} BLENDING α=0.5`, nets.blending, x, y),
      trainVariant(`784-${host}-10 + k=${units} BLENDING α=0.5 as a branch (not resident)`, nets.branch, x, y),
      trainVariant(`784-${host}-10 + k=${units} BLENDING α=1 (no ramp)`, nets.full, x, y),
      trainVariant(`static 784-${host}-10 (host alone)`, nets.hostOnly, x, y),
    ];
    const kernels = await counted(variants);
    // A live TRAINING step is two passes (its total is in the kernels column); the breakdown is of one-pass steps.
    for (const [i, net] of [nets.static, undefined, nets.straightThrough, nets.blending, nets.branch, nets.full].entries()) {
      if (net !== undefined) breakdown.push({ variant: (variants[i] as Variant).name, ...(await stepKernels(net, x, y)) });
    }
    all.push(...rows(`1. training step, live seed (k=${units})`, baseline, alternate(variants, TRAIN_ROUNDS, TRAIN_STEPS), kernels));
    for (const n of Object.values(nets)) {
      n.optimizer.dispose();
      n.model.dispose();
    }
  }

  // 1b. The same on a CNN: a channel-width seed on the conv block vs the static CNN with those channels.
  {
    const images = tf.reshape(x, [BATCH, 28, 28, 1]);
    for (const { host, units } of [
      { host: 1, units: 8 },
      { host: 8, units: 8 },
    ]) {
      const nets = {
        static: buildCnn(host + units),
        training: buildCnn(host, { units, mode: 'TRAINING', forward: 'live' }),
        straightThrough: buildCnn(host, { units, mode: 'TRAINING', forward: 'straight-through' }),
        blending: resident(buildCnn(host, { units, mode: 'BLENDING' })),
        branch: buildCnn(host, { units, mode: 'BLENDING' }),
        full: resident(buildCnn(host, { units, mode: 'BLENDING', alpha: 1 })),
      };
      const baseline = `static c${host + units}`;
      const variants = [
        trainVariant(baseline, nets.static, images, y),
        trainVariant(`c${host} + k=${units} TRAINING (live)`, nets.training, images, y),
        trainVariant(`c${host} + k=${units} TRAINING (straight-through)`, nets.straightThrough, images, y),
        trainVariant(`c${host} + k=${units} BLENDING α=0.5`, nets.blending, images, y),
        trainVariant(`c${host} + k=${units} BLENDING α=0.5 as a branch (not resident)`, nets.branch, images, y),
        trainVariant(`c${host} + k=${units} BLENDING α=1 (no ramp)`, nets.full, images, y),
      ];
      all.push(...rows(`1b. CNN training step, live channel seed (k=${units})`, baseline, alternate(variants, CNN_ROUNDS, CNN_STEPS), await counted(variants)));
      for (const n of Object.values(nets)) {
        n.optimizer.dispose();
        n.model.dispose();
      }
    }
    images.dispose();
  }

  // 2. The grown model with its fossil merged vs the static model of that topology.
  {
    const staticNet = build(20);
    const grownNet = grown(4, 16, x, y);
    const baseline = 'static 784-20-10';
    const name = '784-4-10 + 16 merged (784-20-10)';
    const train = [trainVariant(baseline, staticNet, x, y), trainVariant(name, grownNet, x, y)];
    all.push(...rows('2. after the merge: training step', baseline, alternate(train, TRAIN_ROUNDS, TRAIN_STEPS), await counted(train)));
    for (const [label, input] of [
      ['batch 128', x],
      ['batch 1', x1],
    ] as const) {
      const infer = [inferVariant(baseline, staticNet, input), inferVariant(name, grownNet, input)];
      all.push(...rows(`2. after the merge: inference, ${label}`, baseline, alternate(infer, INFER_ROUNDS, INFER_CALLS), await counted(infer)));
    }
    for (const n of [staticNet, grownNet]) {
      n.optimizer.dispose();
      n.model.dispose();
    }
  }

  // 3. Dormant width slots.
  {
    const plain = build(4);
    const dormant = build(4, undefined, 4);
    const baseline = '784-4-10, no slots';
    const name = '784-4-10, 4 DORMANT width slots';
    const train = [trainVariant(baseline, plain, x, y), trainVariant(name, dormant, x, y)];
    all.push(...rows('3. dormant width slots: training step', baseline, alternate(train, TRAIN_ROUNDS, TRAIN_STEPS), await counted(train)));
    const infer = [inferVariant(baseline, plain, x), inferVariant(name, dormant, x)];
    all.push(...rows('3. dormant width slots: inference, batch 128', baseline, alternate(infer, INFER_ROUNDS, INFER_CALLS), await counted(infer)));
    for (const n of [plain, dormant]) {
      n.optimizer.dispose();
      n.model.dispose();
    }
  }

  // A dormant width slot's apply(), timed directly (no tensor work: it returns z).
  const z = tf.zeros([BATCH, CLASSES]);
  const probe = build(4, undefined, 1);
  const slot = probe.model.widthSlot('d0');
  const calls = 200_000;
  const started = performance.now();
  for (let i = 0; i < calls; i++) slot.apply(z, x);
  const dormantApplyUs = ((performance.now() - started) * 1000) / calls;
  probe.optimizer.dispose();
  probe.model.dispose();
  z.dispose();
  tf.dispose([x, x1, y]);

  // What one extra kernel costs on this backend: a chain of tiny adds, per add.
  const tiny = tf.ones([4]);
  const chain = 1000;
  const dispatch: number[] = [];
  for (let r = 0; r < 20; r++) {
    const t0 = performance.now();
    tf.tidy(() => {
      let t = tiny;
      for (let i = 0; i < chain; i++) t = tf.add(t, tiny);
      t.dataSync();
    });
    dispatch.push(((performance.now() - t0) * 1000) / chain);
  }
  tiny.dispose();
  const kernelUs = percentile(dispatch.slice(5), 50);

  const [loadAfter = 0] = loadavg();
  const header = `backend ${backend}, node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores, load ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}; Adam, batch ${BATCH}; train: ${TRAIN_ROUNDS} rounds × ${TRAIN_STEPS} steps, inference: ${INFER_ROUNDS} × ${INFER_CALLS} calls, variants alternating`;
  console.log(header);
  console.log('');
  console.log('| measure | variant | median ms | p90 ms | ratio (IQR over rounds) | Δ ms | kernels/call |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of all) {
    const ratio = r.variant === r.baseline ? '1 (baseline)' : `**${r.ratio.toFixed(3)}** (${r.ratioIqr[0].toFixed(3)}–${r.ratioIqr[1].toFixed(3)})`;
    const extra = r.variant === r.baseline ? '' : `${r.extraMs >= 0 ? '+' : '−'}${Math.abs(r.extraMs).toFixed(3)}`;
    console.log(`| ${r.section} | ${r.variant} | ${r.medianMs.toFixed(3)} | ${r.p90Ms.toFixed(3)} | ${ratio} | ${extra} | ${r.kernels ?? ''} |`);
  }
  console.log('');
  console.log('| kernels per training step | variables | forward | backward | Adam | total |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const b of breakdown) console.log(`| ${b.variant} | ${b.params} | ${b.forward} | ${b.backward} | ${b.adam} | ${b.forward + b.backward + b.adam} |`);
  console.log(`\none tiny kernel (tf.add of [4], in a tidy): ${kernelUs.toFixed(1)} µs; one DORMANT width slot's apply(): ${dormantApplyUs.toFixed(3)} µs`);

  const out = new URL('./results/growth.json', import.meta.url);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: 'growth',
        at: new Date().toISOString(),
        backend,
        node: process.version,
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        loadAverage1m: { before: loadBefore, after: loadAfter },
        config: { batch: BATCH, optimizer: ADAM, warmup: WARMUP, trainRounds: TRAIN_ROUNDS, trainSteps: TRAIN_STEPS, inferRounds: INFER_ROUNDS, inferCalls: INFER_CALLS },
        results: all,
        kernelBreakdown: breakdown,
        dormantWidthApplyUs: dormantApplyUs,
        tinyKernelUs: kernelUs,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out.pathname}`);
}

await main();
