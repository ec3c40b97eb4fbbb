/**
 * Urza's library (DESIGN §1, §6): the single source of truth for blueprints,
 * kernels, validation and field reports, runs, checkpoint metadata and the
 * event store, over any {@link Database} (PostgreSQL or PGlite, same SQL).
 *
 * Every write is idempotent, so the outbox may replay it: the same IR is one
 * blueprint (its id is returned again), the same kernel id one kernel, the
 * same report (by content hash) one report, the same event id one event.
 * What contradicts the store (an id taken by other content, a refused status
 * change) is ESPER_CONFLICT; an unknown reference is ESPER_NOT_FOUND.
 */
import {
  BlueprintIRSchema,
  BlueprintQuerySchema,
  CheckpointMetadataSchema,
  EnvelopeSchema,
  FIELD_REPORT_EVENT_TYPE,
  FieldReportSchema,
  KernelMetadataSchema,
  KernelQuerySchema,
  RunStatusSchema,
  ValidationReportSchema,
  slotInterfaceKey,
  type BlueprintIRInput,
  type BlueprintQueryReply,
  type BlueprintRecord,
  type BlueprintStatus,
  type CheckpointMetadata,
  type Envelope,
  type FieldReport,
  type KernelMetadata,
  type KernelQueryReply,
  type KernelRecord,
  type KernelStatus,
  type RunStatus,
  type ValidationReport,
} from '../../contracts/index.ts';
import type { z } from 'zod';
import { EsperError, InputError } from '../../errors/index.ts';
import type { Database, Queryable } from '../../infra/db/index.ts';
import { assertBlueprintTransition, assertVerdict } from './lifecycle.ts';
import {
  BLUEPRINT_COLUMNS,
  KERNEL_COLUMNS,
  Params,
  blueprintRecord,
  checkpointMetadata,
  contentHash,
  decodeCursor,
  defaultBlueprintId,
  encodeCursor,
  eventEnvelope,
  iso,
  kernelRecord,
  parseOrThrow,
  type BlueprintRow,
  type CheckpointRow,
  type EventRow,
  type KernelRow,
} from './rows.ts';
import { canonicalJson } from '../../infra/content-hash.ts';

/** The `run_id` of events that belong to no run. */
export const NO_RUN = '';
/** Most events one `eventsOfRun` call returns. @default */
export const DEFAULT_EVENTS_LIMIT = 10_000;
/** Deepest lineage walked (a guard; lineage cannot cycle). */
export const MAX_LINEAGE_DEPTH = 1000;

/** A blueprint to store: a BlueprintIR plus who submitted it. */
export interface PutBlueprintInput {
  ir: BlueprintIRInput;
  /** `karn`, `operator:<name>`, … */
  submittedBy: string;
  /** The blueprint it mutates (must exist). */
  parentBlueprintId?: string | undefined;
  /** Id to use (a catalog name). @default `bp-` + 16 hex digits of the IR hash */
  blueprintId?: string | undefined;
  /** When given, must equal the sha256 of the IR's canonical JSON. */
  irHash?: string | undefined;
}

/** What `putBlueprint` did. */
export interface PutBlueprintResult {
  blueprintId: string;
  irHash: string;
  status: BlueprintStatus;
  /** False when the IR was already stored (the existing blueprint is returned). */
  created: boolean;
}

/** What a status change did. */
export interface StatusChange<S extends string> {
  id: string;
  from: S;
  to: S;
  /** False when the record already had that status (or a stale report was only archived). */
  changed: boolean;
}

/** A blueprint with its ancestry and offspring. */
export interface Lineage {
  blueprint: BlueprintRecord;
  /** Parent first, the root last. */
  ancestors: BlueprintRecord[];
  /** Children first, then grandchildren, …; each level in creation order. */
  descendants: BlueprintRecord[];
}

/** An event as stored, with its place in its run. */
export interface StoredEvent {
  /** 1, 2, 3, … within its run, gapless. */
  seq: number;
  event: Envelope;
}

/** What `appendEvents` did. */
export interface AppendResult {
  stored: number;
  /** Events whose id was already stored (skipped). */
  duplicates: number;
}

/** A run as stored. */
export interface RunRecord {
  status: RunStatus;
  config?: unknown;
  createdAt: string;
}

/** Options of {@link UrzaLibrary}. */
export interface UrzaLibraryOptions {
  /** Time source of `createdAt`/`updatedAt`. @default () => new Date() */
  now?: () => Date;
}

function notFound(what: string, id: string): InputError {
  return new InputError('ESPER_NOT_FOUND', `${what} ${id} does not exist`, { details: { [`${what}Id`]: id } });
}

/** The repository of Urza. Stateless apart from its database handle. */
export class UrzaLibrary {
  readonly db: Database;
  readonly #now: () => Date;

  constructor(db: Database, options: UrzaLibraryOptions = {}) {
    this.db = db;
    this.#now = options.now ?? ((): Date => new Date());
  }

  #stamp(): string {
    return this.#now().toISOString();
  }

  // ------------------------------------------------------------ blueprints

  /** Stores a blueprint, idempotent on its IR: the same IR again returns the stored blueprint. */
  async putBlueprint(input: PutBlueprintInput): Promise<PutBlueprintResult> {
    const ir = parseOrThrow(BlueprintIRSchema, input.ir, 'blueprint IR');
    const irHash = contentHash(ir);
    if (input.irHash !== undefined && input.irHash !== irHash) {
      throw new InputError('ESPER_SCHEMA_VIOLATION', `irHash ${input.irHash} is not the hash of this IR (${irHash})`, {
        details: { issues: [`irHash: expected ${irHash}`] },
      });
    }
    const blueprintId = input.blueprintId ?? defaultBlueprintId(irHash);
    return this.db.transaction(async (tx) => {
      const existing = await this.#blueprintByHash(tx, irHash);
      if (existing !== undefined) return { ...existing, created: false };
      const parent = input.parentBlueprintId;
      if (parent !== undefined && (await tx.query('SELECT 1 FROM blueprints WHERE id = $1', [parent])).rows.length === 0) {
        throw notFound('blueprint', parent);
      }
      const now = this.#stamp();
      const p = new Params();
      const inserted = await tx.query(
        `INSERT INTO blueprints (id, name, ir, ir_hash, status, tags, interface, interface_key, submitted_by, parent_id, created_at, updated_at)
         VALUES (${p.add(blueprintId)}, ${p.add(ir.name)}, ${p.json(ir)}, ${p.add(irHash)}, 'SUBMITTED', ${p.json(ir.tags)},
                 ${p.json(ir.interface)}, ${p.add(slotInterfaceKey(ir.interface))}, ${p.add(input.submittedBy)}, ${p.add(parent ?? null)},
                 ${p.add(now)}::timestamptz, ${p.add(now)}::timestamptz)
         ON CONFLICT DO NOTHING RETURNING id`,
        p.values,
      );
      if (inserted.rows.length === 1) return { blueprintId, irHash, status: 'SUBMITTED', created: true };
      const raced = await this.#blueprintByHash(tx, irHash);
      if (raced !== undefined) return { ...raced, created: false };
      throw new EsperError('ESPER_CONFLICT', `blueprint id ${blueprintId} is taken by another IR`, { details: { blueprintId, irHash } });
    });
  }

  async #blueprintByHash(tx: Queryable, irHash: string): Promise<Omit<PutBlueprintResult, 'created'> | undefined> {
    const { rows } = await tx.query<{ id: string; status: BlueprintStatus }>('SELECT id, status FROM blueprints WHERE ir_hash = $1', [irHash]);
    const row = rows[0];
    return row === undefined ? undefined : { blueprintId: row.id, irHash, status: row.status };
  }

  /** Moves a blueprint along its lifecycle (lifecycle.ts); `reasons` explain an INVALID. */
  async setBlueprintStatus(blueprintId: string, status: BlueprintStatus, reasons: readonly string[] = []): Promise<StatusChange<BlueprintStatus>> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ status: BlueprintStatus }>('SELECT status FROM blueprints WHERE id = $1 FOR UPDATE', [blueprintId]);
      const from = rows[0]?.status;
      if (from === undefined) throw notFound('blueprint', blueprintId);
      assertBlueprintTransition(blueprintId, from, status);
      if (from === status) return { id: blueprintId, from, to: status, changed: false };
      const p = new Params();
      await tx.query(
        `UPDATE blueprints SET status = ${p.add(status)}, updated_at = ${p.add(this.#stamp())}::timestamptz,
           invalid_reasons = ${status === 'INVALID' ? p.json(reasons) : 'NULL'}
         WHERE id = ${p.add(blueprintId)}`,
        p.values,
      );
      return { id: blueprintId, from, to: status, changed: true };
    });
  }

  /** One blueprint (with its IR), or null. */
  async getBlueprint(blueprintId: string): Promise<BlueprintRecord | null> {
    const { rows } = await this.db.query<BlueprintRow>(`SELECT ${BLUEPRINT_COLUMNS}, b.ir FROM blueprints b WHERE b.id = $1`, [blueprintId]);
    return rows[0] === undefined ? null : blueprintRecord(rows[0]);
  }

  /** The `ctl.urza.blueprints` query: filters AND-ed, oldest first, paged by cursor. */
  async queryBlueprints(query: z.input<typeof BlueprintQuerySchema> = {}): Promise<BlueprintQueryReply> {
    const q = parseOrThrow(BlueprintQuerySchema, query, 'blueprint query');
    const p = new Params();
    const where: string[] = [];
    if (q.blueprintId !== undefined) where.push(`b.id = ${p.add(q.blueprintId)}`);
    if (q.name !== undefined) where.push(`b.name = ${p.add(q.name)}`);
    if (q.status !== undefined) where.push(`b.status = ${p.add(q.status)}`);
    if (q.tags !== undefined && q.tags.length > 0) where.push(`b.tags @> ${p.json(q.tags)}`);
    if (q.interface !== undefined) where.push(`b.interface_key = ${p.add(slotInterfaceKey(q.interface))}`);
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      where.push(`(b.created_at, b.id) > (${p.add(c.at)}::timestamptz, ${p.add(c.id)})`);
    }
    const { rows } = await this.db.query<BlueprintRow>(
      `SELECT ${BLUEPRINT_COLUMNS}${q.includeIr ? ', b.ir' : ''} FROM blueprints b
       ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
       ORDER BY b.created_at, b.id LIMIT ${p.add(q.limit + 1)}`,
      p.values,
    );
    const page = rows.slice(0, q.limit);
    const reply: BlueprintQueryReply = { blueprints: page.map(blueprintRecord) };
    const last = page[page.length - 1];
    if (rows.length > q.limit && last !== undefined) reply.nextCursor = encodeCursor({ at: iso(last.created_at), id: last.id });
    return reply;
  }

  /** The blueprint, its ancestors (parent first) and its descendants. ESPER_NOT_FOUND when unknown. */
  async lineage(blueprintId: string): Promise<Lineage> {
    const blueprint = await this.getBlueprint(blueprintId);
    if (blueprint === null) throw notFound('blueprint', blueprintId);
    const ancestors = await this.db.query<BlueprintRow>(
      `WITH RECURSIVE chain (id, parent_id, depth) AS (
         SELECT id, parent_id, 0 FROM blueprints WHERE id = $1
         UNION ALL
         SELECT b.id, b.parent_id, c.depth + 1 FROM blueprints b JOIN chain c ON b.id = c.parent_id WHERE c.depth < $2
       )
       SELECT ${BLUEPRINT_COLUMNS} FROM chain c JOIN blueprints b ON b.id = c.id WHERE c.depth > 0 ORDER BY c.depth`,
      [blueprintId, MAX_LINEAGE_DEPTH],
    );
    const descendants = await this.db.query<BlueprintRow>(
      `WITH RECURSIVE tree (id, depth) AS (
         SELECT id, 1 FROM blueprints WHERE parent_id = $1
         UNION ALL
         SELECT b.id, t.depth + 1 FROM blueprints b JOIN tree t ON b.parent_id = t.id WHERE t.depth < $2
       )
       SELECT ${BLUEPRINT_COLUMNS} FROM tree t JOIN blueprints b ON b.id = t.id ORDER BY t.depth, b.created_at, b.id`,
      [blueprintId, MAX_LINEAGE_DEPTH],
    );
    return { blueprint, ancestors: ancestors.rows.map(blueprintRecord), descendants: descendants.rows.map(blueprintRecord) };
  }

  // ------------------------------------------------------------ kernels

  /**
   * Stores a compiled kernel, idempotent on its id. Its blueprint must exist
   * with the same IR hash; a kernel id already stored with other content is
   * ESPER_CONFLICT (kernels are immutable). The same content compiled again
   * (a compile job redelivered after its ack was lost) is the stored kernel,
   * whatever its own `createdAt`: the first stays.
   */
  async putKernel(kernel: KernelMetadata): Promise<{ kernelId: string; created: boolean }> {
    const k = parseOrThrow(KernelMetadataSchema, kernel, 'kernel metadata');
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ ir_hash: string }>('SELECT ir_hash FROM blueprints WHERE id = $1', [k.blueprintId]);
      const blueprint = rows[0];
      if (blueprint === undefined) throw notFound('blueprint', k.blueprintId);
      if (blueprint.ir_hash !== k.irHash) {
        throw new EsperError('ESPER_CONFLICT', `kernel ${k.kernelId} was built from IR ${k.irHash}, not blueprint ${k.blueprintId}'s (${blueprint.ir_hash})`, {
          details: { kernelId: k.kernelId, blueprintId: k.blueprintId, irHash: k.irHash, blueprintIrHash: blueprint.ir_hash },
        });
      }
      const p = new Params();
      const inserted = await tx.query(
        `INSERT INTO kernels (kernel_id, blueprint_id, ir_hash, compiler_version, backend, tier, interface, interface_key,
                              param_count, flops, memory_bytes, artifact, status, created_at)
         VALUES (${p.add(k.kernelId)}, ${p.add(k.blueprintId)}, ${p.add(k.irHash)}, ${p.add(k.compilerVersion)}, ${p.add(k.backend)},
                 ${p.add(k.tier)}, ${p.json(k.interface)}, ${p.add(slotInterfaceKey(k.interface))}, ${p.add(k.paramCount)}, ${p.add(k.flops)},
                 ${p.add(k.memoryBytes)}, ${p.json(k.artifactRef)}, ${p.add(k.status)}, ${p.add(iso(k.createdAt))}::timestamptz)
         ON CONFLICT (kernel_id) DO NOTHING RETURNING kernel_id`,
        p.values,
      );
      if (inserted.rows.length === 1) return { kernelId: k.kernelId, created: true };
      const stored = await this.#kernel(tx, k.kernelId);
      if (stored !== null && sameKernel(stored, k)) return { kernelId: k.kernelId, created: false };
      throw new EsperError('ESPER_CONFLICT', `kernel ${k.kernelId} is already stored with other content (kernels are immutable)`, { details: { kernelId: k.kernelId } });
    });
  }

  /**
   * Records a validation report and applies its verdict (lifecycle.ts). The
   * same report twice is stored once; a report older than the kernel's
   * latest is archived without changing the kernel.
   */
  async setKernelValidation(report: ValidationReport): Promise<StatusChange<KernelStatus>> {
    const r = parseOrThrow(ValidationReportSchema, report, 'validation report');
    const reportId = contentHash(r);
    const createdAt = iso(r.createdAt);
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ status: KernelStatus; validated_at: Date | null }>(
        'SELECT status, validated_at FROM kernels WHERE kernel_id = $1 FOR UPDATE',
        [r.kernelId],
      );
      const kernel = rows[0];
      if (kernel === undefined) throw notFound('kernel', r.kernelId);
      const from = kernel.status;
      const p = new Params();
      const inserted = await tx.query(
        `INSERT INTO validation_reports (report_id, kernel_id, job_id, status, risk_score, report, created_at)
         VALUES (${p.add(reportId)}, ${p.add(r.kernelId)}, ${p.add(r.jobId ?? null)}, ${p.add(r.status)}, ${p.add(r.riskScore)}, ${p.json(r)},
                 ${p.add(createdAt)}::timestamptz)
         ON CONFLICT (report_id) DO NOTHING RETURNING report_id`,
        p.values,
      );
      if (inserted.rows.length === 0) return { id: r.kernelId, from, to: from, changed: false };
      const stale = kernel.validated_at !== null && kernel.validated_at.getTime() > Date.parse(createdAt);
      if (stale) return { id: r.kernelId, from, to: from, changed: false };
      assertVerdict(r.kernelId, from, r.status);
      const u = new Params();
      await tx.query(
        `UPDATE kernels SET status = ${u.add(r.status)}, risk_score = ${u.add(r.riskScore)}, latency_p50_ms = ${u.add(r.latencyMs.p50)},
           latency_p99_ms = ${u.add(r.latencyMs.p99)}, validated_at = ${u.add(createdAt)}::timestamptz
         WHERE kernel_id = ${u.add(r.kernelId)}`,
        u.values,
      );
      return { id: r.kernelId, from, to: r.status, changed: from !== r.status };
    });
  }

  /** One kernel with its validation summary, or null. */
  getKernel(kernelId: string): Promise<KernelRecord | null> {
    return this.#kernel(this.db, kernelId);
  }

  async #kernel(q: Queryable, kernelId: string): Promise<KernelRecord | null> {
    const { rows } = await q.query<KernelRow>(`SELECT ${KERNEL_COLUMNS} FROM kernels k JOIN blueprints b ON b.id = k.blueprint_id WHERE k.kernel_id = $1`, [kernelId]);
    return rows[0] === undefined ? null : kernelRecord(rows[0]);
  }

  /** The `ctl.urza.kernels` query: filters AND-ed, oldest first, paged by cursor. */
  async queryKernels(query: z.input<typeof KernelQuerySchema> = {}): Promise<KernelQueryReply> {
    const q = parseOrThrow(KernelQuerySchema, query, 'kernel query');
    const p = new Params();
    const where: string[] = [];
    if (q.kernelId !== undefined) where.push(`k.kernel_id = ${p.add(q.kernelId)}`);
    if (q.blueprintId !== undefined) where.push(`k.blueprint_id = ${p.add(q.blueprintId)}`);
    if (q.interface !== undefined) where.push(`k.interface_key = ${p.add(slotInterfaceKey(q.interface))}`);
    if (q.status !== undefined) where.push(`k.status = ${p.add(q.status)}`);
    if (q.tags !== undefined && q.tags.length > 0) where.push(`b.tags @> ${p.json(q.tags)}`);
    if (q.maxParams !== undefined) where.push(`k.param_count <= ${p.add(q.maxParams)}`);
    if (q.maxLatencyMs !== undefined) where.push(`k.latency_p50_ms <= ${p.add(q.maxLatencyMs)}`);
    if (q.maxRisk !== undefined) where.push(`k.risk_score <= ${p.add(q.maxRisk)}`);
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      where.push(`(k.created_at, k.kernel_id) > (${p.add(c.at)}::timestamptz, ${p.add(c.id)})`);
    }
    const { rows } = await this.db.query<KernelRow>(
      `SELECT ${KERNEL_COLUMNS} FROM kernels k JOIN blueprints b ON b.id = k.blueprint_id
       ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
       ORDER BY k.created_at, k.kernel_id LIMIT ${p.add(q.limit + 1)}`,
      p.values,
    );
    const page = rows.slice(0, q.limit);
    const reply: KernelQueryReply = { kernels: page.map(kernelRecord) };
    const last = page[page.length - 1];
    if (rows.length > q.limit && last !== undefined) reply.nextCursor = encodeCursor({ at: iso(last.created_at), id: last.kernel_id });
    return reply;
  }

  /** Every validation report of a kernel, oldest first. */
  async validationReports(kernelId: string): Promise<ValidationReport[]> {
    const { rows } = await this.db.query<{ report: ValidationReport }>(
      'SELECT report FROM validation_reports WHERE kernel_id = $1 ORDER BY created_at, report_id',
      [kernelId],
    );
    return rows.map((row) => row.report);
  }

  // ------------------------------------------------------------ field reports, runs, checkpoints

  /** Stores a field report; the same report twice is stored once. */
  async putFieldReport(report: FieldReport): Promise<{ reportId: string; created: boolean }> {
    return this.#insertFieldReport(this.db, parseOrThrow(FieldReportSchema, report, 'field report'));
  }

  async #insertFieldReport(q: Queryable, r: FieldReport): Promise<{ reportId: string; created: boolean }> {
    const reportId = contentHash(r);
    const p = new Params();
    const inserted = await q.query(
      `INSERT INTO field_reports (report_id, command_id, run_id, seed_id, blueprint_id, kernel_id, outcome, report, created_at)
       VALUES (${p.add(reportId)}, ${p.add(r.commandId)}, ${p.add(r.runId ?? null)}, ${p.add(r.seedId)}, ${p.add(r.blueprintId)},
               ${p.add(r.kernelId ?? null)}, ${p.add(r.outcome)}, ${p.json(r)}, ${p.add(iso(r.createdAt ?? this.#stamp()))}::timestamptz)
       ON CONFLICT (report_id) DO NOTHING RETURNING report_id`,
      p.values,
    );
    return { reportId, created: inserted.rows.length === 1 };
  }

  /** Field reports, oldest first, optionally of one blueprint and/or run. */
  async fieldReports(filter: { blueprintId?: string; runId?: string; limit?: number } = {}): Promise<FieldReport[]> {
    const p = new Params();
    const where: string[] = [];
    if (filter.blueprintId !== undefined) where.push(`blueprint_id = ${p.add(filter.blueprintId)}`);
    if (filter.runId !== undefined) where.push(`run_id = ${p.add(filter.runId)}`);
    const { rows } = await this.db.query<{ report: FieldReport }>(
      `SELECT report FROM field_reports ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
       ORDER BY created_at, report_id LIMIT ${p.add(filter.limit ?? DEFAULT_EVENTS_LIMIT)}`,
      p.values,
    );
    return rows.map((row) => row.report);
  }

  /** Records a run's status snapshot (and its configuration); a snapshot older than the stored one is ignored. */
  async putRun(status: RunStatus, config?: unknown): Promise<void> {
    const s = parseOrThrow(RunStatusSchema, status, 'run status');
    const p = new Params();
    const now = this.#stamp();
    await this.db.query(
      `INSERT INTO runs (run_id, state, node_id, status, config, created_at, updated_at)
       VALUES (${p.add(s.runId)}, ${p.add(s.state)}, ${p.add(s.nodeId ?? null)}, ${p.json(s)}, ${config === undefined ? 'NULL' : p.json(config)},
               ${p.add(now)}::timestamptz, ${p.add(iso(s.updatedAt))}::timestamptz)
       ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, node_id = COALESCE(excluded.node_id, runs.node_id),
         status = excluded.status, config = COALESCE(excluded.config, runs.config), updated_at = excluded.updated_at
       WHERE runs.updated_at <= excluded.updated_at`,
      p.values,
    );
  }

  /** A run, or null. */
  async getRun(runId: string): Promise<RunRecord | null> {
    const { rows } = await this.db.query<{ status: RunStatus; config: unknown; created_at: Date }>(
      'SELECT status, config, created_at FROM runs WHERE run_id = $1',
      [runId],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return { status: row.status, createdAt: iso(row.created_at), ...(row.config === null ? {} : { config: row.config }) };
  }

  /** Stores checkpoint metadata, idempotent on its id; the same id with another hash is ESPER_CONFLICT. */
  async putCheckpoint(checkpoint: CheckpointMetadata): Promise<{ checkpointId: string; created: boolean }> {
    const c = parseOrThrow(CheckpointMetadataSchema, checkpoint, 'checkpoint metadata');
    const p = new Params();
    const inserted = await this.db.query(
      `INSERT INTO checkpoints (checkpoint_id, run_id, epoch, global_step, hash, size_bytes, reason, artifact, created_at)
       VALUES (${p.add(c.checkpointId)}, ${p.add(c.runId)}, ${p.add(c.epoch)}, ${p.add(c.globalStep ?? null)}, ${p.add(c.hash)},
               ${p.add(c.sizeBytes)}, ${p.add(c.reason)}, ${c.artifactRef === undefined ? 'NULL' : p.json(c.artifactRef)},
               ${p.add(iso(c.createdAt))}::timestamptz)
       ON CONFLICT (checkpoint_id) DO NOTHING RETURNING checkpoint_id`,
      p.values,
    );
    if (inserted.rows.length === 1) return { checkpointId: c.checkpointId, created: true };
    const { rows } = await this.db.query<{ hash: string }>('SELECT hash FROM checkpoints WHERE checkpoint_id = $1', [c.checkpointId]);
    if (rows[0]?.hash === c.hash) return { checkpointId: c.checkpointId, created: false };
    throw new EsperError('ESPER_CONFLICT', `checkpoint ${c.checkpointId} is already stored with another hash`, { details: { checkpointId: c.checkpointId } });
  }

  /** A run's checkpoints, by epoch then time. */
  async checkpointsOfRun(runId: string): Promise<CheckpointMetadata[]> {
    const { rows } = await this.db.query<CheckpointRow>(
      'SELECT * FROM checkpoints WHERE run_id = $1 ORDER BY epoch, created_at, checkpoint_id',
      [runId],
    );
    return rows.map(checkpointMetadata);
  }

  // ------------------------------------------------------------ events

  /**
   * Appends events to the store in the given order. Each run's events get
   * the next numbers of that run (gapless); an event whose id is stored
   * already is skipped, so redelivery stores nothing twice. Atomic: all or
   * nothing. A `tamiyo.field_report` event is also filed as a field report
   * ({@link UrzaLibrary.fieldReports}), in the same transaction: the event
   * log is how FieldReports reach the library and Karn.
   */
  async appendEvents(events: readonly Envelope[]): Promise<AppendResult> {
    const parsed = events.map((event, i) => parseOrThrow(EnvelopeSchema, event, `event ${i}`));
    if (parsed.length === 0) return { stored: 0, duplicates: 0 };
    return this.db.transaction(async (tx) => {
      // Locks in a fixed order, so two writers of overlapping runs cannot deadlock.
      const runs = [...new Set(parsed.map((e) => e.runId ?? NO_RUN))].sort();
      for (const run of runs) await tx.query("SELECT pg_advisory_xact_lock(hashtext('esper.events:' || $1::text))", [run]);
      let stored = 0;
      for (const e of parsed) {
        const p = new Params();
        const run = p.add(e.runId ?? NO_RUN);
        const inserted = await tx.query(
          `INSERT INTO events (run_id, seq, id, type, v, ts, source, correlation_id, causation_id, data)
           SELECT ${run}::text, COALESCE(MAX(seq), 0) + 1, ${p.add(e.id)}, ${p.add(e.type)}, ${p.add(e.v)}, ${p.add(iso(e.ts))}::timestamptz,
                  ${p.add(e.source)}, ${p.add(e.correlationId ?? null)}, ${p.add(e.causationId ?? null)}, ${p.json(e.data)}
           FROM events WHERE run_id = ${run}::text
           ON CONFLICT (id) DO NOTHING RETURNING seq`,
          p.values,
        );
        stored += inserted.rows.length;
        // A FieldReport in the event log is also filed for Karn (idempotent: the same report is stored once).
        if (e.type === FIELD_REPORT_EVENT_TYPE) {
          const report = FieldReportSchema.safeParse(e.data);
          if (report.success) await this.#insertFieldReport(tx, report.data);
        }
      }
      return { stored, duplicates: parsed.length - stored };
    });
  }

  /** A run's events in order (`NO_RUN` for events of no run), after `afterSeq`. */
  async eventsOfRun(runId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    const { rows } = await this.db.query<EventRow>(
      `SELECT run_id, seq, id, type, v, ts, source, correlation_id, causation_id, data
       FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [runId, options.afterSeq ?? 0, options.limit ?? DEFAULT_EVENTS_LIMIT],
    );
    return rows.map((row) => ({ seq: row.seq, event: eventEnvelope(row) }));
  }
}

/**
 * True when a stored kernel has the immutable content of `k` (status and
 * validation may differ, and so may `createdAt`: when a compile of the same
 * content ran is no part of the content).
 */
function sameKernel(stored: KernelRecord, k: KernelMetadata): boolean {
  const immutable = (m: KernelMetadata | KernelRecord): string =>
    canonicalJson({
      kernelId: m.kernelId,
      blueprintId: m.blueprintId,
      irHash: m.irHash,
      compilerVersion: m.compilerVersion,
      backend: m.backend,
      tier: m.tier,
      interface: m.interface,
      paramCount: m.paramCount,
      flops: m.flops,
      memoryBytes: m.memoryBytes,
      artifactRef: m.artifactRef,
    });
  return immutable(stored) === immutable(k);
}
