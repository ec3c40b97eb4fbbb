/**
 * One Adam update of a parameter as a single kernel. Written as tf ops, an
 * update is 14 kernels (two moment updates, two bias corrections, sqrt,
 * epsilon, divide, scale, subtract), and for the small tensors of a growing
 * network — a bias, a 4-unit layer, a width seed's Ω — each kernel costs its
 * dispatch (about 10 µs on wasm), not its arithmetic: a 784-20-10 step spends
 * half its kernels in Adam. This kernel does the same arithmetic in one pass.
 *
 * Bit-identical to the op-by-op update: every step is computed in float64 and
 * rounded to float32 (`Math.fround`), which for +, −, ×, ÷ and √ of float32
 * operands is exactly the correctly rounded float32 result the backends'
 * kernels produce, and the constants are rounded as tf rounds them when it
 * turns a JS number into a float32 scalar. A test checks it on wasm and cpu.
 *
 * It runs where it is faster: on wasm only up to {@link ADAM_FUSED_MAX_ELEMENTS}
 * (wasm's SIMD kernels beat a scalar JS loop on large tensors: measured
 * 200k elements 1.2 ms op-by-op vs 4.5 ms fused, 12.5k 0.55 vs 0.43, 1k 0.15
 * vs 0.04); on cpu always (its op-by-op kernels are JS loops too); on
 * native always (the addon registers its own kernel under this name); on
 * other backends never (op-by-op).
 */
import * as tf from '@tensorflow/tfjs';

/** The kernel's registered name. */
export const ADAM_UPDATE_KERNEL = 'EsperAdamUpdate';

/** Largest tensor (elements) the wasm backend updates with the fused kernel. */
export const ADAM_FUSED_MAX_ELEMENTS = 8192;

/** Adam's hyper-parameters and the group's step count (≥ 1) for one update. */
export interface AdamStep {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  step: number;
}

/** The updated parameter and moments. */
export interface AdamUpdated {
  param: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
}

// native: its own kernel (native/optim.cc), one vectorised pass, bit-identical as well.
const FUSED_LIMIT: Readonly<Record<string, number>> = { wasm: ADAM_FUSED_MAX_ELEMENTS, cpu: Number.POSITIVE_INFINITY, native: Number.POSITIVE_INFINITY };

/** The arithmetic of one update, element by element, rounding as float32 kernels do. Exported for tests. */
export function adamLoop(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, out: { p: Float32Array; m: Float32Array; v: Float32Array }, a: AdamStep): void {
  const f = Math.fround;
  // Constants as tf makes them: the JS number (e.g. 1 − β1, computed in float64) rounded to a float32 scalar.
  const b1 = f(a.beta1);
  const c1 = f(1 - a.beta1);
  const b2 = f(a.beta2);
  const c2 = f(1 - a.beta2);
  const d1 = f(1 - a.beta1 ** a.step);
  const d2 = f(1 - a.beta2 ** a.step);
  const eps = f(a.epsilon);
  const lr = f(a.learningRate);
  const { p: po, m: mo, v: vo } = out;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i] as number;
    const mi = f(f((m[i] as number) * b1) + f(gi * c1));
    const vi = f(f((v[i] as number) * b2) + f(f(gi * gi) * c2));
    mo[i] = mi;
    vo[i] = vi;
    const denominator = f(f(Math.sqrt(f(vi / d2))) + eps);
    po[i] = f((p[i] as number) - f(f(f(mi / d1) / denominator) * lr));
  }
}

interface WasmLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

interface CpuLike {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

type UpdateInputs = Record<'param' | 'm' | 'v' | 'grad', tf.TensorInfo>;

function wasmKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const b = backend as unknown as WasmLike;
  const x = inputs as unknown as UpdateInputs;
  // Allocate every output before taking heap views: an allocation may grow (and detach) the wasm heap.
  const outs = [0, 1, 2].map(() => b.makeOutput([...x.param.shape], 'float32'));
  const [po, mo, vo] = outs.map((o) => b.typedArrayFromHeap(o)) as [Float32Array, Float32Array, Float32Array];
  adamLoop(b.typedArrayFromHeap(x.param), b.typedArrayFromHeap(x.m), b.typedArrayFromHeap(x.v), b.typedArrayFromHeap(x.grad), { p: po, m: mo, v: vo }, attrs as unknown as AdamStep);
  return outs;
}

function cpuKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const b = backend as unknown as CpuLike;
  const x = inputs as unknown as UpdateInputs;
  const read = (t: tf.TensorInfo): Float32Array => b.data.get(t.dataId).values as Float32Array;
  const n = read(x.param).length;
  const out = { p: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
  adamLoop(read(x.param), read(x.m), read(x.v), read(x.grad), out, attrs as unknown as AdamStep);
  return [out.p, out.m, out.v].map((values) => b.makeTensorInfo([...x.param.shape], 'float32', values));
}

for (const [backendName, kernelFunc] of [
  ['wasm', wasmKernel],
  ['cpu', cpuKernel],
] as const) {
  if (tf.getKernel(ADAM_UPDATE_KERNEL, backendName) === undefined) tf.registerKernel({ kernelName: ADAM_UPDATE_KERNEL, backendName, kernelFunc });
}

/** Op by op: what the fused kernel must equal. */
function adamOps(param: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor, a: AdamStep): AdamUpdated {
  const m2 = tf.add(tf.mul(m, a.beta1), tf.mul(grad, 1 - a.beta1));
  const v2 = tf.add(tf.mul(v, a.beta2), tf.mul(tf.square(grad), 1 - a.beta2));
  const mHat = tf.div(m2, 1 - a.beta1 ** a.step);
  const vHat = tf.div(v2, 1 - a.beta2 ** a.step);
  return { param: tf.sub(param, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), a.epsilon)), a.learningRate)), m: m2, v: v2 };
}

/**
 * One Adam update of `param` (float32) with moments `m`, `v` and gradient
 * `grad`: the fused kernel where the active backend runs it faster, else op
 * by op (the same numbers either way). `mode` forces one path (tests,
 * benchmarks). Call inside `tf.tidy`.
 */
export function adamUpdate(param: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor, a: AdamStep, mode: 'auto' | 'fused' | 'ops' = 'auto'): AdamUpdated {
  const fused = mode === 'fused' || (mode === 'auto' && param.size <= (FUSED_LIMIT[tf.getBackend()] ?? 0) && param.dtype === 'float32' && grad.dtype === 'float32');
  if (!fused) return adamOps(param, m, v, grad, a);
  const [p2, m2, v2] = tf.engine().runKernel(ADAM_UPDATE_KERNEL, { param, m, v, grad }, { ...a }) as unknown as tf.Tensor[];
  return { param: p2 as tf.Tensor, m: m2 as tf.Tensor, v: v2 as tf.Tensor };
}
