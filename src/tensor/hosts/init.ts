/**
 * Parameter initialisers drawing from an explicit {@link Rng}, never tf's
 * global RNG, so that a run is reproducible from its seed and a checkpoint's
 * Rng state. Each returns a new tf.Variable the caller owns.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** He (Kaiming) normal values: N(0, 2 / fanIn), row-major for `shape`. */
export function heNormalValues(rng: Rng, shape: readonly number[], fanIn: number): Float32Array {
  const values = new Float32Array(sizeOf(shape));
  const std = Math.sqrt(2 / fanIn);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return values;
}

/** He (Kaiming) normal: N(0, 2 / fanIn); for layers followed by a ReLU. */
export function heNormal(rng: Rng, shape: readonly number[], fanIn: number): tf.Variable {
  const values = heNormalValues(rng, shape, fanIn);
  return tf.tidy(() => tf.variable(tf.tensor(values, [...shape], 'float32')));
}

/** Glorot (Xavier) uniform: U(±√(6 / (fanIn + fanOut))); for linear layers. */
export function glorotUniform(rng: Rng, shape: readonly number[], fanIn: number, fanOut: number): tf.Variable {
  const values = new Float32Array(sizeOf(shape));
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < values.length; i++) values[i] = (rng.next() * 2 - 1) * limit;
  return tf.tidy(() => tf.variable(tf.tensor(values, [...shape], 'float32')));
}

/** All zeros (biases, and the output layer of a seed so that it starts as no contribution). */
export function zerosVariable(shape: readonly number[]): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zeros([...shape], 'float32')));
}

/** Number of scalars in `params`. */
export function countParams(params: readonly tf.Variable[]): number {
  return params.reduce((n, p) => n + p.size, 0);
}
