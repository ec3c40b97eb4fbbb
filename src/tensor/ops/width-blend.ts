/**
 * A dense width seed in BLENDING or HOLDING as one op (issue 11: "growth adds
 * no per-step cost beyond the new units' own work"):
 *
 *   z + α·relu(x·Ψ + b)·Ω        (x read through a gradient stop unless `attachInput`)
 *
 * Written as tfjs ops (matmul, bias add, ReLU, matmul, scale, add) the branch
 * costs 6 kernels forward and about 17 backward, each with the engine's
 * bookkeeping; on a small layer the dispatches cost more than the
 * arithmetic. Here: `_FusedMatMul` (bias and ReLU in the matmul), α·Ω, a
 * matmul and the add forward; the backward pass computes exactly the
 * gradients the branch defines — Ω: α·uᵀ·dz, Ψ: xᵀ·(dz·(αΩ)ᵀ ⊙ [u > 0]),
 * b: the batch sum of the latter, z: dz, x: only when attached — in about
 * ten kernels, with plain (untransposed) matmuls on wasm as
 * {@link denseMatMul} does.
 */
import * as tf from '@tensorflow/tfjs';
import { sharedTranspose } from './shared-transpose.ts';

/** The native backend's kernels for the forward and backward pass (src/tensor/native/kernels/width-blend.ts); elsewhere tfjs ops. */
export const WIDTH_BLEND_KERNEL = 'EsperWidthBlend';
export const WIDTH_BLEND_GRAD_KERNEL = 'EsperWidthBlendGrad';

/** The transposed-operand matmul, as each backend runs it fastest (see dense-matmul.ts); a transposed left operand is shared (shared-transpose.ts). */
function matMulT(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  if (tf.getBackend() === 'native') return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? sharedTranspose(a) : a, transposeB ? tf.transpose(b) : b);
}

function checkShapes(z: tf.Tensor, x: tf.Tensor, psi: tf.Tensor, bias: tf.Tensor, omega: tf.Tensor): void {
  const [n, inputs] = x.shape;
  const units = psi.shape[1];
  const ok =
    z.rank === 2 && x.rank === 2 && psi.rank === 2 && bias.rank === 1 && omega.rank === 2 &&
    psi.shape[0] === inputs && bias.shape[0] === units && omega.shape[0] === units && z.shape[0] === n && z.shape[1] === omega.shape[1];
  if (!ok) {
    throw new RangeError(
      `Error in widthBlend: z ${JSON.stringify(z.shape)}, x ${JSON.stringify(x.shape)}, Ψ ${JSON.stringify(psi.shape)}, b ${JSON.stringify(bias.shape)}, Ω ${JSON.stringify(omega.shape)} are not [n, out], [n, in], [in, k], [k], [k, out]`,
    );
  }
}

/**
 * z + α·relu(x·Ψ + b)·Ω for a dense width seed's variables Ψ, b, Ω; `x` gets
 * a gradient (dz·(αΩ)ᵀ ⊙ [u > 0])·Ψᵀ only with `attachInput`. Call inside
 * `tf.tidy`.
 */
export function widthBlend(z: tf.Tensor2D, x: tf.Tensor2D, psi: tf.Tensor2D, bias: tf.Tensor1D, omega: tf.Tensor2D, alpha: number, options: { attachInput?: boolean } = {}): tf.Tensor2D {
  checkShapes(z, x, psi, bias, omega);
  const attach = options.attachInput === true;
  if (tf.getBackend() === 'native' && tf.getKernel(WIDTH_BLEND_KERNEL, 'native') !== undefined && [z, x, psi, bias, omega].every((t) => t.dtype === 'float32')) {
    return nativeWidthBlend(z, x, psi, bias, omega, alpha, attach);
  }
  // The units and the scaled Ω are what the backward pass needs besides x; a detached x is closed over (no tape path back to it).
  const forward = (input: tf.Tensor2D, zIn: tf.Tensor2D, p: tf.Tensor2D, b: tf.Tensor1D, o: tf.Tensor2D, save: tf.GradSaveFunc): tf.Tensor2D => {
    const units = tf.fused.matMul({ a: input, b: p, bias: b, activation: 'relu' });
    const scaled = tf.mul<tf.Tensor2D>(o, tf.scalar(alpha));
    save([input, units, scaled]);
    return tf.add(zIn, tf.matMul(units, scaled));
  };
  const backward = (dy: tf.Tensor2D, saved: tf.Tensor[]): { dz: tf.Tensor; dPsi: tf.Tensor; dBias: tf.Tensor; dOmega: tf.Tensor; dPre: tf.Tensor2D } => {
    const [input, units, scaled] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const dOmega = tf.mul(matMulT(units, dy, true, false), tf.scalar(alpha));
    const dPre = tf.mul<tf.Tensor2D>(matMulT(dy, scaled, false, true), tf.step(units));
    return { dz: dy.clone(), dPsi: matMulT(input, dPre, true, false), dBias: tf.sum(dPre, 0), dOmega, dPre };
  };
  if (attach) {
    const op = tf.customGrad<tf.Tensor2D>((...args: unknown[]) => {
      const [zIn, input, p, b, o, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
      const value = forward(input, zIn, p, b, o, (tensors) => save([...tensors, p]));
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const g = backward(dy as tf.Tensor2D, saved);
          return [g.dz, matMulT(g.dPre, saved[3] as tf.Tensor2D, false, true), g.dPsi, g.dBias, g.dOmega];
        },
      };
    });
    return op(z, x, psi, bias, omega);
  }
  const op = tf.customGrad<tf.Tensor2D>((...args: unknown[]) => {
    const [zIn, p, b, o, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
    const value = forward(x, zIn, p, b, o, save);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const g = backward(dy as tf.Tensor2D, saved);
        return [g.dz, g.dPsi, g.dBias, g.dOmega];
      },
    };
  });
  return op(z, psi, bias, omega);
}

/** {@link widthBlend} as the native backend's two kernels (forward, backward). */
function nativeWidthBlend(z: tf.Tensor2D, x: tf.Tensor2D, psi: tf.Tensor2D, bias: tf.Tensor1D, omega: tf.Tensor2D, alpha: number, attach: boolean): tf.Tensor2D {
  const forward = (zIn: tf.Tensor, input: tf.Tensor, p: tf.Tensor, b: tf.Tensor, o: tf.Tensor, save: tf.GradSaveFunc): tf.Tensor2D => {
    const [value, units] = tf.engine().runKernel<tf.Tensor2D[]>(WIDTH_BLEND_KERNEL, { z: zIn, x: input, psi: p, bias: b, omega: o }, { alpha }) as [tf.Tensor2D, tf.Tensor2D];
    save([input, units, p, o]);
    return value;
  };
  const backward = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [input, units, p, o] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    return tf.engine().runKernel<tf.Tensor[]>(WIDTH_BLEND_GRAD_KERNEL, { dy, x: input, units, psi: p, omega: o }, { alpha, attach });
  };
  if (attach) {
    const op = tf.customGrad<tf.Tensor2D>((...args: unknown[]) => {
      const [zIn, input, p, b, o, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      return {
        value: forward(zIn, input, p, b, o, save),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [dPsi, dBias, dOmega, dx] = backward(dy, saved) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          return [dy.clone(), dx, dPsi, dBias, dOmega];
        },
      };
    });
    return op(z, x, psi, bias, omega);
  }
  const op = tf.customGrad<tf.Tensor2D>((...args: unknown[]) => {
    const [zIn, p, b, o, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    return {
      value: forward(zIn, x, p, b, o, save),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dPsi, dBias, dOmega] = backward(dy, saved) as [tf.Tensor, tf.Tensor, tf.Tensor];
        return [dy.clone(), dPsi, dBias, dOmega];
      },
    };
  });
  return op(z, psi, bias, omega);
}
