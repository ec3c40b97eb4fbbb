/**
 * The α ramp of a BLENDING seed (DESIGN §2, digest §2C): one tick per epoch
 * along a linear, cosine or sigmoid curve over 3, 5 or 8 epochs, snapping to
 * the target exactly at the end. Pure: no tensors, no state.
 */
import { BLEND_CURVES, BLEND_TEMPOS_EPOCHS, type BlendCurve, type BlendTempo } from '../contracts/kasmina.ts';

/** Steepness of the sigmoid curve (Esper-Lite's alpha controller uses 12). */
export const SIGMOID_STEEPNESS = 12;

const logistic = (t: number): number => 1 / (1 + Math.exp(-SIGMOID_STEEPNESS * (t - 0.5)));
const LOGISTIC_AT_0 = logistic(0);
const LOGISTIC_AT_1 = logistic(1);

/** Progress along `curve` at normalised time `t` ∈ [0, 1]: 0 at 0, 1 at 1, non-decreasing. */
export function curveProgress(curve: BlendCurve, t: number): number {
  const u = Math.min(1, Math.max(0, t));
  switch (curve) {
    case 'linear':
      return u;
    case 'cosine':
      // Zero slope at both ends: the blend starts and lands gently.
      return 0.5 * (1 - Math.cos(Math.PI * u));
    case 'sigmoid':
      // Logistic curve rescaled so that it passes exactly through (0, 0) and (1, 1).
      return (logistic(u) - LOGISTIC_AT_0) / (LOGISTIC_AT_1 - LOGISTIC_AT_0);
  }
}

/**
 * α after `epochsIntoBlend` epochs of BLENDING: `start` (default 0) at 0
 * epochs, exactly `target` from `tempoEpochs` on, and monotone in between
 * (towards the target, so a ramp down — a scheduled prune — works too).
 * Fractional epochs are allowed (e.g. a per-step ramp); negative ones count as 0.
 *
 * @param target α the ramp ends at, in [0, 1]. @default 1
 * @param start α the ramp starts from, in [0, 1] (a retarget from HOLDING). @default 0
 */
export function alphaAt(
  curve: BlendCurve,
  tempoEpochs: BlendTempo,
  epochsIntoBlend: number,
  target = 1,
  start = 0,
): number {
  if (!(BLEND_CURVES as readonly string[]).includes(curve)) {
    throw new RangeError(`Error in alphaAt: curve ${JSON.stringify(curve)} is not one of ${BLEND_CURVES.join(', ')}`);
  }
  if (!(BLEND_TEMPOS_EPOCHS as readonly number[]).includes(tempoEpochs)) {
    throw new RangeError(`Error in alphaAt: tempoEpochs ${tempoEpochs} is not one of ${BLEND_TEMPOS_EPOCHS.join(', ')}`);
  }
  if (Number.isNaN(epochsIntoBlend)) throw new RangeError('Error in alphaAt: epochsIntoBlend is NaN');
  for (const [name, value] of [['target', target], ['start', start]] as const) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`Error in alphaAt: ${name} ${value} is not in [0, 1]`);
  }
  if (epochsIntoBlend <= 0) return start;
  if (epochsIntoBlend >= tempoEpochs) return target;
  const alpha = start + (target - start) * curveProgress(curve, epochsIntoBlend / tempoEpochs);
  // Rounding must never overshoot either end of the ramp.
  return Math.min(Math.max(start, target), Math.max(Math.min(start, target), alpha));
}
