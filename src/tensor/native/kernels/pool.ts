/**
 * MaxPool and MaxPoolGrad on the native backend. The cpu backend's
 * MaxPoolGrad is the slowest kernel of a CNN step by far (measured ~0.5 s for
 * a 128×28×28×16 2×2 pool: it searches every window once per input pixel);
 * the addon finds each window's maximum once and scatters dy to it. tfjs's own
 * pool-info helper resolves padding and output size. float32 only.
 */
import * as tf from '@tensorflow/tfjs';
import { alloc, f32, nativeKernel, output, sizeOf, type NativeKernelArgs } from './kernel-util.ts';

type PoolInfo = ReturnType<typeof tf.backend_util.computePool2DInfo>;

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Parameters<typeof tf.backend_util.computePool2DInfo>[4];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolInfo(xShape: readonly number[], attrs: PoolAttrs): PoolInfo | undefined {
  if (xShape.length !== 4 || sizeOf(xShape) === 0) return undefined;
  return tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

/** [n, h, w, c, fh, fw, strideH, strideW, padTop, padLeft, outH, outW], the addon's pool geometry. */
function geometry(info: PoolInfo): Int32Array {
  return Int32Array.of(
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth,
    info.padInfo.top, info.padInfo.left, info.outHeight, info.outWidth,
  );
}

function maxPool({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { x } = inputs as { x: tf.TensorInfo };
  const xv = f32(backend, x);
  const info = poolInfo(x.shape, attrs as unknown as PoolAttrs);
  if (xv === undefined || info === undefined) return undefined;
  const y = alloc(backend, sizeOf(info.outShape));
  backend.addon.maxPool(xv, y, geometry(info));
  return output(backend, info.outShape, y);
}

function maxPoolGrad({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const dyv = f32(backend, dy);
  const xv = f32(backend, input);
  const info = poolInfo(input.shape, attrs as unknown as PoolAttrs);
  if (dyv === undefined || xv === undefined || info === undefined || sizeOf(dy.shape) !== sizeOf(info.outShape)) return undefined;
  const dx = alloc(backend, xv.length);
  backend.addon.maxPoolGrad(dyv, xv, dx, geometry(info));
  return output(backend, input.shape, dx);
}

/** The pooling kernel configs of the native backend. */
export const POOL_KERNELS: readonly tf.KernelConfig[] = [nativeKernel(tf.MaxPool, maxPool), nativeKernel(tf.MaxPoolGrad, maxPoolGrad)];
