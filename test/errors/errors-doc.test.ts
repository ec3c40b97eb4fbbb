import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ERROR_CODES } from '../../src/errors/index.ts';
import { renderErrorsDoc } from '../../src/errors/errors-doc.ts';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

  it('is the rendering of the current code table (run `npm run docs:errors` after adding a code)', () => {
    expect(doc).to.equal(renderErrorsDoc());
  });

  it('lists every code exactly once', () => {
    for (const code of Object.keys(ERROR_CODES)) {
      expect(doc.split(`\`${code}\``).length - 1, code).to.equal(1);
    }
  });
});
