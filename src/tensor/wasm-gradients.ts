/**
 * Gradient kernels for the wasm backend, so a CNN (conv → relu → pool →
 * dense) trains on it. Listing `tf.getKernelsForBackend('wasm')` for
 * tfjs-backend-wasm 4.22 shows `MaxPoolGrad`, `AvgPoolGrad` and
 * `Conv2DBackpropInput`, but no `Conv2DBackpropFilter` and neither depthwise
 * backprop; ReLU and softmax cross-entropy need no gradient kernel of their
 * own (their gradients are ordinary ops).
 *
 * Each kernel is a composite: it runs ordinary tf ops, which dispatch to wasm
 * kernels. The engine stops tape recording while a kernel runs (its kernel
 * depth is non-zero) and accepts a Tensor as a kernel's output, so nesting ops
 * is safe; every intermediate lives inside `tf.tidy`. The heavy lifting is
 * recast as forward convolutions, which run on XNNPACK's fast path:
 *
 * - Conv2DBackpropFilter: dW[i,j,c,o] = Σ_{n,y,x} xpad[n, y·s+i, x·s+j, c] ·
 *   dy[n,y,x,o] is a stride-1 convolution of xpad laid out [c, h, w, n] with
 *   dy laid out [y, x, n, o] as the filter, dilated by the forward stride.
 *   Measured (shared 2-core machine) on a 128×14×14×16 → 32 layer: ~25 ms,
 *   against ~80–120 ms for im2col + matmul (wasm's Slice/Concat/Transpose are
 *   slow) and ~30 s for the cpu backend's kernel.
 * - Conv2DBackpropInput (replaces wasm's own, a scalar loop: ~160 ms on that
 *   layer against ~25 ms): a valid convolution of the zero-upsampled, padded
 *   dy with the filter rotated 180° and its channel axes swapped. A whole
 *   Fashion-MNIST-sized CNN step drops from ~160 to ~105 ms
 *   (bench/tensor.bench.ts).
 * - DepthwiseConv2dNativeBackpropInput: the same with a depthwise convolution
 *   (each of the in·mult channels alone), then summed over the multiplier.
 * - DepthwiseConv2dNativeBackpropFilter: per filter tap, Σ slice(x) · dy over
 *   the batch and spatial axes (depthwise layers are small).
 */
import * as tf from '@tensorflow/tfjs';

type Tensor4D = tf.Tensor4D;
type Padding = tf.Conv2DBackpropFilterAttrs['pad'];
type Rounding = tf.Conv2DBackpropFilterAttrs['dimRoundingMode'];
type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The kernels {@link registerWasmGradients} provides for the wasm backend. */
export const WASM_GRADIENT_KERNELS = [
  tf.Conv2DBackpropFilter,
  tf.Conv2DBackpropInput,
  tf.DepthwiseConv2dNativeBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropInput,
] as const;

interface Provided {
  kernelName: string;
  kernelFunc: tf.KernelFunc;
  /** Replace the backend's own kernel when it has one (ours is faster); otherwise only fill a gap. */
  replace: boolean;
}

const PROVIDED: readonly Provided[] = [
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilterKernel, replace: false },
  { kernelName: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInputKernel, replace: true },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, kernelFunc: depthwiseBackpropFilterKernel, replace: false },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, kernelFunc: depthwiseBackpropInputKernel, replace: false },
];

/**
 * Registers the composite gradient kernels for the 'wasm' backend and returns
 * the names registered by this call. Idempotent (a second call registers
 * nothing and triggers no duplicate-kernel warning). A kernel a later tfjs
 * adds to wasm is kept, except Conv2DBackpropInput, which is replaced because
 * the 4.22 one is a slow scalar loop.
 */
export function registerWasmGradients(): string[] {
  const registered: string[] = [];
  for (const { kernelName, kernelFunc, replace } of PROVIDED) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing !== undefined) {
      if (existing.kernelFunc === kernelFunc || !replace) continue;
      tf.unregisterKernel(kernelName, 'wasm');
    }
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    registered.push(kernelName);
  }
  return registered;
}

/** The input as a Tensor. The engine passes the op's own Tensors; a bare TensorInfo is wrapped (the wrapper is disposed by the enclosing tidy). */
function asTensor(info: tf.TensorInfo | undefined, kernel: string, name: string): tf.Tensor {
  if (info === undefined) throw new RangeError(`Error in ${kernel} (wasm composite): input '${name}' is missing`);
  if (info instanceof tf.Tensor) return info as tf.Tensor<tf.Rank>;
  return tf.engine().makeTensorFromTensorInfo(info);
}

function as4D(info: tf.TensorInfo | undefined, kernel: string, name: string): Tensor4D {
  const t = asTensor(info, kernel, name);
  if (t.rank !== 4) throw new RangeError(`Error in ${kernel} (wasm composite): ${name} must be rank 4, got shape ${JSON.stringify(t.shape)}`);
  return t as Tensor4D;
}

function shape4(shape: readonly number[]): [number, number, number, number] {
  return [shape[0] ?? 0, shape[1] ?? 0, shape[2] ?? 0, shape[3] ?? 0];
}

interface Geometry {
  n: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  fH: number;
  fW: number;
  sH: number;
  sW: number;
  dH: number;
  dW: number;
  top: number;
  left: number;
}

function geometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Padding,
  rounding: Rounding,
  depthwise: boolean,
): Geometry {
  const info = tf.backend_util.computeConv2DInfo(shape4(inShape), shape4(filterShape), strides, dilations, pad, rounding, depthwise, 'channelsLast');
  return {
    n: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    outH: info.outHeight,
    outW: info.outWidth,
    fH: info.filterHeight,
    fW: info.filterWidth,
    sH: info.strideHeight,
    sW: info.strideWidth,
    dH: info.dilationHeight,
    dW: info.dilationWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

function checkDy(kernel: string, dy: Tensor4D, g: Geometry, channels: number): void {
  if (dy.shape[0] !== g.n || dy.shape[1] !== g.outH || dy.shape[2] !== g.outW || dy.shape[3] !== channels) {
    throw new RangeError(`Error in ${kernel} (wasm composite): dy ${JSON.stringify(dy.shape)} does not match the conv output [${g.n}, ${g.outH}, ${g.outW}, ${channels}]`);
  }
}

/**
 * Moves rows/columns of t [n, h, w, c] so that out[:, r, q] = t[:, r - top, q - left]
 * for r < height, q < width, zero where t has no value (pads and/or crops).
 */
function place(t: Tensor4D, top: number, left: number, height: number, width: number): Tensor4D {
  const [n, h, w, c] = t.shape;
  const padded =
    top > 0 || left > 0 || height > top + h || width > left + w
      ? tf.pad(t, [
          [0, 0],
          [Math.max(0, top), Math.max(0, height - top - h)],
          [Math.max(0, left), Math.max(0, width - left - w)],
          [0, 0],
        ])
      : t;
  const r0 = Math.max(0, -top);
  const c0 = Math.max(0, -left);
  if (r0 === 0 && c0 === 0 && padded.shape[1] === height && padded.shape[2] === width) return padded;
  return tf.slice(padded, [0, r0, c0, 0], [n, height, width, c]);
}

/** [n, h, w, c] → [n, h·sH, w·sW, c] with each value at the top-left of its sH×sW cell and zeros elsewhere. */
function upsample(t: Tensor4D, sH: number, sW: number): Tensor4D {
  if (sH === 1 && sW === 1) return t;
  const [n, h, w, c] = t.shape;
  const cells = tf.pad(tf.reshape(t, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sH - 1],
    [0, 0],
    [0, sW - 1],
    [0, 0],
  ]);
  return tf.reshape(cells, [n, h * sH, w * sW, c]);
}

/**
 * dy, upsampled by the stride and shifted so that a stride-1 'valid'
 * convolution with the 180°-rotated filter yields dx: row r of the result
 * holds dy-row (r + top − (fH−1)·dH) / sH. Sized so that the convolution
 * output is exactly [n, inH, inW, ·].
 */
function spreadForTransposedConv(dy: Tensor4D, g: Geometry): Tensor4D {
  const effH = (g.fH - 1) * g.dH + 1;
  const effW = (g.fW - 1) * g.dW + 1;
  return place(upsample(dy, g.sH, g.sW), effH - 1 - g.top, effW - 1 - g.left, g.inH + effH - 1, g.inW + effW - 1);
}

function toNHWC(t: Tensor4D, dataFormat: string): Tensor4D {
  return dataFormat === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t;
}

/** dW [fH, fW, inC, outC] as a dilated stride-1 convolution of x (channels as batch) with dy (batch as channels). */
function conv2DBackpropFilterKernel({ inputs, attrs }: KernelArgs): tf.Tensor {
  const kernel = 'Conv2DBackpropFilter';
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return tf.tidy(() => {
    const x = toNHWC(as4D(inputs['x'], kernel, 'x'), a.dataFormat);
    const dy = toNHWC(as4D(inputs['dy'], kernel, 'dy'), a.dataFormat);
    const [fH, fW, inC, outC] = a.filterShape;
    const g = geometry(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false);
    if (x.shape[3] !== inC) throw new RangeError(`Error in ${kernel} (wasm composite): x has ${x.shape[3]} channels, filterShape ${JSON.stringify(a.filterShape)} expects ${inC}`);
    checkDy(kernel, dy, g, outC);
    // Pad as the forward conv did; extend bottom/right as far as the last tap reaches.
    const needH = fH - 1 + (g.outH - 1) * g.sH + 1;
    const needW = fW - 1 + (g.outW - 1) * g.sW + 1;
    const xp = place(x, g.top, g.left, Math.max(needH, g.top + g.inH), Math.max(needW, g.left + g.inW));
    const images = tf.transpose(xp, [3, 1, 2, 0]); // [inC, h, w, n]: channels become the batch
    const filter = tf.transpose(dy, [1, 2, 0, 3]); // [outH, outW, n, outC]: the batch is contracted
    const out = tf.conv2d(images, filter, 1, 'valid', 'NHWC', [g.sH, g.sW]); // [inC, ≥fH, ≥fW, outC]
    const dW = out.shape[1] === fH && out.shape[2] === fW ? out : tf.slice(out, [0, 0, 0, 0], [inC, fH, fW, outC]);
    return tf.transpose(dW, [1, 2, 0, 3]);
  });
}

/** dx as a valid convolution of the spread dy with the rotated, channel-swapped filter. */
function conv2DBackpropInputKernel({ inputs, attrs }: KernelArgs): tf.Tensor {
  const kernel = 'Conv2DBackpropInput';
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  return tf.tidy(() => {
    const dy = toNHWC(as4D(inputs['dy'], kernel, 'dy'), a.dataFormat);
    const filter = as4D(inputs['filter'], kernel, 'filter');
    const inShape = a.dataFormat === 'NCHW' ? [a.inputShape[0], a.inputShape[2], a.inputShape[3], a.inputShape[1]] : a.inputShape;
    const [, , inC, outC] = filter.shape;
    const g = geometry(inShape, filter.shape, a.strides, 1, a.pad, a.dimRoundingMode, false);
    if (inShape[3] !== inC) throw new RangeError(`Error in ${kernel} (wasm composite): inputShape ${JSON.stringify(a.inputShape)} does not match filter ${JSON.stringify(filter.shape)}`);
    checkDy(kernel, dy, g, outC);
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]); // [fH, fW, outC, inC]
    const dx = tf.conv2d(spreadForTransposedConv(dy, g), rotated, 1, 'valid');
    return a.dataFormat === 'NCHW' ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/** dW[i, j, c, m] = Σ_{n, y, x} xpad[n, y·sH + i·dH, x·sW + j·dW, c] · dy[n, y, x, c·mult + m], one tap at a time. */
function depthwiseBackpropFilterKernel({ inputs, attrs }: KernelArgs): tf.Tensor {
  const kernel = 'DepthwiseConv2dNativeBackpropFilter';
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  return tf.tidy(() => {
    const x = as4D(inputs['x'], kernel, 'x');
    const dy = as4D(inputs['dy'], kernel, 'dy');
    const [fH, fW, inC, mult] = a.filterShape;
    const g = geometry(x.shape, a.filterShape, a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
    checkDy(kernel, dy, g, inC * mult);
    const needH = (fH - 1) * g.dH + (g.outH - 1) * g.sH + 1;
    const needW = (fW - 1) * g.dW + (g.outW - 1) * g.sW + 1;
    const xp = place(x, g.top, g.left, Math.max(needH, g.top + g.inH), Math.max(needW, g.left + g.inW));
    const dy5 = tf.reshape(dy, [g.n, g.outH, g.outW, inC, mult]);
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < fH; i++) {
      for (let j = 0; j < fW; j++) {
        const r0 = i * g.dH;
        const c0 = j * g.dW;
        const seen =
          g.sH === 1 && g.sW === 1
            ? tf.slice(xp, [0, r0, c0, 0], [g.n, g.outH, g.outW, inC])
            : tf.stridedSlice(xp, [0, r0, c0, 0], [g.n, r0 + (g.outH - 1) * g.sH + 1, c0 + (g.outW - 1) * g.sW + 1, inC], [1, g.sH, g.sW, 1]);
        taps.push(tf.sum(tf.mul(tf.reshape(seen, [g.n, g.outH, g.outW, inC, 1]), dy5), [0, 1, 2]));
      }
    }
    return tf.reshape(tf.stack(taps), [fH, fW, inC, mult]);
  });
}

/** dx as a depthwise valid convolution of the spread dy with the rotated filter, summed over the channel multiplier. */
function depthwiseBackpropInputKernel({ inputs, attrs }: KernelArgs): tf.Tensor {
  const kernel = 'DepthwiseConv2dNativeBackpropInput';
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  return tf.tidy(() => {
    const dy = as4D(inputs['dy'], kernel, 'dy');
    const filter = as4D(inputs['filter'], kernel, 'filter');
    const [fH, fW, inC, mult] = filter.shape;
    const g = geometry(a.inputShape, filter.shape, a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
    checkDy(kernel, dy, g, inC * mult);
    // Channel k = c·mult + m of dy meets filter[·, ·, c, m]: flattening [inC, mult] gives exactly that order.
    const rotated = tf.reshape(tf.reverse(filter, [0, 1]), [fH, fW, inC * mult, 1]);
    const perChannel = tf.depthwiseConv2d(spreadForTransposedConv(dy, g), rotated as Tensor4D, 1, 'valid', 'NHWC', [g.dH, g.dW]);
    return mult === 1 ? perChannel : tf.sum(tf.reshape(perChannel, [g.n, g.inH, g.inW, inC, mult]), 4);
  });
}
