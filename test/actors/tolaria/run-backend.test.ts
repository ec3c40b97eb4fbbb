/**
 * results.json says which tensor backend ran and, when it is not the one the
 * spec asked for, why (issue 12: `auto` falls back to wasm without the
 * native addon, and says so).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { RunResultsSchema, RunSpecSchema, type RunSpec } from '../../../src/contracts/run.ts';
import { runTraining } from '../../../src/actors/tolaria/run-loop.ts';
import { renderReport } from '../../../src/cli/report/report-html.ts';
import { tryLoadNativeAddon } from '../../../src/tensor/native/native-addon.ts';

function spec(backend: string): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return RunSpecSchema.parse({ ...raw, epochs: 2, training: { ...(raw['training'] as object), backend } });
}

describe('esper run: the tensor backend in the results (issue 12)', function () {
  this.timeout(60_000);
  const saved = process.env['ESPER_NATIVE'];
  afterEach(() => {
    if (saved === undefined) delete process.env['ESPER_NATIVE'];
    else process.env['ESPER_NATIVE'] = saved;
  });

  it('auto without the native addon runs on wasm and says why, in results.json and the report', async () => {
    process.env['ESPER_NATIVE'] = '0'; // the worker thread inherits the environment
    const results = await runTraining(spec('auto'), { runId: 'run-backend-fallback', growth: false });
    expect(() => RunResultsSchema.parse(results)).to.not.throw();
    expect(results.backend).to.equal('wasm');
    expect(results.backendFallbackReason).to.match(/ESPER_NATIVE=0/);
    expect(renderReport(results)).to.include('wasm (disabled by ESPER_NATIVE=0)');
  });

  it('a backend named in the spec is the one reported, with no fallback reason', async () => {
    const results = await runTraining(spec('wasm'), { runId: 'run-backend-wasm', growth: false });
    expect(results.backend).to.equal('wasm');
    expect(results).to.not.have.property('backendFallbackReason');
  });

  it('auto with the native addon built runs on native', async function () {
    if (tryLoadNativeAddon().addon === undefined) {
      if (process.env['ESPER_REQUIRE_NATIVE'] === '1') throw new Error(`ESPER_REQUIRE_NATIVE=1 but the native addon does not load: ${tryLoadNativeAddon().reason ?? ''}`);
      this.skip();
    }
    const results = await runTraining(spec('auto'), { runId: 'run-backend-native', growth: false });
    expect(results.backend).to.equal('native');
    expect(results).to.not.have.property('backendFallbackReason');
  });
});
