/**
 * Elementwise kernels of the native backend: the binary arithmetic ops with
 * the broadcasts a training step uses (same shape, scalar, bias row, column)
 * and the unary ops of activations and optimizers. A broadcast is collapsed
 * into an output of [rows, cols] in which each operand is full, a row, a
 * column or a scalar (e.g. [128, 256] + [256] is full + row); other
 * broadcasts and dtypes run on the cpu kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { alloc, f32, nativeKernel, output, sizeOf, type NativeKernelArgs, type NativeKernelBackend } from './kernel-util.ts';

/** Binary op codes of the addon's `binary`. */
export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, sqdiff: 6 } as const;
/** Unary op codes of the addon's `unary`. */
export const UNARY_OPS = { neg: 0, sqrt: 1, rsqrt: 2, square: 3, exp: 4, log: 5, relu: 6, step: 7, abs: 8, reciprocal: 9, sigmoid: 10 } as const;

/** A binary op's name. */
export type BinaryOp = keyof typeof BINARY_OPS;

const FULL = 0;
const ROW = 1;
const COL = 2;
const SCALAR = 3;

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** How `shape` (right-aligned against `out`) is read when `out` is split into [prefix, suffix] at axis `k`. */
function kindAt(shape: readonly number[], out: readonly number[], k: number): number | undefined {
  if (sizeOf(shape) === 1) return SCALAR;
  const padded = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
  if (same(padded, out)) return FULL;
  const ones = (dims: number[]): boolean => dims.every((d) => d === 1);
  if (ones(padded.slice(0, k)) && same(padded.slice(k), out.slice(k))) return ROW;
  if (same(padded.slice(0, k), out.slice(0, k)) && ones(padded.slice(k))) return COL;
  return undefined;
}

/** The addon's [rows, cols, kindA, kindB] layout for a ∘ b → out, or undefined when the broadcast does not fit it. */
export function binaryLayout(a: readonly number[], b: readonly number[], out: readonly number[]): Int32Array | undefined {
  for (let k = 0; k <= out.length; k++) {
    const ka = kindAt(a, out, k);
    const kb = kindAt(b, out, k);
    if (ka !== undefined && kb !== undefined) return Int32Array.of(sizeOf(out.slice(0, k)), sizeOf(out.slice(k)), ka, kb);
  }
  return undefined;
}

/** A shape and its float32 values. */
export interface Values {
  shape: number[];
  values: Float32Array;
}

/** a ∘ b with broadcasting, natively, or undefined when the broadcast is not one the addon handles. */
export function binaryInto(backend: NativeKernelBackend, op: BinaryOp, a: Values, b: Values): Values | undefined {
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const layout = binaryLayout(a.shape, b.shape, shape);
  if (layout === undefined) return undefined;
  const values = alloc(backend, sizeOf(shape));
  backend.addon.binary(BINARY_OPS[op], a.values, b.values, values, layout);
  return { shape, values };
}

function binaryKernel(kernelName: string, op: BinaryOp): tf.KernelConfig {
  return nativeKernel(kernelName, ({ inputs, backend }: NativeKernelArgs) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const av = f32(backend, a);
    const bv = f32(backend, b);
    if (av === undefined || bv === undefined) return undefined;
    const result = binaryInto(backend, op, { shape: a.shape, values: av }, { shape: b.shape, values: bv });
    return result === undefined ? undefined : output(backend, result.shape, result.values);
  });
}

function unaryKernel(kernelName: string, op: keyof typeof UNARY_OPS): tf.KernelConfig {
  return nativeKernel(kernelName, ({ inputs, backend, attrs }: NativeKernelArgs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const xv = f32(backend, x);
    if (xv === undefined) return undefined;
    const values = alloc(backend, xv.length);
    const alpha = op === 'step' ? Number((attrs as { alpha?: number } | undefined)?.alpha ?? 0) : 0;
    backend.addon.unary(UNARY_OPS[op], xv, values, alpha);
    return output(backend, x.shape, values);
  });
}

/** The elementwise kernel configs of the native backend. */
export const ELEMENTWISE_KERNELS: readonly tf.KernelConfig[] = [
  binaryKernel(tf.Add, 'add'),
  binaryKernel(tf.Sub, 'sub'),
  binaryKernel(tf.Multiply, 'mul'),
  binaryKernel(tf.RealDiv, 'div'),
  binaryKernel(tf.Maximum, 'max'),
  binaryKernel(tf.Minimum, 'min'),
  binaryKernel(tf.SquaredDifference, 'sqdiff'),
  unaryKernel(tf.Neg, 'neg'),
  unaryKernel(tf.Sqrt, 'sqrt'),
  unaryKernel(tf.Rsqrt, 'rsqrt'),
  unaryKernel(tf.Square, 'square'),
  unaryKernel(tf.Exp, 'exp'),
  unaryKernel(tf.Log, 'log'),
  unaryKernel(tf.Relu, 'relu'),
  unaryKernel(tf.Step, 'step'),
  unaryKernel(tf.Abs, 'abs'),
  unaryKernel(tf.Reciprocal, 'reciprocal'),
  unaryKernel(tf.Sigmoid, 'sigmoid'),
];
