/**
 * Embedded PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly) for
 * embedded mode: one in-process instance under a directory (`./.esper/db`),
 * or in memory. It runs the same SQL as the server; PGlite serialises
 * statements itself (one session), so transactions never interleave.
 */
import { mkdir } from 'node:fs/promises';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { assertSchemaName, toStorageError, type Database, type Queryable, type QueryResult, type Row } from './database.ts';

/**
 * Loaded on first use, so cluster mode never pays for the WebAssembly bundle.
 * A variable specifier also keeps import-x/no-cycle from parsing PGlite's
 * minified bundle, which overflows its parser's stack.
 */
const PGLITE_MODULE: string = '@electric-sql/pglite';

/** Options of {@link PgliteDatabase.open}. */
export interface PgliteDatabaseOptions {
  /** Directory of the database files (created when missing); absent → in memory. */
  dataDir?: string;
  /**
   * An instance to use instead of starting one (tests share one: starting
   * PGlite takes seconds). It is not closed by `close()`. Wrappers sharing an
   * instance share its one session, so use them one after the other.
   */
  instance?: PGlite;
  /** Resolve unqualified names in this schema (created when missing). @default 'public' */
  schema?: string;
}

type Client = Pick<PGlite, 'query' | 'exec'> | Transaction;

function wrap(client: Client): Queryable {
  return {
    async query<R extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      try {
        const result = await client.query<R>(sql, [...params]);
        return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
      } catch (error) {
        throw toStorageError(error, 'pglite');
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.exec(sql);
      } catch (error) {
        throw toStorageError(error, 'pglite');
      }
    },
  };
}

/** The embedded database. */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly schema: string;
  /** Where the files live; undefined in memory. */
  readonly dataDir: string | undefined;
  readonly #instance: PGlite;
  readonly #owned: boolean;
  readonly #queryable: Queryable;
  #closed = false;

  private constructor(instance: PGlite, owned: boolean, schema: string, dataDir: string | undefined) {
    this.#instance = instance;
    this.#owned = owned;
    this.schema = schema;
    this.dataDir = dataDir;
    this.#queryable = wrap(instance);
  }

  /** Starts (or adopts) an instance and selects the schema. */
  static async open(options: PgliteDatabaseOptions = {}): Promise<PgliteDatabase> {
    const schema = options.schema === undefined ? 'public' : assertSchemaName(options.schema);
    let instance = options.instance;
    const owned = instance === undefined;
    if (instance === undefined) {
      if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
      try {
        const { PGlite: Engine } = (await import(PGLITE_MODULE)) as { PGlite: typeof PGlite };
        instance = options.dataDir === undefined ? new Engine() : new Engine(options.dataDir);
        await instance.waitReady;
      } catch (error) {
        throw toStorageError(error, 'pglite');
      }
    }
    const db = new PgliteDatabase(instance, owned, schema, options.dataDir);
    try {
      await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
    } catch (error) {
      await db.close();
      throw error;
    }
    return db;
  }

  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#queryable.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.#queryable.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.#instance.transaction((tx) => fn(wrap(tx)));
    } catch (error) {
      throw toStorageError(error, 'pglite');
    }
  }

  /** The PGlite instance (to share it with another wrapper, see `PgliteDatabaseOptions.instance`). */
  get instance(): PGlite {
    return this.#instance;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) await this.#instance.close();
  }
}
