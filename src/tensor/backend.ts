/**
 * Chooses the tfjs backend tensor work runs on (DESIGN §8).
 *
 * - `wasm` (default): ships inside `@tensorflow/tfjs-backend-wasm`, works
 *   offline. In Node it always runs single-threaded: tfjs-backend-wasm 4.22
 *   reports no multithread support under Node, and forcing it fails (its
 *   pthread workers are `blob:` URLs, which `worker_threads` rejects with
 *   ERR_WORKER_PATH), so `setThreadsCount` is deliberately not called. The
 *   gradient kernels it lacks are registered from `wasm-gradients.ts`.
 * - `tensorflow`: libtensorflow through `@tensorflow/tfjs-node-gpu` (CUDA) or
 *   `@tensorflow/tfjs-node`, optional peers that need internet to install.
 * - `native`: the cpu backend's storage with the hot kernels in an N-API
 *   addon over OpenBLAS (src/tensor/native/), built by `npm ci` where g++ and
 *   libopenblas-dev exist; multi-threaded through OpenBLAS.
 * - `auto`: `native` when its addon loads, else `wasm`;
 *   {@link backendReport} says which ran and, on fallback, why.
 * - `cpu`: the pure-JS backend, a last resort (4–5× slower than wasm).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { EsperError } from '../errors/index.ts';
import { NATIVE_BACKEND_NAME, registerNativeBackend, syncNativeKernels } from './native/native-backend.ts';
import { registerWasmGradients } from './wasm-gradients.ts';

/** A backend Esper can run tensors on (`auto`: `native` when it loads, else `wasm`). */
export type BackendName = 'wasm' | 'native' | 'auto' | 'tensorflow' | 'cpu';

/** Every backend name Esper accepts. */
export const BACKEND_NAMES = ['wasm', 'native', 'auto', 'tensorflow', 'cpu'] as const satisfies readonly BackendName[];

/** Which backend was asked for, which is active, and why it differs when `auto` fell back. */
export interface BackendReport {
  /** The name given to the last successful {@link selectBackend}; null when it was never called. */
  requested: BackendName | null;
  /** The active tfjs backend now (`tf.getBackend()`); null before any backend is initialised. */
  active: string | null;
  /** Set when `auto` could not use `native`: why (e.g. the addon is not built). */
  fallbackReason?: string;
}

let lastSelection: { requested: BackendName; fallbackReason?: string } | undefined;

/** What the last {@link selectBackend} chose, for logs and run results. */
export function backendReport(): BackendReport {
  const active = (tf.getBackend() as string | undefined) ?? null;
  if (lastSelection === undefined) return { requested: null, active };
  return { requested: lastSelection.requested, active, ...(lastSelection.fallbackReason === undefined ? {} : { fallbackReason: lastSelection.fallbackReason }) };
}

/** The optional packages that provide the `tensorflow` backend, tried in this order. */
export const NODE_BACKEND_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Options for {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * Loads a module by specifier (a seam for tests).
   * @default dynamic `import()`
   */
  importModule?: (specifier: string) => Promise<unknown>;
}

const pending = new Map<BackendName, Promise<string>>();

/** True when `value` is one of the backend names Esper knows. */
export function isBackendName(value: unknown): value is BackendName {
  return typeof value === 'string' && (BACKEND_NAMES as readonly string[]).includes(value);
}

/**
 * Makes `name` the active tfjs backend and resolves with the active backend's
 * tfjs name (`'wasm'`, `'native'`, `'tensorflow'` or `'cpu'`). `auto` never
 * fails for want of the addon: it resolves `'native'` or `'wasm'` and records
 * why in {@link backendReport}. Idempotent: selecting the backend that is
 * already active does nothing, and concurrent calls for the same backend
 * share one initialisation.
 *
 * @throws EsperError `ESPER_BACKEND_UNAVAILABLE` when the backend cannot be
 *   loaded (for `tensorflow`: neither node package is installed; the message
 *   names the install command; for `native`: why the addon is unavailable).
 */
export async function selectBackend(name: BackendName = 'wasm', options: SelectBackendOptions = {}): Promise<string> {
  if (!isBackendName(name)) {
    throw new EsperError('ESPER_BACKEND_UNAVAILABLE', `Unknown tensor backend ${JSON.stringify(name)}; expected one of ${BACKEND_NAMES.join(', ')}`, {
      details: { backend: String(name) },
    });
  }
  if (name === 'auto') return selectAuto(options);
  const active = await selectNamed(name, options);
  lastSelection = { requested: name };
  return active;
}

async function selectAuto(options: SelectBackendOptions): Promise<string> {
  const registration = registerNativeBackend();
  let reason = registration.ok ? undefined : registration.reason;
  if (registration.ok) {
    try {
      const active = await selectNamed('native', options);
      lastSelection = { requested: 'auto' };
      return active;
    } catch (error) {
      reason = errorText(error);
    }
  }
  const active = await selectNamed('wasm', options);
  lastSelection = { requested: 'auto', ...(reason === undefined ? {} : { fallbackReason: reason }) };
  return active;
}

async function selectNamed(name: Exclude<BackendName, 'auto'>, options: SelectBackendOptions): Promise<string> {
  // Cheap and idempotent; done even when wasm is already active (someone may have called tf.setBackend directly).
  if (name === 'wasm') registerWasmGradients();
  // Kernels registered for 'cpu' since the native backend was registered (e.g. Esper's own fused ones) are mirrored.
  if (name === 'native' && tf.findBackend(NATIVE_BACKEND_NAME) !== null) syncNativeKernels();
  if (tf.getBackend() === name && tf.findBackend(name) !== null) return name;
  const inFlight = pending.get(name);
  if (inFlight !== undefined) return inFlight;
  const started = activate(name, options).finally(() => pending.delete(name));
  pending.set(name, started);
  return started;
}

async function activate(name: Exclude<BackendName, 'auto'>, options: SelectBackendOptions): Promise<string> {
  switch (name) {
    case 'native': {
      const registration = registerNativeBackend();
      if (!registration.ok) {
        throw new EsperError('ESPER_BACKEND_UNAVAILABLE', `Tensor backend 'native' is not available: ${registration.reason}. Use 'auto' to fall back to wasm.`, {
          details: { backend: 'native', reason: registration.reason },
        });
      }
      await setOrThrow('native', 'the native backend failed to initialise');
      return tf.getBackend();
    }
    case 'wasm':
      await setOrThrow('wasm', 'the wasm backend failed to initialise (is @tensorflow/tfjs-backend-wasm intact?)');
      return tf.getBackend();
    case 'tensorflow':
      await loadNodeBackend(options.importModule ?? defaultImport);
      await setOrThrow('tensorflow', 'the tensorflow backend was loaded but failed to initialise');
      return tf.getBackend();
    case 'cpu':
      await setOrThrow('cpu', 'the cpu backend failed to initialise');
      silenceCpuBanner();
      return tf.getBackend();
  }
}

async function setOrThrow(name: string, why: string): Promise<void> {
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    cause = error;
  }
  if (!ok || tf.getBackend() !== name) {
    throw new EsperError('ESPER_BACKEND_UNAVAILABLE', `Cannot use tensor backend '${name}': ${why}`, {
      details: { backend: name },
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

function defaultImport(specifier: string): Promise<unknown> {
  return import(specifier) as Promise<unknown>;
}

/** Imports the first node backend package that loads; it registers the 'tensorflow' backend as a side effect. */
async function loadNodeBackend(importModule: (specifier: string) => Promise<unknown>): Promise<void> {
  if (tf.findBackend('tensorflow') !== null) return;
  const failures: Record<string, string> = {};
  let lastCause: unknown;
  for (const specifier of NODE_BACKEND_PACKAGES) {
    try {
      await importModule(specifier);
      if (tf.findBackend('tensorflow') !== null) return;
      failures[specifier] = 'loaded but registered no tensorflow backend (is it a different @tensorflow/tfjs-core copy?)';
    } catch (error) {
      lastCause = error;
      failures[specifier] = isModuleNotFound(error) ? 'not installed' : errorText(error);
    }
  }
  throw new EsperError(
    'ESPER_BACKEND_UNAVAILABLE',
    "Tensor backend 'tensorflow' is not available: install it with `npm install @tensorflow/tfjs-node` " +
      '(CPU, libtensorflow) or `npm install @tensorflow/tfjs-node-gpu` (CUDA); both download libtensorflow, so they need ' +
      "internet access. Without them use the default 'wasm' backend.",
    { details: { backend: 'tensorflow', packages: failures }, ...(lastCause === undefined ? {} : { cause: lastCause }) },
  );
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The pure-JS backend prints a "install our node backend" banner (via
 * console.warn, i.e. stderr) on its first tensor. `tf.enableProdMode()` would
 * hide it but also every other tfjs warning, so only the banner's one-shot
 * flag is cleared. Harmless if a future tfjs renames it.
 */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: unknown } | null;
  if (cpu !== null && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}

/** Silences the cpu backend's console banner even when the cpu backend is used beside another (e.g. as a reference in tests). */
export function quietCpuBackend(): void {
  silenceCpuBanner();
}
