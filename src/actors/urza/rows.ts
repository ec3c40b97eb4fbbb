/**
 * Urza's encoding helpers: content hashes, the default blueprint id, query
 * cursors, and the mapping between table rows and contract records.
 */
import type { z } from 'zod';
import {
  formatZodIssues,
  type ArtifactRef,
  type BlueprintRecord,
  type BlueprintStatus,
  type CheckpointMetadata,
  type CompileTier,
  type Envelope,
  type KernelRecord,
  type KernelStatus,
  type SlotInterface,
} from '../../contracts/index.ts';
import { InputError } from '../../errors/index.ts';
import { canonicalJson, sha256Hex } from '../../infra/content-hash.ts';



/** sha256 of the canonical JSON of a value: the content address of IRs and reports. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** The id a blueprint gets when none is asked for: `bp-` and the first 16 hex digits of its IR hash. */
export function defaultBlueprintId(irHash: string): string {
  return `bp-${irHash.slice(0, 16)}`;
}

/** Parses with `schema` or throws ESPER_SCHEMA_VIOLATION listing every issue. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = formatZodIssues(result.error);
  throw new InputError('ESPER_SCHEMA_VIOLATION', `invalid ${what}: ${issues.join('; ')}`, { details: { issues } });
}

/** Position after the last row of a page: its creation time and id. */
export interface Cursor {
  readonly at: string;
  readonly id: string;
}

/** An opaque continuation token. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), 'utf8').toString('base64url');
}

/** Reads a token made by {@link encodeCursor}; ESPER_SCHEMA_VIOLATION when it is not one. */
export function decodeCursor(token: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && !Number.isNaN(Date.parse(value[0]))) {
      return { at: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new InputError('ESPER_SCHEMA_VIOLATION', 'cursor is not one this library returned', { details: { issues: ['cursor: not a valid continuation token'] } });
}

/** A timestamp column as an ISO string (drivers return `Date`). */
export function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(String(value)).toISOString();
}

/** Builds `$n` placeholders while collecting their values. */
export class Params {
  readonly values: unknown[] = [];
  /** Adds a value; returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  /** Adds a JSON value (as text, cast to jsonb). */
  json(value: unknown): string {
    return `${this.add(JSON.stringify(value ?? null))}::jsonb`;
  }
}

// ------------------------------------------------------------ blueprints

/** The columns every blueprint listing reads (`b` is the table alias). */
export const BLUEPRINT_COLUMNS =
  'b.id, b.name, b.ir_hash, b.status, b.tags, b.interface, b.submitted_by, b.parent_id, b.invalid_reasons, b.created_at, b.updated_at';

export interface BlueprintRow extends Record<string, unknown> {
  id: string;
  name: string;
  ir_hash: string;
  status: BlueprintStatus;
  tags: string[];
  interface: SlotInterface;
  submitted_by: string;
  parent_id: string | null;
  invalid_reasons: string[] | null;
  created_at: Date;
  updated_at: Date;
  ir?: unknown;
}

export function blueprintRecord(row: BlueprintRow): BlueprintRecord {
  const record: BlueprintRecord = {
    blueprintId: row.id,
    name: row.name,
    irHash: row.ir_hash,
    status: row.status,
    tags: row.tags,
    interface: row.interface,
    submittedBy: row.submitted_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
  if (row.parent_id !== null) record.parentBlueprintId = row.parent_id;
  if (row.ir !== undefined && row.ir !== null) record.ir = row.ir as NonNullable<BlueprintRecord['ir']>;
  if (row.invalid_reasons !== null && row.invalid_reasons.length > 0) record.invalidReasons = row.invalid_reasons;
  return record;
}

// ------------------------------------------------------------ kernels

/** The columns every kernel listing reads (`k` kernels, `b` its blueprint). */
export const KERNEL_COLUMNS =
  'k.kernel_id, k.blueprint_id, k.ir_hash, k.compiler_version, k.backend, k.tier, k.interface, k.param_count, k.flops, ' +
  'k.memory_bytes, k.artifact, k.status, k.risk_score, k.latency_p50_ms, k.latency_p99_ms, k.validated_at, k.created_at, b.tags';

export interface KernelRow extends Record<string, unknown> {
  kernel_id: string;
  blueprint_id: string;
  ir_hash: string;
  compiler_version: string;
  backend: string;
  tier: CompileTier;
  interface: SlotInterface;
  param_count: number;
  flops: number;
  memory_bytes: number;
  artifact: ArtifactRef;
  status: KernelStatus;
  risk_score: number | null;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  validated_at: Date | null;
  created_at: Date;
  tags: string[] | null;
}

export function kernelRecord(row: KernelRow): KernelRecord {
  const record: KernelRecord = {
    kernelId: row.kernel_id,
    blueprintId: row.blueprint_id,
    irHash: row.ir_hash,
    compilerVersion: row.compiler_version,
    backend: row.backend,
    tier: row.tier,
    interface: row.interface,
    paramCount: row.param_count,
    flops: row.flops,
    memoryBytes: row.memory_bytes,
    artifactRef: row.artifact,
    status: row.status,
    createdAt: iso(row.created_at),
  };
  if (row.validated_at !== null && row.risk_score !== null && row.latency_p50_ms !== null && row.latency_p99_ms !== null) {
    record.validation = {
      riskScore: row.risk_score,
      latencyP50Ms: row.latency_p50_ms,
      latencyP99Ms: row.latency_p99_ms,
      validatedAt: iso(row.validated_at),
    };
  }
  if (row.tags !== null) record.tags = row.tags;
  return record;
}

// ------------------------------------------------------------ events and checkpoints

export interface EventRow extends Record<string, unknown> {
  run_id: string;
  seq: number;
  id: string;
  type: string;
  v: number;
  ts: Date;
  source: string;
  correlation_id: string | null;
  causation_id: string | null;
  data: unknown;
}

export function eventEnvelope(row: EventRow): Envelope {
  const envelope: Envelope = { id: row.id, type: row.type, v: row.v, ts: iso(row.ts), source: row.source, data: row.data };
  if (row.run_id !== '') envelope.runId = row.run_id;
  if (row.correlation_id !== null) envelope.correlationId = row.correlation_id;
  if (row.causation_id !== null) envelope.causationId = row.causation_id;
  return envelope;
}

export interface CheckpointRow extends Record<string, unknown> {
  checkpoint_id: string;
  run_id: string;
  epoch: number;
  global_step: number | null;
  hash: string;
  size_bytes: number;
  reason: CheckpointMetadata['reason'];
  artifact: ArtifactRef | null;
  created_at: Date;
}

export function checkpointMetadata(row: CheckpointRow): CheckpointMetadata {
  const meta: CheckpointMetadata = {
    checkpointId: row.checkpoint_id,
    runId: row.run_id,
    epoch: row.epoch,
    hash: row.hash,
    sizeBytes: row.size_bytes,
    createdAt: iso(row.created_at),
    reason: row.reason,
  };
  if (row.global_step !== null) meta.globalStep = row.global_step;
  if (row.artifact !== null) meta.artifactRef = row.artifact;
  return meta;
}
