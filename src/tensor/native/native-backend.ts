/**
 * The `native` tfjs backend: the pure-JS cpu backend (its storage, and every
 * one of its kernels as the fallback) with the hot kernels replaced by calls
 * into the OpenBLAS addon: matmuls, convolutions and their gradients, max
 * pooling and its gradient, the elementwise ops of activations and
 * optimizers, reductions, transposes and Esper's fused Adam update. Tensors live in JS Float32Arrays exactly as on the cpu backend, and the
 * addon reads and writes them in place, so there is no copy at the boundary.
 *
 * Calls are synchronous: a kernel blocks the thread it runs on, which is why
 * Esper trains in a worker thread. OpenBLAS runs its own thread pool (size:
 * {@link setNativeThreads}, or OPENBLAS_NUM_THREADS at start-up).
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { OPTIMIZER_KERNELS } from './kernels/adam.ts';
import { CONV_KERNELS } from './kernels/conv.ts';
import { ELEMENTWISE_KERNELS } from './kernels/elementwise.ts';
import { escapingInputs, NATIVE_BACKEND_NAME, type NativeKernelBackend } from './kernels/kernel-util.ts';
import { MATMUL_KERNELS } from './kernels/matmul.ts';
import { POOL_KERNELS } from './kernels/pool.ts';
import { REDUCE_KERNELS } from './kernels/reduce.ts';
import { WIDTH_BLEND_KERNELS } from './kernels/width-blend.ts';
import { BufferPool } from './buffer-pool.ts';
import { tryLoadNativeAddon, type NativeAddon } from './native-addon.ts';

export { NATIVE_BACKEND_NAME } from './kernels/kernel-util.ts';

/** The kernels the native backend runs in the addon (the rest are the cpu backend's, unchanged). */
export const NATIVE_KERNELS: readonly tf.KernelConfig[] = [...MATMUL_KERNELS, ...CONV_KERNELS, ...ELEMENTWISE_KERNELS, ...REDUCE_KERNELS, ...POOL_KERNELS, ...OPTIMIZER_KERNELS, ...WIDTH_BLEND_KERNELS];

type DataId = Parameters<MathBackendCPU['readSync']>[0];

/**
 * A cpu backend whose hot kernels call the addon, and whose kernels' output
 * buffers are recycled through a {@link BufferPool} of at most
 * `ESPER_NATIVE_POOL_MB` MiB of free buffers (default 64; 0 turns recycling off).
 */
export class NativeBackend extends MathBackendCPU implements NativeKernelBackend {
  readonly addon: NativeAddon;
  readonly pool: BufferPool;

  constructor(addon: NativeAddon) {
    super();
    this.addon = addon;
    const mb = Number(process.env['ESPER_NATIVE_POOL_MB'] ?? 64);
    this.pool = new BufferPool(Number.isFinite(mb) && mb >= 0 ? mb * 2 ** 20 : 64 * 2 ** 20);
    // The cpu backend prints an "install tfjs-node" banner on first use; it is not the cpu backend here.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** dataSync/data get the stored array itself, so it escapes the pool. */
  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    if (this.data.has(dataId)) this.pool.escape(this.data.get(dataId).values);
    return super.readSync(dataId);
  }

  /** When the tensor's data is really deleted (last reference), its buffer goes back to the pool if the pool owns it. */
  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (released && values !== undefined && !this.data.has(dataId)) this.pool.release(values);
    return released;
  }

  override dispose(): void {
    this.pool.clear();
    super.dispose();
  }
}

/** Whether the backend is registered, or why it could not be. */
export type NativeRegistration = { ok: true } | { ok: false; reason: string };

let registration: NativeRegistration | undefined;

/**
 * Registers the `native` backend with tfjs (once per thread): every cpu kernel
 * again under `native`, then the addon's kernels over them. Does not make it
 * the active backend (see `selectBackend`). Never throws: when the addon is
 * missing it returns the reason.
 */
export function registerNativeBackend(): NativeRegistration {
  if (registration !== undefined) return registration;
  const load = tryLoadNativeAddon();
  if (load.addon === undefined) {
    registration = { ok: false, reason: load.reason };
    return registration;
  }
  const addon = load.addon;
  try {
    addon.setThreads(nativeThreadsFromEnv(process.env) ?? addon.getThreads());
  } catch (error) {
    registration = { ok: false, reason: error instanceof Error ? error.message : String(error) };
    return registration;
  }
  syncNativeKernels();
  // Priority below wasm's so that merely importing this never changes tfjs's default choice.
  tf.registerBackend(NATIVE_BACKEND_NAME, () => new NativeBackend(addon), 1);
  registration = { ok: true };
  return registration;
}

/**
 * Registers for `native` every kernel the cpu backend has and `native` lacks
 * (the cpu kernels run unchanged on it), then the addon's own kernels. Cheap
 * and idempotent; call it again after something registers new cpu kernels.
 */
export function syncNativeKernels(): void {
  for (const config of NATIVE_KERNELS) {
    if (tf.getKernel(config.kernelName, NATIVE_BACKEND_NAME) === undefined) tf.registerKernel(config);
  }
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(config.kernelName, NATIVE_BACKEND_NAME) === undefined) {
      tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME, kernelFunc: escapingInputs(config.kernelName, config.kernelFunc) });
    }
  }
}

/**
 * The OpenBLAS thread count the backend starts with: `ESPER_NATIVE_THREADS`
 * when set (a positive integer), else undefined when `OPENBLAS_NUM_THREADS`
 * is set (OpenBLAS already read it), else all cores but one, at least one.
 * Not all cores: OpenBLAS's idle threads spin, and on the 2-core machine
 * measured two threads never beat one (MLP 784-256-128-10: 9.45 vs 7.38
 * ms/step, 13.0 vs 7.3 CPU ms) while they took the core the node's event
 * loop and the kernel pool need.
 *
 * @throws RangeError when `ESPER_NATIVE_THREADS` is not a positive integer.
 */
export function nativeThreadsFromEnv(env: Readonly<Record<string, string | undefined>>, cores = availableParallelism()): number | undefined {
  const wanted = env['ESPER_NATIVE_THREADS'];
  if (wanted !== undefined && wanted !== '') {
    const n = Number(wanted);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`ESPER_NATIVE_THREADS=${wanted} is not a positive integer`);
    return n;
  }
  if (env['OPENBLAS_NUM_THREADS'] !== undefined && env['OPENBLAS_NUM_THREADS'] !== '') return undefined;
  return Math.max(1, cores - 1);
}

/** Sets the number of threads OpenBLAS uses (process-wide); no-op when the addon is not loaded. */
export function setNativeThreads(n: number): void {
  tryLoadNativeAddon().addon?.setThreads(n);
}

/** The number of threads OpenBLAS uses, or undefined when the addon is not loaded. */
export function nativeThreads(): number | undefined {
  return tryLoadNativeAddon().addon?.getThreads();
}
