/**
 * x · (w ⊙ s): a dense layer whose input rows are scaled, s [in, 1] — the
 * next layer of a width seed resident while it blends, where α scales the
 * seed's rows of that layer's kernel (src/tensor/hosts/slotted-host.ts).
 *
 * As tfjs ops that is a multiply forward and a multiply and a cast backward,
 * plus the matmul's reshapes: five kernel dispatches beyond the static
 * layer's, each 8–10 µs of engine work on the native backend — about 7 % of
 * a 784-20-10 step. There the forward is one kernel and the backward the
 * static layer's input-gradient matmul plus one kernel for dw
 * (src/tensor/native/kernels/row-scaled-matmul.ts), computing what the ops
 * compute, in the same order (the same products and sgemm calls, so the same
 * bits). Elsewhere it is the ops.
 */
import * as tf from '@tensorflow/tfjs';
import { denseMatMul } from './dense-matmul.ts';

/** The native backend's kernels for the forward and backward pass. */
export const ROW_SCALED_MATMUL_KERNEL = 'EsperRowScaledMatMul';
export const ROW_SCALED_MATMUL_GRAD_KERNEL = 'EsperRowScaledMatMulGradW';

/**
 * The native forward kernel's gradient, registered once: dx = dy · (w ⊙ s)ᵀ
 * (the stock matmul, transposes are BLAS flags there) and dw = (xᵀ · dy) ⊙ s
 * (one kernel). The scale is a constant: no gradient. Registered here rather
 * than through `tf.customGrad`, which would wrap the op in a scope and two
 * identities — three of the dispatches it saves. (The engine computes each
 * input's gradient in its own tidy, so the two cannot share one kernel call.)
 */
if (tf.getGradient(ROW_SCALED_MATMUL_KERNEL) === undefined) {
  tf.registerGradient({
    kernelName: ROW_SCALED_MATMUL_KERNEL,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true],
    gradFunc: (dy, saved) => {
      const [x, scale, scaled] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const dValue = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor;
      return {
        x: () => tf.matMul(dValue, scaled, false, true),
        w: () => tf.engine().runKernel<tf.Tensor>(ROW_SCALED_MATMUL_GRAD_KERNEL, { dy: dValue, x, scale }, {}),
      };
    },
  });
}

/** x [n, in] · (w [in, out] ⊙ scale [in, 1]); gradients for x and w (the scale is a constant). Call inside `tf.tidy`. */
export function rowScaledMatMul(x: tf.Tensor2D, w: tf.Tensor2D, scale: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || scale.rank !== 2 || x.shape[1] !== w.shape[0] || scale.shape[0] !== w.shape[0] || scale.shape[1] !== 1) {
    throw new RangeError(`Error in rowScaledMatMul: x ${JSON.stringify(x.shape)}, w ${JSON.stringify(w.shape)}, scale ${JSON.stringify(scale.shape)} are not [n, k], [k, m], [k, 1]`);
  }
  const native = tf.getBackend() === 'native' && tf.getKernel(ROW_SCALED_MATMUL_KERNEL, 'native') !== undefined && [x, w, scale].every((t) => t.dtype === 'float32');
  if (!native) return denseMatMul(x, tf.mul(w, scale));
  // The kernel's second output (w ⊙ s) is what the backward pass reads.
  const [value, scaled] = tf.engine().runKernel<tf.Tensor[]>(ROW_SCALED_MATMUL_KERNEL, { x, w, scale }, {}) as [tf.Tensor2D, tf.Tensor];
  scaled.dispose();
  return value;
}
