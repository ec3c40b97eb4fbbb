/**
 * Gradient kernels that `@tensorflow/tfjs-backend-wasm` 4.22 lacks, so a CNN
 * (conv → relu → pool → dense) trains on wasm. Listing
 * `tf.getKernelsForBackend('wasm')` shows it has `Conv2DBackpropInput`,
 * `MaxPoolGrad` and `AvgPoolGrad` but not `Conv2DBackpropFilter` nor either
 * depthwise backprop; ReLU and softmax cross-entropy need no dedicated
 * gradient kernel (their gradients are ordinary ops).
 *
 * Each kernel here is a composite: it runs ordinary tf ops, which dispatch to
 * wasm kernels. The engine stops tape recording while a kernel runs (its
 * kernel depth is non-zero), and a kernel may return a Tensor, so nesting ops
 * is safe; every intermediate lives inside `tf.tidy`.
 *
 * - Conv2DBackpropFilter: im2col (one strided slice per filter tap, concatenated
 *   along channels) then one untransposed matmul `patchesᵀ · dy`, which reaches
 *   XNNPACK's fast path (DESIGN §8: transposed matmuls are ~12× slower on wasm).
 * - DepthwiseConv2dNativeBackpropFilter: per tap, `Σ slice(x) · dy` over the
 *   batch and spatial axes.
 * - DepthwiseConv2dNativeBackpropInput: per tap, `dy · w[tap]` summed over the
 *   channel multiplier, zero-upsampled by the stride, placed at the tap's
 *   offset in the padded input, summed; the padding is then cropped away.
 */
import * as tf from '@tensorflow/tfjs';

type Tensor4D = tf.Tensor4D;
type Padding = tf.Conv2DBackpropFilterAttrs['pad'];
type Rounding = tf.Conv2DBackpropFilterAttrs['dimRoundingMode'];

/** The kernels {@link registerWasmGradients} provides for the wasm backend. */
export const WASM_GRADIENT_KERNELS = [
  tf.Conv2DBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropInput,
] as const;

/**
 * Registers the composite gradient kernels for the 'wasm' backend. Idempotent;
 * a kernel the wasm backend already has (a later tfjs may add them) is left
 * alone. Returns the names it registered on this call.
 */
export function registerWasmGradients(): string[] {
  const configs: tf.KernelConfig[] = [
    { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilterKernel },
    { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, backendName: 'wasm', kernelFunc: depthwiseBackpropFilterKernel },
    { kernelName: tf.DepthwiseConv2dNativeBackpropInput, backendName: 'wasm', kernelFunc: depthwiseBackpropInputKernel },
  ];
  const registered: string[] = [];
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, 'wasm') !== undefined) continue;
    tf.registerKernel(config);
    registered.push(config.kernelName);
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

function geometry(info: tf.backend_util.Conv2DInfo): Geometry {
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

/** Pads x [n, h, w, c] (top/left as the conv does, bottom/right as far as the last tap reaches). */
function padForTaps(x: Tensor4D, g: Geometry): Tensor4D {
  const needH = (g.fH - 1) * g.dH + (g.outH - 1) * g.sH + 1;
  const needW = (g.fW - 1) * g.dW + (g.outW - 1) * g.sW + 1;
  const bottom = Math.max(0, needH - g.top - g.inH);
  const right = Math.max(0, needW - g.left - g.inW);
  if (g.top === 0 && g.left === 0 && bottom === 0 && right === 0) return x;
  return tf.pad(x, [
    [0, 0],
    [g.top, bottom],
    [g.left, right],
    [0, 0],
  ]);
}

/** The part of the padded input filter tap (i, j) sees at every output position: [n, outH, outW, c]. */
function tapSlice(xp: Tensor4D, g: Geometry, i: number, j: number): Tensor4D {
  const c = xp.shape[3];
  const r0 = i * g.dH;
  const c0 = j * g.dW;
  if (g.sH === 1 && g.sW === 1) return tf.slice(xp, [0, r0, c0, 0], [g.n, g.outH, g.outW, c]);
  return tf.stridedSlice(xp, [0, r0, c0, 0], [g.n, r0 + (g.outH - 1) * g.sH + 1, c0 + (g.outW - 1) * g.sW + 1, c], [1, g.sH, g.sW, 1]) as Tensor4D;
}

/** dW = im2col(x)ᵀ · dy, for conv2d's filter [fH, fW, inC, outC]. */
function conv2DBackpropFilterKernel({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const kernel = 'Conv2DBackpropFilter';
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return tf.tidy(() => {
    let x = as4D(inputs['x'], kernel, 'x');
    let dy = as4D(inputs['dy'], kernel, 'dy');
    if (a.dataFormat === 'NCHW') {
      x = tf.transpose(x, [0, 2, 3, 1]);
      dy = tf.transpose(dy, [0, 2, 3, 1]);
    }
    const info = convInfo(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false);
    const g = geometry(info);
    const [fH, fW, inC, outC] = a.filterShape;
    if (dy.shape[1] !== g.outH || dy.shape[2] !== g.outW || dy.shape[3] !== outC) {
      throw new RangeError(`Error in ${kernel} (wasm composite): dy ${JSON.stringify(dy.shape)} does not match the conv output [${g.n}, ${g.outH}, ${g.outW}, ${outC}]`);
    }
    const xp = padForTaps(x, g);
    const taps: Tensor4D[] = [];
    for (let i = 0; i < fH; i++) for (let j = 0; j < fW; j++) taps.push(tapSlice(xp, g, i, j));
    const rows = g.n * g.outH * g.outW;
    const patches = taps.length === 1 ? (taps[0] as Tensor4D) : tf.concat4d(taps, 3);
    // [k, rows] · [rows, outC]: explicit transpose so the matmul is untransposed (wasm fast path).
    const patchesT = tf.transpose(tf.reshape(patches, [rows, fH * fW * inC]));
    const dW = tf.matMul(patchesT, tf.reshape(dy, [rows, outC]));
    return tf.reshape(dW, [fH, fW, inC, outC]);
  });
}

/** dW[i, j, c, m] = Σ_{n, y, x} slice_ij(x)[n, y, x, c] · dy[n, y, x, c·mult + m]. */
function depthwiseBackpropFilterKernel({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const kernel = 'DepthwiseConv2dNativeBackpropFilter';
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  return tf.tidy(() => {
    const x = as4D(inputs['x'], kernel, 'x');
    const dy = as4D(inputs['dy'], kernel, 'dy');
    const info = convInfo(x.shape, a.filterShape, a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
    const g = geometry(info);
    const [fH, fW, inC, mult] = a.filterShape;
    if (dy.shape[1] !== g.outH || dy.shape[2] !== g.outW || dy.shape[3] !== inC * mult) {
      throw new RangeError(`Error in ${kernel} (wasm composite): dy ${JSON.stringify(dy.shape)} does not match the conv output [${g.n}, ${g.outH}, ${g.outW}, ${inC * mult}]`);
    }
    const xp = padForTaps(x, g);
    const dy5 = tf.reshape(dy, [g.n, g.outH, g.outW, inC, mult]);
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < fH; i++) {
      for (let j = 0; j < fW; j++) {
        const xs = tf.reshape(tapSlice(xp, g, i, j), [g.n, g.outH, g.outW, inC, 1]);
        taps.push(tf.sum(tf.mul(xs, dy5), [0, 1, 2]));
      }
    }
    return tf.reshape(tf.stack(taps), [fH, fW, inC, mult]);
  });
}

/** dx = crop(Σ_taps place_ij(upsample(Σ_m dy · w[i, j]))). */
function depthwiseBackpropInputKernel({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const kernel = 'DepthwiseConv2dNativeBackpropInput';
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  return tf.tidy(() => {
    const dy = as4D(inputs['dy'], kernel, 'dy');
    const filter = as4D(inputs['filter'], kernel, 'filter');
    const info = convInfo(a.inputShape, shape4(filter.shape), a.strides, a.dilations, a.pad, a.dimRoundingMode, true);
    const g = geometry(info);
    const [fH, fW, inC, mult] = shape4(filter.shape);
    if (dy.shape[0] !== g.n || dy.shape[1] !== g.outH || dy.shape[2] !== g.outW || dy.shape[3] !== inC * mult) {
      throw new RangeError(`Error in ${kernel} (wasm composite): dy ${JSON.stringify(dy.shape)} does not match the conv output [${g.n}, ${g.outH}, ${g.outW}, ${inC * mult}]`);
    }
    const dy5 = tf.reshape(dy, [g.n, g.outH, g.outW, inC, mult]);
    const upH = g.outH * g.sH;
    const upW = g.outW * g.sW;
    const canvasH = Math.max(g.top + g.inH, (fH - 1) * g.dH + upH);
    const canvasW = Math.max(g.left + g.inW, (fW - 1) * g.dW + upW);
    const placed: tf.Tensor4D[] = [];
    for (let i = 0; i < fH; i++) {
      for (let j = 0; j < fW; j++) {
        const w = tf.reshape(tf.slice(filter, [i, j, 0, 0], [1, 1, inC, mult]), [inC, mult]);
        const contribution = mult === 1 ? tf.reshape(tf.mul(dy5, w), [g.n, g.outH, g.outW, inC]) : tf.sum(tf.mul(dy5, w), 4);
        const up = upsample(contribution as Tensor4D, g);
        const r0 = i * g.dH;
        const c0 = j * g.dW;
        placed.push(
          tf.pad(up, [
            [0, 0],
            [r0, canvasH - r0 - upH],
            [c0, canvasW - c0 - upW],
            [0, 0],
          ]),
        );
      }
    }
    const canvas = placed.length === 1 ? (placed[0] as Tensor4D) : tf.addN(placed);
    return tf.slice(canvas, [0, g.top, g.left, 0], [g.n, g.inH, g.inW, inC]);
  });
}

/** [n, h, w, c] → [n, h·sH, w·sW, c] with each value at the top-left of its sH×sW cell and zeros elsewhere. */
function upsample(t: Tensor4D, g: Geometry): Tensor4D {
  if (g.sH === 1 && g.sW === 1) return t;
  const [n, h, w, c] = t.shape;
  const cells = tf.pad(tf.reshape(t, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, g.sH - 1],
    [0, 0],
    [0, g.sW - 1],
    [0, 0],
  ]);
  return tf.reshape(cells, [n, h * g.sH, w * g.sW, c]);
}

function convInfo(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Padding,
  rounding: Rounding,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(shape4(inShape), shape4(filterShape), strides, dilations, pad, rounding, depthwise, 'channelsLast');
}
