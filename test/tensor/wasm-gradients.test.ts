import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { quietCpuBackend, selectBackend } from '../../src/tensor/backend.ts';
import { registerWasmGradients, WASM_GRADIENT_KERNELS } from '../../src/tensor/wasm-gradients.ts';
import { Rng } from '../../src/tensor/rng.ts';

type Pad = 'same' | 'valid' | number;

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  dilations?: [number, number];
}

function randomArray(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Gradients of sum(op(x, w) · r) with respect to x and w, on `backend`, read back as plain arrays. */
async function gradsOn(backend: 'wasm' | 'cpu', c: ConvCase, depthwise: boolean, seed: number): Promise<{ dx: Float32Array; dw: Float32Array }> {
  await selectBackend(backend);
  if (backend === 'cpu') quietCpuBackend();
  const rng = new Rng(seed);
  const xv = randomArray(rng, size(c.x));
  const wv = randomArray(rng, size(c.filter));
  const dilations = c.dilations ?? [1, 1];
  const [dxT, dwT] = tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x);
    const w = tf.tensor4d(wv, c.filter);
    const forward = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D =>
      depthwise ? tf.depthwiseConv2d(a, b, c.strides, c.pad, 'NHWC', dilations) : tf.conv2d(a, b, c.strides, c.pad, 'NHWC', dilations);
    const outShape = forward(x, w).shape;
    const r = tf.tensor4d(randomArray(rng, size(outShape)), outShape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(a as tf.Tensor4D, b as tf.Tensor4D), r)));
    return g([x, w]);
  });
  const dx = (await dxT!.data()) as Float32Array;
  const dw = (await dwT!.data()) as Float32Array;
  tf.dispose([dxT!, dwT!]);
  return { dx, dw };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

const CONV_CASES: ConvCase[] = [
  { name: '3×3 stride 1 same', x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
  { name: '3×3 stride 1 valid', x: [2, 7, 6, 2], filter: [3, 3, 2, 5], strides: [1, 1], pad: 'valid' },
  { name: '3×3 stride 2 same (odd size, asymmetric padding)', x: [3, 9, 9, 2], filter: [3, 3, 2, 4], strides: [2, 2], pad: 'same' },
  { name: '5×5 stride 2 valid', x: [2, 12, 11, 1], filter: [5, 5, 1, 6], strides: [2, 2], pad: 'valid' },
  { name: '2×3 strides 1×2 same', x: [1, 8, 10, 3], filter: [2, 3, 3, 2], strides: [1, 2], pad: 'same' },
  { name: '3×3 stride 2 explicit pad 1', x: [2, 8, 8, 2], filter: [3, 3, 2, 3], strides: [2, 2], pad: 1 },
  { name: '1×1 stride 1 valid', x: [2, 5, 5, 4], filter: [1, 1, 4, 3], strides: [1, 1], pad: 'valid' },
];

const DEPTHWISE_CASES: ConvCase[] = [
  { name: '3×3 stride 1 same, multiplier 1', x: [2, 7, 7, 3], filter: [3, 3, 3, 1], strides: [1, 1], pad: 'same' },
  { name: '3×3 stride 1 valid, multiplier 2', x: [2, 6, 7, 2], filter: [3, 3, 2, 2], strides: [1, 1], pad: 'valid' },
  { name: '3×3 stride 2 same, multiplier 3', x: [2, 9, 9, 2], filter: [3, 3, 2, 3], strides: [2, 2], pad: 'same' },
  { name: '5×5 stride 2 valid, multiplier 1', x: [1, 12, 11, 4], filter: [5, 5, 4, 1], strides: [2, 2], pad: 'valid' },
  { name: '3×2 strides 2×1 same, multiplier 2', x: [2, 9, 8, 3], filter: [3, 2, 3, 2], strides: [2, 1], pad: 'same' },
];

describe('wasm gradient kernels', function () {
  this.timeout(60_000);

  after(async () => {
    await selectBackend('wasm');
  });

  it('registers the kernels the wasm backend lacks, once', async () => {
    await selectBackend('wasm');
    const names = tf.getKernelsForBackend('wasm').map((k) => k.kernelName);
    for (const kernel of WASM_GRADIENT_KERNELS) expect(names, kernel).to.include(kernel);
    // Already registered by selectBackend: a second call registers nothing (and does not warn about duplicates).
    expect(registerWasmGradients()).to.deep.equal([]);
  });

  for (const [i, c] of CONV_CASES.entries()) {
    it(`conv2d gradients match the cpu backend: ${c.name}`, async () => {
      const cpu = await gradsOn('cpu', c, false, 100 + i);
      const wasm = await gradsOn('wasm', c, false, 100 + i);
      expect(maxAbsDiff(wasm.dw, cpu.dw), 'dW').to.be.below(1e-4);
      expect(maxAbsDiff(wasm.dx, cpu.dx), 'dx').to.be.below(1e-4);
    });
  }

  for (const [i, c] of DEPTHWISE_CASES.entries()) {
    it(`depthwise conv2d gradients match the cpu backend: ${c.name}`, async () => {
      const cpu = await gradsOn('cpu', c, true, 200 + i);
      const wasm = await gradsOn('wasm', c, true, 200 + i);
      expect(maxAbsDiff(wasm.dw, cpu.dw), 'dW').to.be.below(1e-4);
      expect(maxAbsDiff(wasm.dx, cpu.dx), 'dx').to.be.below(1e-4);
    });
  }

  /** Runs one kernel directly on `backend` and reads its output back. */
  async function kernelOn(backend: 'wasm' | 'cpu', kernel: string, inputs: Record<string, [Float32Array, number[]]>, attrs: tf.NamedAttrMap): Promise<Float32Array> {
    await selectBackend(backend);
    if (backend === 'cpu') quietCpuBackend();
    const out = tf.tidy(() => {
      const tensors: tf.NamedTensorMap = {};
      for (const [name, [values, shape]] of Object.entries(inputs)) tensors[name] = tf.tensor(values, shape);
      return tf.engine().runKernel<tf.Tensor>(kernel, tensors, attrs);
    });
    const values = (await out.data()) as Float32Array;
    out.dispose();
    return values;
  }

  it('Conv2DBackpropFilter matches the cpu backend for NCHW data', async () => {
    const rng = new Rng(7);
    const inputs: Record<string, [Float32Array, number[]]> = {
      x: [randomArray(rng, 2 * 3 * 6 * 6), [2, 3, 6, 6]],
      dy: [randomArray(rng, 2 * 4 * 3 * 3), [2, 4, 3, 3]],
    };
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] };
    const cpu = await kernelOn('cpu', tf.Conv2DBackpropFilter, inputs, attrs);
    const wasm = await kernelOn('wasm', tf.Conv2DBackpropFilter, inputs, attrs);
    expect(maxAbsDiff(wasm, cpu)).to.be.below(1e-4);
  });

  it('depthwise backprop kernels handle dilation 2 (direct kernel calls, checked against an undilated zero-stuffed filter)', async () => {
    // tfjs's own depthwise gradient refuses dilation > 1 and the cpu kernels ignore it, but the kernels can be called
    // directly (e.g. by converted graphs). A 3×3 filter dilated by 2 is a 5×5 filter with zeros between its taps.
    const rng = new Rng(8);
    const xShape = [2, 9, 9, 2];
    const filterShape = [3, 3, 2, 2];
    const stuffedShape = [5, 5, 2, 2];
    const dyShape = [2, 9, 9, 4];
    const tap = (i: number, j: number, c: number, m: number, f: number[]): number => ((i * f[1]! + j) * f[2]! + c) * f[3]! + m;
    const filterInputs: Record<string, [Float32Array, number[]]> = { x: [randomArray(rng, size(xShape)), xShape], dy: [randomArray(rng, size(dyShape)), dyShape] };
    const dilated = await kernelOn('wasm', tf.DepthwiseConv2dNativeBackpropFilter, filterInputs, { strides: [1, 1], dilations: [2, 2], pad: 'same', filterShape });
    const stuffed = await kernelOn('cpu', tf.DepthwiseConv2dNativeBackpropFilter, filterInputs, { strides: [1, 1], dilations: [1, 1], pad: 'same', filterShape: stuffedShape });
    const picked = new Float32Array(size(filterShape));
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 2; c++) for (let m = 0; m < 2; m++) picked[tap(i, j, c, m, filterShape)] = stuffed[tap(2 * i, 2 * j, c, m, stuffedShape)]!;
    expect(maxAbsDiff(dilated, picked), 'dW').to.be.below(1e-4);

    const filter = randomArray(rng, size(filterShape));
    const stuffedFilter = new Float32Array(size(stuffedShape));
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 2; c++) for (let m = 0; m < 2; m++) stuffedFilter[tap(2 * i, 2 * j, c, m, stuffedShape)] = filter[tap(i, j, c, m, filterShape)]!;
    const dy = randomArray(rng, size(dyShape));
    const dxDilated = await kernelOn('wasm', tf.DepthwiseConv2dNativeBackpropInput, { dy: [dy, dyShape], filter: [filter, filterShape] }, {
      strides: [1, 1], dilations: [2, 2], pad: 'same', inputShape: xShape,
    });
    const dxStuffed = await kernelOn('cpu', tf.DepthwiseConv2dNativeBackpropInput, { dy: [dy, dyShape], filter: [stuffedFilter, stuffedShape] }, {
      strides: [1, 1], dilations: [1, 1], pad: 'same', inputShape: xShape,
    });
    expect(maxAbsDiff(dxDilated, dxStuffed), 'dx').to.be.below(1e-4);
  });

  it('leaves no tensors behind', async () => {
    await selectBackend('wasm');
    const before = tf.memory().numTensors;
    const c = CONV_CASES[2]!;
    tf.tidy(() => {
      const x = tf.ones<tf.Rank.R4>(c.x);
      const w = tf.ones<tf.Rank.R4>(c.filter);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad)));
      g([x, w]);
      const dw = tf.depthwiseConv2d(x, tf.ones<tf.Rank.R4>([3, 3, c.x[3], 2]), 2, 'same');
      tf.grads((a: tf.Tensor) => tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, tf.ones<tf.Rank.R4>([3, 3, c.x[3], 2]), 2, 'same')))([x]);
      return dw;
    }).dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });
});
