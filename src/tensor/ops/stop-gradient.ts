/**
 * Stop-gradient: forward is the identity, backward is zero. Built with
 * `tf.customGrad` (tfjs has no `detach`, tfjs#7438).
 */
import * as tf from '@tensorflow/tfjs';

export const stopGradient: <T extends tf.Tensor>(x: T) => T = tf.customGrad((...args: unknown[]) => {
  const x = args[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as <T extends tf.Tensor>(x: T) => T;
