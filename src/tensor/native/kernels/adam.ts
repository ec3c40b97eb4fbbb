/**
 * Esper's fused Adam update (src/tensor/ops/adam-update.ts) on the native
 * backend: one pass over the parameter instead of 14 elementwise kernels
 * (each allocating and sweeping a tensor-sized buffer). The constants are
 * rounded to float32 here exactly as the JS loop rounds them, and the addon
 * rounds every operation in the same order, so the update is bit-identical to
 * the op-by-op one (checked in test/tensor/native/).
 */
import type * as tf from '@tensorflow/tfjs';
import { ADAM_COLUMNS_KERNEL, ADAM_UPDATE_KERNEL, type AdamHyper, type AdamStep } from '../../ops/adam-update.ts';
import { alloc, f32, nativeKernel, output, type NativeKernelArgs } from './kernel-util.ts';

// The addon reads its constants during the call, so each kernel fills one buffer per call instead of allocating.
const stepConstants = new Float32Array(8);
const sharedConstants = new Float32Array(5);
const columnDims = new Int32Array(3);

/** [b1, 1 − b1, b2, 1 − b2, 1 − b1^t, 1 − b2^t, epsilon, learningRate] as the JS loop computes and rounds them. */
function constants(a: AdamStep): Float32Array {
  stepConstants.set([a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, 1 - a.beta1 ** a.step, 1 - a.beta2 ** a.step, a.epsilon, a.learningRate]);
  return stepConstants;
}

function adamUpdate({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo[] | undefined {
  const { param, m, v, grad } = inputs as Record<'param' | 'm' | 'v' | 'grad', tf.TensorInfo>;
  const values = [param, m, v, grad].map((t) => f32(backend, t));
  if (values.some((x) => x === undefined || x.length !== values[0]!.length)) return undefined;
  const [pv, mv, vv, gv] = values as [Float32Array, Float32Array, Float32Array, Float32Array];
  const outs = [0, 1, 2].map(() => alloc(backend, pv.length)) as [Float32Array, Float32Array, Float32Array];
  backend.addon.adam(pv, mv, vv, gv, ...outs, constants(attrs as unknown as AdamStep));
  return outs.map((o) => output(backend, param.shape, o));
}

/** The per-column update (adamUpdateColumns): shared constants rounded as above, per-column ones already rounded by the caller. */
function adamColumns({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo[] | undefined {
  const { param, m, v, grad } = inputs as Record<'param' | 'm' | 'v' | 'grad', tf.TensorInfo>;
  const values = [param, m, v, grad].map((t) => f32(backend, t));
  if (values.some((x) => x === undefined || x.length !== values[0]!.length)) return undefined;
  const [pv, mv, vv, gv] = values as [Float32Array, Float32Array, Float32Array, Float32Array];
  const a = attrs as unknown as AdamHyper & { outer: number; cols: number; inner: number; constants: Float32Array };
  const outs = [0, 1, 2].map(() => alloc(backend, pv.length)) as [Float32Array, Float32Array, Float32Array];
  sharedConstants.set([a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.epsilon]);
  columnDims.set([a.outer, a.cols, a.inner]);
  backend.addon.adamColumns(pv, mv, vv, gv, ...outs, sharedConstants, a.constants, columnDims);
  return outs.map((o) => output(backend, param.shape, o));
}

/** The optimizer kernel configs of the native backend. */
export const OPTIMIZER_KERNELS: readonly tf.KernelConfig[] = [nativeKernel(ADAM_UPDATE_KERNEL, adamUpdate), nativeKernel(ADAM_COLUMNS_KERNEL, adamColumns)];
