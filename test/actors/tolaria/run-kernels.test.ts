import { expect } from 'chai';
import { BLUEPRINT_CATALOG, shapePreservingInterface } from '../../../src/actors/karn/catalog.ts';
import type { SlotInterface } from '../../../src/contracts/common.ts';
import { kernelJobs, runBlueprints, runKernelEntry, runKernelRow } from '../../../src/actors/tolaria/run-kernels.ts';
import type { RunSlot } from '../../../src/actors/tolaria/run-slots.ts';
import { RunKernelSchema, RunSpecSchema, type RunSpec } from '../../../src/contracts/run.ts';
import { ConfigError } from '../../../src/errors/index.ts';
import type { PreparedKernel } from '../../../src/actors/tolaria/worker/kernel-preparation.ts';
import { throwsWith } from '../../helpers/rejects-with.ts';

const spec = (seedModules: unknown, hidden = [3, 3]): RunSpec =>
  RunSpecSchema.parse({
    name: 't',
    epochs: 3,
    training: { dataset: { kind: 'xor' }, host: { kind: 'mlp', hidden }, slots: [{ id: 'h1', afterLayer: 1 }, { id: 'h2', afterLayer: 2 }] },
    seedModules,
  });
const dense = (w: number): SlotInterface => shapePreservingInterface([w]);
/** Depth slots with these interfaces (one per interface, on layer 1). */
const depthSlots = (...ifaces: SlotInterface[]): RunSlot[] =>
  ifaces.map((iface, i) => ({ slotId: `d${i}`, role: 'depth', layer: 1, interface: iface, baseWidth: iface.inputShape[0] ?? 1 }));

describe('run kernels (what esper run compiles and validates at its start)', () => {
  it("'catalog' means every catalog blueprint that fits the slot kind and role", () => {
    const names = runBlueprints(spec({}), 'dense');
    expect(names).to.deep.equal(BLUEPRINT_CATALOG.filter((e) => e.kinds.includes('dense') && e.role === 'depth').map((e) => e.name));
    expect(names).to.include('mlp_deep').and.not.include('conv_light');
  });

  it('refuses names outside the catalog, blueprints that do not fit, and exact kernel ids, listing every problem', () => {
    const error = throwsWith(() => runBlueprints(spec({ blueprints: ['mlp_small', 'mlp_huge', 'conv_light'], kernels: ['k1'] }), 'dense'), ConfigError);
    const issues = error.details?.['issues'] as string[];
    expect(issues).to.have.length(3);
    expect(issues[0]).to.match(/seedModules\.kernels/);
    expect(issues[1]).to.match(/blueprints\[1\]: 'mlp_huge' is not a catalog blueprint \(catalog: .*mlp_deep/);
    expect(issues[2]).to.match(/blueprints\[2\]: 'conv_light' does not fit a dense slot/);
  });

  it('makes one job per distinct slot interface and blueprint, with the catalog IR for that width', () => {
    const jobs = kernelJobs(spec({ blueprints: ['mlp_small', 'mlp_small', 'lora_r4'] }, [3, 3]), depthSlots(dense(3), dense(3)));
    expect(jobs.map((j) => [j.blueprintId, j.interface.inputShape[0]])).to.deep.equal([
      ['mlp_small', 3],
      ['lora_r4', 3],
    ]);
    const wide = kernelJobs(spec({ blueprints: ['mlp_small'] }, [3, 5]), depthSlots(dense(3), dense(5)));
    expect(wide.map((j) => (j.ir as { interface: { inputShape: number[] } }).interface.inputShape)).to.deep.equal([[3], [5]]);
  });

  it('turns a prepared kernel into a results row that matches the schema', () => {
    const [job] = kernelJobs(spec({ blueprints: ['mlp_small'] }), depthSlots(dense(3)));
    const prepared = {
      metadata: { kernelId: 'a'.repeat(64), paramCount: 45 },
      artifact: new Uint8Array([1, 2, 3]),
      report: { status: 'REJECTED', riskScore: 0.4, reasons: ['gradient: exploding'], latencyMs: { p50: 0.2, p99: 0.3 } },
    } as unknown as PreparedKernel;
    const entry = runKernelEntry(job!, prepared);
    expect(entry.artifact).to.equal(prepared.artifact);
    const row = runKernelRow(entry);
    expect(row).to.deep.equal({
      kernelId: 'a'.repeat(64),
      blueprintId: 'mlp_small',
      interface: 'dense:3->3:float32',
      status: 'REJECTED',
      riskScore: 0.4,
      latencyP50Ms: 0.2,
      paramCount: 45,
      reasons: ['gradient: exploding'],
    });
    expect(RunKernelSchema.safeParse(row).success).to.equal(true);
  });
});
