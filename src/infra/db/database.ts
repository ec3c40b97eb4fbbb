/**
 * The one database interface (DESIGN §6): PostgreSQL through `pg` in a
 * cluster, PGlite (PostgreSQL in WebAssembly) in embedded mode. Both run the
 * same SQL and return the same JavaScript values: `bigint` columns come back
 * as numbers (every count Esper stores is below 2^53), `jsonb` as parsed JSON,
 * `timestamptz` as `Date`. Driver failures come back as coded errors (see
 * {@link toStorageError}), so callers and breakers branch on `code` and
 * `retryable`, never on driver messages.
 */
import { EsperError } from '../../errors/index.ts';

/** A row as a query returns it. */
export type Row = Record<string, unknown>;

/** The result of one statement. */
export interface QueryResult<R extends Row = Row> {
  readonly rows: R[];
  /** Rows returned, or changed by an INSERT/UPDATE/DELETE without RETURNING. */
  readonly rowCount: number;
}

/** What a transaction body (and the database itself) can run. */
export interface Queryable {
  /** Runs one statement with `$1…$n` parameters. Pass JSON as a string with a `::jsonb` cast: drivers disagree on arrays. */
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements (no parameters), e.g. a migration. */
  exec(sql: string): Promise<void>;
}

/** A database connection (a pool, or the embedded instance). */
export interface Database extends Queryable {
  /** Which implementation: `pg` (a server) or `pglite` (embedded). */
  readonly kind: 'pg' | 'pglite';
  /** The schema unqualified names resolve to (`public` unless one was given). */
  readonly schema: string;
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when
   * it throws (the throw is passed on). Use only `tx` inside `fn`.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Closes the pool or instance; idempotent. */
  close(): Promise<void>;
}

/** Valid schema names: lowercase letters, digits and '_' (so they never need quoting). */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws a RangeError unless `schema` is a plain lowercase identifier. */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new RangeError(`database schema must match ${String(SCHEMA_NAME)}, got ${JSON.stringify(schema)}`);
  return schema;
}

/** Node socket errors meaning "the server is not there (now)". */
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** pg's own messages for a lost or unobtainable connection. */
const TRANSIENT_MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /connection timeout/i, /cannot use a pool after calling end/i, /client has encountered a connection error/i, /Connection terminated/];

function sqlStateOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function nodeCodeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('E') && !/^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * A driver error as an EsperError. Esper errors pass through. SQLSTATE class
 * 23 (a constraint: unique, foreign key, check, or an immutability trigger) →
 * ESPER_CONFLICT; connection loss, refusal, timeouts, shutdowns, lack of
 * resources, deadlocks and serialization failures (classes 08, 53, 57, 40,
 * 55P03) → ESPER_STORAGE_UNAVAILABLE (retryable); anything else (bad SQL) →
 * ESPER_INTERNAL. `details.sqlState` and `details.constraint` keep the facts.
 */
export function toStorageError(error: unknown, what = 'database'): EsperError {
  if (error instanceof EsperError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const sqlState = sqlStateOf(error);
  const details: Record<string, unknown> = { store: what };
  if (sqlState !== undefined) details['sqlState'] = sqlState;
  const constraint = typeof error === 'object' && error !== null ? (error as { constraint?: unknown }).constraint : undefined;
  if (typeof constraint === 'string') details['constraint'] = constraint;
  if (sqlState !== undefined) {
    const cls = sqlState.slice(0, 2);
    if (cls === '23') return new EsperError('ESPER_CONFLICT', `${what}: ${message}`, { cause: error, details });
    if (['08', '53', '57', '40'].includes(cls) || sqlState === '55P03') {
      return new EsperError('ESPER_STORAGE_UNAVAILABLE', `${what}: ${message}`, { cause: error, details });
    }
    return new EsperError('ESPER_INTERNAL', `${what}: ${message}`, { cause: error, details });
  }
  const nodeCode = nodeCodeOf(error);
  if ((nodeCode !== undefined && TRANSIENT_NODE_CODES.has(nodeCode)) || TRANSIENT_MESSAGES.some((re) => re.test(message))) {
    if (nodeCode !== undefined) details['errno'] = nodeCode;
    return new EsperError('ESPER_STORAGE_UNAVAILABLE', `${what} unavailable: ${message}`, { cause: error, details });
  }
  // AggregateError from a dual-stack connect (every address refused).
  if (error instanceof AggregateError && error.errors.some((e) => nodeCodeOf(e) !== undefined && TRANSIENT_NODE_CODES.has(nodeCodeOf(e) ?? ''))) {
    return new EsperError('ESPER_STORAGE_UNAVAILABLE', `${what} unavailable: ${message}`, { cause: error, details });
  }
  return new EsperError('ESPER_INTERNAL', `${what}: ${message}`, { cause: error, details });
}
