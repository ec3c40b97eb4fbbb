/**
 * The tensor backend the backend-sensitive semantics tests run on (issue 12
 * item 3: isolation, dormant-equals-host, checkpoint exactness and
 * determinism hold on every backend). `ESPER_TEST_BACKEND` picks it
 * (`npm run test:backends` runs those suites on wasm and native); without it
 * each suite keeps its usual backend. With `ESPER_TEST_BACKEND=native` and
 * no addon, the suite fails when `ESPER_REQUIRE_NATIVE=1` (CI), else skips.
 */
import type { BackendName } from '../../src/tensor/backend.ts';
import { quietCpuBackend, selectBackend } from '../../src/tensor/backend.ts';
import { registerNativeBackend } from '../../src/tensor/native/native-backend.ts';

/** The backend to run on: `ESPER_TEST_BACKEND` when set, else `fallback`. */
export function testBackend(fallback: Exclude<BackendName, 'auto'>): Exclude<BackendName, 'auto'> {
  const wanted = process.env['ESPER_TEST_BACKEND'];
  if (wanted === undefined || wanted === '') return fallback;
  if (!['wasm', 'native', 'cpu', 'tensorflow'].includes(wanted)) throw new Error(`ESPER_TEST_BACKEND=${wanted} is not one of wasm, native, cpu, tensorflow`);
  return wanted as Exclude<BackendName, 'auto'>;
}

/** Selects {@link testBackend} in a mocha `before` hook; skips the suite (or fails it, under ESPER_REQUIRE_NATIVE=1) when native is wanted and not built. */
export async function useTestBackend(context: Mocha.Context, fallback: Exclude<BackendName, 'auto'>): Promise<void> {
  const backend = testBackend(fallback);
  if (backend === 'native') requireNativeBackend(context);
  quietCpuBackend();
  await selectBackend(backend);
}

/** Registers the native backend, or — when its addon is missing — fails the suite under ESPER_REQUIRE_NATIVE=1 (CI) and skips it otherwise, saying why. */
export function requireNativeBackend(context: Mocha.Context): void {
  const registration = registerNativeBackend();
  if (registration.ok) return;
  if (process.env['ESPER_REQUIRE_NATIVE'] === '1') throw new Error(`ESPER_REQUIRE_NATIVE=1 but the native backend is unavailable: ${registration.reason}`);
  console.log(`      (skipped: native backend unavailable: ${registration.reason})`);
  context.skip();
}
