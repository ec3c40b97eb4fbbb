/**
 * Nothing is lost when storage is down (DESIGN §6). Every write goes through
 * the storage circuit breaker (digest §5: 10 failures open it, 120 s until
 * a trial); a write that fails transiently, or meets an open breaker, lands
 * in the outbox instead — in memory and appended to a JSONL file, so a crash
 * loses nothing — and is replayed, in order, when the database answers again
 * (a retry timer; an open breaker lets its half-open trial through).
 *
 * Ordering: writes are applied in the order they were made. While anything
 * waits in the outbox, new writes queue behind it; direct writes run one at
 * a time. Replays may repeat a write that reached the database before its
 * failure was seen (a timeout), so every write must be idempotent — Urza's
 * are (library.ts).
 *
 * `write` resolves once the write is durable: `'stored'` (in the database)
 * or `'queued'` (in the outbox file). Callers never wait on an open breaker.
 * A write the database refuses for good (ESPER_CONFLICT, a schema error) is
 * rejected to its caller; met during a replay, it is moved to
 * `<file>.dead.jsonl` with its error, logged and counted, and the replay
 * goes on.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import {
  BlueprintIRSchema,
  BlueprintIdSchema,
  BlueprintStatusSchema,
  CheckpointMetadataSchema,
  EnvelopeSchema,
  FieldReportSchema,
  KernelMetadataSchema,
  RunStatusSchema,
  Sha256Schema,
  ValidationReportSchema,
  label,
  text,
} from '../../contracts/index.ts';
import { EsperError, toEsperError } from '../../errors/index.ts';
import { getRootLogger, type Logger } from '../../infra/logger.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { createBreaker, type Breaker, type BreakerEvent, type Clock } from '../../supervision/index.ts';
import type { UrzaLibrary } from './library.ts';

/** Settings of the storage breaker. */
export interface StorageBreakerConfig {
  /** A database call running longer fails (and counts as a failure), ms. @default 10000 */
  timeoutMs: number;
  /** Consecutive failures that open it. @default 10 */
  failureThreshold: number;
  /** Open time before a trial call, ms. @default 120000 */
  resetTimeoutMs: number;
}

/** The storage breaker of the digest (§5): 10 failures, 120 s. */
export const STORAGE_BREAKER_DEFAULTS: Readonly<StorageBreakerConfig> = Object.freeze({ timeoutMs: 10_000, failureThreshold: 10, resetTimeoutMs: 120_000 });

/** How often a non-empty outbox tries to flush, ms. */
export const DEFAULT_RETRY_MS = 1000;

/** Options of {@link Outbox.open}. */
export interface OutboxOptions<W> {
  /** Breaker name and metric label, e.g. `urza.storage`. */
  name: string;
  /** Performs one write against the store; must be idempotent. */
  apply: (write: W) => Promise<void>;
  /** Checks a write read back from the file (throws when malformed). */
  parse: (value: unknown) => W;
  /** The append-only JSONL file; absent → memory only (a crash loses queued writes). */
  file?: string | undefined;
  /** @default STORAGE_BREAKER_DEFAULTS */
  breaker?: Partial<StorageBreakerConfig> | undefined;
  /** Retry period while writes wait, ms. @default 1000 */
  retryMs?: number | undefined;
  metrics?: Metrics | undefined;
  logger?: Logger | undefined;
  /** Receives breaker state changes. */
  emit?: ((event: BreakerEvent) => void) | undefined;
  clock?: Clock | undefined;
}

/** Where a write went. */
export type WriteOutcome = 'stored' | 'queued';

interface Entry<W> {
  readonly seq: number;
  readonly write: W;
}

type Guarded = { ok: true; value: unknown } | { ok: false; error: EsperError };
type Attempt = { ok: true } | { ok: false; transient: boolean; error: EsperError };

/** A transient failure is worth retrying: the store did not answer, not "no". */
function isTransient(error: EsperError): boolean {
  return error.retryable;
}

/** A write-behind queue in front of a store, guarded by a circuit breaker. */
export class Outbox<W> {
  readonly name: string;
  readonly #options: OutboxOptions<W>;
  readonly #log: Logger;
  readonly #breaker: Breaker<[() => Promise<unknown>], Guarded>;
  readonly #queue: Entry<W>[] = [];
  readonly #file: string | undefined;
  readonly #instruments: OutboxInstruments;
  #nextSeq = 1;
  #lane: Promise<unknown> = Promise.resolve();
  #inLane = 0;
  #flushing: Promise<number> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(options: OutboxOptions<W>) {
    this.name = options.name;
    this.#options = options;
    this.#file = options.file;
    this.#log = (options.logger ?? getRootLogger()).child({ component: 'outbox', outbox: options.name });
    this.#instruments = new OutboxInstruments(options.metrics, options.name);
    const config = { ...STORAGE_BREAKER_DEFAULTS, ...stripUndefined(options.breaker ?? {}) };
    // Only transient failures count against the breaker: a refused write is an answer.
    const guarded = async (task: () => Promise<unknown>): Promise<Guarded> => {
      try {
        return { ok: true, value: await task() };
      } catch (thrown) {
        const error = toEsperError(thrown);
        if (isTransient(error)) throw error;
        return { ok: false, error };
      }
    };
    this.#breaker = createBreaker(options.name, guarded, {
      ...config,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.emit === undefined ? {} : { emit: options.emit }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }

  /** Opens the outbox, reloading what its file still holds, and starts the retry timer. */
  static open<W>(options: OutboxOptions<W>): Promise<Outbox<W>> {
    const outbox = new Outbox(options);
    outbox.#load();
    outbox.#timer = setInterval(() => outbox.#tick(), options.retryMs ?? DEFAULT_RETRY_MS);
    outbox.#timer.unref();
    return Promise.resolve(outbox);
  }

  /** Writes waiting in the outbox. */
  get pending(): number {
    return this.#queue.length;
  }

  /** The storage breaker's state. */
  get breakerState(): Breaker<[], unknown>['state'] {
    return this.#breaker.state;
  }

  /** Performs `write` now, or queues it (see the module comment). */
  write(write: W): Promise<WriteOutcome> {
    if (this.#closed) return Promise.reject(new EsperError('ESPER_STORAGE_UNAVAILABLE', `outbox ${this.name} is closed`, { retryable: false }));
    if (this.#inLane === 0 && this.#mustQueue()) {
      try {
        this.#enqueue(write);
        return Promise.resolve('queued');
      } catch (error) {
        return Promise.reject(toEsperError(error));
      }
    }
    this.#inLane++;
    const run = async (): Promise<WriteOutcome> => {
      try {
        if (this.#mustQueue()) {
          this.#enqueue(write);
          return 'queued';
        }
        const attempt = await this.#attempt(write);
        if (attempt.ok) {
          this.#instruments.write('stored');
          return 'stored';
        }
        if (!attempt.transient) {
          this.#instruments.write('rejected');
          throw attempt.error;
        }
        this.#log.warn({ err: attempt.error, code: attempt.error.code }, 'storage write failed; queued in the outbox');
        this.#enqueue(write);
        return 'queued';
      } finally {
        this.#inLane--;
      }
    };
    const result = this.#lane.then(run);
    this.#lane = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs a read through the breaker: fails fast with ESPER_BREAKER_OPEN
   * while it is open. Reads do not see writes still in the outbox.
   */
  async read<T>(task: () => Promise<T>): Promise<T> {
    const result = await this.#breaker.call(task);
    if (result.ok) return result.value as T;
    throw result.error;
  }

  /** Replays queued writes now (in order) until one fails transiently; resolves with how many still wait. */
  flush(): Promise<number> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the timer and the breaker once in-flight writes settle; queued writes stay in the file for the next open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#lane;
    await this.#flushing;
    this.#breaker.dispose();
  }

  #mustQueue(): boolean {
    return this.#queue.length > 0 || this.#breaker.state === 'open';
  }

  async #attempt(write: W): Promise<Attempt> {
    try {
      const result = await this.#breaker.call(() => this.#options.apply(write));
      return result.ok ? { ok: true } : { ok: false, transient: false, error: result.error };
    } catch (error) {
      return { ok: false, transient: true, error: toEsperError(error) };
    }
  }

  #tick(): void {
    if (this.#queue.length === 0 || this.#flushing !== undefined || this.#closed) return;
    this.flush().catch((error: unknown) => this.#log.error({ err: error }, 'outbox flush failed'));
  }

  async #drain(): Promise<number> {
    let flushed = 0;
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head === undefined) break;
      const attempt = await this.#attempt(head.write);
      if (!attempt.ok && attempt.transient) break;
      this.#queue.shift();
      if (attempt.ok) {
        flushed++;
        this.#instruments.flushed();
        this.#append({ ack: head.seq });
      } else {
        this.#deadLetter(head, attempt.error);
      }
    }
    if (this.#queue.length === 0) this.#rewrite();
    this.#instruments.pending(this.#queue.length);
    if (flushed > 0) this.#log.info({ flushed, pending: this.#queue.length }, 'outbox flushed');
    return this.#queue.length;
  }

  #enqueue(write: W): void {
    const entry: Entry<W> = { seq: this.#nextSeq, write };
    try {
      this.#append(entry, true);
    } catch (error) {
      throw new EsperError('ESPER_STORAGE_UNAVAILABLE', `outbox ${this.name} could not persist a write: ${toEsperError(error).message}`, {
        cause: error,
        retryable: false,
        details: { outbox: this.name, file: this.#file },
      });
    }
    this.#nextSeq++;
    this.#queue.push(entry);
    this.#instruments.write('queued');
    this.#instruments.pending(this.#queue.length);
  }

  /** Appends one line to the file (synchronously: the line is in the OS before the caller hears back). */
  #append(line: object, mustSucceed = false): void {
    if (this.#file === undefined) return;
    try {
      appendFileSync(this.#file, `${JSON.stringify(line)}\n`);
    } catch (error) {
      if (mustSucceed) throw error;
      // An ack that is not written only means a harmless (idempotent) replay after a restart.
      this.#log.warn({ err: error }, 'outbox could not record a flushed write');
    }
  }

  #deadLetter(entry: Entry<W>, error: EsperError): void {
    this.#instruments.deadLetter();
    this.#log.error({ err: error, code: error.code, seq: entry.seq }, 'outbox write refused by the store; moved to the dead-letter file');
    if (this.#file !== undefined) {
      try {
        appendFileSync(`${this.#file}.dead.jsonl`, `${JSON.stringify({ seq: entry.seq, write: entry.write, error: error.toWire(), at: new Date().toISOString() })}\n`);
      } catch (writeError) {
        this.#log.error({ err: writeError, write: entry.write }, 'could not write the dead-letter file');
      }
    }
    this.#append({ ack: entry.seq });
  }

  /** Replaces the file with only the writes still waiting (atomically). */
  #rewrite(): void {
    if (this.#file === undefined) return;
    const temp = `${this.#file}.tmp`;
    try {
      writeFileSync(temp, this.#queue.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
      renameSync(temp, this.#file);
    } catch (error) {
      this.#log.warn({ err: error }, 'outbox could not compact its file');
    }
  }

  #load(): void {
    const file = this.#file;
    if (file === undefined || !existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n');
    const waiting = new Map<number, unknown>();
    let maxSeq = 0;
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        // A torn last line is a write whose caller never heard back; anything else is damage.
        this.#log.warn({ line: i + 1, file }, 'outbox line is not JSON; skipped');
        return;
      }
      const record = value as { seq?: unknown; write?: unknown; ack?: unknown };
      if (typeof record.ack === 'number') waiting.delete(record.ack);
      else if (typeof record.seq === 'number') {
        waiting.set(record.seq, record.write);
        maxSeq = Math.max(maxSeq, record.seq);
      }
    });
    this.#nextSeq = maxSeq + 1;
    for (const [seq, raw] of [...waiting.entries()].sort(([a], [b]) => a - b)) {
      try {
        this.#queue.push({ seq, write: this.#options.parse(raw) });
      } catch (error) {
        this.#deadLetter({ seq, write: raw as W }, toEsperError(error));
      }
    }
    this.#rewrite();
    this.#instruments.pending(this.#queue.length);
    if (this.#queue.length > 0) this.#log.info({ pending: this.#queue.length, file }, 'outbox reloaded writes waiting from before');
  }
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** The outbox's metrics (no-ops without a registry). */
class OutboxInstruments {
  readonly #labels: { outbox: string };
  readonly #pending;
  readonly #writes;
  readonly #flushed;
  readonly #dead;

  constructor(metrics: Metrics | undefined, name: string) {
    this.#labels = { outbox: name };
    this.#pending = metrics?.gauge('esper_outbox_pending', 'Writes waiting in a storage outbox for the store to come back', ['outbox']);
    this.#writes = metrics?.counter('esper_outbox_writes_total', 'Writes offered to a storage outbox, by outcome (stored, queued, rejected)', ['outbox', 'outcome']);
    this.#flushed = metrics?.counter('esper_outbox_flushed_total', 'Queued writes replayed into the store', ['outbox']);
    this.#dead = metrics?.counter('esper_outbox_dead_letters_total', 'Queued writes the store refused for good (moved to the dead-letter file)', ['outbox']);
    this.#pending?.set(this.#labels, 0);
  }

  pending(n: number): void {
    this.#pending?.set(this.#labels, n);
  }
  write(outcome: 'stored' | 'queued' | 'rejected'): void {
    this.#writes?.inc({ ...this.#labels, outcome });
  }
  flushed(): void {
    this.#flushed?.inc(this.#labels);
  }
  deadLetter(): void {
    this.#dead?.inc(this.#labels);
  }
}

// ------------------------------------------------------------ Urza's writes

/** Every write Urza accepts, as data (what the outbox file holds). */
export const UrzaWriteSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('putBlueprint'),
      input: z
        .object({
          ir: BlueprintIRSchema,
          submittedBy: label(),
          parentBlueprintId: BlueprintIdSchema.optional(),
          blueprintId: BlueprintIdSchema.optional(),
          irHash: Sha256Schema.optional(),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      op: z.literal('setBlueprintStatus'),
      blueprintId: BlueprintIdSchema,
      status: BlueprintStatusSchema,
      reasons: z.array(text(500)).max(64).optional(),
    })
    .strict(),
  z.object({ op: z.literal('putKernel'), kernel: KernelMetadataSchema }).strict(),
  z.object({ op: z.literal('setKernelValidation'), report: ValidationReportSchema }).strict(),
  z.object({ op: z.literal('putFieldReport'), report: FieldReportSchema }).strict(),
  z.object({ op: z.literal('putCheckpoint'), checkpoint: CheckpointMetadataSchema }).strict(),
  z.object({ op: z.literal('putRun'), status: RunStatusSchema, config: z.unknown().optional() }).strict(),
  z.object({ op: z.literal('appendEvents'), events: z.array(EnvelopeSchema).min(1).max(10_000) }).strict(),
]);
/** A write to Urza. */
export type UrzaWrite = z.input<typeof UrzaWriteSchema>;

/** Performs one Urza write on the library. */
export async function applyUrzaWrite(library: UrzaLibrary, write: UrzaWrite): Promise<void> {
  switch (write.op) {
    case 'putBlueprint':
      await library.putBlueprint(write.input);
      return;
    case 'setBlueprintStatus':
      await library.setBlueprintStatus(write.blueprintId, write.status, write.reasons ?? []);
      return;
    case 'putKernel':
      await library.putKernel(write.kernel);
      return;
    case 'setKernelValidation':
      await library.setKernelValidation(write.report);
      return;
    case 'putFieldReport':
      await library.putFieldReport(write.report);
      return;
    case 'putCheckpoint':
      await library.putCheckpoint(write.checkpoint);
      return;
    case 'putRun':
      await library.putRun(write.status, write.config);
      return;
    case 'appendEvents':
      await library.appendEvents(write.events);
      return;
  }
}

/** Options of {@link openUrzaOutbox}: the outbox's, less what Urza fills in. */
export type UrzaOutboxOptions = Omit<OutboxOptions<UrzaWrite>, 'apply' | 'parse' | 'name'> & { name?: string };

/** The outbox in front of Urza's library. @default name 'urza.storage' */
export function openUrzaOutbox(library: UrzaLibrary, options: UrzaOutboxOptions = {}): Promise<Outbox<UrzaWrite>> {
  return Outbox.open<UrzaWrite>({
    ...options,
    name: options.name ?? 'urza.storage',
    apply: (write) => applyUrzaWrite(library, write),
    parse: (value) => UrzaWriteSchema.parse(value),
  });
}
