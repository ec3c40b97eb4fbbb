/**
 * Versioned SQL migrations (DESIGN §6), the same files on PostgreSQL and
 * PGlite. Files are `migrations/NNN_name.sql`, applied in version order at
 * start, each in its own transaction together with its row in
 * `schema_migrations`, so a failed migration leaves nothing behind. A
 * transaction-scoped advisory lock serialises nodes migrating one database
 * at the same time; a second run applies nothing. An applied file that has
 * changed since (checksum) stops the start: migrations are append-only, fix
 * forward with a new file.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EsperError } from '../../errors/index.ts';
import { getRootLogger, type Logger } from '../logger.ts';
import type { Database, Queryable } from './database.ts';

/** The directory of the migration files, next to this module. */
export const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** `NNN_name.sql`: a version of at least three digits, then a lowercase name. */
const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

/** An arbitrary constant: the advisory lock that serialises migrations of one database. */
const MIGRATION_LOCK_KEY = 7_265_113_071;

/** One migration file. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** sha256 (hex) of the file's text. */
  readonly checksum: string;
}

/** What {@link migrate} did. */
export interface MigrationResult {
  /** Migrations applied by this call, in order (empty when up to date). */
  readonly applied: readonly Migration[];
  /** The schema version now (0 when there are no migrations). */
  readonly version: number;
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** @default the files of {@link MIGRATIONS_DIR} */
  migrations?: readonly Migration[];
  /** @default the root logger */
  logger?: Logger;
}

/** Reads and checks the migration files of `dir` (names, unique versions), sorted by version. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(fileURLToPath(dir))).filter((name) => name.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const match = FILE_NAME.exec(name);
    if (match === null) throw new EsperError('ESPER_MIGRATION_FAILED', `migration file ${name} is not named NNN_name.sql`, { details: { file: name } });
    const sql = await readFile(new URL(name, dir), 'utf8');
    migrations.push({ version: Number(match[1]), name: match[2] ?? name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    const previous = migrations[i - 1];
    if (previous !== undefined && previous.version === m.version) {
      throw new EsperError('ESPER_MIGRATION_FAILED', `two migrations have version ${m.version}: ${previous.name} and ${m.name}`, { details: { version: m.version } });
    }
  });
  return migrations;
}

interface AppliedRow extends Record<string, unknown> {
  version: number;
  name: string;
  checksum: string;
}

async function lockAndRead(tx: Queryable): Promise<Map<number, AppliedRow>> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
  await tx.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version    integer PRIMARY KEY,
       name       text NOT NULL,
       checksum   text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const { rows } = await tx.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  return new Map(rows.map((row) => [row.version, row]));
}

function check(applied: Map<number, AppliedRow>, migrations: readonly Migration[]): void {
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const row of applied.values()) {
    const file = known.get(row.version);
    if (file === undefined) {
      throw new EsperError('ESPER_MIGRATION_FAILED', `the database has migration ${row.version} (${row.name}), which this Esper does not know: it is newer than this code`, {
        details: { version: row.version, name: row.name },
      });
    }
    if (file.checksum !== row.checksum) {
      throw new EsperError('ESPER_MIGRATION_FAILED', `migration ${row.version} (${row.name}) was changed after it was applied; add a new migration instead`, {
        details: { version: row.version, name: row.name, applied: row.checksum, file: file.checksum },
      });
    }
  }
}

/**
 * Brings the database's schema (its `search_path` schema) up to date and
 * returns what was applied. Throws ESPER_MIGRATION_FAILED (the failing
 * migration rolled back) or ESPER_STORAGE_UNAVAILABLE.
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<MigrationResult> {
  const migrations = options.migrations ?? (await loadMigrations());
  const log = (options.logger ?? getRootLogger()).child({ component: 'db.migrate', driver: db.kind, schema: db.schema });
  const pending = await db.transaction(async (tx) => {
    const applied = await lockAndRead(tx);
    check(applied, migrations);
    return migrations.filter((m) => !applied.has(m.version));
  });
  const done: Migration[] = [];
  for (const migration of pending) {
    const ran = await db.transaction(async (tx) => {
      // Another node may have applied it since we looked.
      if ((await lockAndRead(tx)).has(migration.version)) return false;
      try {
        await tx.exec(migration.sql);
      } catch (error) {
        const cause = error instanceof EsperError ? error : undefined;
        if (cause?.code === 'ESPER_STORAGE_UNAVAILABLE') throw error;
        throw new EsperError('ESPER_MIGRATION_FAILED', `migration ${migration.version} (${migration.name}) failed: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
          details: { version: migration.version, name: migration.name, ...(cause?.details ?? {}) },
        });
      }
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [migration.version, migration.name, migration.checksum]);
      return true;
    });
    if (ran) {
      done.push(migration);
      log.info({ version: migration.version, name: migration.name }, 'migration applied');
    }
  }
  const version = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  return { applied: done, version };
}
