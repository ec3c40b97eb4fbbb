import { ERROR_CODES } from './codes.ts';

/** Renders docs/errors.md from the code table (`npm run docs:errors` writes it; a test checks it is current). */
export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, { retryable, summary }]) => `| \`${code}\` | ${retryable ? 'yes' : 'no'} | ${summary} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error Esper reports carries a stable `code`. On the bus an error is data:',
    '`{ "ok": false, "error": { "code", "message", "retryable", "details" } }`.',
    'The CLI prints `error CODE: message` on stderr. Codes are never renamed or reused;',
    '`retryable` is the default for the code (a specific error may override it).',
    '',
    'This page is generated from `src/errors/codes.ts` by `npm run docs:errors`; a test fails when they differ.',
    '',
    '| code | retryable | meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
