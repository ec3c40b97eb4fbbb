/**
 * The cluster's runs and what it takes to resume them (DESIGN §3: "nodes are
 * stateless apart from the runs they host: everything needed to resume lives
 * in the stores"). One record per run in the KV bucket `<prefix>_runs`, every
 * write a compare-and-set on the revision the writer last saw: the owner
 * commits each epoch boundary's checkpoint by advancing the record, and a
 * node that claims an orphaned run bumps the revision so the old owner —
 * should it still be alive — loses its next commit and stops (fencing).
 * Checkpoint bytes and loop state are artifacts (JetStream Object Store in a
 * cluster), written before the record that points at them, and deleted once
 * a committed record no longer needs them ({@link RunRegistry.pruneCheckpoints}).
 */
import { z } from 'zod';
import type { KvStore } from '../actors/oona/index.ts';
import type { ArtifactStore } from '../actors/urza/index.ts';
import { RunLoopStateSchema, type RunLoopState } from '../actors/tolaria/index.ts';
import { EnvelopeSchema, type Envelope } from '../contracts/envelope.ts';
import { RunStateSchema, type RunState } from '../contracts/tolaria.ts';
import { SeedStageSchema } from '../contracts/kasmina.ts';
import { WireErrorSchema } from '../contracts/reply.ts';
import { EsperError } from '../errors/index.ts';
import { checkpointKeysToDelete, runArtifactPrefix, RETAINED_CHECKPOINTS } from './checkpoint-retention.ts';

/** The owner of a run: a node incarnation. */
export const RunOwnerSchema = z.object({ nodeId: z.string(), incarnationId: z.string() }).strict();
export type RunOwner = z.infer<typeof RunOwnerSchema>;

const ArtifactPointerSchema = z.object({ key: z.string(), sha256: z.string() }).strict();

export const RunRecordSchema = z
  .object({
    v: z.literal(1),
    runId: z.string(),
    /** The run spec as started (validated again when resumed). */
    spec: z.unknown(),
    state: RunStateSchema,
    /** Who runs it; null while it waits for a trainer (handed back by a draining node). */
    owner: RunOwnerSchema.nullable(),
    /** Times the run was taken over after its owner went away. */
    resumes: z.number().int().nonnegative(),
    epoch: z.number().int().nonnegative(),
    maxEpochs: z.number().int().positive(),
    validationAccuracy: z.number().optional(),
    seedStages: z.partialRecord(SeedStageSchema, z.number().int().nonnegative()).optional(),
    /** The last committed epoch boundary. */
    checkpoint: z
      .object({
        checkpointId: z.string(),
        iteration: z.number().int().nonnegative(),
        tensors: ArtifactPointerSchema,
        state: ArtifactPointerSchema,
      })
      .strict()
      .nullable(),
    /** results.json of a completed run. */
    results: ArtifactPointerSchema.optional(),
    error: WireErrorSchema.optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** A record with the revision it was read at (what a compare-and-set needs). */
export interface VersionedRunRecord {
  record: RunRecord;
  revision: number;
}

/** What a boundary persists besides the tensors: the loop state and the events not yet published. */
export const BoundaryStateSchema = z
  .object({
    loop: RunLoopStateSchema,
    /** Events emitted up to this boundary and not yet acknowledged by the events stream (republished on resume). */
    pendingEvents: z.array(EnvelopeSchema),
  })
  .strict();
export type BoundaryState = { loop: RunLoopState; pendingEvents: Envelope[] };

/** Name of the runs bucket for a subject prefix. */
export function runsBucketName(prefix: string): string {
  return `${prefix.replace(/\./g, '_')}_runs`;
}

const TERMINAL: readonly RunState[] = ['completed', 'failed', 'stopped'];

/** True when the run will not change any more. */
export function isTerminal(state: RunState): boolean {
  return TERMINAL.includes(state);
}

/** What a deletion pass removed, and what it could not (left for a later pass). */
export interface DeletionOutcome {
  deleted: string[];
  failed: Array<{ key: string; error: unknown }>;
}

async function deleteKeys(store: ArtifactStore, keys: readonly string[]): Promise<DeletionOutcome> {
  const outcome: DeletionOutcome = { deleted: [], failed: [] };
  for (const key of keys) {
    try {
      await store.delete(key);
      outcome.deleted.push(key);
    } catch (error) {
      outcome.failed.push({ key, error });
    }
  }
  return outcome;
}

/**
 * True when the run needs a new owner: it is not finished and its owner
 * incarnation is not among the live nodes (crashed, restarted with a new
 * incarnation, or handed the run back).
 */
export function isOrphan(record: RunRecord, live: ReadonlyArray<{ nodeId: string; incarnationId: string }>): boolean {
  if (isTerminal(record.state)) return false;
  const owner = record.owner;
  if (owner === null) return true;
  return !live.some((m) => m.nodeId === owner.nodeId && m.incarnationId === owner.incarnationId);
}

export class RunRegistry {
  readonly #kv: KvStore;
  readonly #artifacts: () => Promise<ArtifactStore>;

  constructor(kv: KvStore, artifacts: () => Promise<ArtifactStore>) {
    this.#kv = kv;
    this.#artifacts = artifacts;
  }

  /**
   * Registers a new run; ESPER_CONFLICT when the id is taken. A retried
   * create whose first try landed (its reply lost while the cluster elected a
   * leader) finds exactly its own record and returns it.
   */
  async create(record: RunRecord): Promise<VersionedRunRecord> {
    const value = RunRecordSchema.parse(record);
    try {
      const revision = await this.#kv.create(record.runId, value);
      return { record, revision };
    } catch (error) {
      const mine = await this.#ownWrite(error, value);
      if (mine === undefined) throw error;
      return { record, revision: mine };
    }
  }

  /**
   * After a lost compare-and-set: the revision of the stored record when it
   * is `written` but for `updatedAt` (so the write that "failed" is in fact
   * ours: it landed, and only its reply was lost; a retry stamps a new
   * time), else undefined. Another writer's record differs in what it writes
   * (a new owner, `resumes`, a handback's null owner), so it never matches.
   */
  async #ownWrite(error: unknown, written: RunRecord): Promise<number | undefined> {
    if (!(error instanceof EsperError) || error.code !== 'ESPER_CONFLICT') return undefined;
    const entry = await this.#kv.get(written.runId).catch(() => null);
    if (entry === null) return undefined;
    const parsed = RunRecordSchema.safeParse(entry.json());
    if (!parsed.success) return undefined;
    const sameBut = (record: RunRecord): string => JSON.stringify({ ...record, updatedAt: '' });
    return sameBut(parsed.data) === sameBut(written) ? entry.revision : undefined;
  }

  async get(runId: string): Promise<VersionedRunRecord | null> {
    const entry = await this.#kv.get(runId);
    if (entry === null) return null;
    const parsed = RunRecordSchema.safeParse(entry.json());
    return parsed.success ? { record: parsed.data, revision: entry.revision } : null;
  }

  /** Every readable record. */
  async list(): Promise<VersionedRunRecord[]> {
    const out: VersionedRunRecord[] = [];
    for (const key of await this.#kv.keys()) {
      const found = await this.get(key);
      if (found !== null) out.push(found);
    }
    return out;
  }

  /**
   * Compare-and-set from `current`; ESPER_CONFLICT when somebody else wrote
   * since. A retried update whose first try landed returns that write.
   */
  async update(current: VersionedRunRecord, patch: Partial<RunRecord>): Promise<VersionedRunRecord> {
    const record = RunRecordSchema.parse({ ...current.record, ...patch, updatedAt: new Date().toISOString() });
    try {
      const revision = await this.#kv.update(record.runId, record, current.revision);
      return { record, revision };
    } catch (error) {
      const mine = await this.#ownWrite(error, record);
      if (mine === undefined) throw error;
      return { record, revision: mine };
    }
  }

  /**
   * Writes a boundary's artifacts (tensors, then state); the caller commits
   * them with {@link RunRegistry.update}. `attempt` is the record's `resumes`
   * count of the writing owner: it is part of the keys, because artifacts are
   * immutable and an owner fenced off (or killed between write and commit)
   * may already have written the same checkpoint id with other bytes.
   */
  async saveBoundary(runId: string, checkpointId: string, attempt: number, tensors: Uint8Array, state: BoundaryState): Promise<NonNullable<RunRecord['checkpoint']>> {
    const store = await this.#artifacts();
    const base = `runs/${runId}/${checkpointId}.r${attempt}`;
    const tensorRef = await store.put(`${base}.ckpt`, tensors);
    const stateBytes = new TextEncoder().encode(JSON.stringify(state));
    const stateRef = await store.put(`${base}.state.json`, stateBytes);
    return { checkpointId, iteration: state.loop.iteration, tensors: { key: tensorRef.key, sha256: tensorRef.sha256 }, state: { key: stateRef.key, sha256: stateRef.sha256 } };
  }

  /** Reads a committed boundary back (verified against the record's digests). */
  async loadBoundary(pointer: NonNullable<RunRecord['checkpoint']>): Promise<{ tensors: Uint8Array; state: BoundaryState }> {
    const store = await this.#artifacts();
    const tensors = await store.get(pointer.tensors.key, pointer.tensors.sha256);
    const raw = JSON.parse(new TextDecoder().decode(await store.get(pointer.state.key, pointer.state.sha256))) as unknown;
    const parsed = BoundaryStateSchema.safeParse(raw);
    if (!parsed.success) throw new EsperError('ESPER_CHECKPOINT_CORRUPT', `run state ${pointer.state.key} does not match its schema`, { details: { key: pointer.state.key } });
    return { tensors, state: parsed.data };
  }

  /**
   * Deletes the run's boundary artifacts that `record` no longer needs
   * ({@link checkpointKeysToDelete}): call it only with the record this
   * caller has just committed by compare-and-set. A key that fails to delete
   * is reported in `failed` and left for the next call, which deletes
   * everything older again; a failed listing throws.
   */
  async pruneCheckpoints(record: RunRecord, keep: number = RETAINED_CHECKPOINTS): Promise<DeletionOutcome> {
    const store = await this.#artifacts();
    const stored = await store.list(runArtifactPrefix(record.runId));
    return deleteKeys(store, checkpointKeysToDelete({ runId: record.runId, checkpoint: record.checkpoint, terminal: isTerminal(record.state) }, stored, keep));
  }

  /**
   * Deletes the artifacts of one checkpoint the caller's record no longer
   * points at (the one its last commit superseded): two deletions, no
   * listing, for the steady state of {@link pruneCheckpoints}.
   */
  async deleteBoundary(pointer: NonNullable<RunRecord['checkpoint']>): Promise<DeletionOutcome> {
    return deleteKeys(await this.#artifacts(), [pointer.tensors.key, pointer.state.key]);
  }

  /** Stores results.json of a finished run. */
  async saveResults(runId: string, results: unknown): Promise<{ key: string; sha256: string }> {
    const store = await this.#artifacts();
    const ref = await store.put(`runs/${runId}/results.json`, new TextEncoder().encode(JSON.stringify(results)));
    return { key: ref.key, sha256: ref.sha256 };
  }

  async loadResults(pointer: { key: string; sha256: string }): Promise<unknown> {
    const store = await this.#artifacts();
    return JSON.parse(new TextDecoder().decode(await store.get(pointer.key, pointer.sha256))) as unknown;
  }
}
