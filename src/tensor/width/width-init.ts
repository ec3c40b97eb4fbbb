/**
 * Initialising a width seed's incoming weights Ψ (Ω is always zero):
 *
 * - `random`: He-normal Ψ, b small positive ({@link randomWidthWeights}).
 * - `gradient` (NORTH / GradMax style, growth-notes §4):
 *   - dense layers: on a batch, H = layer L's input [B, n_in] and G = ∂loss/∂z_{L+1}
 *     [B, n_out] give M = HᵀG, whose top left singular vectors are the input
 *     directions along which new units would most reduce the loss once Ω
 *     moves (∂L/∂Ω = relu(HΨ + b)ᵀG). Ψ's columns are the top-k of them (at
 *     most rank M ≤ n_out; each signed so that its ReLU unit passes the larger
 *     part of the gradient), then random directions Gram-Schmidt-orthogonal
 *     to those, all scaled to the mean column norm of layer L's kernel.
 *   - conv layers (and any layer, with `init: 'select'`): best of N random
 *     candidates (NORTH-Select): N·k He-random units are drawn, each scored by
 *     ‖∂L/∂Ω‖ of its own outgoing weights on the batch, and the k best kept.
 *     Flattening conv patches into an SVD would need [B·h·w, k²·c] matrices;
 *     selection uses the same signal at the layer's own shapes.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import type { HostModel } from '../hosts/model.ts';
import { orthonormalCompletion, topLeftSingularVectors } from '../linalg/singular-directions.ts';
import { softmaxCrossEntropy } from '../optimizer.ts';
import type { Rng } from '../rng.ts';
import { outgoingSharpness, scaleIncoming, sgdScale } from './width-scale.ts';
import { psiFanIn, randomWidthWeights, WIDTH_BIAS_INIT, widthSeed, type WidthGeometry, type WidthSeed, type WidthSeedWeights } from './width-seed.ts';

/** How a width seed's Ψ is chosen (see the file comment). */
export type WidthInit = 'random' | 'gradient' | 'select';

/** What to germinate in a width slot. */
export interface WidthSeedOptions {
  /** k: new units (dense) or channels (conv). */
  units: number;
  /** @default 'random' */
  init?: WidthInit;
  /** Candidates per unit for selection (conv `gradient`, and `select`). @default 8 */
  candidates?: number;
  /**
   * Plain SGD: scale the new units so that learningRate × the sharpness of
   * the loss in their outgoing weights is at most `bound` (`width-scale.ts`),
   * measured on the batch, which it then requires. @default none
   */
  sgd?: { learningRate: number; bound: number };
}

/** A batch of examples and labels (class ids or one-hot) the gradient-aimed inits measure on. */
export interface InitBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

/**
 * H = hidden layer `layer`'s input and G = ∂loss/∂(layer `layer` + 1's
 * pre-activation) on a batch (mean softmax cross-entropy, the train loss).
 * The caller disposes both.
 */
export function layerGradients(model: HostModel, layer: number, batch: InitBatch): { input: tf.Tensor; gradient: tf.Tensor } {
  return tf.tidy(() => {
    const { input, next } = model.probeLayer(batch.x, layer);
    const gradient = tf.grad((delta: tf.Tensor) => softmaxCrossEntropy(model.probeLayer(batch.x, layer, delta).logits, batch.y))(tf.zerosLike(next));
    return { input: tf.clone(input), gradient }; // a clone: the input may be x itself, which the caller owns
  });
}

/** ∂loss/∂Ω of `seed` (not attached, Ω = 0) on layer `layer`, from {@link layerGradients}; shaped like Ω. Call inside `tf.tidy`. */
export function omegaGradient(seed: WidthSeed, input: tf.Tensor, gradient: tf.Tensor): tf.Tensor {
  const omega = seed.params[2] as tf.Variable;
  const { grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.mul(seed.project(seed.activate(input)), gradient)), [omega]);
  return grads[omega.name] as tf.Tensor;
}

/** Per-unit ‖∂L/∂Ω‖ (the norm of each new unit's outgoing-weight gradient). */
function unitScores(seed: WidthSeed, input: tf.Tensor, gradient: tf.Tensor): Float32Array {
  return tf.tidy(() => {
    const g = omegaGradient(seed, input, gradient);
    const { layout } = seed.geometry;
    const perUnit = layout === 'conv' ? tf.sum(tf.square(g), [0, 1, 3]) : layout === 'dense' ? tf.sum(tf.square(g), 1) : tf.sum(tf.square(tf.reshape(g, [-1, seed.units, g.shape[1] ?? 1])), [0, 2]);
    return tf.sqrt(perUnit).dataSync() as Float32Array;
  });
}

/** Columns `keep` (indices along Ψ's last axis, of `from` units) of a row-major Ψ. */
function pickColumns(psi: Float32Array, from: number, keep: readonly number[]): Float32Array {
  const rows = psi.length / from;
  const out = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) keep.forEach((j, t) => (out[r * keep.length + t] = psi[r * from + j] as number));
  return out;
}

/** NORTH-Select: the `units` best of `units × candidates` random units by per-unit ‖∂L/∂Ω‖. */
export function selectedWidthWeights(geometry: WidthGeometry, units: number, candidates: number, input: tf.Tensor, gradient: tf.Tensor, rng: Rng): WidthSeedWeights {
  const pool = units * candidates;
  const drawn = randomWidthWeights(geometry, pool, rng);
  const trial = widthSeed(geometry, pool, drawn);
  try {
    const scores = unitScores(trial, input, gradient);
    const keep = Array.from({ length: pool }, (_, j) => j)
      .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
      .slice(0, units);
    return { psi: pickColumns(drawn.psi, pool, keep), bias: Float32Array.from(keep, (j) => drawn.bias[j] as number) };
  } finally {
    trial.dispose();
  }
}

/** Mean L2 norm of a kernel's output columns / filters (the scale of the existing units' incoming weights). */
function meanColumnNorm(kernel: tf.Tensor): number {
  return tf.tidy(() => {
    const axes = Array.from({ length: kernel.rank - 1 }, (_, i) => i);
    return tf.mean(tf.sqrt(tf.sum(tf.square(kernel), axes))).dataSync()[0] ?? 0;
  });
}

/** Gradient-aimed Ψ for a dense layer (see the file comment); `kernel` is layer L's current kernel [n_in, n]. */
export function gradientWidthWeights(geometry: WidthGeometry, units: number, input: tf.Tensor, gradient: tf.Tensor, kernel: tf.Tensor, rng: Rng): WidthSeedWeights {
  if (geometry.layout !== 'dense' || input.rank !== 2 || gradient.rank !== 2) {
    throw new EsperError('ESPER_INTERNAL', `Error in gradientWidthWeights: the SVD init is for dense layers, not ${geometry.layout}`);
  }
  const nIn = geometry.inputs;
  const m = tf.tidy(() => tf.matMul(tf.transpose(input), gradient).dataSync());
  const aimed = topLeftSingularVectors(m, nIn, geometry.outputs, units).vectors;
  const rest = orthonormalCompletion(aimed, units - aimed.length, nIn, () => rng.normal());
  const norm = meanColumnNorm(kernel);
  const scale = norm > 0 ? norm : Math.sqrt(2 / psiFanIn(geometry)) * Math.sqrt(nIn);
  // Each aimed direction ±u: keep the sign whose ReLU unit carries the larger ‖∂L/∂Ω‖.
  const signs = tf.tidy(() => {
    if (aimed.length === 0) return new Float32Array(0);
    const both = aimed.flatMap((u) => [u, u.map((v) => -v)]);
    const psi = tf.mul(tf.transpose(tf.tensor2d(both.map((u) => Array.from(u)), [both.length, nIn], 'float32')), scale);
    const u = tf.relu(tf.add(tf.matMul(input, psi), WIDTH_BIAS_INIT));
    const norms = tf.sqrt(tf.sum(tf.square(tf.matMul(tf.transpose(u), gradient)), 1)).dataSync();
    return Float32Array.from(aimed, (_, j) => ((norms[2 * j] as number) >= (norms[2 * j + 1] as number) ? 1 : -1));
  });
  const columns = [...aimed.map((u, j) => u.map((v) => v * (signs[j] as number))), ...rest];
  const psi = new Float32Array(nIn * units);
  columns.forEach((u, j) => u.forEach((v, r) => (psi[r * units + j] = v * scale)));
  return { psi, bias: new Float32Array(units).fill(WIDTH_BIAS_INIT) };
}

/**
 * A width seed for hidden layer `layer` of `model` with the geometry the
 * slot has now (`geometry`), initialised by `options.init`; the gradient
 * inits measure on `batch` (required for them). Draws only from `rng`.
 */
export function initWidthSeed(model: HostModel, layer: number, geometry: WidthGeometry, options: WidthSeedOptions, rng: Rng, batch?: InitBatch): WidthSeed {
  const { units } = options;
  const init = options.init ?? 'random';
  if (!Number.isInteger(units) || units < 1) throw new EsperError('ESPER_CONFIG_INVALID', `width seed: units ${units} is not a positive integer`, { details: { units } });
  const sgd = options.sgd;
  if (sgd !== undefined && batch === undefined) throw new EsperError('ESPER_CONFIG_INVALID', 'width seed: scaling for SGD needs a batch of examples');
  const seed = widthSeed(geometry, units, initialWeights(model, layer, geometry, options, init, rng, batch));
  try {
    if (sgd !== undefined && batch !== undefined) scaleIncoming(seed, sgdScale(outgoingSharpness(model, layer, seed, batch.x), sgd.learningRate, sgd.bound));
  } catch (error) {
    seed.dispose();
    throw error;
  }
  return seed;
}

/** Ψ and b by `init` (see the file comment); the gradient inits measure on `batch`. */
function initialWeights(model: HostModel, layer: number, geometry: WidthGeometry, options: WidthSeedOptions, init: WidthInit, rng: Rng, batch?: InitBatch): WidthSeedWeights {
  const { units } = options;
  if (init === 'random') return randomWidthWeights(geometry, units, rng);
  if (batch === undefined) throw new EsperError('ESPER_CONFIG_INVALID', `width seed init ${init} needs a batch of examples`);
  const candidates = options.candidates ?? 8;
  if (!Number.isInteger(candidates) || candidates < 1) throw new EsperError('ESPER_CONFIG_INVALID', `width seed: candidates ${candidates} is not a positive integer`, { details: { candidates } });
  const { input, gradient } = layerGradients(model, layer, batch);
  try {
    return init === 'gradient' && geometry.layout === 'dense'
      ? gradientWidthWeights(geometry, units, input, gradient, model.hostParams[2 * (layer - 1)] as tf.Variable, rng)
      : selectedWidthWeights(geometry, units, candidates, input, gradient, rng);
  } finally {
    input.dispose();
    gradient.dispose();
  }
}
