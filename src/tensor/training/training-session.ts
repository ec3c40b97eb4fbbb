/**
 * A run's tensors and the loop over them: dataset, host with slots, optimizer,
 * batch cursor. It runs wherever it is created — in a worker thread in
 * production (`training-worker.ts`), in-process in tests — and knows nothing
 * of actors or the bus: it executes epochs and slot changes and reports
 * metrics and per-seed telemetry.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { backendReport, selectBackend, type BackendReport } from '../backend.ts';
import { capture, decodeCheckpoint, encodeCheckpoint, restore, weightsHash } from '../checkpoint.ts';
import { BatchCursor, splitDataset, toTensors, type BatchCursorState, type Dataset } from '../datasets/dataset.ts';
import { loadFashionMnist } from '../datasets/fashion-mnist.ts';
import { twoSpirals, xor } from '../datasets/synthetic.ts';
import { cnnHost } from '../hosts/cnn-host.ts';
import { mlpHost } from '../hosts/mlp-host.ts';
import { HOST_GROUP_ID, seedGroupId, type HostConfig, type HostModel } from '../hosts/model.ts';
import { shrinkAtMergeFor } from '../hosts/shrink-perturb.ts';
import { measureLayerSignals } from '../layer-signals.ts';
import { evaluateBatch, Optimizer, trainStep, withResidentSeeds } from '../optimizer.ts';
import { Rng } from '../rng.ts';
import { seedModuleFrom, type SeedModuleSource } from '../seed-module-source.ts';
import { forkSeedRng, type SlotMode } from '../seed-slot.ts';
import { initWidthSeed, type WidthSeedOptions } from '../width/width-init.ts';
import { pairStd, pairUp } from '../width/width-pairs.ts';
import type { WidthSeed } from '../width/width-seed.ts';
import { WidthSlot } from '../width/width-slot.ts';
export type { SeedModuleSource } from '../seed-module-source.ts';
export type { WidthSeedOptions } from '../width/width-init.ts';
import { TrainingSpecSchema, type TrainingSpec, type TrainingSpecInput } from '../../contracts/training-spec.ts';
import type { LayerSignals } from '../../contracts/tolaria.ts';

/** Per-seed telemetry of one epoch (the input of Kasmina's gates). */
export interface SlotTelemetry {
  slotId: string;
  mode: SlotMode;
  alpha: number;
  seedKind: string | null;
  seedParams: number;
  /** Mean global L2 norm of the seed's gradient over the epoch's steps (0 when it did not train). */
  gradNorm: number;
  /** Seed gradient norm per parameter over host gradient norm per parameter (0 when it did not train). */
  gradRatio: number;
  /** Validation accuracy minus accuracy with this seed switched off, in percentage points (null without a seed). */
  contributionPp: number | null;
  /**
   * Validation loss with this seed switched off minus the loss with it, as a
   * percentage of the former (positive: the seed lowers the loss; null
   * without a seed). A finer counterfactual than accuracy on a small
   * validation set.
   */
  lossContributionPct: number | null;
  gradsFinite: boolean;
  paramsFinite: boolean;
}

/** A slot's seed as attached, before it trains (what G1 checks). */
export interface SlotAttachCheck {
  slotId: string;
  seedKind: string | null;
  paramsFinite: boolean;
}

/** What one epoch produced. */
export interface EpochReport {
  epoch: number;
  steps: number;
  trainLoss: number;
  validationLoss: number;
  validationAccuracy: number;
  /** Examples in the validation split (how finely its accuracy resolves). */
  validationSize: number;
  hostGradNorm: number;
  durationMs: number;
  slots: SlotTelemetry[];
  /** True when the loss or any parameter went NaN/Inf this epoch. */
  nonFinite: boolean;
  /**
   * Per hidden layer signals at the epoch's end (effective rank, dead
   * fraction, GradMax gradient score; see `layer-signals.ts`), measured on a
   * fixed probe of the first {@link LAYER_PROBE_SIZE} validation examples.
   * Absent when the model has no slot (nothing could grow on them).
   */
  layers?: LayerSignals[];
}

/** What applying a slot command did beyond the command itself. */
export interface SlotApplied {
  /** A merge's shrink and perturb (`optimizer.shrinkAtMerge`) was not applied: why. */
  shrinkSkipped?: string;
}

/** What a width slot germinates: k new units, and how their incoming weights are initialised. */
export interface WidthSeedSource {
  width: WidthSeedOptions;
}

/** A slot change the lifecycle decided (applied between epochs). */
export interface SlotCommand {
  slotId: string;
  /**
   * Attach a new seed first (germination): in a depth slot a built-in module
   * or a compiled kernel loaded from its artifact; in a width slot a
   * {@link WidthSeedSource}. FOSSILIZED on a width slot merges its units into
   * the host (see {@link ModelSummary.topology}).
   */
  germinate?: SeedModuleSource | WidthSeedSource;
  mode?: SlotMode;
  alpha?: number;
}

/** Hidden layers to revive (1-based, consecutive, dense), and the epoch boundary it happens at (its Rng stream). */
export interface RevivalRequest {
  layers: number[];
  epoch: number;
}

/** What a revival did. */
export interface RevivalResult {
  /** Units given new incoming weights. */
  units: number;
  summary: ModelSummary;
}

/** Summary of the model. */
export interface ModelSummary {
  hostParams: number;
  seedParams: number;
  totalParams: number;
  weightsHash: string;
  hostWeightsHash: string;
  /** The host's current architecture (its `config`: MLP `{ widths }`, CNN `{ inputShape, convs, dense, classes }`); wider after a width seed merged. */
  topology: HostConfig;
  /** The tensor backend asked for, the one running, and why they differ (`auto` without the native addon). */
  backend: BackendReport;
}

function loadDataset(spec: TrainingSpec, rng: Rng): Promise<Dataset> | Dataset {
  const d = spec.dataset;
  switch (d.kind) {
    case 'spirals':
      return twoSpirals(rng, { n: d.n, noise: d.noise, turns: d.turns });
    case 'xor':
      return xor(rng, { n: d.n, noise: d.noise });
    case 'fashion-mnist':
      return loadFashionMnist({
        ...(d.dir === undefined ? {} : { dir: d.dir }),
        ...(d.limit === undefined ? {} : { limit: d.limit }),
        layout: d.layout,
      });
  }
}

/** The dataset's held-out test set (Fashion-MNIST t10k, in the spec's layout), or null when it has none. */
async function loadTestSet(spec: TrainingSpec): Promise<Dataset | null> {
  const d = spec.dataset;
  if (d.kind !== 'fashion-mnist') return null;
  return loadFashionMnist({ ...(d.dir === undefined ? {} : { dir: d.dir }), split: 'test', layout: d.layout });
}

function buildHost(spec: TrainingSpec, data: Dataset, rng: Rng): HostModel {
  const slots = spec.slots.map((slot) => ({
    id: slot.id,
    afterLayer: slot.afterLayer,
    ...(slot.kind === undefined ? {} : { kind: slot.kind }),
    options: {
      ...(slot.trainFossil === undefined ? {} : { trainFossil: slot.trainFossil }),
      ...(slot.detachInBlending === undefined ? {} : { detachInBlending: slot.detachInBlending }),
      ...(slot.trainingForward === undefined ? {} : { trainingForward: slot.trainingForward }),
    },
  }));
  if (spec.host.kind === 'mlp') {
    const inputs = data.featureShape.reduce((a, b) => a * b, 1);
    return mlpHost({ widths: [inputs, ...spec.host.hidden, data.numClasses], rng, slots });
  }
  const [h, w, c] = data.featureShape;
  if (data.featureShape.length !== 3 || h === undefined || w === undefined || c === undefined) {
    throw new EsperError('ESPER_CONFIG_INVALID', `a cnn host needs image-shaped examples [h, w, c], the dataset gives ${JSON.stringify(data.featureShape)}`);
  }
  const convs = spec.host.convs.map((conv) => (conv.kernelSize === undefined ? { filters: conv.filters } : { filters: conv.filters, kernelSize: conv.kernelSize }));
  return cnnHost({ inputShape: [h, w, c], convs, dense: spec.host.dense, classes: data.numClasses, rng, slots });
}

const VALIDATION_BATCH = 512;
/**
 * Gradient norms (each group's; the seed/host gradient ratio gate G2 reads)
 * are measured on every 8th training step of an epoch, its first included,
 * and averaged over those: an unbiased estimate of the epoch mean, without
 * the two reductions per parameter (and the frozen parameters' gradients)
 * on the other steps. Measured (2026-12-03, batch 128, Adam): a step with
 * norms costs 1.11–1.13× one without on wasm (784-4-10, 784-4-4-10) and
 * 1.19–1.71× on native (784-256-128-10 to 784-4-10).
 */
export const GRAD_NORM_SAMPLE_EVERY = 8;

/** Validation examples (the first ones) the per-layer signals are measured on, each epoch the same. */
export const LAYER_PROBE_SIZE = 256;

/** Amplitudes of Ω a width seed may start blending with (see `applySlot`), in the order tried. */
export const BLEND_AMPLITUDES: readonly number[] = [0, 0.25, 0.5, 1];

export class TrainingSession {
  readonly spec: TrainingSpec;
  readonly model: HostModel;
  readonly optimizer: Optimizer;
  readonly #rng: Rng;
  readonly #train: Dataset;
  readonly #validation: Dataset;
  #cursor: BatchCursor;
  #epoch = 0;
  readonly #generation = new Map<string, number>();

  private constructor(spec: TrainingSpec, model: HostModel, rng: Rng, train: Dataset, validation: Dataset) {
    this.spec = spec;
    this.model = model;
    this.#rng = rng;
    this.#train = train;
    this.#validation = validation;
    const stepsIn = (epochs: number): number => Math.round(epochs * Math.ceil(train.size / spec.batchSize));
    this.optimizer = new Optimizer({ kind: spec.optimizer.kind, learningRate: spec.optimizer.learningRate }, model.paramGroups(), {
      afterMerge: spec.optimizer.afterGrowth,
      freshWarmupSteps: stepsIn(spec.optimizer.growthWarmupEpochs),
      mergeWarmupSteps: stepsIn(spec.optimizer.mergeWarmupEpochs),
    });
    this.#cursor = new BatchCursor(train, { batchSize: spec.batchSize, rng: rng.fork(2) });
  }

  /** Validates the spec, selects the backend, loads data and builds the model. */
  static async create(input: TrainingSpecInput): Promise<TrainingSession> {
    const spec = TrainingSpecSchema.parse(input);
    await selectBackend(spec.backend);
    const root = new Rng(spec.seed);
    const data = await loadDataset(spec, root.fork(0));
    const { train, validation } = splitDataset(data, root.fork(1), { validation: spec.validation });
    const model = buildHost(spec, data, root.fork(3));
    return new TrainingSession(spec, model, root, train, validation);
  }

  /** Epochs completed so far. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Trains one epoch, then evaluates: metrics and per-seed telemetry. */
  runEpoch(): EpochReport {
    const started = performance.now();
    const epoch = this.#epoch;
    let steps = 0;
    let lossSum = 0;
    let nonFinite = false;
    const gradSums = new Map<string, number>();
    let sampled = 0;
    // Blending width seeds train resident in their host layers (resident-fusion.ts): no cost beyond their units' own work.
    withResidentSeeds(this.model, this.optimizer, () => {
      for (;;) {
        const batch = this.#cursor.next();
        const measure = steps % GRAD_NORM_SAMPLE_EVERY === 0;
        const { loss, gradNorms = {} } = tf.tidy(() => {
          const { xs, ys } = toTensors(batch);
          return trainStep(this.model, this.optimizer, xs, ys, { gradNorms: measure });
        });
        if (!Number.isFinite(loss)) nonFinite = true;
        lossSum += loss;
        steps++;
        if (measure) sampled++;
        for (const [group, norm] of Object.entries(gradNorms)) gradSums.set(group, (gradSums.get(group) ?? 0) + norm);
        if (batch.last) break;
      }
    });
    this.#epoch = epoch + 1;
    const evaluation = this.evaluate();
    const hostGradNorm = (gradSums.get(HOST_GROUP_ID) ?? 0) / sampled;
    const hostParams = this.model.hostParams.reduce((n, p) => n + p.size, 0);
    const slots = this.model.allSlots.map((slot): SlotTelemetry => {
      const seed = slot.seed;
      const seedParams = seed?.paramCount ?? 0;
      const seedGrad = (gradSums.get(seedGroupId(slot.id)) ?? 0) / sampled;
      const { seedKind, paramsFinite } = this.inspectSlot(slot.id);
      if (!paramsFinite) nonFinite = true;
      const ablated = seed === undefined ? undefined : slot.ablate(() => this.evaluate());
      return {
        slotId: slot.id,
        mode: slot.mode,
        alpha: slot.alpha,
        seedKind,
        seedParams,
        gradNorm: seedGrad,
        gradRatio: seedParams > 0 && hostGradNorm > 0 ? seedGrad / Math.sqrt(seedParams) / (hostGradNorm / Math.sqrt(hostParams)) : 0,
        contributionPp: ablated === undefined ? null : (evaluation.accuracy - ablated.accuracy) * 100,
        lossContributionPct: ablated === undefined ? null : relativeLossDrop(ablated.loss, evaluation.loss),
        gradsFinite: Number.isFinite(seedGrad),
        paramsFinite,
      };
    });
    if (!allFinite(this.model.hostParams)) nonFinite = true;
    const layers = this.model.allSlots.length > 0 ? this.layerSignals() : undefined;
    return {
      epoch: this.#epoch,
      steps,
      trainLoss: lossSum / steps,
      validationLoss: evaluation.loss,
      validationAccuracy: evaluation.accuracy,
      validationSize: this.#validation.size,
      hostGradNorm,
      durationMs: performance.now() - started,
      slots,
      nonFinite: nonFinite || !Number.isFinite(evaluation.loss),
      ...(layers === undefined ? {} : { layers }),
    };
  }

  /** The per-layer signals now, on the first {@link LAYER_PROBE_SIZE} validation examples (views of the split: the probe is the same every epoch). */
  layerSignals(): LayerSignals[] {
    const data = this.#validation;
    const n = Math.min(LAYER_PROBE_SIZE, data.size);
    const per = data.featureShape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(data.features.subarray(0, n * per), [n, ...data.featureShape]);
    const y = tf.tensor1d(Int32Array.from(data.labels.subarray(0, n)), 'int32');
    try {
      return measureLayerSignals(this.model, { x, y });
    } finally {
      x.dispose();
      y.dispose();
    }
  }

  /** Loss and accuracy on the validation split. */
  evaluate(): { loss: number; accuracy: number } {
    return this.#evaluateOn(this.#validation);
  }

  /**
   * Loss and accuracy on the dataset's held-out test set (Fashion-MNIST's
   * t10k, all 10k images whatever `limit` says, in the spec's layout), read
   * from disk only now; null when the dataset has none (synthetic sets).
   * Meant for once, at the end of a run.
   */
  async evaluateTest(): Promise<{ loss: number; accuracy: number; size: number } | null> {
    const test = await loadTestSet(this.spec);
    if (test === null) return null;
    return { ...this.#evaluateOn(test), size: test.size };
  }

  /** Loss and accuracy of the model on `data`, in batches of {@link VALIDATION_BATCH}. */
  #evaluateOn(data: Dataset): { loss: number; accuracy: number } {
    let loss = 0;
    let correct = 0;
    let count = 0;
    const per = data.featureShape.reduce((a, b) => a * b, 1);
    for (let start = 0; start < data.size; start += VALIDATION_BATCH) {
      const size = Math.min(VALIDATION_BATCH, data.size - start);
      const result = tf.tidy(() => {
        const xs = tf.tensor(data.features.subarray(start * per, (start + size) * per), [size, ...data.featureShape]);
        const ys = tf.tensor1d(Int32Array.from(data.labels.subarray(start, start + size)), 'int32');
        return evaluateBatch(this.model, xs, ys);
      });
      loss += result.loss * result.count;
      correct += result.correct;
      count += result.count;
    }
    return { loss: loss / count, accuracy: correct / count };
  }

  /**
   * Applies lifecycle decisions to the slots (between epochs). A width slot
   * germinates from a {@link WidthSeedSource} (gradient inits measure on a
   * fixed sample of training examples drawn from the seed's own Rng, so the
   * data order is untouched); FOSSILIZED merges it into the host.
   */
  applySlot(command: SlotCommand): SlotApplied {
    const slot = this.model.anySlot(command.slotId);
    const source = command.germinate;
    if (source !== undefined) {
      const width = slot instanceof WidthSlot;
      if (width !== 'width' in source) {
        throw new EsperError('ESPER_CONFIG_INVALID', `slot ${slot.id} is a ${width ? 'width' : 'depth'} slot: germinate it with ${width ? '{ width: { units } }' : 'a seed module or kernel'}`, {
          details: { slotId: slot.id },
        });
      }
      const generation = (this.#generation.get(slot.id) ?? 0) + 1;
      this.#generation.set(slot.id, generation);
      const rng = forkSeedRng(this.#rng, slot.id, generation);
      if (slot.mode === 'PRUNED') slot.reset();
      if (slot instanceof WidthSlot) slot.attach(this.#widthSeed(slot, (source as WidthSeedSource).width, rng));
      else slot.attach(seedModuleFrom(source as SeedModuleSource, slot.id, slot.shape, rng));
    }
    if (command.mode === 'BLENDING' && slot instanceof WidthSlot && slot.mode === 'TRAINING') {
      if (this.#blendAmplitude(slot) === 0) this.#pairUp(slot);
      // Its Adam moments come from gradients at full strength (live) or straight-through ones, which never shrink (the forward
      // never showed the seed); blending at α = ⅓ its gradients are a fraction of those: start afresh (ramped over growthWarmupEpochs).
      this.optimizer.restartGroup(seedGroupId(slot.id));
    }
    const merging = command.mode === 'FOSSILIZED' && slot instanceof WidthSlot && slot.mode !== 'FOSSILIZED';
    if (command.mode !== undefined) slot.setMode(command.mode, command.alpha);
    else if (command.alpha !== undefined) slot.setAlpha(command.alpha);
    const shrinkSkipped = merging ? this.#shrinkAfterMerge(slot) : undefined;
    return shrinkSkipped === undefined ? {} : { shrinkSkipped };
  }

  /**
   * Shrink and perturb after `slot`'s seed merged (`optimizer.shrinkAtMerge`), the noise from a stream forked for it; why not, when it
   * was not. Once per growth phase: only the merge that leaves no width seed live shrinks. Seeds that grow side by side are one warm
   * start — shrinking at each merge shrank the network again while the others still blended (sweep 5's conv 3 → conv 2 → dense 16
   * merged on three consecutive boundaries, shrank three times and fell from 84.6 to 77.8 %), and a live seed is scaled with its
   * layer, so a second shrink at one boundary would scale it by λ² and add noise twice. A phase whose last live seed is pruned does
   * not shrink. Stateless (read off the slots), so a restored checkpoint decides as the uninterrupted run does.
   */
  #shrinkAfterMerge(slot: WidthSlot): string | undefined {
    const options = shrinkAtMergeFor(this.spec);
    if (options.factor === 1 && options.noise === 0) return undefined;
    if (this.model.widthSlots.some((other) => other !== slot && other.trainable)) return undefined;
    return this.model.shrinkAndPerturb(options, this.#slotStream(slot, 'shrink'));
  }

  /**
   * Revives hidden layers whose units all died (`layer-revival.ts`): new
   * incoming weights drawn from a stream forked off the run's Rng for these
   * layers and this epoch (deterministic), zero weights where the next layer
   * reads them, so the model computes what it did wherever they were dead.
   */
  reviveLayers(request: RevivalRequest): RevivalResult {
    const rng = forkSeedRng(this.#rng, `revive:${request.layers.join(',')}`, request.epoch);
    const units = this.model.reviveLayers(request.layers, rng);
    return { units, summary: this.summary() };
  }

  /**
   * The amplitude a width seed starts blending with (TINY's line search on
   * the amplitude): its outgoing weights Ω learnt in straight-through
   * TRAINING, against a forward pass that never showed their effect, so they
   * may overshoot — blending them in as they are cost up to half the
   * validation accuracy on Fashion-MNIST 784-4-4-10, while zeroing them lost
   * what small data sets (spirals) need. The loss of the model with the
   * seed's full contribution s·Ω is measured on 256 training examples for
   * each s in {@link BLEND_AMPLITUDES}; Ω becomes s·Ω for the best (the
   * smaller on a tie). Deterministic: the sample comes from a stream forked
   * off the run's Rng for this slot and generation. Returns the amplitude
   * chosen (undefined for an empty slot).
   */
  #blendAmplitude(slot: WidthSlot): number | undefined {
    const batch = this.#initSample(this.#slotStream(slot, 'amplitude'));
    const omega = slot.seed?.params[2];
    const original = omega === undefined ? undefined : tf.clone(omega);
    try {
      if (omega === undefined || original === undefined) return undefined;
      slot.setMode('BLENDING', 1);
      let best = { amplitude: 0, loss: Number.POSITIVE_INFINITY };
      for (const amplitude of BLEND_AMPLITUDES) {
        omega.assign(tf.tidy(() => tf.mul(original, amplitude)));
        const { loss } = evaluateBatch(this.model, batch.x, batch.y);
        if (loss < best.loss) best = { amplitude, loss };
      }
      omega.assign(tf.tidy(() => tf.mul(original, best.amplitude)));
      return best.amplitude;
    } finally {
      original?.dispose();
      batch.x.dispose();
      batch.y.dispose();
    }
  }

  /**
   * Plain SGD: a dense width seed about to blend with zero outgoing weights
   * starts as cancelling pairs (`width-pairs.ts`; `sgdOutgoingPairs`), Z
   * drawn from a stream forked off the run's Rng for this slot and
   * generation (deterministic). The layer's width now is the rows of the
   * next layer's kernel.
   */
  #pairUp(slot: WidthSlot): void {
    const seed = slot.seed;
    const { kind, sgdOutgoingPairs } = this.spec.optimizer;
    if (kind !== 'sgd' || !sgdOutgoingPairs || seed === undefined || seed.geometry.layout !== 'dense' || seed.units < 2) return;
    const next = this.model.hostParams[2 * slot.layer];
    if (next === undefined || next.rank !== 2 || next.shape[1] !== seed.geometry.outputs) throw new EsperError('ESPER_INTERNAL', `width slot ${slot.id}: layer ${slot.layer + 1} has no dense kernel`);
    pairUp(seed, pairStd(next.shape[0], seed.units), this.#slotStream(slot, 'pairs'));
  }

  /** A stream forked off the run's Rng for `purpose` on `slot`'s current generation (deterministic across reruns and resumes). */
  #slotStream(slot: WidthSlot, purpose: string): Rng {
    return forkSeedRng(this.#rng, `${slot.id}:${purpose}`, this.#generation.get(slot.id) ?? 0);
  }

  /** A width seed for `slot`; the gradient inits measure on {@link #initSample}. */
  #widthSeed(slot: WidthSlot, options: WidthSeedOptions, rng: Rng): WidthSeed {
    const { kind, learningRate, sgdSharpnessBound: bound } = this.spec.optimizer;
    // Dense seeds only: on a CNN conv 1 at SGD 0.05 the scaling (c ≈ 0.2–0.4) cut the resolution from 0.89 / 0.81 to 0.58 / 0.55 (docs/growth.md).
    const sgd = kind === 'sgd' && bound > 0 && slot.geometry.layout === 'dense' ? { learningRate, bound } : undefined;
    // The gradient inits draw their sample from the seed's stream; the SGD scaling (width-scale.ts) reuses it, or draws one of
    // its own from a fork, so that the random inits' draws are unchanged.
    const aimed = options.init !== undefined && options.init !== 'random';
    const sample = aimed ? this.#initSample(rng) : sgd === undefined ? undefined : this.#initSample(this.#slotStream(slot, 'sgd-scale'));
    try {
      return initWidthSeed(this.model, slot.layer, slot.geometry, sgd === undefined ? options : { ...options, sgd }, rng, sample);
    } finally {
      sample?.x.dispose();
      sample?.y.dispose();
    }
  }

  /** Up to 256 training examples drawn (without replacement) by `rng`, as tensors the caller disposes. */
  #initSample(rng: Rng): { x: tf.Tensor; y: tf.Tensor } {
    const data = this.#train;
    const n = Math.min(256, data.size);
    const order = Array.from({ length: data.size }, (_, i) => i);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(rng.next() * (data.size - i));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const per = data.featureShape.reduce((a, b) => a * b, 1);
    const features = new Float32Array(n * per);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const at = order[i] as number;
      features.set(data.features.subarray(at * per, (at + 1) * per), i * per);
      labels[i] = data.labels[at] as number;
    }
    return { x: tf.tensor(features, [n, ...data.featureShape]), y: tf.tensor1d(labels, 'int32') };
  }

  /**
   * What G1 asks of the seed in `slotId` (right after it is attached, and
   * with every epoch's telemetry): its kind (null when the slot holds none:
   * the kernel did not load) and whether every parameter is finite.
   */
  inspectSlot(slotId: string): SlotAttachCheck {
    const seed = this.model.anySlot(slotId).seed;
    return { slotId, seedKind: seed?.kind ?? null, paramsFinite: seed === undefined ? true : allFinite(seed.params) };
  }

  /**
   * Fault injection (tests, drills): overwrites every parameter of the seed in
   * `slotId` with NaN, as a diverged seed would leave them. Returns false when
   * the slot holds no seed.
   */
  poisonSeed(slotId: string): boolean {
    const seed = this.model.anySlot(slotId).seed;
    if (seed === undefined) return false;
    for (const p of seed.params) tf.tidy(() => p.assign(tf.fill(p.shape, Number.NaN)));
    return true;
  }

  summary(): ModelSummary {
    const hostParams = this.model.hostParams.reduce((n, p) => n + p.size, 0);
    const seedParams = this.model.allSlots.reduce((n, slot) => n + (slot.mode === 'PRUNED' ? 0 : (slot.seed?.paramCount ?? 0)), 0);
    return {
      hostParams,
      seedParams,
      totalParams: hostParams + seedParams,
      weightsHash: weightsHash(this.model),
      hostWeightsHash: weightsHash(this.model, 'host'),
      topology: this.model.config,
      backend: backendReport(),
    };
  }

  /** Serialises model, optimizer, Rng and data cursor (hash-verified on restore). */
  checkpoint(meta: unknown = null): { bytes: Uint8Array; hash: string } {
    const generation = Object.fromEntries(this.#generation);
    const checkpoint = capture(this.model, this.optimizer, { rng: this.#rng, cursor: { epoch: this.#epoch, cursor: this.#cursor.state(), generation }, meta });
    return { bytes: encodeCheckpoint(checkpoint), hash: checkpoint.hash };
  }

  /**
   * Restores a checkpoint. `rollback` prunes the seeds that were live (host and
   * fossils come back bit-identical) and keeps the data cursor and epoch count
   * where they are; `retry` restores every slot as saved and, like a
   * rollback, keeps the cursor and the epoch count (the epoch is retried on new
   * batches); `exact` restores every slot, the cursor and the epoch count.
   */
  restore(bytes: Uint8Array, mode: 'exact' | 'rollback' | 'retry'): { prunedSlots: string[]; epoch: number } {
    const result = restore(decodeCheckpoint(bytes), { model: this.model, optimizer: this.optimizer, rng: this.#rng, liveSeeds: mode === 'rollback' ? 'prune' : 'restore' });
    const saved = result.cursor as unknown as { epoch: number; cursor: BatchCursorState; generation?: Record<string, number> };
    // A rolled-back epoch stays one of the run's epochs (the loop counts it): the next one trained is reported as the one after it,
    // on the next epoch's batches. Replaying the rolled-back epoch's own batches from the same weights retrains the same epoch bit
    // for bit: a host that fell back to chance did so again at every retry until the run ended (784-10-2-10-10 at SGD 0.15, 17 times).
    if (mode === 'exact') {
      this.#cursor = BatchCursor.restore(this.#train, saved.cursor);
      this.#epoch = saved.epoch;
    }
    // An exact restore (crash recovery) continues the seeds' Rng streams where they were; a rollback keeps counting, so a re-germinated seed draws fresh weights.
    if (mode === 'exact' && saved.generation !== undefined) {
      this.#generation.clear();
      for (const [slotId, n] of Object.entries(saved.generation)) this.#generation.set(slotId, n);
    }
    return { prunedSlots: result.prunedSlots, epoch: saved.epoch };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

function allFinite(params: readonly tf.Variable[]): boolean {
  return tf.tidy(() => params.every((p) => tf.all(tf.isFinite(p)).dataSync()[0] === 1));
}

/** How much lower `loss` is than `baseline`, in percent of `baseline` (0 when both are 0; null when either is not finite). */
export function relativeLossDrop(baseline: number, loss: number): number | null {
  if (!Number.isFinite(baseline) || !Number.isFinite(loss)) return null;
  if (baseline === 0) return loss === 0 ? 0 : -100;
  return ((baseline - loss) / Math.abs(baseline)) * 100;
}
