/**
 * Cancelling pairs: a dense width seed whose outgoing weights Ω are zero,
 * re-seeded so that Ω is not zero and the function still is unchanged
 * (Variance Transfer, Yuan et al. 2023: Ψ = [V, V], Ω = [Z; −Z]).
 *
 * Why (plain SGD): a new unit's incoming weights get the gradient Ω·δ, zero
 * while Ω is; Ω itself moves by η·u·δ per step, its curvature bounded by the
 * SGD scaling (`width-scale.ts`). So the units' features wait until Ω has
 * grown, and the network trains like its host meanwhile: on Fashion-MNIST
 * 784-12-10 at SGD 0.15 (data seed 0) the training loss with a 96-unit seed
 * blending and holding was the host's own (0.468 against 0.476 at epoch 5;
 * the static 784-108-10: 0.372), and the grown model stayed about five epochs
 * behind its static twin to the end (docs/growth.md). Adam's steps do not
 * scale with the gradient and leave Ω = 0 at once: it needs no pairs.
 *
 * With the first ⌊k/2⌋ units copied into the next ⌊k/2⌋ (Ψ's columns and b)
 * and Ω's rows Z for the first, −Z for the copies (0 for an odd last unit),
 * the copies' contributions cancel: the function is unchanged up to the
 * float rounding of that cancellation. Each unit's incoming weights get the
 * gradient ±Z·δ from the first step, opposite within a pair, so the pair
 * separates along the direction that lowers the loss.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { WidthSeed } from './width-seed.ts';

/**
 * The standard deviation of Z: He-normal for the next layer's kernel at the
 * grown fan-in (`layerWidth` units of the layer now plus the seed's k), what
 * a static model of that width starts its kernel with.
 */
export function pairStd(layerWidth: number, units: number): number {
  if (!(Number.isInteger(layerWidth) && layerWidth >= 0 && Number.isInteger(units) && units > 0)) {
    throw new RangeError(`Error in pairStd: layer width ${layerWidth} and units ${units} must be integers (≥ 0, > 0)`);
  }
  return Math.sqrt(2 / (layerWidth + units));
}

/**
 * Re-seeds the dense width `seed` in place as cancelling pairs (see the file
 * comment): Z ~ N(0, std²) drawn from `rng`, row by row. Its Ω must be zero
 * (the function is preserved only then) and k ≥ 2. Returns the number of pairs.
 */
export function pairUp(seed: WidthSeed, std: number, rng: Rng): number {
  if (seed.geometry.layout !== 'dense') throw new RangeError(`Error in pairUp: cancelling pairs are for dense width seeds, not ${seed.geometry.layout}`);
  if (!(std > 0 && Number.isFinite(std))) throw new RangeError(`Error in pairUp: std ${std} must be a positive number`);
  const [psi, bias, omega] = seed.params as [tf.Variable, tf.Variable, tf.Variable];
  const k = seed.units;
  const pairs = Math.floor(k / 2);
  if (pairs === 0) throw new RangeError('Error in pairUp: a seed of one unit has no pair');
  const nonZero = tf.tidy(() => tf.any(tf.notEqual(omega, 0)).dataSync()[0]);
  if (nonZero !== 0) throw new RangeError("Error in pairUp: the seed's outgoing weights are not zero (the function would change)");
  const outputs = omega.shape[1] as number;
  const z = Float32Array.from({ length: pairs * outputs }, () => rng.normal() * std);
  tf.tidy(() => {
    const rest = k - 2 * pairs;
    const firstPsi = tf.slice(psi, [0, 0], [-1, pairs]);
    psi.assign(tf.concat([firstPsi, firstPsi, tf.slice(psi, [0, 2 * pairs], [-1, rest])], 1));
    const firstBias = tf.slice(bias, [0], [pairs]);
    bias.assign(tf.concat([firstBias, firstBias, tf.slice(bias, [2 * pairs], [rest])], 0));
    const zt = tf.tensor2d(z, [pairs, outputs]);
    omega.assign(tf.concat([zt, tf.neg(zt), tf.zeros([rest, outputs])], 0));
  });
  return pairs;
}
