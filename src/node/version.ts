import { readFileSync } from 'node:fs';

/** Esper's version, from package.json. */
export const ESPER_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
