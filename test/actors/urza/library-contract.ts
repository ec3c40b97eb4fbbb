/**
 * Urza's library contract, run on PGlite (`library.test.ts`) and on
 * PostgreSQL (`test/integration/urza/postgres.test.ts`): the same cases on
 * both drivers, each test in a fresh, migrated schema.
 */
import { expect } from 'chai';
import {
  BlueprintRecordSchema,
  KernelRecordSchema,
  type BlueprintIRInput,
  type CheckpointMetadata,
  type Envelope,
  type FieldReport,
  type KernelMetadata,
  type RunStatus,
  type SlotInterface,
  type ValidationReport,
} from '../../../src/contracts/index.ts';
import { migrate, type Database } from '../../../src/infra/db/index.ts';
import { NO_RUN, UrzaLibrary, type ArtifactStore, type PutBlueprintResult } from '../../../src/actors/urza/index.ts';
import type { SchemaFactory } from '../../infra/db/migrations-contract.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

export { rejectsWith };

const T0 = Date.parse('2025-06-01T12:00:00.000Z');

/** A clock that moves one second per reading, so creation order is strict. */
export function steppingClock(): () => Date {
  let tick = 0;
  return () => new Date(T0 + tick++ * 1000);
}

export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

/** A small dense blueprint (residual MLP) with `features` in and out. */
export function denseIr(name: string, options: { tags?: string[]; features?: number; hidden?: number } = {}): BlueprintIRInput {
  const features = options.features ?? 64;
  return {
    irVersion: 1,
    name,
    tags: options.tags ?? [],
    interface: { kind: 'dense', inputShape: [features], outputShape: [features], dtype: 'float32' },
    nodes: [
      { id: 'up', op: 'dense', inputs: ['input'], params: { units: options.hidden ?? 32 } },
      { id: 'down', op: 'dense', inputs: ['up'], params: { units: features, init: 'zeros' } },
      { id: 'out', op: 'residual', inputs: ['input', 'down'] },
    ],
    output: 'out',
  };
}

/** Kernel metadata for a stored blueprint. */
export function kernelOf(bp: PutBlueprintResult, features: number, over: Partial<KernelMetadata> = {}): KernelMetadata {
  const backend = over.backend ?? 'wasm';
  const kernelId = over.kernelId ?? `k-${bp.irHash.slice(0, 12)}-${backend}`;
  return {
    kernelId,
    blueprintId: bp.blueprintId,
    irHash: bp.irHash,
    compilerVersion: '0.1.0',
    backend,
    tier: 'fast',
    interface: { kind: 'dense', inputShape: [features], outputShape: [features], dtype: 'float32' },
    paramCount: 1000,
    flops: 2000,
    memoryBytes: 4096,
    artifactRef: { store: 'fs', key: `kernels/${kernelId}/model.bin`, sizeBytes: 10, sha256: 'a'.repeat(64) },
    status: 'PENDING_VALIDATION',
    createdAt: at(0),
    ...over,
  };
}

export function reportOf(kernelId: string, status: 'VALIDATED' | 'REJECTED', riskScore: number, p50: number, createdAt: string): ValidationReport {
  return {
    kernelId,
    status,
    riskScore,
    checks: [{ name: 'shapes', passed: status === 'VALIDATED' }],
    reasons: status === 'REJECTED' ? ['risk too high'] : [],
    latencyMs: { p50, p99: p50 * 2 },
    memoryBytes: 1000,
    validatorVersion: '0.1.0',
    createdAt,
  };
}

export function eventOf(id: string, runId: string | undefined, n: number): Envelope {
  return {
    id,
    type: 'tolaria.epoch.ended',
    v: 1,
    ts: at(n),
    source: 'node-a/tolaria',
    ...(runId === undefined ? {} : { runId }),
    correlationId: `c-${id}`,
    data: { epoch: n, metrics: { loss: 1 / (n + 1) } },
  };
}


async function count(db: Database, table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}

export function libraryContract(name: string, factory: SchemaFactory, startTimeoutMs = 20_000): void {
  describe(`UrzaLibrary (${name})`, function () {
    let db: Database;
    let library: UrzaLibrary;

    beforeEach(async function () {
      this.timeout(startTimeoutMs);
      db = await factory.open();
      await migrate(db);
      library = new UrzaLibrary(db, { now: steppingClock() });
    });

    afterEach(async function () {
      this.timeout(startTimeoutMs);
      await factory.drop(db);
    });

    describe('blueprints', () => {
      it('stores the same IR once and returns the existing id (key order and omitted defaults do not matter)', async () => {
        const ir = denseIr('mlp_a', { tags: ['mlp'] });
        const first = await library.putBlueprint({ ir, submittedBy: 'karn' });
        expect(first).to.include({ blueprintId: `bp-${first.irHash.slice(0, 16)}`, status: 'SUBMITTED', created: true });
        // The same blueprint, written with its keys in another order and its defaults spelt out.
        const reordered = JSON.parse(JSON.stringify({ ...ir, output: 'out', irVersion: 1 })) as { nodes: { params?: Record<string, unknown> }[] };
        reordered.nodes[0]!.params = { init: 'glorot_uniform', useBias: true, units: 32 };
        const second = await library.putBlueprint({ ir: reordered as unknown as BlueprintIRInput, submittedBy: 'operator:ann', blueprintId: 'mlp-a-copy' });
        expect(second).to.deep.equal({ ...first, created: false });
        expect(await count(db, 'blueprints')).to.equal(1);
        const stored = await library.getBlueprint(first.blueprintId);
        expect(BlueprintRecordSchema.parse(stored)).to.include({ name: 'mlp_a', submittedBy: 'karn', irHash: first.irHash });
      });

      it('refuses an id taken by another IR, an unknown parent, a bad IR and a wrong irHash', async () => {
        await library.putBlueprint({ ir: denseIr('one'), submittedBy: 'karn', blueprintId: 'catalog-one' });
        const taken = await rejectsWith(library.putBlueprint({ ir: denseIr('two'), submittedBy: 'karn', blueprintId: 'catalog-one' }), 'ESPER_CONFLICT');
        expect(taken.details).to.include({ blueprintId: 'catalog-one' });
        await rejectsWith(library.putBlueprint({ ir: denseIr('three'), submittedBy: 'karn', parentBlueprintId: 'bp-missing' }), 'ESPER_NOT_FOUND');
        await rejectsWith(library.putBlueprint({ ir: { ...denseIr('four'), output: 'nowhere' }, submittedBy: 'karn' }), 'ESPER_SCHEMA_VIOLATION');
        await rejectsWith(library.putBlueprint({ ir: denseIr('five'), submittedBy: 'karn', irHash: 'f'.repeat(64) }), 'ESPER_SCHEMA_VIOLATION');
        expect(await count(db, 'blueprints')).to.equal(1);
      });

      it('moves along SUBMITTED → COMPILING → COMPILED | INVALID and refuses other moves', async () => {
        const a = await library.putBlueprint({ ir: denseIr('a'), submittedBy: 'karn' });
        expect(await library.setBlueprintStatus(a.blueprintId, 'COMPILING')).to.deep.equal({ id: a.blueprintId, from: 'SUBMITTED', to: 'COMPILING', changed: true });
        expect((await library.setBlueprintStatus(a.blueprintId, 'COMPILING')).changed, 'a repeat is a no-op').to.equal(false);
        await library.setBlueprintStatus(a.blueprintId, 'COMPILED');
        const refused = await rejectsWith(library.setBlueprintStatus(a.blueprintId, 'SUBMITTED'), 'ESPER_CONFLICT');
        expect(refused.details).to.deep.include({ from: 'COMPILED', to: 'SUBMITTED' });
        const b = await library.putBlueprint({ ir: denseIr('b'), submittedBy: 'karn' });
        await library.setBlueprintStatus(b.blueprintId, 'INVALID', ['12M parameters exceed the 1M budget']);
        const invalid = await library.getBlueprint(b.blueprintId);
        expect(invalid).to.include({ status: 'INVALID' });
        expect(invalid!.invalidReasons).to.deep.equal(['12M parameters exceed the 1M budget']);
        expect(invalid!.updatedAt > invalid!.createdAt).to.equal(true);
        await rejectsWith(library.setBlueprintStatus(b.blueprintId, 'COMPILING'), 'ESPER_CONFLICT');
        await rejectsWith(library.setBlueprintStatus('bp-nope', 'COMPILING'), 'ESPER_NOT_FOUND');
      });

      it('filters by status, tags (all of them), interface and name, and pages with a cursor', async () => {
        const a = await library.putBlueprint({ ir: denseIr('alpha', { tags: ['mlp', 'small'] }), submittedBy: 'karn' });
        const b = await library.putBlueprint({ ir: denseIr('beta', { tags: ['mlp'] }), submittedBy: 'karn' });
        const c = await library.putBlueprint({ ir: denseIr('gamma', { tags: ['mlp', 'small'], features: 128 }), submittedBy: 'karn' });
        await library.setBlueprintStatus(b.blueprintId, 'COMPILING');
        const ids = (reply: { blueprints: { blueprintId: string }[] }): string[] => reply.blueprints.map((x) => x.blueprintId);
        expect(ids(await library.queryBlueprints({}))).to.deep.equal([a.blueprintId, b.blueprintId, c.blueprintId]);
        expect(ids(await library.queryBlueprints({ status: 'COMPILING' }))).to.deep.equal([b.blueprintId]);
        expect(ids(await library.queryBlueprints({ tags: ['mlp', 'small'] }))).to.deep.equal([a.blueprintId, c.blueprintId]);
        expect(ids(await library.queryBlueprints({ tags: ['small', 'absent'] }))).to.deep.equal([]);
        const wide: SlotInterface = { kind: 'dense', inputShape: [128], outputShape: [128], dtype: 'float32' };
        expect(ids(await library.queryBlueprints({ interface: wide }))).to.deep.equal([c.blueprintId]);
        expect(ids(await library.queryBlueprints({ name: 'beta' }))).to.deep.equal([b.blueprintId]);
        const withIr = await library.queryBlueprints({ blueprintId: a.blueprintId, includeIr: true });
        expect(withIr.blueprints[0]!.ir!.name).to.equal('alpha');
        expect((await library.queryBlueprints({ blueprintId: a.blueprintId })).blueprints[0]!.ir).to.equal(undefined);
        const page1 = await library.queryBlueprints({ limit: 2 });
        expect(ids(page1)).to.deep.equal([a.blueprintId, b.blueprintId]);
        const page2 = await library.queryBlueprints({ limit: 2, cursor: page1.nextCursor! });
        expect(ids(page2)).to.deep.equal([c.blueprintId]);
        expect(page2.nextCursor).to.equal(undefined);
        await rejectsWith(library.queryBlueprints({ cursor: 'garbage' }), 'ESPER_SCHEMA_VIOLATION');
        for (const record of page1.blueprints) BlueprintRecordSchema.parse(record);
      });

      it('records lineage: ancestors parent first, descendants by generation', async () => {
        const root = await library.putBlueprint({ ir: denseIr('root'), submittedBy: 'karn' });
        const child = await library.putBlueprint({ ir: denseIr('child'), submittedBy: 'karn', parentBlueprintId: root.blueprintId });
        const sibling = await library.putBlueprint({ ir: denseIr('sibling'), submittedBy: 'karn', parentBlueprintId: root.blueprintId });
        const grandchild = await library.putBlueprint({ ir: denseIr('grandchild'), submittedBy: 'karn', parentBlueprintId: child.blueprintId });
        const ofChild = await library.lineage(child.blueprintId);
        expect(ofChild.blueprint.parentBlueprintId).to.equal(root.blueprintId);
        expect(ofChild.ancestors.map((b) => b.name)).to.deep.equal(['root']);
        expect(ofChild.descendants.map((b) => b.name)).to.deep.equal(['grandchild']);
        const ofGrandchild = await library.lineage(grandchild.blueprintId);
        expect(ofGrandchild.ancestors.map((b) => b.blueprintId)).to.deep.equal([child.blueprintId, root.blueprintId]);
        const ofRoot = await library.lineage(root.blueprintId);
        expect(ofRoot.ancestors).to.deep.equal([]);
        expect(ofRoot.descendants.map((b) => b.blueprintId)).to.deep.equal([child.blueprintId, sibling.blueprintId, grandchild.blueprintId]);
        await rejectsWith(library.lineage('bp-unknown'), 'ESPER_NOT_FOUND');
      });
    });

    describe('kernels', () => {
      it('stores the same kernel once; the same id with other content, or another IR, is a conflict', async () => {
        const bp = await library.putBlueprint({ ir: denseIr('k'), submittedBy: 'karn' });
        const kernel = kernelOf(bp, 64);
        expect(await library.putKernel(kernel)).to.deep.equal({ kernelId: kernel.kernelId, created: true });
        expect(await library.putKernel(kernel)).to.deep.equal({ kernelId: kernel.kernelId, created: false });
        // The same content compiled again later (a redelivered compile job) is the stored kernel, not a conflict.
        const recompiled = { ...kernel, createdAt: new Date(Date.parse(kernel.createdAt) + 60_000).toISOString() };
        expect(await library.putKernel(recompiled)).to.deep.equal({ kernelId: kernel.kernelId, created: false });
        expect(await count(db, 'kernels')).to.equal(1);
        await rejectsWith(library.putKernel({ ...kernel, flops: 9999 }), 'ESPER_CONFLICT');
        await rejectsWith(library.putKernel(kernelOf(bp, 64, { kernelId: 'k-other', irHash: 'e'.repeat(64) })), 'ESPER_CONFLICT');
        await rejectsWith(library.putKernel(kernelOf({ ...bp, blueprintId: 'bp-ghost' }, 64, { kernelId: 'k-ghost' })), 'ESPER_NOT_FOUND');
        const stored = await library.getKernel(kernel.kernelId);
        expect(KernelRecordSchema.parse(stored)).to.deep.equal({ ...kernel, tags: [] });
      });

      it('is immutable and never deleted, even by hand-written SQL', async () => {
        const bp = await library.putBlueprint({ ir: denseIr('frozen'), submittedBy: 'karn' });
        const kernel = kernelOf(bp, 64);
        await library.putKernel(kernel);
        await rejectsWith(db.query('UPDATE kernels SET flops = 1 WHERE kernel_id = $1', [kernel.kernelId]), 'ESPER_CONFLICT');
        await rejectsWith(db.query('DELETE FROM kernels WHERE kernel_id = $1', [kernel.kernelId]), 'ESPER_CONFLICT');
        expect((await library.getKernel(kernel.kernelId))!.flops).to.equal(2000);
      });

      it('applies validation reports: stored once, newest wins, a REJECTED kernel stays rejected', async () => {
        const bp = await library.putBlueprint({ ir: denseIr('v'), submittedBy: 'karn' });
        const kernel = kernelOf(bp, 64);
        await library.putKernel(kernel);
        const ok = reportOf(kernel.kernelId, 'VALIDATED', 0.1, 2, at(10));
        expect(await library.setKernelValidation(ok)).to.deep.equal({ id: kernel.kernelId, from: 'PENDING_VALIDATION', to: 'VALIDATED', changed: true });
        expect((await library.setKernelValidation(ok)).changed, 'redelivered').to.equal(false);
        expect(await library.validationReports(kernel.kernelId)).to.have.length(1);
        const record = await library.getKernel(kernel.kernelId);
        expect(record!.validation).to.deep.equal({ riskScore: 0.1, latencyP50Ms: 2, latencyP99Ms: 4, validatedAt: at(10) });
        // An older report is archived, not applied.
        const stale = reportOf(kernel.kernelId, 'REJECTED', 0.9, 50, at(5));
        expect((await library.setKernelValidation(stale)).changed).to.equal(false);
        expect((await library.getKernel(kernel.kernelId))!.status).to.equal('VALIDATED');
        // A newer rejection downgrades it; nothing revives it.
        await library.setKernelValidation(reportOf(kernel.kernelId, 'REJECTED', 0.8, 3, at(20)));
        expect((await library.getKernel(kernel.kernelId))!.status).to.equal('REJECTED');
        await rejectsWith(library.setKernelValidation(reportOf(kernel.kernelId, 'VALIDATED', 0.05, 1, at(30))), 'ESPER_CONFLICT');
        expect(await library.validationReports(kernel.kernelId)).to.have.length(3);
        await rejectsWith(library.setKernelValidation(reportOf('k-unknown', 'VALIDATED', 0.1, 1, at(1))), 'ESPER_NOT_FOUND');
      });

      it('answers kernel queries by blueprint, interface, status, tags, params, latency and risk', async () => {
        const a = await library.putBlueprint({ ir: denseIr('qa', { tags: ['mlp', 'fast'] }), submittedBy: 'karn' });
        const b = await library.putBlueprint({ ir: denseIr('qb', { tags: ['mlp'], features: 128 }), submittedBy: 'karn' });
        const k1 = kernelOf(a, 64, { backend: 'wasm', paramCount: 500, createdAt: at(1) });
        const k2 = kernelOf(a, 64, { backend: 'cpu', paramCount: 5000, createdAt: at(2) });
        const k3 = kernelOf(b, 128, { backend: 'wasm', paramCount: 800, createdAt: at(3) });
        const k4 = kernelOf(b, 128, { backend: 'cpu', paramCount: 100, createdAt: at(4) });
        for (const k of [k1, k2, k3, k4]) await library.putKernel(k);
        await library.setKernelValidation(reportOf(k1.kernelId, 'VALIDATED', 0.1, 2, at(10)));
        await library.setKernelValidation(reportOf(k2.kernelId, 'VALIDATED', 0.25, 9, at(10)));
        await library.setKernelValidation(reportOf(k3.kernelId, 'REJECTED', 0.7, 1, at(10)));
        const ids = async (query: Parameters<UrzaLibrary['queryKernels']>[0]): Promise<string[]> =>
          (await library.queryKernels(query)).kernels.map((k) => k.kernelId);
        expect(await ids({})).to.deep.equal([k1, k2, k3, k4].map((k) => k.kernelId));
        expect(await ids({ blueprintId: a.blueprintId })).to.deep.equal([k1.kernelId, k2.kernelId]);
        expect(await ids({ interface: k3.interface })).to.deep.equal([k3.kernelId, k4.kernelId]);
        expect(await ids({ status: 'VALIDATED' })).to.deep.equal([k1.kernelId, k2.kernelId]);
        expect(await ids({ status: 'PENDING_VALIDATION' })).to.deep.equal([k4.kernelId]);
        expect(await ids({ tags: ['fast'] })).to.deep.equal([k1.kernelId, k2.kernelId]);
        expect(await ids({ tags: ['mlp', 'fast'], maxParams: 1000 })).to.deep.equal([k1.kernelId]);
        expect(await ids({ maxParams: 800 })).to.deep.equal([k1.kernelId, k3.kernelId, k4.kernelId]);
        expect(await ids({ maxLatencyMs: 5 }), 'unvalidated kernels have no latency').to.deep.equal([k1.kernelId, k3.kernelId]);
        expect(await ids({ maxRisk: 0.3 })).to.deep.equal([k1.kernelId, k2.kernelId]);
        expect(await ids({ interface: k1.interface, status: 'VALIDATED', maxRisk: 0.3, maxLatencyMs: 5 })).to.deep.equal([k1.kernelId]);
        expect(await ids({ kernelId: k4.kernelId })).to.deep.equal([k4.kernelId]);
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await library.queryKernels({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
          seen.push(...page.kernels.map((k) => k.kernelId));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        expect(seen).to.deep.equal([k1, k2, k3, k4].map((k) => k.kernelId));
        const first = (await library.queryKernels({ kernelId: k1.kernelId })).kernels[0]!;
        expect(KernelRecordSchema.parse(first).tags).to.deep.equal(['mlp', 'fast']);
      });
    });

    describe('events', () => {
      it('keeps each run in order with a gapless seq and stores a redelivered event once', async () => {
        const batch = [eventOf('e1', 'r1', 1), eventOf('e2', 'r2', 1), eventOf('e3', 'r1', 2), eventOf('e4', undefined, 1), eventOf('e5', 'r1', 3)];
        expect(await library.appendEvents(batch)).to.deep.equal({ stored: 5, duplicates: 0 });
        // Redelivery of two old events with one new one, and a duplicate inside the batch.
        const again = [eventOf('e3', 'r1', 2), eventOf('e6', 'r1', 4), eventOf('e1', 'r1', 1), eventOf('e6', 'r1', 4)];
        expect(await library.appendEvents(again)).to.deep.equal({ stored: 1, duplicates: 3 });
        const r1 = await library.eventsOfRun('r1');
        expect(r1.map((e) => [e.seq, e.event.id])).to.deep.equal([[1, 'e1'], [2, 'e3'], [3, 'e5'], [4, 'e6']]);
        expect(r1[0]!.event).to.deep.equal(batch[0]);
        expect((await library.eventsOfRun('r2')).map((e) => e.event.id)).to.deep.equal(['e2']);
        const none = await library.eventsOfRun(NO_RUN);
        expect(none.map((e) => e.event)).to.deep.equal([batch[3]]);
        expect((await library.eventsOfRun('r1', { afterSeq: 2 })).map((e) => e.seq)).to.deep.equal([3, 4]);
        expect(await count(db, 'events')).to.equal(6);
        await rejectsWith(db.query("UPDATE events SET type = 'x.y' WHERE id = 'e1'"), 'ESPER_CONFLICT');
        await rejectsWith(db.query("DELETE FROM events WHERE id = 'e1'"), 'ESPER_CONFLICT');
        await rejectsWith(library.appendEvents([{ ...eventOf('bad', 'r1', 1), type: 'NotNamespaced' }]), 'ESPER_SCHEMA_VIOLATION');
      });

      it('files the FieldReport of a tamiyo.field_report event for Karn, once, and skips a malformed one', async () => {
        const report: FieldReport = {
          commandId: 'cmd-fr',
          runId: 'fr',
          seedId: 'seed-h1',
          blueprintId: 'mlp_deep',
          kernelId: 'k'.repeat(64),
          outcome: 'SUCCESS',
          metrics: { contributionPp: 3.5, paramsAdded: 771 },
          observationWindow: { fromEpoch: 11, toEpoch: 17 },
          policyVersion: 'heuristic@1',
          createdAt: at(17),
        };
        const event = (id: string, data: unknown): Envelope => ({ ...eventOf(id, 'fr', 1), type: 'tamiyo.field_report', data });
        expect(await library.appendEvents([event('fr-1', report), event('fr-2', { not: 'a report' })])).to.deep.equal({ stored: 2, duplicates: 0 });
        expect(await library.appendEvents([event('fr-1', report)])).to.deep.equal({ stored: 0, duplicates: 1 });
        expect(await library.fieldReports({ runId: 'fr' })).to.deep.equal([report]);
        expect((await library.putFieldReport(report)).created, 'already filed').to.equal(false);
      });

      it('numbers concurrent appends to one run without gaps or collisions', async () => {
        const batches = [0, 1, 2, 3, 4].map((b) => [0, 1, 2, 3].map((i) => eventOf(`b${b}-${i}`, 'busy', b * 4 + i)));
        const results = await Promise.all(batches.map((events) => library.appendEvents(events)));
        expect(results.reduce((n, r) => n + r.stored, 0)).to.equal(20);
        const stored = await library.eventsOfRun('busy');
        expect(stored.map((e) => e.seq)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
        for (const batch of batches) {
          const positions = batch.map((e) => stored.findIndex((s) => s.event.id === e.id));
          expect(positions, 'a batch keeps its order').to.deep.equal([...positions].sort((x, y) => x - y));
        }
      });
    });

    describe('reports, runs and checkpoints', () => {
      it('stores field reports and checkpoints once, and keeps the newest run status', async () => {
        const field: FieldReport = {
          commandId: 'cmd-1',
          runId: 'r1',
          seedId: 's0',
          blueprintId: 'bp-x',
          outcome: 'SUCCESS',
          metrics: { improvementPp: 0.6 },
          observationWindow: { fromEpoch: 3, toEpoch: 8 },
          policyVersion: 'heuristic-1',
          createdAt: at(8),
        };
        expect((await library.putFieldReport(field)).created).to.equal(true);
        expect((await library.putFieldReport(field)).created).to.equal(false);
        expect(await library.fieldReports({ blueprintId: 'bp-x' })).to.deep.equal([field]);
        const checkpoint: CheckpointMetadata = { checkpointId: 'ck-1', runId: 'r1', epoch: 3, globalStep: 300, hash: 'b'.repeat(64), sizeBytes: 1234, createdAt: at(3), reason: 'epoch' };
        expect((await library.putCheckpoint(checkpoint)).created).to.equal(true);
        expect((await library.putCheckpoint(checkpoint)).created).to.equal(false);
        await rejectsWith(library.putCheckpoint({ ...checkpoint, hash: 'c'.repeat(64) }), 'ESPER_CONFLICT');
        expect(await library.checkpointsOfRun('r1')).to.deep.equal([checkpoint]);
        const running: RunStatus = { runId: 'r1', state: 'running', epoch: 3, updatedAt: at(3) };
        await library.putRun(running, { epochs: 10 });
        await library.putRun({ ...running, state: 'completed', epoch: 10, updatedAt: at(10) });
        await library.putRun({ ...running, state: 'paused', updatedAt: at(5) }); // late and stale: ignored
        const run = await library.getRun('r1');
        expect(run!.status).to.deep.include({ state: 'completed', epoch: 10 });
        expect(run!.config).to.deep.equal({ epochs: 10 });
        expect(await library.getRun('r-none')).to.equal(null);
      });
    });
  });
}

/**
 * After `runs/r1/r1-ckpt-0.ckpt` was deleted from `store`: it is gone for
 * has/get, deleting it (or a never-stored key) again answers false, and the
 * key can be written again with other bytes; a bad key is refused.
 */
export async function expectDeletedKeyFree(store: ArtifactStore): Promise<void> {
  const key = 'runs/r1/r1-ckpt-0.ckpt';
  expect(await store.has(key)).to.equal(false);
  await rejectsWith(store.get(key), 'ESPER_NOT_FOUND');
  expect(await store.delete(key)).to.equal(false);
  expect(await store.delete('never/stored.bin')).to.equal(false);
  await store.put(key, new Uint8Array([9]));
  expect(Array.from(await store.get(key))).to.deep.equal([9]);
  await rejectsWith(store.delete('../escape'), 'ESPER_SCHEMA_VIOLATION');
}
