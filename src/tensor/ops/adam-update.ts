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

/** Float32-rounded constants of an update: [b1, 1 − b1, b2, 1 − b2, eps] shared, and per run 1 − b1^t, 1 − b2^t, lr. */
interface Rounded {
  b1: number;
  c1: number;
  b2: number;
  c2: number;
  eps: number;
}

/** Constants as tf makes them: the JS number (e.g. 1 − β1, computed in float64) rounded to a float32 scalar. */
function rounded(a: AdamHyper): Rounded {
  const f = Math.fround;
  return { b1: f(a.beta1), c1: f(1 - a.beta1), b2: f(a.beta2), c2: f(1 - a.beta2), eps: f(a.epsilon) };
}

/** Elements [from, to) of one update with bias corrections d1, d2 and learning rate lr (all float32-rounded). */
function adamRun(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, out: { p: Float32Array; m: Float32Array; v: Float32Array }, k: Rounded, d1: number, d2: number, lr: number, from: number, to: number): void {
  const f = Math.fround;
  const { b1, c1, b2, c2, eps } = k;
  const { p: po, m: mo, v: vo } = out;
  for (let i = from; i < to; i++) {
    const gi = g[i] as number;
    const mi = f(f((m[i] as number) * b1) + f(gi * c1));
    const vi = f(f((v[i] as number) * b2) + f(f(gi * gi) * c2));
    mo[i] = mi;
    vo[i] = vi;
    const denominator = f(f(Math.sqrt(f(vi / d2))) + eps);
    po[i] = f((p[i] as number) - f(f(f(mi / d1) / denominator) * lr));
  }
}

/** The arithmetic of one update, element by element, rounding as float32 kernels do. Exported for tests. */
export function adamLoop(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, out: { p: Float32Array; m: Float32Array; v: Float32Array }, a: AdamStep): void {
  const f = Math.fround;
  adamRun(p, m, v, g, out, rounded(a), f(1 - a.beta1 ** a.step), f(1 - a.beta2 ** a.step), f(a.learningRate), 0, p.length);
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

/** An update loop over a parameter, its moments and its gradient, writing fresh outputs; `attrs` are the kernel's. */
type UpdateLoop = (p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, out: { p: Float32Array; m: Float32Array; v: Float32Array }, attrs: tf.NamedAttrMap) => void;

/** Registers `loop` as kernel `kernelName` on wasm (over the heap, in place) and cpu (over its arrays), once. */
function registerLoopKernel(kernelName: string, loop: UpdateLoop): void {
  const wasm = ({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] => {
    const b = backend as unknown as WasmLike;
    const x = inputs as unknown as UpdateInputs;
    // Allocate every output before taking heap views: an allocation may grow (and detach) the wasm heap.
    const outs = [0, 1, 2].map(() => b.makeOutput([...x.param.shape], 'float32'));
    const [po, mo, vo] = outs.map((o) => b.typedArrayFromHeap(o)) as [Float32Array, Float32Array, Float32Array];
    loop(b.typedArrayFromHeap(x.param), b.typedArrayFromHeap(x.m), b.typedArrayFromHeap(x.v), b.typedArrayFromHeap(x.grad), { p: po, m: mo, v: vo }, attrs ?? {});
    return outs;
  };
  const cpu = ({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] => {
    const b = backend as unknown as CpuLike;
    const x = inputs as unknown as UpdateInputs;
    const read = (t: tf.TensorInfo): Float32Array => b.data.get(t.dataId).values as Float32Array;
    const n = read(x.param).length;
    const out = { p: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
    loop(read(x.param), read(x.m), read(x.v), read(x.grad), out, attrs ?? {});
    return [out.p, out.m, out.v].map((values) => b.makeTensorInfo([...x.param.shape], 'float32', values));
  };
  for (const [backendName, kernelFunc] of [
    ['wasm', wasm],
    ['cpu', cpu],
  ] as const) {
    if (tf.getKernel(kernelName, backendName) === undefined) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
}

registerLoopKernel(ADAM_UPDATE_KERNEL, (p, m, v, g, out, attrs) => adamLoop(p, m, v, g, out, attrs as unknown as AdamStep));

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

/** The registered name of the per-column update ({@link adamUpdateColumns}). */
export const ADAM_COLUMNS_KERNEL = 'EsperAdamUpdateColumns';

/** Adam's hyper-parameters shared by every column. */
export interface AdamHyper {
  beta1: number;
  beta2: number;
  epsilon: number;
}

/**
 * One column's clock: its step count (≥ 1) and learning rate, or `frozen`
 * (no update: parameter and moments stay as they are).
 */
export type ColumnClock = { step: number; learningRate: number } | 'frozen';

/**
 * A parameter seen as [outer, columns, inner] (row-major), each column on
 * its own clock: `clocks[owners[c]]` is column c's.
 */
export interface ColumnLayout {
  outer: number;
  inner: number;
  /** Per column, the index of its clock. */
  owners: readonly number[];
}

/**
 * [d1 × cols, d2 × cols, lr × cols, active × cols], each rounded as
 * {@link adamLoop} rounds its scalars (frozen: 1, 1, 0, 0), written into
 * `out` (4 × cols floats). It runs for every update of a resident layer's
 * parameters, so it allocates nothing: the powers are taken once per clock.
 */
export function columnConstants(a: AdamHyper, owners: readonly number[], clocks: readonly ColumnClock[], out: Float32Array<ArrayBuffer> = new Float32Array(4 * owners.length)): Float32Array<ArrayBuffer> {
  const cols = owners.length;
  if (out.length !== 4 * cols) throw new RangeError(`Error in adamUpdateColumns: ${cols} columns need ${4 * cols} constants, the buffer holds ${out.length}`);
  for (let c = 0; c < cols; c++) {
    const owner = owners[c] as number;
    if (!(owner >= 0 && owner < clocks.length)) throw new RangeError(`Error in adamUpdateColumns: column ${c} names clock ${owner}, there are ${clocks.length}`);
  }
  clocks.forEach((clock, i) => {
    const frozen = clock === 'frozen';
    const d1 = frozen ? 1 : 1 - a.beta1 ** clock.step;
    const d2 = frozen ? 1 : 1 - a.beta2 ** clock.step;
    const lr = frozen ? 0 : clock.learningRate;
    for (let c = 0; c < cols; c++) {
      if (owners[c] !== i) continue;
      out[c] = d1;
      out[cols + c] = d2;
      out[2 * cols + c] = lr;
      out[3 * cols + c] = frozen ? 0 : 1;
    }
  });
  return out;
}

/**
 * Per column count, the buffer the fused kernels read their column constants
 * from: every backend's kernel reads them synchronously inside the call, so
 * one buffer serves every update (the op-by-op path makes tensors of them
 * and allocates its own).
 */
const constantsScratch = new Map<number, Float32Array<ArrayBuffer>>();

function scratchConstants(cols: number): Float32Array<ArrayBuffer> {
  let buffer = constantsScratch.get(cols);
  if (buffer === undefined) {
    buffer = new Float32Array(4 * cols);
    constantsScratch.set(cols, buffer);
  }
  return buffer;
}

/** {@link adamLoop} with per-column constants (see {@link columnConstants}). Exported for tests. */
export function adamColumnsLoop(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  out: { p: Float32Array; m: Float32Array; v: Float32Array },
  a: AdamHyper,
  layout: { outer: number; cols: number; inner: number },
  constants: Float32Array,
): void {
  const k = rounded(a);
  const { outer, cols, inner } = layout;
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < cols; c++, at += inner) {
      // Frozen columns arrive with d1 = d2 = 1 and lr = 0: finite, the parameter unchanged; their moments are restored below.
      adamRun(p, m, v, g, out, k, constants[c] as number, constants[cols + c] as number, constants[2 * cols + c] as number, at, at + inner);
    }
  }
  const { p: po, m: mo, v: vo } = out;
  for (let c = 0; c < cols; c++) {
    if (constants[3 * cols + c] !== 0) continue;
    for (let o = 0; o < outer; o++) {
      const at = (o * cols + c) * inner;
      for (let j = at; j < at + inner; j++) {
        po[j] = p[j] as number;
        mo[j] = m[j] as number;
        vo[j] = v[j] as number;
      }
    }
  }
}

interface ColumnsAttrs extends AdamHyper {
  outer: number;
  cols: number;
  inner: number;
  constants: Float32Array;
}

registerLoopKernel(ADAM_COLUMNS_KERNEL, (p, m, v, g, out, attrs) => {
  const a = attrs as unknown as ColumnsAttrs;
  adamColumnsLoop(p, m, v, g, out, a, a, a.constants);
});

/** Op by op, with the per-column constants as broadcast tensors: what the fused kernels must equal. */
function adamColumnsOps(param: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor, a: AdamHyper, layout: { outer: number; cols: number; inner: number }, k: Float32Array): AdamUpdated {
  const { outer, cols, inner } = layout;
  // Constants broadcast against the parameter as it is when its columns are one of its axes (no reshapes), else against [outer, cols, inner].
  const axis = columnAxis(param.shape, layout);
  const shape3 = axis === undefined ? [outer, cols, inner] : param.shape;
  const constantShape = axis === undefined ? [1, cols, 1] : param.shape.map((d, i) => (i === axis ? d : 1)).slice(axis);
  const column = (j: number): tf.Tensor => tf.tensor(k.subarray(j * cols, (j + 1) * cols), constantShape, 'float32');
  const [p3, m3, v3, g3] = [param, m, v, grad].map((t) => (axis === undefined ? tf.reshape(t, shape3) : t)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const m2 = tf.add(tf.mul(m3, a.beta1), tf.mul(g3, 1 - a.beta1));
  const v2 = tf.add(tf.mul(v3, a.beta2), tf.mul(tf.square(g3), 1 - a.beta2));
  const mHat = tf.div(m2, column(0));
  const vHat = tf.div(v2, column(1));
  let p2 = tf.sub(p3, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), a.epsilon)), column(2)));
  let mOut = m2;
  let vOut = v2;
  if (k.subarray(3 * cols).some((x) => x === 0)) {
    const active = tf.broadcastTo(tf.cast(column(3), 'bool'), shape3);
    p2 = tf.where(active, p2, p3);
    mOut = tf.where(active, m2, m3);
    vOut = tf.where(active, v2, v3);
  }
  if (axis !== undefined) return { param: p2, m: mOut, v: vOut };
  return { param: tf.reshape(p2, param.shape), m: tf.reshape(mOut, param.shape), v: tf.reshape(vOut, param.shape) };
}

/** The axis of `shape` that is the layout's columns (the product of the axes before it is `outer`, after it `inner`), if any. */
function columnAxis(shape: readonly number[], layout: { outer: number; cols: number; inner: number }): number | undefined {
  let before = 1;
  for (let axis = 0; axis < shape.length; axis++) {
    if (before === layout.outer && shape[axis] === layout.cols) return axis;
    before *= shape[axis] as number;
  }
  return undefined;
}

/**
 * One Adam update of a parameter whose columns run on different clocks — a
 * host layer with a width seed's units resident in it (`src/tensor/width/
 * resident-seeds.ts`): each column's step count (its bias correction),
 * learning rate, or frozen state comes from `clocks[layout.owners[c]]`. A
 * column updates exactly as {@link adamUpdate} would update it alone with
 * its own clock (the same float32 operations); a frozen column keeps its
 * parameter and moments. Fused where {@link adamUpdate} is, else op by op.
 * Call inside `tf.tidy`.
 */
export function adamUpdateColumns(param: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor, a: AdamHyper, layout: ColumnLayout, clocks: readonly ColumnClock[], mode: 'auto' | 'fused' | 'ops' = 'auto'): AdamUpdated {
  const cols = layout.owners.length;
  if (layout.outer * cols * layout.inner !== param.size) {
    throw new RangeError(`Error in adamUpdateColumns: [${layout.outer}, ${cols}, ${layout.inner}] does not fit a parameter of ${param.size} elements`);
  }
  const dims = { outer: layout.outer, cols, inner: layout.inner };
  const fused = mode === 'fused' || (mode === 'auto' && param.size <= (FUSED_LIMIT[tf.getBackend()] ?? 0) && tf.getKernel(ADAM_COLUMNS_KERNEL, tf.getBackend()) !== undefined && param.dtype === 'float32' && grad.dtype === 'float32');
  if (!fused) return adamColumnsOps(param, m, v, grad, a, dims, columnConstants(a, layout.owners, clocks));
  const constants = columnConstants(a, layout.owners, clocks, scratchConstants(cols));
  const attrs = { beta1: a.beta1, beta2: a.beta2, epsilon: a.epsilon, ...dims, constants } as unknown as tf.NamedAttrMap;
  const [p2, m2, v2] = tf.engine().runKernel(ADAM_COLUMNS_KERNEL, { param, m, v, grad }, attrs) as unknown as tf.Tensor[];
  return { param: p2 as tf.Tensor, m: m2 as tf.Tensor, v: v2 as tf.Tensor };
}
