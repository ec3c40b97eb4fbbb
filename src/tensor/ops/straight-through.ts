/**
 * The straight-through term of a seed in TRAINING (DESIGN §2): the forward
 * value is the host's `forward` exactly, and the gradient that reaches it also
 * reaches `learner` (the seed's output), so the seed learns from the task loss
 * while the model computes what it would without the seed.
 *
 * One custom-gradient op instead of `forward + (learner − stop(learner))`:
 * the same gradients (dy to both), without the copy, subtraction, addition,
 * negation and zero tensor of that formula — and `forward` even when
 * `learner` is not finite (∞ − ∞ would be NaN).
 */
import * as tf from '@tensorflow/tfjs';

const op: (forward: tf.Tensor, learner: tf.Tensor) => tf.Tensor = tf.customGrad<tf.Tensor>((...args: unknown[]) => {
  const forward = args[0] as tf.Tensor;
  // Two distinct tensors (defensive): the engine may dispose a gradient tensor once it has added it into an input's gradient; one tensor shared by both inputs could then be freed under the other.
  return { value: forward.clone(), gradFunc: (dy: tf.Tensor) => [dy, dy.clone()] };
});

/** `forward` in the forward pass; in the backward pass both `forward` and `learner` receive the upstream gradient. Shapes must match. */
export function straightThrough<T extends tf.Tensor>(forward: T, learner: tf.Tensor): T {
  if (forward.shape.length !== learner.shape.length || forward.shape.some((d, i) => d !== learner.shape[i])) {
    throw new RangeError(`Error in straightThrough: forward ${JSON.stringify(forward.shape)} and learner ${JSON.stringify(learner.shape)} differ in shape`);
  }
  return op(forward, learner) as T;
}
