import type { PgliteDatabase } from '../../../src/infra/db/index.ts';
import { dropPglite, freshPglite, PGLITE_START_TIMEOUT_MS } from '../../infra/db/shared-pglite.ts';
import { libraryContract } from './library-contract.ts';

libraryContract(
  'PGlite, in memory',
  {
    open: () => freshPglite('lib'),
    drop: (db) => dropPglite(db as PgliteDatabase),
  },
  PGLITE_START_TIMEOUT_MS,
);
