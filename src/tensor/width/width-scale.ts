/**
 * Scaling a width seed's new units to what plain SGD can take (a training
 * session applies it to dense seeds only: docs/growth.md).
 *
 * SGD with learning rate η is stable along a direction of curvature λ only
 * while η·λ < 2. New units at the host kernel's column norm can put the loss's
 * curvature in their outgoing weights Ω far above that: on Fashion-MNIST
 * 784-6-12-10 at SGD 0.2, 48 new units beside 6 had η·λ ≈ 8 there. Blending
 * hides it — a seed's contribution is α·Ω·u, so its curvature in Ω is α²·λ —
 * until α reaches 1; then the training loss doubled within 25 steps and the
 * validation accuracy fell 6.9 % (docs/benchmarks.md, "twenty-second
 * session"). Adam's steps do not grow with the curvature: it gets no scaling.
 *
 * λ is the top eigenvalue of the Gauss–Newton matrix of the mean
 * cross-entropy in Ω (JᵀHJ: J the logits' Jacobian in Ω, H the softmax's
 * Hessian in the logits), by power iteration on a sample. ReLU units and
 * max-pooling are positively homogeneous, so scaling Ψ and b by c scales the
 * units by c and λ by c²: c is the largest value ≤ 1 with η·c²·λ ≤ bound.
 * Ω is still zero, so the function at germination is unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import type { HostModel } from '../hosts/model.ts';
import type { WidthSeed } from './width-seed.ts';

/** Power-iteration steps of {@link outgoingSharpness}. */
export const SHARPNESS_ITERATIONS = 20;

/**
 * The top eigenvalue of the Gauss–Newton matrix of the mean softmax
 * cross-entropy in the outgoing weights Ω of `seed` (germinated for hidden
 * layer `layer` of `model`, not attached) at full strength, on examples `x`.
 * The Jacobian-vector products are central differences (exact for a ReLU
 * network unless a step crosses a kink); the start vector is fixed, so the
 * result is deterministic. Ω is left as it was.
 */
export function outgoingSharpness(model: HostModel, layer: number, seed: WidthSeed, x: tf.Tensor, iterations = SHARPNESS_ITERATIONS): number {
  const omega = seed.params[2] as tf.Variable;
  const saved = tf.clone(omega);
  const batch = x.shape[0] ?? 1;
  try {
    return tf.tidy(() => {
      const base = model.probeLayer(x, layer);
      const units = seed.activate(base.input);
      const probabilities = tf.softmax(base.logits);
      const logitsWith = (delta: tf.Tensor): tf.Tensor => model.probeLayer(x, layer, delta).logits;
      const rms = (t: tf.Tensor): number => Math.sqrt(tf.mean(tf.square(t)).dataSync()[0] as number);
      const nextScale = Math.max(1, rms(base.next));
      // A fixed start direction, not aligned with any axis.
      let direction: tf.Tensor = tf.sin(tf.add(tf.mul(tf.range(0, omega.size, 1, 'float32'), 1.618), 0.5)).reshape(omega.shape);
      let lambda = 0;
      for (let i = 0; i < iterations; i++) {
        const norm = tf.norm(direction).dataSync()[0] as number;
        if (!(norm > 0)) return 0;
        const unit = tf.div(direction, norm);
        omega.assign(unit);
        const contribution = seed.project(units);
        const size = rms(contribution);
        if (!(size > 0)) return 0;
        const eps = (1e-3 * nextScale) / size;
        const jv = tf.div(tf.sub(logitsWith(tf.mul(contribution, eps)), logitsWith(tf.mul(contribution, -eps))), 2 * eps);
        // H·Jv for the softmax cross-entropy, row by row: p ⊙ v − p (pᵀv); over the batch mean.
        const hjv = tf.div(tf.sub(tf.mul(probabilities, jv), tf.mul(probabilities, tf.sum(tf.mul(probabilities, jv), 1, true))), batch);
        const backToNext = tf.grad((delta: tf.Tensor) => tf.sum(tf.mul(logitsWith(delta), hjv)))(tf.zerosLike(base.next));
        const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.mul(seed.project(units), backToNext)), [omega]);
        value.dispose();
        const product = grads[omega.name] as tf.Tensor;
        lambda = tf.sum(tf.mul(product, unit)).dataSync()[0] as number;
        direction = product;
      }
      return Math.max(0, lambda);
    });
  } finally {
    omega.assign(saved);
    saved.dispose();
  }
}

/**
 * The factor c ∈ (0, 1] for new units whose outgoing sharpness is `sharpness`
 * under SGD at `learningRate`: the largest c with learningRate · c² ·
 * sharpness ≤ bound; 1 for silent units.
 *
 * @throws RangeError for a bound or learning rate that is not a positive number.
 */
export function sgdScale(sharpness: number, learningRate: number, bound: number): number {
  for (const [name, value] of [['bound', bound], ['learningRate', learningRate]] as const) {
    if (!(value > 0 && Number.isFinite(value))) throw new RangeError(`Error in sgdScale: ${name} ${value} is not a positive number`);
  }
  if (!(sharpness > 0)) return 1;
  return Math.min(1, Math.sqrt(bound / (learningRate * sharpness)));
}

/** Multiplies a width seed's incoming weights Ψ and b by `c` (its units' activations scale by c; Ω is untouched). */
export function scaleIncoming(seed: WidthSeed, c: number): void {
  if (c === 1) return;
  for (const p of seed.params.slice(0, 2)) tf.tidy(() => p.assign(tf.mul(p, c)));
}
