/**
 * The migration runner's contract, run on PGlite (`migrations.test.ts`) and
 * on PostgreSQL (`test/integration/urza/postgres.test.ts`): the same files
 * apply on both, and a second run applies nothing.
 */
import { expect } from 'chai';
import { loadMigrations, migrate, type Database, type Migration } from '../../../src/infra/db/index.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

/** Opens a database in a fresh, empty schema; `drop` removes it. */
export interface SchemaFactory {
  open(): Promise<Database>;
  drop(db: Database): Promise<void>;
}

const URZA_TABLES = ['blueprints', 'checkpoints', 'events', 'field_reports', 'kernels', 'runs', 'schema_migrations', 'validation_reports'];

async function tablesOf(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
    [db.schema],
  );
  return rows.map((row) => row.table_name);
}


export function migrationContract(name: string, factory: SchemaFactory, startTimeoutMs = 20_000): void {
  describe(`migrations (${name})`, function () {
    let db: Database | undefined;

    beforeEach(async function () {
      this.timeout(startTimeoutMs);
      db = await factory.open();
    });

    afterEach(async function () {
      this.timeout(startTimeoutMs);
      if (db !== undefined) await factory.drop(db);
      db = undefined;
    });

    it('applies every file in order, recording each in schema_migrations', async () => {
      const files = await loadMigrations();
      expect(files.length).to.be.greaterThan(0);
      expect(files.map((m) => m.version)).to.deep.equal([...files.map((m) => m.version)].sort((a, b) => a - b));
      const result = await migrate(db!);
      expect(result.applied.map((m) => m.version)).to.deep.equal(files.map((m) => m.version));
      expect(result.version).to.equal(files[files.length - 1]!.version);
      expect(await tablesOf(db!)).to.include.members(URZA_TABLES);
      const { rows } = await db!.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations ORDER BY version');
      expect(rows).to.deep.equal(files.map((m) => ({ version: m.version, checksum: m.checksum })));
    });

    it('is idempotent: a second run applies nothing and changes nothing', async () => {
      await migrate(db!);
      const before = await tablesOf(db!);
      const again = await migrate(db!);
      expect(again.applied).to.deep.equal([]);
      expect(await tablesOf(db!)).to.deep.equal(before);
      const { rows } = await db!.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]!.n).to.equal((await loadMigrations()).length);
    });

    it('applies only the migrations that are new, and rolls back one that fails', async () => {
      const files = await loadMigrations();
      await migrate(db!, { migrations: files });
      const next = files[files.length - 1]!.version + 1;
      const good: Migration = { version: next, name: 'add_notes', sql: 'CREATE TABLE notes (id int PRIMARY KEY);', checksum: 'c1' };
      const bad: Migration = { version: next + 1, name: 'broken', sql: 'CREATE TABLE half (id int); SELECT * FROM no_such_table;', checksum: 'c2' };
      const error = await rejectsWith(migrate(db!, { migrations: [...files, good, bad] }), 'ESPER_MIGRATION_FAILED');
      expect(error.details).to.include({ version: next + 1, name: 'broken' });
      const tables = await tablesOf(db!);
      expect(tables).to.include('notes');
      expect(tables, 'the failed migration left nothing behind').not.to.include('half');
      const { rows } = await db!.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).to.deep.equal([...files.map((m) => m.version), next]);
    });

    it('refuses to start when an applied migration was edited, or the database is newer than the code', async () => {
      const files = await loadMigrations();
      await migrate(db!, { migrations: files });
      const edited = files.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited`, checksum: 'different' } : m));
      const changed = await rejectsWith(migrate(db!, { migrations: edited }), 'ESPER_MIGRATION_FAILED');
      expect(changed.message).to.match(/changed after it was applied/);
      const older = await rejectsWith(migrate(db!, { migrations: files.slice(0, -1) }), 'ESPER_MIGRATION_FAILED');
      expect(older.message).to.match(/newer than this code/);
    });
  });
}
