/**
 * One in-memory PGlite for the whole test process: starting one takes
 * seconds, so suites share it and each works in its own schema (dropped
 * after). Suites run one after the other, so they never share the session
 * at the same time.
 */
import { randomBytes } from 'node:crypto';
import { PgliteDatabase } from '../../../src/infra/db/index.ts';

let base: Promise<PgliteDatabase> | undefined;

/** Time a suite's `before` should allow for the first start. */
export const PGLITE_START_TIMEOUT_MS = 120_000;

/** A random schema name with a readable prefix. */
export function schemaName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A database in a fresh schema of the shared instance. */
export async function freshPglite(prefix: string): Promise<PgliteDatabase> {
  base ??= PgliteDatabase.open();
  const instance = (await base).instance;
  return PgliteDatabase.open({ instance, schema: schemaName(prefix) });
}

/** Drops the schema of a database made by {@link freshPglite} and releases it. */
export async function dropPglite(db: PgliteDatabase | undefined): Promise<void> {
  if (db === undefined) return;
  await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE; SET search_path TO public`);
  await db.close();
}

// Root-level hook (registered when a test file imports this module): close the instance once at the end.
after(async () => {
  if (base !== undefined) await (await base).close();
});
