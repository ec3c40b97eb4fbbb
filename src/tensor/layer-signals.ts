/**
 * Per hidden layer signals (issue 11 item 3, growth-notes §1 and §4): what
 * the training worker measures at an epoch's end, on a fixed probe batch, so
 * that Tamiyo can tell which layer is the bottleneck. For hidden layer L
 * (1-based), with A its activations (see {@link HostModel.hiddenActivations};
 * a conv block's channels are the features, its pooled pixels and the batch
 * the samples):
 *
 * - `effectiveRank`: λ = eigenvalues of the correlation matrix of A (the
 *   centred covariance of the units standardised to unit variance, so a few
 *   loud units cannot hide how many directions the layer carries; units a
 *   millionth as variable as the average are left out as rounding noise;
 *   width × width, or the N × N Gram matrix when N is smaller: same non-zero
 *   eigenvalues), p = λ / Σλ, exp(−Σ p log p). 0 when every activation is
 *   constant on the batch (total variance ≤ 1e-9 × the mean square, i.e. the
 *   float32 rounding of a mean subtraction).
 * - `positions`: a conv block's pooled pixels per channel (h′·w′), 1 for a dense layer.
 * - `deadFraction`: units (channels) that are 0 on every probe example (and pixel).
 * - `gradientScore`: GradMax's first-order gain of one new unit with unit-norm
 *   incoming weights ψ, linearised at ψ = 0 (ReLU as the identity near 0, as
 *   GradMax's "relu1"): the largest ‖∂L/∂Ω‖ over ‖ψ‖ = 1, L the mean
 *   softmax cross-entropy of the batch.
 *   - dense layer: ∂L/∂Ω = ψᵀ·Hᵀ·G, so the score is σ_max(HᵀG), with H the
 *     layer's input [B, n_in] and G = ∂L/∂z_{L+1} [B, n_out] from
 *     {@link layerGradients}. G is the gradient of the batch *mean*, i.e. the
 *     per-example gradients / B, so HᵀG is the contract's Hᵀ·G / B.
 *   - conv block: ψ is a k×k×c_in kernel, flattened (J = k²·c_in). The new
 *     channel is conv(H, ψ) = P·ψ with P the 'same'-padded k×k patches of H,
 *     then pooled; at ψ = 0 all four pixels of a pooling window tie, and the
 *     window's average is the max-pool's (sub)gradient there, so the pooled
 *     channel is U·ψ, U = avgPool(P). ∂L/∂Ω is linear in ψ: T·ψ with T
 *     [J, |Ω|] (next block: the k′×k′ filter gradient of conv(U, Ω) against
 *     G; next layer dense: flatten(U)ᵀ·G), and the score is σ_max(T). The
 *     exact maximiser, not a best-of-N random estimate, so that it stays
 *     comparable with the dense layers' (same definition, same loss).
 *
 * σ_max is the square root of the largest eigenvalue of the smaller Gram
 * matrix (TᵀT or TTᵀ), formed by tfjs; the eigenvalues come from
 * {@link symmetricEigenvalues} in float64. Tensors stay inside `tf.tidy` or
 * are disposed; only numbers come out, the same for the same weights and
 * batch (no randomness).
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerSignals } from '../contracts/tolaria.ts';
import type { HostModel } from './hosts/model.ts';
import { symmetricEigenvalues } from './linalg/symmetric-eigen.ts';
import { layerGradients, type InitBatch } from './width/width-init.ts';

/** Total variance at or below this fraction of the activations' mean square counts as none (constant activations). */
const CONSTANT_VARIANCE = 1e-9;

/**
 * exp(−Σ p log p) of p = λ / Σλ over the positive eigenvalues `values`
 * (others are rounding and ignored); 0 when none is positive.
 */
export function effectiveRank(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += Math.max(values[i] as number, 0);
  if (!(total > 0)) return 0;
  let entropy = 0;
  for (let i = 0; i < values.length; i++) {
    const p = (values[i] as number) / total;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return Math.exp(entropy);
}

/** A Gram row whose diagonal is at most this fraction of the trace is dropped before the eigen-solve. */
const NEGLIGIBLE_DIAGONAL = 1e-12;

/**
 * Eigenvalues (largest first) of a positive semi-definite n×n Gram matrix
 * held in a tensor (downloaded, solved in float64). Rows and columns whose
 * diagonal is at most {@link NEGLIGIBLE_DIAGONAL} of the trace go first
 * (dead units: all-zero rows): by interlacing, dropping them changes the
 * eigenvalues by no more than their diagonal in total, and the solver's cost
 * falls with the cube of n (a fifth of a 256-unit layer dead halves it).
 */
function gramEigenvalues(gram: tf.Tensor): Float64Array {
  const n = gram.shape[0] ?? 0;
  const full = gram.dataSync();
  let trace = 0;
  for (let i = 0; i < n; i++) trace += Math.max(full[i * n + i] as number, 0);
  const keep = Array.from({ length: n }, (_, i) => i).filter((i) => (full[i * n + i] as number) > NEGLIGIBLE_DIAGONAL * trace);
  if (keep.length === n) return symmetricEigenvalues(full, n);
  if (keep.length === 0) return new Float64Array(0);
  const m = keep.length;
  const kept = new Float64Array(m * m);
  keep.forEach((i, r) => keep.forEach((j, c) => (kept[r * m + c] = full[i * n + j] as number)));
  return symmetricEigenvalues(kept, m);
}

/**
 * aᵀ·b. An explicit transpose: on the wasm backend a transposed matMul falls
 * to a scalar loop about 12× slower (see `ops/dense-matmul.ts`). Call inside `tf.tidy`.
 */
function transposeTimes(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.transpose(a), b);
}

/** The smaller Gram matrix of `m` [rows, cols]: mᵀm or m·mᵀ. Call inside `tf.tidy`. */
function smallerGram(m: tf.Tensor2D): tf.Tensor2D {
  const [rows, cols] = m.shape;
  return rows >= cols ? transposeTimes(m, m) : tf.matMul(m, tf.transpose(m));
}

/** A layer's activations as [samples, features]: a conv block's pixels (and batch) are samples, its channels features. */
function asSamples(a: tf.Tensor): tf.Tensor2D {
  const features = a.shape[a.rank - 1] ?? 1;
  return tf.reshape(a, [a.size / features, features]);
}

/** What a layer's activations say: its width, effective rank and dead fraction. */
function activationSignals(activations: tf.Tensor): Pick<LayerSignals, 'kind' | 'width' | 'positions' | 'effectiveRank' | 'deadFraction'> {
  const kind = activations.rank === 4 ? 'conv' : 'dense';
  const positions = activations.rank === 4 ? (activations.shape[1] ?? 1) * (activations.shape[2] ?? 1) : 1;
  const { peaks, meanSquare, variance, gram } = tf.tidy(() => {
    const a = asSamples(activations);
    const centred = tf.sub<tf.Tensor2D>(a, tf.mean(a, 0));
    const unitVariance = tf.mean(tf.square(centred), 0);
    // Standardised units: the Gram matrix is their correlation, so a few loud units cannot hide how many directions the layer carries.
    // Units a millionth as variable as the average are rounding noise, not directions: left out.
    const scale = tf.where(tf.greater(unitVariance, tf.mul(tf.mean(unitVariance), 1e-6)), tf.rsqrt(tf.maximum(unitVariance, 1e-30)), tf.zerosLike(unitVariance));
    return {
      peaks: tf.max(a, 0), // ReLU outputs are ≥ 0: a unit is dead when its largest output is 0
      meanSquare: tf.sum(tf.mean(tf.square(a), 0)),
      variance: tf.sum(unitVariance),
      gram: tf.div(smallerGram(tf.mul(centred, scale)), a.shape[0]),
    };
  });
  try {
    const peak = Array.from(peaks.dataSync());
    const dead = peak.filter((v) => v <= 0).length;
    const values = gramEigenvalues(gram);
    const constant = !((variance.dataSync()[0] ?? 0) > CONSTANT_VARIANCE * (meanSquare.dataSync()[0] ?? 0));
    const width = peak.length;
    return { kind, width, positions, effectiveRank: constant ? 0 : Math.min(width, effectiveRank(values)), deadFraction: dead / width };
  } finally {
    for (const t of [peaks, meanSquare, variance, gram]) t.dispose();
  }
}

/**
 * The k×k patches of x (NHWC) around each pixel, zero-padded as conv2d's
 * 'same' pads: [B, h, w, c·k·k], channel-major (channel ch, tap t at ch·k² + t;
 * a permutation of how a [k, k, c, ·] kernel flattens, which leaves σ_max
 * unchanged). A depthwise convolution with one-hot taps: on the wasm backend
 * Slice and Concat are scalar loops (~170 ms each for 256 Fashion-MNIST
 * images), a full identity conv2d costs c² and this costs c. Call inside `tf.tidy`.
 */
function samePatches(x: tf.Tensor4D, k: number): tf.Tensor4D {
  const channels = x.shape[3];
  const taps = tf.tile<tf.Tensor4D>(tf.reshape(tf.eye(k * k), [k, k, 1, k * k]), [1, 1, channels, 1]);
  return tf.depthwiseConv2d(x, taps, 1, 'same');
}

/**
 * The Gram matrix of the map ψ ↦ ∂L/∂Ω for conv block `layer` (see the file
 * comment): `input` is the block's input, `gradient` ∂L/∂z_{L+1}. Call inside `tf.tidy`.
 */
function convGainGram(model: HostModel, layer: number, input: tf.Tensor4D, gradient: tf.Tensor): tf.Tensor2D {
  const kernelSize = (i: number): number => model.hostParams[2 * i]?.shape[0] ?? 1; // layer i + 1's kernel [k, k, in, out] (kernel, bias per layer)
  const patches = samePatches(input, kernelSize(layer - 1));
  const pooled = tf.avgPool(patches, 2, 2, 'valid'); // [B, h′, w′, J]
  const [batch = 1, height = 1, width = 1, units = 1] = pooled.shape;
  let map: tf.Tensor2D; // [J, |Ω| per new channel]
  if (gradient.rank === 2) {
    const outputs = gradient.shape[1] ?? 1;
    const flat = transposeTimes(tf.reshape(pooled, [batch, height * width * units]), gradient as tf.Tensor2D); // [h′w′J, out]
    map = tf.reshape(tf.transpose(tf.reshape(flat, [height * width, units, outputs]), [1, 0, 2]), [units, height * width * outputs]);
  } else {
    const next = kernelSize(layer);
    const outputs = gradient.shape[3] ?? 1;
    const omega = tf.grad((o: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(pooled, o as tf.Tensor4D, 1, 'same'), gradient)))(tf.zeros([next, next, units, outputs]));
    map = tf.reshape(tf.transpose(omega, [2, 0, 1, 3]), [units, next * next * outputs]);
  }
  return smallerGram(map);
}

/** GradMax's gain of growing hidden layer `layer` on `batch` (see the file comment). */
function gradientScore(model: HostModel, layer: number, batch: InitBatch): number {
  const { input, gradient } = layerGradients(model, layer, batch);
  try {
    const gram = tf.tidy(() => (input.rank === 4 ? convGainGram(model, layer, input as tf.Tensor4D, gradient) : smallerGram(transposeTimes(input as tf.Tensor2D, gradient as tf.Tensor2D))));
    try {
      return Math.sqrt(Math.max(gramEigenvalues(gram)[0] ?? 0, 0));
    } finally {
      gram.dispose();
    }
  } finally {
    input.dispose();
    gradient.dispose();
  }
}

/**
 * The signals of every hidden layer of `model` (layer 1 first) on `batch`
 * (examples and labels, as the train loss takes them). See the file comment
 * for the definitions. Reads the model, changes nothing.
 */
export function measureLayerSignals(model: HostModel, batch: InitBatch): LayerSignals[] {
  const activations = tf.tidy(() => model.hiddenActivations(batch.x));
  let measured: Pick<LayerSignals, 'kind' | 'width' | 'positions' | 'effectiveRank' | 'deadFraction'>[];
  try {
    measured = activations.map(activationSignals);
  } finally {
    for (const a of activations) a.dispose();
  }
  return measured.map((signals, i) => ({ layer: i + 1, ...signals, gradientScore: gradientScore(model, i + 1, batch) }));
}
