/**
 * The metadata database (DESIGN §6): one {@link Database} interface over
 * PostgreSQL (`pg`) and embedded PGlite, and the versioned migrations that
 * both run.
 *
 * @example
 * const db = await openDatabase({ url: config.db.url, dataDir: config.dataDir });
 * await migrate(db);
 * const { rows } = await db.query('SELECT count(*)::int AS n FROM kernels');
 * await db.close();
 *
 * @module
 */
import { join } from 'node:path';
import type { Logger } from '../logger.ts';
import type { Database } from './database.ts';
import { PgDatabase } from './pg-database.ts';
import { PgliteDatabase } from './pglite-database.ts';

export { assertSchemaName, SCHEMA_NAME, toStorageError, type Database, type Queryable, type QueryResult, type Row } from './database.ts';
export { PgDatabase, type PgDatabaseOptions } from './pg-database.ts';
export { PgliteDatabase, type PgliteDatabaseOptions } from './pglite-database.ts';
export { loadMigrations, migrate, MIGRATIONS_DIR, type MigrateOptions, type Migration, type MigrationResult } from './migrate.ts';

/** Where the embedded database lives under the data directory. */
export const EMBEDDED_DB_SUBDIR = 'db';

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** PostgreSQL URL; absent → embedded PGlite. */
  url?: string | undefined;
  /** Data directory of embedded mode; the database goes in `<dataDir>/db`. Absent with no URL → in memory. */
  dataDir?: string | undefined;
  /** Schema to use (created when missing). @default 'public' */
  schema?: string | undefined;
  logger?: Logger | undefined;
}

/** PostgreSQL when a URL is given (cluster mode), else PGlite under `<dataDir>/db` (embedded mode). Does not migrate. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const schema = options.schema === undefined ? {} : { schema: options.schema };
  if (options.url !== undefined && options.url !== '') {
    return PgDatabase.connect({ url: options.url, ...schema, ...(options.logger === undefined ? {} : { logger: options.logger }) });
  }
  return PgliteDatabase.open({ ...schema, ...(options.dataDir === undefined ? {} : { dataDir: join(options.dataDir, EMBEDDED_DB_SUBDIR) }) });
}
