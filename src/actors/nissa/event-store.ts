/**
 * Nissa's event store (embedded subset of issue 6 item 7): a run's events in
 * the metadata database (Urza's `events` table: de-duplicated by id, ordered
 * by a gapless per-run seq), and a buffered recorder that `esper run` feeds
 * and flushes once per epoch. Persisting never stops training: a failed flush
 * is logged and its events are kept for the next one.
 */
import type { Envelope } from '../../contracts/envelope.ts';
import { migrate, openDatabase, type Database } from '../../infra/db/index.ts';
import type { Logger } from '../../infra/logger.ts';
import { UrzaLibrary, type AppendResult } from '../urza/index.ts';

/** Where the store lives: PostgreSQL at `url`, else PGlite under `<dataDir>/db`, else in memory. */
export interface EventStoreOptions {
  url?: string | undefined;
  dataDir?: string | undefined;
  logger?: Logger | undefined;
}

const PAGE = 5000;

/** A run's events over a {@link Database}. */
export class EventStore {
  readonly db: Database;
  readonly #library: UrzaLibrary;

  constructor(db: Database) {
    this.db = db;
    this.#library = new UrzaLibrary(db);
  }

  /** Opens (and migrates) the database. */
  static async open(options: EventStoreOptions = {}): Promise<EventStore> {
    const db = await openDatabase({ url: options.url, dataDir: options.dataDir, logger: options.logger });
    try {
      await migrate(db);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
    return new EventStore(db);
  }

  /** Appends events (an id already stored is skipped). */
  append(events: readonly Envelope[]): Promise<AppendResult> {
    return this.#library.appendEvents(events);
  }

  /** Every event of a run, in stored order (empty when the run is unknown). */
  async events(runId: string): Promise<Envelope[]> {
    const out: Envelope[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await this.#library.eventsOfRun(runId, { afterSeq, limit: PAGE });
      for (const stored of page) out.push(stored.event);
      const last = page[page.length - 1];
      if (last === undefined || page.length < PAGE) return out;
      afterSeq = last.seq;
    }
  }

  close(): Promise<void> {
    return this.#library.db.close();
  }
}

/** Buffers events from a synchronous sink; {@link EventRecorder.flush} writes them. */
export class EventRecorder {
  readonly #store: EventStore;
  readonly #logger: Logger | undefined;
  #buffer: Envelope[] = [];
  /** Buffered events at the last {@link EventRecorder.mark}. */
  #marked = 0;
  /** Events written so far. */
  stored = 0;
  /** Flushes that failed (their events stay buffered). */
  failures = 0;

  constructor(store: EventStore, logger?: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** The sink to hand to `runTraining({ events })`. */
  readonly sink = (envelope: Envelope): void => {
    this.#buffer.push(envelope);
  };

  /** Events waiting to be written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Marks the buffer's end (an epoch boundary): what comes after may be taken back by {@link EventRecorder.rewind}. */
  mark(): void {
    this.#marked = this.#buffer.length;
  }

  /** Drops the events buffered after the last mark (a restarted run loop is about to emit them again). */
  rewind(): void {
    this.#buffer = this.#buffer.slice(0, this.#marked);
  }

  /** Writes the buffered events; never throws (a failure is logged, the events kept for the next flush). */
  async flush(): Promise<boolean> {
    if (this.#buffer.length === 0) return true;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#marked = Math.max(0, this.#marked - batch.length);
    try {
      const result = await this.#store.append(batch);
      this.stored += result.stored;
      return true;
    } catch (error) {
      this.failures++;
      this.#buffer = [...batch, ...this.#buffer];
      this.#marked += batch.length;
      this.#logger?.warn({ err: error, events: batch.length }, 'audit: persisting run events failed; training goes on');
      return false;
    }
  }
}
