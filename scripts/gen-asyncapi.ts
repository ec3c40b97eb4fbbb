import { writeFileSync } from 'node:fs';
import { renderAsyncApiDocument } from '../src/contracts/asyncapi.ts';
import { ESPER_VERSION } from '../src/node/version.ts';

writeFileSync(new URL('../docs/asyncapi.json', import.meta.url), renderAsyncApiDocument({ version: ESPER_VERSION }));
