import { expect } from 'chai';
import { MemoryBus, serve } from '../../../src/actors/oona/index.ts';
import { urzaKernelResolver } from '../../../src/actors/kasmina/index.ts';
import { KernelQuerySchema } from '../../../src/contracts/urza.ts';
import type { SlotInterface } from '../../../src/contracts/index.ts';

const IFACE: SlotInterface = { kind: 'dense', inputShape: [16], outputShape: [16], dtype: 'float32' };

function kernelRecord(kernelId: string): Record<string, unknown> {
  return {
    kernelId,
    blueprintId: 'bp-1',
    irHash: 'a'.repeat(64),
    compilerVersion: 'tezzeret-1.0.0',
    backend: 'wasm',
    tier: 'fast',
    interface: IFACE,
    paramCount: 64,
    flops: 128,
    memoryBytes: 1024,
    artifactRef: { store: 'fs', key: `kernels/${kernelId}.esk`, sizeBytes: 10, sha256: 'b'.repeat(64) },
    status: 'VALIDATED',
    createdAt: new Date().toISOString(),
  };
}

describe('Urza kernel resolver', () => {
  it('finds a VALIDATED kernel for the slot interface over the bus', async () => {
    const bus = new MemoryBus();
    const seen: unknown[] = [];
    serve(bus, 'esper.ctl.urza.kernels', { schema: KernelQuerySchema }, (query) => {
      seen.push(query);
      return { kernels: [kernelRecord('k-1')] };
    });
    const resolver = urzaKernelResolver(bus, 'esper');
    const kernel = await resolver.resolve({ slotId: 's1', slotInterface: IFACE, blueprintId: 'bp-1' });
    expect(kernel).to.deep.include({ kernelId: 'k-1', status: 'VALIDATED', blueprintId: 'bp-1' });
    expect(seen[0]).to.deep.include({ status: 'VALIDATED', blueprintId: 'bp-1', limit: 1 });
    resolver.breaker.dispose();
    await bus.close();
  });

  it('answers "no kernel available" at once when Urza is down, and stops asking once the breaker opens', async () => {
    const bus = new MemoryBus();
    const resolver = urzaKernelResolver(bus, 'esper', { failureThreshold: 2, resetTimeoutMs: 60_000 });
    for (let i = 0; i < 2; i++) expect(await resolver.resolve({ slotId: 's1', slotInterface: IFACE })).to.equal(null);
    expect(resolver.breaker.state).to.equal('open');
    let asked = 0;
    serve(bus, 'esper.ctl.urza.kernels', { schema: KernelQuerySchema }, () => {
      asked++;
      return { kernels: [kernelRecord('k-2')] };
    });
    const started = Date.now();
    expect(await resolver.resolve({ slotId: 's1', slotInterface: IFACE })).to.equal(null);
    expect(asked).to.equal(0); // the open breaker answered without a request
    expect(Date.now() - started).to.be.lessThan(1000);
    resolver.breaker.dispose();
    await bus.close();
  });
});
