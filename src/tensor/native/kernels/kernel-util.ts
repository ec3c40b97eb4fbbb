/**
 * What the native kernels share: reading a float32 tensor's values in place,
 * making an output, and falling back to the pure-JS cpu kernel of the same
 * name for whatever a native kernel does not handle (other dtypes, layouts or
 * attributes), so every op keeps working and only the common cases go native.
 */
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BufferPool } from '../buffer-pool.ts';
import type { NativeAddon } from '../native-addon.ts';

/** The backend the native kernels run on: the cpu backend's storage plus the addon and its buffer pool. */
export interface NativeKernelBackend extends MathBackendCPU {
  readonly addon: NativeAddon;
  readonly pool: BufferPool;
}

/** A kernel's arguments, with the backend typed. */
export interface NativeKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: NativeKernelBackend;
  attrs?: tf.NamedAttrMap;
}

/** A native kernel: a result, or undefined when the case is not handled natively (the cpu kernel runs instead). */
export type NativeImpl = (args: NativeKernelArgs) => tf.TensorInfo | tf.TensorInfo[] | undefined;

/** The name of the tfjs backend the native kernels register for. */
export const NATIVE_BACKEND_NAME = 'native';

/** The values of a float32 tensor, in place, or undefined when it is not float32 (or not stored as a Float32Array). */
export function f32(backend: NativeKernelBackend, t: tf.TensorInfo | undefined): Float32Array | undefined {
  if (t === undefined || t.dtype !== 'float32') return undefined;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

/** An output buffer of `length` elements from the pool: its contents are ARBITRARY, the kernel must write every element. */
export function alloc(backend: NativeKernelBackend, length: number): Float32Array {
  return backend.pool.take(length);
}

/** A new float32 tensor of `shape` holding `values` (taken over, not copied). */
export function output(backend: NativeKernelBackend, shape: readonly number[], values: Float32Array): tf.TensorInfo {
  return backend.makeTensorInfo([...shape], 'float32', values);
}

/** Number of elements of `shape`. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The cpu backend's kernel function for `kernelName` (it runs unchanged on the native backend, a subclass of the cpu one). */
export function cpuKernel(kernelName: string): tf.KernelFunc {
  const config = tf.getKernel(kernelName, 'cpu');
  if (config === undefined) throw new Error(`Error in native backend: the cpu backend has no ${kernelName} kernel to fall back to`);
  return config.kernelFunc;
}

/** JS kernels that return their input's own data id (reference-counted), never a second tensor over its buffer. */
const NON_ALIASING = new Set<string>([tf.Reshape, tf.Identity, tf.ExpandDims]);

/**
 * `kernelFunc` (a JS kernel) with its inputs' buffers marked as escaped from
 * the pool first: a JS kernel may hand out a view of its input (Slice returns
 * a subarray), so such a buffer must never be recycled.
 */
export function escapingInputs(kernelName: string, kernelFunc: tf.KernelFunc): tf.KernelFunc {
  if (NON_ALIASING.has(kernelName)) return kernelFunc;
  return (args) => {
    const backend = args.backend as unknown as NativeKernelBackend;
    for (const t of Object.values(args.inputs)) {
      if (t !== undefined && backend.data.has(t.dataId)) backend.pool.escape(backend.data.get(t.dataId).values);
    }
    return kernelFunc(args);
  };
}

/**
 * A kernel config for the native backend: `impl`, falling back to the cpu
 * kernel when `impl` declines. The fallback is looked up on first use, so a
 * kernel whose cpu version is registered later (Esper's own) can be listed.
 */
export function nativeKernel(kernelName: string, impl: NativeImpl): tf.KernelConfig {
  let fallback: tf.KernelFunc | undefined;
  return {
    kernelName,
    backendName: NATIVE_BACKEND_NAME,
    kernelFunc: (args) => {
      const result = impl(args as unknown as NativeKernelArgs);
      if (result !== undefined) return result;
      fallback ??= escapingInputs(kernelName, cpuKernel(kernelName));
      return fallback(args);
    },
  };
}
