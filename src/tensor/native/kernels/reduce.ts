/**
 * Reductions (Sum, Mean, Max, Min) and Transpose on the native backend. A
 * reduction whose axes form one contiguous block once size-1 dimensions are
 * ignored becomes [outer, reduced, inner] (bias gradients reduce the batch
 * axis, softmax the class axis); a permutation that collapses to a (batched)
 * 2-D transpose runs natively. Other cases and non-float32 tensors run on the
 * cpu kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { alloc, f32, nativeKernel, output, sizeOf, type NativeKernelArgs } from './kernel-util.ts';

const REDUCE_OPS = { sum: 0, max: 1, min: 2, mean: 3 } as const;

/** [outer, reduced, inner] for reducing `axes` of `shape`, or undefined when the reduced axes are not one block. */
export function reduceDims(shape: readonly number[], axes: readonly number[]): Int32Array | undefined {
  const reduced = new Set(axes);
  const live = shape.map((d, i) => ({ d, r: reduced.has(i) })).filter(({ d }) => d !== 1);
  const first = live.findIndex(({ r }) => r);
  const last = live.length - 1 - [...live].reverse().findIndex(({ r }) => r);
  if (first === -1) return Int32Array.of(sizeOf(shape), 1, 1); // only size-1 axes reduced: a copy
  if (live.slice(first, last + 1).some(({ r }) => !r)) return undefined;
  const size = (part: { d: number }[]): number => part.reduce((n, { d }) => n * d, 1);
  return Int32Array.of(size(live.slice(0, first)), size(live.slice(first, last + 1)), size(live.slice(last + 1)));
}

function reduceKernel(kernelName: string, op: keyof typeof REDUCE_OPS, axisAttr: 'axis' | 'reductionIndices'): tf.KernelConfig {
  return nativeKernel(kernelName, ({ inputs, backend, attrs }: NativeKernelArgs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const xv = f32(backend, x);
    if (xv === undefined || xv.length === 0) return undefined;
    const a = attrs as { keepDims?: boolean } & Record<typeof axisAttr, number | number[]>;
    const axes = tf.util.parseAxisParam(a[axisAttr], x.shape);
    const dims = reduceDims(x.shape, axes);
    if (dims === undefined) return undefined;
    const outShape = a.keepDims === true ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const values = alloc(backend, dims[0]! * dims[2]!);
    backend.addon.reduce(REDUCE_OPS[op], xv, values, dims);
    return output(backend, outShape, values);
  });
}

/** [batch, rows, cols] for permuting `shape` by `perm`, or undefined unless it collapses to a (batched) 2-D transpose. */
export function transposeDims(shape: readonly number[], perm: readonly number[]): Int32Array | undefined {
  // Drop size-1 axes (renumbering the rest), then merge axes that stay neighbours in the same order.
  const liveAxes = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const liveShape = liveAxes.map((i) => shape[i]!);
  const rankOf = new Map(liveAxes.map((axis, r) => [axis, r]));
  const groups: number[][] = [];
  for (const p of perm) {
    const r = rankOf.get(p);
    if (r === undefined) continue;
    const last = groups.at(-1);
    if (last !== undefined && last.at(-1)! + 1 === r) last.push(r);
    else groups.push([r]);
  }
  const size = (g: number[]): number => g.reduce((n, r) => n * liveShape[r]!, 1);
  // groups are in output order; sorted by their first axis they give the input order.
  const order = groups.map((g, i) => ({ g, i })).sort((x, y) => x.g[0]! - y.g[0]!).map(({ i }) => i);
  if (groups.length <= 1) return Int32Array.of(1, 1, sizeOf(shape)); // a copy
  if (groups.length === 2 && order[0] === 1) return Int32Array.of(1, size(groups[1]!), size(groups[0]!));
  if (groups.length === 3 && order[0] === 0 && order[1] === 2 && order[2] === 1) return Int32Array.of(size(groups[0]!), size(groups[2]!), size(groups[1]!));
  return undefined;
}

function transpose({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { x } = inputs as { x: tf.TensorInfo };
  const { perm } = attrs as { perm: number[] };
  const xv = f32(backend, x);
  if (xv === undefined) return undefined;
  const dims = transposeDims(x.shape, perm);
  if (dims === undefined) return undefined;
  const values = alloc(backend, xv.length);
  backend.addon.transpose(xv, values, dims);
  return output(backend, perm.map((p) => x.shape[p]!), values);
}

/** The reduction and transpose kernel configs of the native backend. */
export const REDUCE_KERNELS: readonly tf.KernelConfig[] = [
  reduceKernel(tf.Sum, 'sum', 'axis'),
  reduceKernel(tf.Mean, 'mean', 'axis'),
  reduceKernel(tf.Max, 'max', 'reductionIndices'),
  reduceKernel(tf.Min, 'min', 'axis'),
  nativeKernel(tf.Transpose, transpose),
];
