/**
 * Conv2D and its two gradients over the addon's im2col + sgemm. tfjs's own
 * conv-info helper resolves padding ('same', 'valid', explicit) and output
 * size, so the native kernels see exactly the geometry the cpu kernels do.
 * NHWC with dilation 1 and float32 only; NCHW and dilated convolutions run
 * on the cpu kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { alloc, f32, nativeKernel, output, sizeOf, type NativeKernelArgs } from './kernel-util.ts';

type Shape4 = [number, number, number, number];
type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

interface ConvAttrs {
  strides: number | [number, number];
  pad: Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The conv geometry for native use, or undefined when the layout or dilation is not handled natively. */
function convInfo(xShape: readonly number[], filterShape: readonly number[], attrs: ConvAttrs): ConvInfo | undefined {
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return undefined;
  const dilations = attrs.dilations ?? 1;
  if (typeof dilations === 'number' ? dilations !== 1 : dilations.some((d) => d !== 1)) return undefined;
  if (xShape.length !== 4 || filterShape.length !== 4) return undefined;
  const info = tf.backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  return info.batchSize * info.inHeight * info.inWidth * info.inChannels * info.outChannels === 0 ? undefined : info;
}

/** [n, h, w, c, kh, kw, o, strideH, strideW, padTop, padLeft, outH, outW], the addon's geometry. */
function geometry(info: ConvInfo): Int32Array {
  return Int32Array.of(
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.outChannels,
    info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
    info.outHeight, info.outWidth,
  );
}

function conv2d({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const xv = f32(backend, x);
  const wv = f32(backend, filter);
  const info = convInfo(x.shape, filter.shape, attrs as unknown as ConvAttrs);
  if (xv === undefined || wv === undefined || info === undefined) return undefined;
  const y = alloc(backend, sizeOf(info.outShape));
  backend.addon.conv2d(xv, wv, y, geometry(info));
  return output(backend, info.outShape, y);
}

function conv2dBackpropInput({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { inputShape } = attrs as unknown as ConvAttrs & { inputShape: number[] };
  const dyv = f32(backend, dy);
  const wv = f32(backend, filter);
  const info = convInfo(inputShape, filter.shape, attrs as unknown as ConvAttrs);
  if (dyv === undefined || wv === undefined || info === undefined || sizeOf(dy.shape) !== sizeOf(info.outShape)) return undefined;
  const dx = alloc(backend, sizeOf(inputShape));
  backend.addon.conv2dBackpropInput(dyv, wv, dx, geometry(info));
  return output(backend, inputShape, dx);
}

function conv2dBackpropFilter({ inputs, backend, attrs }: NativeKernelArgs): tf.TensorInfo | undefined {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { filterShape } = attrs as unknown as ConvAttrs & { filterShape: number[] };
  const xv = f32(backend, x);
  const dyv = f32(backend, dy);
  const info = convInfo(x.shape, filterShape, attrs as unknown as ConvAttrs);
  if (xv === undefined || dyv === undefined || info === undefined || sizeOf(dy.shape) !== sizeOf(info.outShape)) return undefined;
  const dw = alloc(backend, sizeOf(filterShape));
  backend.addon.conv2dBackpropFilter(xv, dyv, dw, geometry(info));
  return output(backend, filterShape, dw);
}

/** The convolution kernel configs of the native backend. */
export const CONV_KERNELS: readonly tf.KernelConfig[] = [
  nativeKernel(tf.Conv2D, conv2d),
  nativeKernel(tf.Conv2DBackpropInput, conv2dBackpropInput),
  nativeKernel(tf.Conv2DBackpropFilter, conv2dBackpropFilter),
];
