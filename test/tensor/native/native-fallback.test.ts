import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const BACKEND = fileURLToPath(new URL('../../../src/tensor/backend.ts', import.meta.url));

/** Runs `script` (ESM, top-level await) in a fresh Node with `env` added; returns its last stdout line parsed as JSON. */
function runIsolated(script: string, env: Record<string, string>): unknown {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(result.status, result.stderr).to.equal(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

// Without the addon (ESPER_NATIVE=0 simulates a machine without g++ or OpenBLAS); in a child process, because the addon is loaded once per process.
describe('native backend: without the addon', function () {
  this.timeout(60_000);

  it("'auto' runs on wasm and reports why; 'native' fails with ESPER_BACKEND_UNAVAILABLE naming the reason", () => {
    const script = `
      const { selectBackend, backendReport } = await import(${JSON.stringify(BACKEND)});
      const auto = await selectBackend('auto');
      const report = backendReport();
      let error;
      try { await selectBackend('native'); } catch (e) { error = { code: e.code, message: e.message }; }
      console.log(JSON.stringify({ auto, report, error }));`;
    const out = runIsolated(script, { ESPER_NATIVE: '0' }) as { auto: string; report: Record<string, unknown>; error?: { code: string; message: string } };
    expect(out.auto).to.equal('wasm');
    expect(out.report).to.deep.equal({ requested: 'auto', active: 'wasm', fallbackReason: 'disabled by ESPER_NATIVE=0' });
    expect(out.error?.code).to.equal('ESPER_BACKEND_UNAVAILABLE');
    expect(out.error?.message).to.include('disabled by ESPER_NATIVE=0');
  });

  it('a missing addon file is reported with the path and the build command', () => {
    const script = `
      const { selectBackend, backendReport } = await import(${JSON.stringify(BACKEND)});
      await selectBackend('auto');
      console.log(JSON.stringify(backendReport()));`;
    const report = runIsolated(script, { ESPER_NATIVE_ADDON: '/nonexistent/esper_native.node' }) as { active: string; fallbackReason: string };
    expect(report.active).to.equal('wasm');
    expect(report.fallbackReason).to.include('/nonexistent/esper_native.node').and.include('npm run build:native');
  });
});
