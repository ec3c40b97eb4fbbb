/**
 * BatchMatMul and _FusedMatMul over the addon's sgemm (OpenBLAS). Transposes
 * are BLAS flags (no copies), so the stock matmul gradient is as fast as a
 * plain product. Batch broadcasting is handled when one side has a single
 * batch entry (a zero stride) or both have the same; anything else, and
 * non-float32 operands, run on the cpu kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { alloc, f32, nativeKernel, output, sizeOf, type NativeKernelArgs, type NativeKernelBackend } from './kernel-util.ts';
import { binaryInto, UNARY_OPS } from './elementwise.ts';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** a · b with tfjs's BatchMatMul semantics, or undefined when not handled natively. */
export function nativeMatMul(backend: NativeKernelBackend, a: tf.TensorInfo, b: tf.TensorInfo, attrs: MatMulAttrs): { shape: number[]; values: Float32Array } | undefined {
  const av = f32(backend, a);
  const bv = f32(backend, b);
  if (av === undefined || bv === undefined || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const { transposeA, transposeB } = attrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) return undefined; // the cpu kernel raises tfjs's own error message
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  const batch = sizeOf(outer);
  // One side shared by every batch entry, or a one-to-one pairing; mixed broadcasts stay on the cpu kernel.
  if (!(batchA === batch || batchA === 1) || !(batchB === batch || batchB === 1)) return undefined;
  const values = alloc(backend, batch * m * n);
  const dims = Int32Array.of(batch, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
  backend.addon.sgemm(av, bv, values, dims, 1, 0);
  return { shape: [...outer, m, n], values };
}

function batchMatMul({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const result = nativeMatMul(backend, a, b, attrs as unknown as MatMulAttrs);
  return result === undefined ? undefined : output(backend, result.shape, result.values);
}

/** Matmul, then bias (any broadcast binaryInto handles), then linear or relu; other activations run on the cpu kernel. */
function fusedMatMul({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  const { activation } = attrs as unknown as MatMulAttrs & { activation?: string };
  if (activation !== undefined && activation !== 'linear' && activation !== 'relu') return undefined;
  if (bias !== undefined && f32(backend, bias) === undefined) return undefined;
  const product = nativeMatMul(backend, a, b, attrs as unknown as MatMulAttrs);
  if (product === undefined) return undefined;
  let result = product;
  if (bias !== undefined) {
    const added = binaryInto(backend, 'add', product, { shape: bias.shape, values: f32(backend, bias)! });
    if (added === undefined) return undefined;
    backend.pool.release(product.values); // never seen outside this kernel
    result = added;
  }
  if (activation === 'relu') backend.addon.unary(UNARY_OPS.relu, result.values, result.values, 0); // in place: the buffer is ours
  return output(backend, result.shape, result.values);
}

/** The matmul kernel configs of the native backend. */
export const MATMUL_KERNELS: readonly tf.KernelConfig[] = [nativeKernel(tf.BatchMatMul, batchMatMul), nativeKernel(tf._FusedMatMul, fusedMatMul)];
