import { expect } from 'chai';
import { hasWildcard, isValidPattern, isValidSubject, matchSubject, patternsOverlap } from '../../../src/actors/oona/subject-match.ts';

describe('subject-match', () => {
  describe('matchSubject', () => {
    const cases: [pattern: string, subject: string, matches: boolean][] = [
      ['a.b.c', 'a.b.c', true],
      ['a.b.c', 'a.b', false],
      ['a.b', 'a.b.c', false],
      ['a.*.c', 'a.b.c', true],
      ['a.*.c', 'a.b.d', false],
      ['a.*', 'a', false],
      ['a.*', 'a.b.c', false],
      ['*', 'a', true],
      ['*', 'a.b', false],
      ['a.>', 'a.b', true],
      ['a.>', 'a.b.c.d', true],
      ['a.>', 'a', false],
      ['>', 'a', true],
      ['>', 'a.b.c', true],
      ['*.*.>', 'a.b', false],
      ['*.*.>', 'a.b.c', true],
      ['esper.ctl.run.*.status', 'esper.ctl.run.r1.status', true],
      ['esper.ctl.run.*.status', 'esper.ctl.run.r1.pause', false],
      ['a.b*.c', 'a.bx.c', false], // '*' inside a token is a literal character
      ['a.b*.c', 'a.b*.c', true],
    ];
    for (const [pattern, subject, matches] of cases) {
      it(`${pattern} ${matches ? 'matches' : 'does not match'} ${subject}`, () => {
        expect(matchSubject(pattern, subject)).to.equal(matches);
      });
    }
  });

  it('validates publish subjects: no wildcards, no empty tokens, no spaces', () => {
    expect(isValidSubject('esper.ctl.cluster.nodes')).to.equal(true);
    for (const bad of ['', 'a..b', '.a', 'a.', 'a.*', 'a.>', 'a b', 'a.\tb']) {
      expect(isValidSubject(bad), JSON.stringify(bad)).to.equal(false);
    }
  });

  it('validates patterns: > only as the last token', () => {
    for (const good of ['a', 'a.*', '*.b.>', '>', 'a.*.*']) expect(isValidPattern(good), good).to.equal(true);
    for (const bad of ['', 'a.>.b', '>.a', 'a..b', 'a. b']) expect(isValidPattern(bad), JSON.stringify(bad)).to.equal(false);
  });

  it('spots wildcards', () => {
    expect(hasWildcard('a.*.c')).to.equal(true);
    expect(hasWildcard('a.>')).to.equal(true);
    expect(hasWildcard('a.b*')).to.equal(false);
  });

  it('tells whether two patterns can match a common subject', () => {
    expect(patternsOverlap('a.>', 'a.b.c')).to.equal(true);
    expect(patternsOverlap('a.*', 'a.b')).to.equal(true);
    expect(patternsOverlap('a.*', '*.b')).to.equal(true);
    expect(patternsOverlap('a.>', 'a')).to.equal(false);
    expect(patternsOverlap('a.*', 'a.b.c')).to.equal(false);
    expect(patternsOverlap('a.b', 'a.c')).to.equal(false);
    expect(patternsOverlap('>', 'x.y')).to.equal(true);
  });
});
