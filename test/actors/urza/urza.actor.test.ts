import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { BlueprintQueryReplySchema, KernelQueryReplySchema } from '../../../src/contracts/index.ts';
import { MemoryBus } from '../../../src/actors/oona/index.ts';
import { call } from '../../../src/actors/oona/rpc.ts';
import { urzaWorkerSpec, type UrzaMessage, type UrzaStatus } from '../../../src/actors/urza/index.ts';
import type { PgliteDatabase } from '../../../src/infra/db/index.ts';
import { startSupervisor, type Supervisor } from '../../../src/supervision/index.ts';
import { dropPglite, freshPglite, PGLITE_START_TIMEOUT_MS } from '../../infra/db/shared-pglite.ts';
import { denseIr, kernelOf, rejectsWith } from './library-contract.ts';

describe('Urza actor', function () {
  let bus: MemoryBus;
  let root: Supervisor | undefined;
  let dir: string;
  const databases: PgliteDatabase[] = [];

  before(async function () {
    this.timeout(PGLITE_START_TIMEOUT_MS);
    bus = new MemoryBus();
    dir = await mkdtemp(join(tmpdir(), 'esper-urza-actor-'));
    root = await startSupervisor({
      id: 'test',
      strategy: 'one_for_one',
      intensity: { maxRestarts: 3, periodMs: 10_000 },
      backoff: { initialMs: 10, maxMs: 100, factor: 2, jitter: 0 },
      children: [
        urzaWorkerSpec({
          openDatabase: async () => {
            const db = await freshPglite('actor');
            databases.push(db);
            return db;
          },
          dataDir: dir,
          bus,
          prefix: 'esper',
          breaker: { failureThreshold: 2, resetTimeoutMs: 200, timeoutMs: 2000 },
        }),
      ],
    });
  });

  after(async () => {
    await root?.stop();
    for (const db of databases) await dropPglite(db);
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  });

  const urza = (): NonNullable<ReturnType<Supervisor['ref']>> => root!.ref<UrzaMessage>('urza')!;

  it('stores writes sent to it and answers ctl.urza.blueprints and ctl.urza.kernels on the bus', async () => {
    const ir = denseIr('actor_mlp', { tags: ['mlp'] });
    expect(await urza().query({ type: 'write', write: { op: 'putBlueprint', input: { ir, submittedBy: 'karn' } } }, 5000)).to.equal('stored');
    const blueprints = await call(bus, 'esper.ctl.urza.blueprints', { tags: ['mlp'], includeIr: true }, { schema: BlueprintQueryReplySchema });
    expect(blueprints.blueprints).to.have.length(1);
    const bp = blueprints.blueprints[0]!;
    expect(bp.ir!.name).to.equal('actor_mlp');
    const kernel = kernelOf({ blueprintId: bp.blueprintId, irHash: bp.irHash, status: 'SUBMITTED', created: true }, 64);
    expect(await urza().query({ type: 'write', write: { op: 'putKernel', kernel } }, 5000)).to.equal('stored');
    const kernels = await call(bus, 'esper.ctl.urza.kernels', { interface: kernel.interface, maxParams: 5000 }, { schema: KernelQueryReplySchema });
    expect(kernels.kernels.map((k) => k.kernelId)).to.deep.equal([kernel.kernelId]);
    expect(await call(bus, 'esper.ctl.urza.kernels', new Uint8Array(0), { schema: KernelQueryReplySchema })).to.have.nested.property('kernels.length', 1);
    const status = await urza().query<UrzaStatus>({ type: 'status' }, 1000);
    expect(status).to.deep.equal({ pending: 0, breaker: 'closed', driver: 'pglite' });
  });

  it('answers bad requests with coded errors and refused writes without crashing', async () => {
    await rejectsWith(call(bus, 'esper.ctl.urza.kernels', { maxRisk: 7 }), 'ESPER_SCHEMA_VIOLATION');
    await rejectsWith(call(bus, 'esper.ctl.urza.blueprints', { unknownFilter: true }), 'ESPER_SCHEMA_VIOLATION');
    await rejectsWith(urza().query({ type: 'write', write: { op: 'setBlueprintStatus', blueprintId: 'bp-none', status: 'COMPILING' } }, 5000), 'ESPER_NOT_FOUND');
    await rejectsWith(urza().query({ type: 'lineage', blueprintId: 'bp-none' }, 5000), 'ESPER_NOT_FOUND');
    expect(urza().alive).to.equal(true);
    expect(databases, 'no restart happened').to.have.length(1);
  });

  it('stops serving when it stops', async () => {
    await root!.stop();
    root = undefined;
    await rejectsWith(call(bus, 'esper.ctl.urza.kernels', {}, { timeoutMs: 500 }), 'ESPER_NO_RESPONDERS');
  });
});
