/**
 * A BLENDING dense width seed (src/tensor/ops/width-blend.ts) as two native
 * kernels: its forward (units and the blended pre-activation) and its
 * backward (the gradients of Ψ, b, Ω and, when attached, x), each a few
 * OpenBLAS sgemm calls and one pass over the [batch, k] units in
 * JavaScript. As tfjs ops the seed costs about 20 kernel dispatches a step,
 * each 8–10 µs of engine work on this backend — more than the arithmetic of
 * a small layer's new units; here it costs two.
 */
import type * as tf from '@tensorflow/tfjs';
import { WIDTH_BLEND_GRAD_KERNEL, WIDTH_BLEND_KERNEL } from '../../ops/width-blend.ts';
import { BINARY_OPS, binaryInto, binaryLayout, UNARY_OPS } from './elementwise.ts';
import { alloc, f32, nativeKernel, output, type NativeKernelArgs } from './kernel-util.ts';

/** sgemm dims: one product, C [m, n] = op(A) · op(B) over k (see native/gemm.cc). */
function dims(m: number, n: number, k: number, transposeA: boolean, transposeB: boolean): Int32Array {
  return Int32Array.of(1, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0, 0, 0);
}

function values(args: NativeKernelArgs, names: readonly string[]): Float32Array[] | undefined {
  const out: Float32Array[] = [];
  for (const name of names) {
    const v = f32(args.backend, args.inputs[name]);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

/** Batch, input features, new units and outputs, from x [n, in] and omega [k, out]. */
function sizes(args: NativeKernelArgs): { n: number; inputs: number; units: number; outputs: number } {
  const [n, inputs] = (args.inputs['x'] as tf.TensorInfo).shape as [number, number];
  const [units, outputs] = (args.inputs['omega'] as tf.TensorInfo).shape as [number, number];
  return { n, inputs, units, outputs };
}

/** Inputs z [n, out], x [n, in], psi [in, k], bias [k], omega [k, out]; attr alpha. Outputs: z + α·u·Ω, u = relu(x·Ψ + b). */
function widthBlendForward(args: NativeKernelArgs): tf.TensorInfo[] | undefined {
  const read = values(args, ['z', 'x', 'psi', 'bias', 'omega']);
  if (read === undefined) return undefined;
  const [zv, xv, pv, bv, ov] = read as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const { backend } = args;
  const { n, inputs, units, outputs } = sizes(args);
  const alpha = (args.attrs as { alpha: number }).alpha;
  const product = alloc(backend, n * units);
  backend.addon.sgemm(xv, pv, product, dims(n, units, inputs, false, false), 1, 0);
  const biased = binaryInto(backend, 'add', { shape: [n, units], values: product }, { shape: [units], values: bv });
  if (biased === undefined) throw new Error('Error in EsperWidthBlend: the bias does not broadcast over the units');
  backend.pool.release(product);
  const u = biased.values;
  backend.addon.unary(UNARY_OPS.relu, u, u, 0); // in place: the buffer is ours
  const result = alloc(backend, n * outputs);
  result.set(zv);
  backend.addon.sgemm(u, ov, result, dims(n, outputs, units, false, false), alpha, 1);
  return [output(backend, [n, outputs], result), output(backend, [n, units], u)];
}

/** Inputs dy [n, out], x [n, in], units [n, k], psi [in, k], omega [k, out]; attrs alpha, attach. Outputs dΨ, db, dΩ (and dx when attached). */
function widthBlendGrad(args: NativeKernelArgs): tf.TensorInfo[] | undefined {
  const read = values(args, ['dy', 'x', 'units', 'psi', 'omega']);
  if (read === undefined) return undefined;
  const [dyv, xv, uv, pv, ov] = read as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const { backend } = args;
  const { n, inputs, units, outputs } = sizes(args);
  const { alpha, attach } = args.attrs as { alpha: number; attach: boolean };
  const dOmega = alloc(backend, units * outputs);
  backend.addon.sgemm(uv, dyv, dOmega, dims(units, outputs, n, true, false), alpha, 0);
  const dPre = alloc(backend, n * units);
  backend.addon.sgemm(dyv, ov, dPre, dims(n, units, outputs, false, true), alpha, 0);
  // ReLU's gradient: dPre ⊙ step(u) (step keeps NaN), in place; then the bias gradient is its column sums.
  const mask = alloc(backend, n * units);
  backend.addon.unary(UNARY_OPS.step, uv, mask, 0);
  backend.addon.binary(BINARY_OPS.mul, dPre, mask, dPre, binaryLayout([n, units], [n, units], [n, units]) as Int32Array);
  backend.pool.release(mask);
  const dBias = alloc(backend, units);
  backend.addon.reduce(0, dPre, dBias, Int32Array.of(1, n, units));
  const dPsi = alloc(backend, inputs * units);
  backend.addon.sgemm(xv, dPre, dPsi, dims(inputs, units, n, true, false), 1, 0);
  const grads = [output(backend, [inputs, units], dPsi), output(backend, [units], dBias), output(backend, [units, outputs], dOmega)];
  if (attach) {
    const dx = alloc(backend, n * inputs);
    backend.addon.sgemm(dPre, pv, dx, dims(n, inputs, units, false, true), 1, 0);
    grads.push(output(backend, [n, inputs], dx));
  }
  backend.pool.release(dPre);
  return grads;
}

/** The width-seed kernel configs of the native backend. */
export const WIDTH_BLEND_KERNELS: readonly tf.KernelConfig[] = [nativeKernel(WIDTH_BLEND_KERNEL, widthBlendForward), nativeKernel(WIDTH_BLEND_GRAD_KERNEL, widthBlendGrad)];
