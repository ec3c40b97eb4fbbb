/**
 * One transpose of a layer's input per backward pass, however many weight
 * gradients read it. On wasm the weight gradient xᵀ·dy runs as an explicit
 * transpose and a plain matmul (dense-matmul.ts); a layer with a live width
 * seed has two such gradients of the same x (the layer's own weights and the
 * seed's Ψ), and on a 784-input layer the second [batch, 784] transpose cost
 * as much as the seed's matmul — work a static layer of the same width does
 * once (issue 11: "growth adds no per-step cost beyond the new units' own
 * work").
 *
 * {@link withSharedTransposes} opens a scope (a training step's backward
 * pass); inside it {@link sharedTranspose} computes xᵀ once per x (by its
 * data), keeps it past the engine's per-gradient tidies, and disposes it when
 * the scope ends. Outside a scope it is `tf.transpose`.
 */
import * as tf from '@tensorflow/tfjs';

let scope: Map<object, tf.Tensor2D> | undefined;

/** Runs `fn` with transposes shared by data; disposes them after. Scopes nest (the inner one is separate). */
export function withSharedTransposes<T>(fn: () => T): T {
  const outer = scope;
  const mine = new Map<object, tf.Tensor2D>();
  scope = mine;
  try {
    return fn();
  } finally {
    scope = outer;
    for (const t of mine.values()) t.dispose();
  }
}

/** xᵀ, computed once per x's data inside a {@link withSharedTransposes} scope. */
export function sharedTranspose(x: tf.Tensor2D): tf.Tensor2D {
  if (scope === undefined) return tf.transpose(x);
  const key = x.dataId;
  const known = scope.get(key);
  // Views of one buffer (reshapes) share its data: reuse only a transpose of this very shape.
  if (known !== undefined && !known.isDisposed && known.shape[0] === x.shape[1] && known.shape[1] === x.shape[0]) return known;
  if (known !== undefined) return tf.transpose(x);
  const transposed = tf.keep(tf.transpose(x));
  scope.set(key, transposed);
  return transposed;
}
