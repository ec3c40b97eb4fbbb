import { expect } from 'chai';
import { MAX_TOKEN_LENGTH, tokenMatches } from '../../src/dashboard/token.ts';

describe('tokenMatches', () => {
  const token = 'correct horse battery staple';

  it('accepts the exact token only', () => {
    expect(tokenMatches(token, token)).to.equal(true);
    expect(tokenMatches(token, `${token} `)).to.equal(false);
    expect(tokenMatches(token, token.slice(0, -1))).to.equal(false);
    expect(tokenMatches(token, token.toUpperCase())).to.equal(false);
  });

  it('refuses everything when no token is configured (read-only)', () => {
    expect(tokenMatches(undefined, token)).to.equal(false);
    expect(tokenMatches('', '')).to.equal(false);
  });

  it('refuses a missing, empty, repeated or oversize header', () => {
    expect(tokenMatches(token, undefined)).to.equal(false);
    expect(tokenMatches(token, '')).to.equal(false);
    expect(tokenMatches(token, [token, token])).to.equal(false);
    expect(tokenMatches('x'.repeat(MAX_TOKEN_LENGTH + 1), 'x'.repeat(MAX_TOKEN_LENGTH + 1))).to.equal(false);
  });
});
