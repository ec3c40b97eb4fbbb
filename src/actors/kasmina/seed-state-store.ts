/**
 * Where a seed actor keeps its lifecycle state, so a crashed actor restarted
 * by its supervisor resumes where it was: the Bus KV (JetStream KV on NATS,
 * the memory KV in embedded mode and tests) or plain memory.
 */
import type { Bus, KvStore } from '../oona/index.ts';
import { formatZodIssues } from '../../contracts/index.ts';
import { InputError } from '../../errors/index.ts';
import { SeedLifecycleStateSchema, type SeedLifecycleState } from './seed-lifecycle.ts';

/** Persistence of seed lifecycle states, one per (run, seed). */
export interface SeedStateStore {
  /** The last saved state, or null when none was saved. */
  load(runId: string, seedId: string): Promise<SeedLifecycleState | null>;
  /** Saves (replaces) the state of `state.runId` / `state.seedId`. */
  save(state: SeedLifecycleState): Promise<void>;
}

/** Default KV bucket of seed states. */
export const DEFAULT_SEED_STATE_BUCKET = 'kasmina-seeds';

/** Validates a stored value; a corrupt entry is ESPER_SCHEMA_VIOLATION (the actor's start fails rather than resuming from garbage). */
export function parseStoredSeedState(value: unknown, where: string): SeedLifecycleState {
  const parsed = SeedLifecycleStateSchema.safeParse(value);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error);
    throw new InputError('ESPER_SCHEMA_VIOLATION', `stored seed state ${where} is invalid: ${issues.join('; ')}`, { details: { key: where, issues } });
  }
  return parsed.data;
}

/** Options of {@link KvSeedStateStore}. */
export interface KvSeedStateStoreOptions {
  /** @default 'kasmina-seeds' */
  bucket?: string;
}

/** Seed states in a Bus KV bucket, keyed `<runId>.<seedId>`, as JSON. */
export class KvSeedStateStore implements SeedStateStore {
  readonly bucket: string;
  readonly #bus: Bus;
  #kv: Promise<KvStore> | null = null;

  constructor(bus: Bus, options: KvSeedStateStoreOptions = {}) {
    this.#bus = bus;
    this.bucket = options.bucket ?? DEFAULT_SEED_STATE_BUCKET;
  }

  /** The KV key of a seed. */
  static key(runId: string, seedId: string): string {
    return `${runId}.${seedId}`;
  }

  async load(runId: string, seedId: string): Promise<SeedLifecycleState | null> {
    const key = KvSeedStateStore.key(runId, seedId);
    const entry = await (await this.#open()).get(key);
    if (entry === null || entry.operation !== 'PUT') return null;
    return parseStoredSeedState(entry.json(), `${this.bucket}/${key}`);
  }

  async save(state: SeedLifecycleState): Promise<void> {
    await (await this.#open()).put(KvSeedStateStore.key(state.runId, state.seedId), state);
  }

  #open(): Promise<KvStore> {
    if (this.#kv === null) {
      const opening = this.#bus.kv(this.bucket);
      // A failed open is retried by the next call instead of being cached.
      opening.catch(() => {
        if (this.#kv === opening) this.#kv = null;
      });
      this.#kv = opening;
    }
    return this.#kv;
  }
}

/** Seed states in memory (tests, single-process runs that need no resume across processes). Stores copies. */
export class MemorySeedStateStore implements SeedStateStore {
  readonly #states = new Map<string, SeedLifecycleState>();

  load(runId: string, seedId: string): Promise<SeedLifecycleState | null> {
    const state = this.#states.get(KvSeedStateStore.key(runId, seedId));
    return Promise.resolve(state === undefined ? null : structuredClone(state));
  }

  save(state: SeedLifecycleState): Promise<void> {
    this.#states.set(KvSeedStateStore.key(state.runId, state.seedId), structuredClone(state));
    return Promise.resolve();
  }

  /** Every stored state (copies). */
  all(): SeedLifecycleState[] {
    return [...this.#states.values()].map((state) => structuredClone(state));
  }
}
