/**
 * PostgreSQL through a `pg` Pool (cluster mode). The pool never crashes the
 * process on a lost connection (idle-client errors are logged), connects
 * with a timeout so an unreachable server fails fast, and can pin every
 * connection to one schema (`search_path`), which tests use for isolation.
 */
import pg from 'pg';
import { getRootLogger, type Logger } from '../logger.ts';
import { assertSchemaName, toStorageError, type Database, type Queryable, type QueryResult, type Row } from './database.ts';

/** Options of {@link PgDatabase.connect}. */
export interface PgDatabaseOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /** Pin every connection to this schema (created when missing). @default the server's search_path */
  schema?: string;
  /** Most pooled connections. @default 10 */
  maxConnections?: number;
  /** A connection attempt taking longer fails with ESPER_STORAGE_UNAVAILABLE, ms. @default 5000 */
  connectTimeoutMs?: number;
  /** A statement running longer is cancelled by the server, ms; 0 disables. @default 30000 */
  statementTimeoutMs?: number;
  /** Idle connections are closed after this long, ms. @default 30000 */
  idleTimeoutMs?: number;
  /** @default the root logger */
  logger?: Logger;
}

const INT8_OID = 20;

/** `bigint` as a number on both drivers (PGlite already does this). */
function typeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8_OID) return (value: string) => Number(value);
  return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
}

function wrap(client: pg.Pool | pg.PoolClient, what: string): Queryable {
  return {
    async query<R extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      try {
        const result = await client.query<R>(sql, params as unknown[]);
        return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
      } catch (error) {
        throw toStorageError(error, what);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (error) {
        throw toStorageError(error, what);
      }
    },
  };
}

/** A PostgreSQL server behind a connection pool. */
export class PgDatabase implements Database {
  readonly kind = 'pg' as const;
  #schema: string;
  readonly #pool: pg.Pool;
  readonly #queryable: Queryable;
  readonly #log: Logger;
  #closed = false;

  private constructor(pool: pg.Pool, schema: string, log: Logger) {
    this.#pool = pool;
    this.#schema = schema;
    this.#log = log;
    this.#queryable = wrap(pool, 'postgres');
  }

  /**
   * Creates the pool. With `schema`, creates that schema when missing; this
   * first statement also checks the server is reachable (it throws
   * ESPER_STORAGE_UNAVAILABLE when not, and the pool is closed).
   */
  static async connect(options: PgDatabaseOptions): Promise<PgDatabase> {
    const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
    const log = (options.logger ?? getRootLogger()).child({ component: 'db', driver: 'pg' });
    const settings: string[] = [];
    if (schema !== undefined) settings.push(`-c search_path=${schema}`);
    const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    if (statementTimeoutMs > 0) settings.push(`-c statement_timeout=${Math.round(statementTimeoutMs)}`);
    // Settings given in the URL (`?options=...`) are kept, ours appended: pg would let the URL's replace ours.
    const url = new URL(options.url);
    const fromUrl = url.searchParams.get('options');
    if (settings.length > 0) url.searchParams.delete('options');
    const pool = new pg.Pool({
      connectionString: url.toString(),
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      ...(settings.length === 0 ? {} : { options: [fromUrl, ...settings].filter((s) => s !== null && s !== '').join(' ') }),
      types: { getTypeParser: typeParser },
    });
    // An idle client whose server went away emits here; unhandled it would crash the process.
    pool.on('error', (error) => log.warn({ err: error }, 'idle database connection lost'));
    const db = new PgDatabase(pool, schema ?? 'public', log);
    try {
      // Look first: CREATE SCHEMA needs a privilege a restricted user of an existing schema may lack.
      if (schema === undefined) {
        const { rows } = await db.query<{ schema: string | null }>('SELECT current_schema() AS schema');
        db.#schema = rows[0]?.schema ?? 'public';
      } else if ((await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rows.length === 0) {
        await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      }
    } catch (error) {
      await db.close();
      throw error;
    }
    return db;
  }

  /** The schema unqualified names resolve to (the one given, else the server's current schema). */
  get schema(): string {
    return this.#schema;
  }

  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#queryable.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.#queryable.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw toStorageError(error, 'postgres');
    }
    // A checked-out client whose connection dies also emits 'error'; unhandled, it would crash the process.
    // The statement in flight fails on its own, so logging is all there is to do.
    const onError = (error: Error): void => this.#log.warn({ err: error }, 'database connection lost during a transaction');
    client.on('error', onError);
    const tx = wrap(client, 'postgres');
    let broken: unknown;
    try {
      await tx.exec('BEGIN');
      const result = await fn(tx);
      await tx.exec('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError; // the connection is gone: do not return it to the pool
      }
      throw toStorageError(error, 'postgres');
    } finally {
      client.off('error', onError);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
