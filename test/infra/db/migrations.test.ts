import { expect } from 'chai';
import { loadMigrations, MIGRATIONS_DIR, type PgliteDatabase } from '../../../src/infra/db/index.ts';
import { migrationContract } from './migrations-contract.ts';
import { dropPglite, freshPglite, PGLITE_START_TIMEOUT_MS } from './shared-pglite.ts';

describe('loadMigrations', () => {
  it('finds the NNN_name.sql files next to the module, in version order', async () => {
    expect(MIGRATIONS_DIR.pathname).to.match(/src\/infra\/db\/migrations\/$/);
    const files = await loadMigrations();
    expect(files[0]).to.include({ version: 1, name: 'urza' });
    expect(files[0]!.checksum).to.match(/^[0-9a-f]{64}$/);
    // migrate.ts wraps each file in a transaction: a file must not manage its own.
    expect(files[0]!.sql).not.to.match(/^\s*(BEGIN\s*;|START\s+TRANSACTION\b|COMMIT\b|ROLLBACK\b)/im);
  });
});

migrationContract(
  'PGlite, in memory',
  {
    open: () => freshPglite('mig'),
    drop: (db) => dropPglite(db as PgliteDatabase),
  },
  PGLITE_START_TIMEOUT_MS,
);
