/**
 * x · (w ⊙ s) on the native backend as one kernel forward and one for dw
 * (src/tensor/ops/row-scaled-matmul.ts): the forward returns the product and
 * w ⊙ s (saved for the backward: dx is the stock matmul dy · (w ⊙ s)ᵀ); the
 * weight gradient kernel returns dw = (xᵀ · dy) ⊙ s. Each product is the
 * multiply and the sgemm call the stock kernels make for the same ops, so
 * the results are bit-identical.
 */
import type * as tf from '@tensorflow/tfjs';
import { ROW_SCALED_MATMUL_GRAD_KERNEL, ROW_SCALED_MATMUL_KERNEL } from '../../ops/row-scaled-matmul.ts';
import { binaryInto } from './elementwise.ts';
import { f32, nativeKernel, output, type NativeKernelArgs } from './kernel-util.ts';
import { nativeMatMul } from './matmul.ts';

function scaledRows(args: NativeKernelArgs, weight: tf.TensorInfo, scale: tf.TensorInfo): { shape: number[]; values: Float32Array } | undefined {
  const wv = f32(args.backend, weight);
  const sv = f32(args.backend, scale);
  if (wv === undefined || sv === undefined) return undefined;
  return binaryInto(args.backend, 'mul', { shape: weight.shape, values: wv }, { shape: scale.shape, values: sv });
}

/** Inputs x [n, in], w [in, out], scale [in, 1]. Outputs x · (w ⊙ s) [n, out] and w ⊙ s. */
function rowScaledMatMul(args: NativeKernelArgs): tf.TensorInfo[] | undefined {
  const { x, w, scale } = args.inputs as { x: tf.TensorInfo; w: tf.TensorInfo; scale: tf.TensorInfo };
  const scaled = scaledRows(args, w, scale);
  if (scaled === undefined) return undefined;
  const scaledInfo = output(args.backend, scaled.shape, scaled.values);
  const product = nativeMatMul(args.backend, x, scaledInfo, { transposeA: false, transposeB: false });
  if (product === undefined) throw new Error('Error in EsperRowScaledMatMul: x and w ⊙ s are not [n, k] · [k, m]');
  return [output(args.backend, product.shape, product.values), scaledInfo];
}

/** Inputs dy [n, out], x [n, in], scale [in, 1]. Output dw = (xᵀ · dy) ⊙ s [in, out]. */
function rowScaledMatMulGradW(args: NativeKernelArgs): tf.TensorInfo | undefined {
  const { dy, x, scale } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; scale: tf.TensorInfo };
  const { backend } = args;
  const dScaled = nativeMatMul(backend, x, dy, { transposeA: true, transposeB: false });
  if (dScaled === undefined) throw new Error('Error in EsperRowScaledMatMulGradW: x and dy are not float32 matrices');
  const dw = binaryInto(backend, 'mul', dScaled, { shape: scale.shape, values: f32(backend, scale)! });
  if (dw === undefined) throw new Error('Error in EsperRowScaledMatMulGradW: the scale does not broadcast over the kernel');
  backend.pool.release(dScaled.values); // never seen outside this kernel
  return output(backend, dw.shape, dw.values);
}

/** The row-scaled matmul kernel configs of the native backend. */
export const ROW_SCALED_MATMUL_KERNELS: readonly tf.KernelConfig[] = [nativeKernel(ROW_SCALED_MATMUL_KERNEL, rowScaledMatMul), nativeKernel(ROW_SCALED_MATMUL_GRAD_KERNEL, rowScaledMatMulGradW)];
