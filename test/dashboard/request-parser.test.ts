import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { expect } from 'chai';
import { HttpError } from '../../src/dashboard/http-error.ts';
import { allowQuery, MAX_TARGET_LENGTH, parseTarget, readJsonBody } from '../../src/dashboard/request-parser.ts';

function codeOf(fn: () => unknown): { status: number; code: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { status: error.status, code: error.code };
  }
}

function fakeRequest(body: Buffer | string, headers: Record<string, string> = {}): IncomingMessage {
  const stream = Readable.from([typeof body === 'string' ? Buffer.from(body) : body]) as unknown as IncomingMessage;
  (stream as { headers: Record<string, string> }).headers = headers;
  return stream;
}

describe('request parser', () => {
  describe('parseTarget', () => {
    it('splits a path into segments and a query into distinct decoded parameters', () => {
      const target = parseTarget('/api/runs/r-1/?view=runs&run=a%20b&flag');
      expect(target.segments).to.deep.equal(['api', 'runs', 'r-1']);
      expect([...target.query]).to.deep.equal([['view', 'runs'], ['run', 'a b'], ['flag', '']]);
      expect(parseTarget('/').segments).to.deep.equal([]);
    });

    it('answers coded 4xx errors for malformed targets', () => {
      const cases: Array<[string | undefined, number]> = [
        [undefined, 400],
        ['', 400],
        ['api', 400],
        ['http://evil.example/', 400],
        ['/a//b', 400],
        ['/a/../b', 400],
        ['/a/%2e%2e/b', 400],
        ['/a b', 400],
        ['/x#frag', 400],
        ['/?a=%zz', 400],
        ['/?%zz=1', 400],
        ['/?a=1&a=2', 400],
        ['/?a=1&&b=2', 400],
        ['/?1a=x', 400],
        ['/?a=%00', 400],
        [`/?${Array.from({ length: 40 }, (_, i) => `p${i}=1`).join('&')}`, 400],
        [`/${'a'.repeat(MAX_TARGET_LENGTH)}`, 414],
      ];
      for (const [target, status] of cases) {
        const outcome = codeOf(() => parseTarget(target));
        expect(outcome, String(target)).to.not.equal(undefined);
        expect(outcome?.status, String(target)).to.equal(status);
      }
    });

    it('never throws anything but a coded HttpError on random input (fuzz)', () => {
      const alphabet = '/?&=%#+.azAZ09_-~ \u0000\u00e9\ud800\u202e[]:;@!$\'()*,';
      for (let i = 0; i < 5000; i++) {
        const length = 1 + (randomBytes(1)[0] ?? 0) % 80;
        const bytes = randomBytes(length);
        let text = '';
        for (const byte of bytes) text += alphabet[byte % alphabet.length] ?? '';
        const target = i % 2 === 0 ? `/${text}` : text;
        try {
          parseTarget(target);
        } catch (error) {
          expect(error, JSON.stringify(target)).to.be.instanceOf(HttpError);
          expect((error as HttpError).status, JSON.stringify(target)).to.be.within(400, 499);
        }
      }
    });

    it('names unknown query parameters of a route', () => {
      const outcome = codeOf(() => allowQuery(parseTarget('/api/state?evil=1'), []));
      expect(outcome).to.deep.equal({ status: 400, code: 'ESPER_SCHEMA_VIOLATION' });
      expect(codeOf(() => allowQuery(parseTarget('/?run=r1'), ['run', 'view']))).to.equal(undefined);
    });
  });

  describe('readJsonBody', () => {
    async function bodyError(request: IncomingMessage, limit?: number): Promise<{ status: number; code: string } | undefined> {
      try {
        await readJsonBody(request, limit);
        return undefined;
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        return { status: error.status, code: error.code };
      }
    }

    it('reads JSON, and an empty body as {}', async () => {
      expect(await readJsonBody(fakeRequest('{"reason":"x"}', { 'content-type': 'application/json; charset=utf-8' }))).to.deep.equal({ reason: 'x' });
      expect(await readJsonBody(fakeRequest(''))).to.deep.equal({});
    });

    it('refuses oversize bodies (declared or counted), wrong content types, bad UTF-8 and bad JSON', async () => {
      expect(await bodyError(fakeRequest('{}', { 'content-length': '999999', 'content-type': 'application/json' }), 100)).to.deep.equal({ status: 413, code: 'ESPER_PAYLOAD_TOO_LARGE' });
      expect(await bodyError(fakeRequest('{}', { 'content-length': '-1', 'content-type': 'application/json' }))).to.deep.equal({ status: 413, code: 'ESPER_PAYLOAD_TOO_LARGE' });
      expect(await bodyError(fakeRequest(`"${'x'.repeat(500)}"`, { 'content-type': 'application/json' }), 100)).to.deep.equal({ status: 413, code: 'ESPER_PAYLOAD_TOO_LARGE' });
      expect(await bodyError(fakeRequest('{}', { 'content-type': 'text/plain' }))).to.deep.equal({ status: 415, code: 'ESPER_SCHEMA_VIOLATION' });
      expect(await bodyError(fakeRequest(Buffer.from([0x7b, 0xff, 0x7d]), { 'content-type': 'application/json' }))).to.deep.equal({ status: 400, code: 'ESPER_INVALID_JSON' });
      expect(await bodyError(fakeRequest('{nope', { 'content-type': 'application/json' }))).to.deep.equal({ status: 400, code: 'ESPER_INVALID_JSON' });
    });
  });
});
