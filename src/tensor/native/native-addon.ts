/**
 * Loads the native CPU backend's addon (`build/native/esper_native.node`,
 * built by `npm ci` through scripts/build-native.mjs: N-API over OpenBLAS)
 * and describes its functions. Loading never throws out of
 * {@link tryLoadNativeAddon}: a missing or broken addon is a reason, so the
 * caller can fall back to wasm and say why.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { EsperError } from '../../errors/index.ts';

/**
 * The addon's functions. Every array is used in place (zero-copy); outputs are
 * preallocated by the caller. Geometry travels in Int32Arrays. Lengths are
 * checked natively: a mismatch throws a RangeError, never writes out of bounds.
 */
export interface NativeAddon {
  /** Sets OpenBLAS's thread count (process-wide). */
  setThreads(n: number): void;
  /** OpenBLAS's current thread count. */
  getThreads(): number;
  /** OpenBLAS's build string (version, CPU kernel set, max threads). */
  blasConfig(): string;
  /** c[i] = alpha·op(a[i])·op(b[i]) + beta·c[i]; dims = [batch, m, n, k, transA, transB, strideA, strideB] (stride 0 broadcasts). */
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, dims: Int32Array, alpha: number, beta: number): void;
  /** NHWC conv; geometry = [n, h, w, c, kh, kw, o, strideH, strideW, padTop, padLeft, outH, outW]. */
  conv2d(x: Float32Array, filter: Float32Array, y: Float32Array, geometry: Int32Array): void;
  /** dx (overwritten) from dy and the filter; same geometry as the forward conv. */
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** dw (overwritten) from x and dy; same geometry as the forward conv. */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array): void;
  /** out = a ∘ b over layout = [rows, cols, kindA, kindB] (kind: 0 full, 1 row, 2 column, 3 scalar). */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, layout: Int32Array): void;
  /** out = f(x) elementwise; alpha is Step's value for x ≤ 0. */
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /** out[a, b] = reduce over r of x[a, r, b]; dims = [outer, reduced, inner]; op: 0 sum, 1 max, 2 min, 3 mean. */
  reduce(op: number, x: Float32Array, out: Float32Array, dims: Int32Array): void;
  /** out[b, c, r] = x[b, r, c]; dims = [batch, rows, cols]. */
  transpose(x: Float32Array, out: Float32Array, dims: Int32Array): void;
  /** NHWC max pool; geometry = [n, h, w, c, fh, fw, strideH, strideW, padTop, padLeft, outH, outW]. */
  maxPool(x: Float32Array, y: Float32Array, geometry: Int32Array): void;
  /** dx (overwritten): each dy added at its window's first maximum of x; same geometry as maxPool. */
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** One Adam update into fresh outputs; constants = [b1, 1−b1, b2, 1−b2, 1−b1^t, 1−b2^t, eps, lr] (float32-rounded). */
  adam(param: Float32Array, m: Float32Array, v: Float32Array, grad: Float32Array, paramOut: Float32Array, mOut: Float32Array, vOut: Float32Array, constants: Float32Array): void;
  /**
   * Adam with per-column constants over [outer, cols, inner] = dims: shared = [b1, 1−b1, b2, 1−b2, eps], columns =
   * [1−b1^t, 1−b2^t, lr, active] × cols (float32-rounded; active 0 keeps param and moments).
   */
  adamColumns(
    param: Float32Array,
    m: Float32Array,
    v: Float32Array,
    grad: Float32Array,
    paramOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    shared: Float32Array,
    columns: Float32Array,
    dims: Int32Array,
  ): void;
}

/** Where the build script puts the addon, relative to this file (src/tensor/native/ → repository root). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../../build/native/esper_native.node', import.meta.url));

/** The addon, or why it could not be loaded. */
export type NativeAddonLoad = { addon: NativeAddon; reason?: undefined } | { addon?: undefined; reason: string };

const EXPECTED: readonly (keyof NativeAddon)[] = [
  'setThreads', 'getThreads', 'blasConfig', 'sgemm', 'conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'binary', 'unary', 'reduce', 'transpose', 'adam', 'adamColumns', 'maxPool', 'maxPoolGrad',
];

let cached: NativeAddonLoad | undefined;

/**
 * Loads the addon once per thread (each worker thread loads its own instance;
 * the addon is context-aware). `ESPER_NATIVE_ADDON` overrides the path;
 * `ESPER_NATIVE=0` disables it.
 */
export function tryLoadNativeAddon(): NativeAddonLoad {
  cached ??= load();
  return cached;
}

/**
 * The addon, or an error saying why it is unavailable.
 *
 * @throws EsperError `ESPER_BACKEND_UNAVAILABLE` when it is not built or does not load.
 */
export function loadNativeAddon(): NativeAddon {
  const result = tryLoadNativeAddon();
  if (result.addon !== undefined) return result.addon;
  throw new EsperError('ESPER_BACKEND_UNAVAILABLE', `Tensor backend 'native' is not available: ${result.reason}`, { details: { backend: 'native', reason: result.reason } });
}

function load(): NativeAddonLoad {
  if (process.env['ESPER_NATIVE'] === '0') return { reason: 'disabled by ESPER_NATIVE=0' };
  const path = process.env['ESPER_NATIVE_ADDON'] ?? NATIVE_ADDON_PATH;
  if (!existsSync(path)) {
    return { reason: `the addon is not built (${path} is missing; it needs g++ and libopenblas-dev, then \`npm run build:native\`)` };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as Partial<NativeAddon>;
    const missing = EXPECTED.filter((name) => typeof addon[name] !== 'function');
    if (missing.length > 0) return { reason: `the addon at ${path} is out of date (no ${missing.join(', ')}); rebuild it with \`npm run build:native\`` };
    return { addon: addon as NativeAddon };
  } catch (error) {
    return { reason: `the addon at ${path} does not load: ${error instanceof Error ? error.message : String(error)}` };
  }
}
