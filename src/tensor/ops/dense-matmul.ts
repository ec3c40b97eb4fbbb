/**
 * The matmul dense layers use. On the wasm backend only untransposed matmuls
 * reach the fast kernel library; `matMul(a, b, transposeA|B)` — exactly what
 * the stock gradient emits — falls to a scalar loop about 12× slower (DESIGN
 * §8). This op's gradient transposes explicitly and then multiplies plainly.
 */
import * as tf from '@tensorflow/tfjs';
import { sharedTranspose } from './shared-transpose.ts';

const matMulFastGrad: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D = tf.customGrad((...args: unknown[]) => {
  const [x, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const a = x as tf.Tensor2D;
  const b = w as tf.Tensor2D;
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy, saved) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy;
      return [tf.matMul(g, tf.transpose(sb)), tf.matMul(sharedTranspose(sa), g)];
    },
  };
});

/** x [n, in] · w [in, out] → [n, out], with a wasm-friendly gradient. */
export function denseMatMul(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new RangeError(`Error in denseMatMul: x ${JSON.stringify(x.shape)} and w ${JSON.stringify(w.shape)} are not [n, k] · [k, m]`);
  }
  // BLAS takes transposed operands for free, and the stock gradient computes only the gradients the tape needs
  // (not the input gradient of a first layer): the explicit-transpose detour is for wasm.
  if (tf.getBackend() === 'native') return tf.matMul(x, w);
  return matMulFastGrad(x, w);
}

/**
 * x [n, in] · w [in, out] with x read through a gradient stop: only `w` gets
 * a gradient (xᵀ·dy, as {@link denseMatMul} computes it). Cheaper than
 * `denseMatMul(stopGradient(x), w)`: no copy of x, no input gradient computed
 * and then zeroed. What a width seed's incoming weights use (the seed reads
 * the host's activation without feeding gradient back into it).
 */
export function detachedInputMatMul(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new RangeError(`Error in detachedInputMatMul: x ${JSON.stringify(x.shape)} and w ${JSON.stringify(w.shape)} are not [n, k] · [k, m]`);
  }
  // x is closed over, not an input: the tape records no path back to it. It is
  // saved (kept alive for the backward pass: the caller's tidy may free it first).
  const op = tf.customGrad((...args: unknown[]) => {
    const [weights, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([x]);
    return {
      value: tf.matMul(x, weights),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const input = saved[0] as tf.Tensor2D;
        return tf.getBackend() === 'native' ? tf.matMul(input, dy, true, false) : tf.matMul(sharedTranspose(input), dy);
      },
    };
  }) as (w: tf.Tensor2D) => tf.Tensor2D;
  return op(w);
}

/**
 * x [n, in] · w [in, out] where only the first `columns` outputs pass a
 * gradient back to x (the rest still train w): a host layer with a width
 * seed's units resident in its last columns, whose input the seed reads
 * through a gradient stop (`detachInBlending`, hidden layers ≥ 2) — the
 * host's own units get their input gradient as they would without the seed.
 */
export function partialInputMatMul(x: tf.Tensor2D, w: tf.Tensor2D, columns: number): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0] || !(columns >= 1 && columns <= w.shape[1])) {
    throw new RangeError(`Error in partialInputMatMul: x ${JSON.stringify(x.shape)} and w ${JSON.stringify(w.shape)} are not [n, k] · [k, m], or ${columns} is not in 1..m`);
  }
  const native = tf.getBackend() === 'native';
  const op = tf.customGrad((...args: unknown[]) => {
    const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        const gHost = tf.slice(g, [0, 0], [-1, columns]);
        const wHost = tf.slice(sb, [0, 0], [-1, columns]);
        const dx = native ? tf.matMul(gHost, wHost, false, true) : tf.matMul(gHost, tf.transpose(wHost));
        const dw = native ? tf.matMul(sa, g, true, false) : tf.matMul(sharedTranspose(sa), g);
        return [dx, dw];
      },
    };
  }) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
  return op(x, w);
}
