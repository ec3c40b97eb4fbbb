import { expect } from 'chai';
import {
  NatsConnectionConfigSchema,
  natsAuthMethods,
  redactNatsConnectionConfig,
  splitNatsUrls,
  type NatsConnectionConfigInput,
} from '../../src/config/nats.ts';

const URL_OK = 'nats://127.0.0.1:4222';

function issuesOf(input: unknown): { path: string; message: string }[] {
  const result = NatsConnectionConfigSchema.safeParse(input);
  expect(result.success, 'expected the configuration to be rejected').to.equal(false);
  return (result.error?.issues ?? []).map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

function parse(input: NatsConnectionConfigInput): ReturnType<typeof NatsConnectionConfigSchema.parse> {
  return NatsConnectionConfigSchema.parse(input);
}

describe('NatsConnectionConfigSchema', () => {
  describe('defaults', () => {
    it('fills timeouts, reconnection and ping interval from a bare url', () => {
      expect(parse({ url: URL_OK })).to.deep.equal({
        url: URL_OK,
        connectTimeoutMs: 5000,
        reconnect: { maxAttempts: -1, waitMs: 2000 },
        pingIntervalMs: 30_000,
      });
    });

    it('keeps given values and defaults the rest of reconnect and tls', () => {
      const config = parse({ url: URL_OK, reconnect: { waitMs: 250 }, tls: { caFile: '/ca.pem' }, connectTimeoutMs: 900 });
      expect(config.reconnect).to.deep.equal({ maxAttempts: -1, waitMs: 250 });
      expect(config.tls).to.deep.equal({ caFile: '/ca.pem', handshakeFirst: false });
      expect(config.connectTimeoutMs).to.equal(900);
    });
  });

  describe('authentication methods', () => {
    const accepted: [string, NatsConnectionConfigInput, string[]][] = [
      ['none', { url: URL_OK }, []],
      ['user/pass', { url: URL_OK, user: 'node', pass: 's3cret' }, ['user/pass']],
      ['token', { url: URL_OK, token: 't0ken' }, ['token']],
      ['nkeySeedFile', { url: URL_OK, nkeySeedFile: '/etc/esper/node.nk' }, ['nkeySeedFile']],
      ['credsFile', { url: URL_OK, credsFile: '/etc/esper/node.creds' }, ['credsFile']],
    ];
    for (const [name, input, methods] of accepted) {
      it(`accepts ${name}`, () => {
        const config = parse(input);
        expect(natsAuthMethods(config)).to.deep.equal(methods);
      });
    }

    it('accepts an auth method together with TLS client certificates', () => {
      const config = parse({ url: 'tls://nats.internal:4222', credsFile: '/c', tls: { caFile: '/ca', certFile: '/crt', keyFile: '/key' } });
      expect(config.tls?.certFile).to.equal('/crt');
    });

    it('rejects two methods at once, naming both', () => {
      const issues = issuesOf({ url: URL_OK, token: 't', credsFile: '/c' });
      expect(issues).to.have.length(1);
      expect(issues[0]?.message).to.match(/choose one authentication method/).and.match(/token, credsFile/);
    });

    it('rejects user/pass with an nkey seed file', () => {
      const issues = issuesOf({ url: URL_OK, user: 'u', pass: 'p', nkeySeedFile: '/n' });
      expect(issues.map((issue) => issue.message).join('\n')).to.match(/found user\/pass, nkeySeedFile/);
    });

    it('rejects all four at once with one issue', () => {
      const issues = issuesOf({ url: URL_OK, user: 'u', pass: 'p', token: 't', nkeySeedFile: '/n', credsFile: '/c' });
      expect(issues).to.have.length(1);
      expect(issues[0]?.message).to.include('not 4');
    });

    it('rejects user without pass, and pass without user', () => {
      expect(issuesOf({ url: URL_OK, user: 'u' })).to.deep.equal([
        { path: 'pass', message: 'user is set but pass is missing: give both or neither' },
      ]);
      expect(issuesOf({ url: URL_OK, pass: 'p' })).to.deep.equal([
        { path: 'user', message: 'pass is set but user is missing: give both or neither' },
      ]);
    });

    it('rejects an empty token', () => {
      expect(issuesOf({ url: URL_OK, token: '' })[0]?.path).to.equal('token');
    });
  });

  describe('tls', () => {
    it('rejects a client certificate without its key, and a key without its certificate', () => {
      expect(issuesOf({ url: URL_OK, tls: { certFile: '/crt' } })).to.deep.equal([
        { path: 'tls.keyFile', message: 'tls.certFile is set but tls.keyFile is missing: give both or neither' },
      ]);
      expect(issuesOf({ url: URL_OK, tls: { keyFile: '/key' } })[0]?.path).to.equal('tls.certFile');
    });

    it('rejects unknown tls keys (strict)', () => {
      expect(issuesOf({ url: URL_OK, tls: { verify: true } })[0]?.message).to.match(/verify/);
    });
  });

  describe('url', () => {
    it('accepts several comma-separated servers and both schemes', () => {
      expect(parse({ url: 'nats://a:4222, nats://b:4222 ,nats://c' }).url).to.equal('nats://a:4222, nats://b:4222 ,nats://c');
      expect(splitNatsUrls('nats://a:4222, nats://b:4222 ,,nats://c')).to.deep.equal(['nats://a:4222', 'nats://b:4222', 'nats://c']);
      expect(parse({ url: 'tls://nats.example.com:4443,tls://[::1]:4443' }).url).to.include('tls://');
    });

    const bad: [string, string, RegExp][] = [
      ['an http URL', 'http://127.0.0.1:4222', /must start with nats:\/\/ or tls:\/\//],
      ['a bare host:port', '127.0.0.1:4222', /must start with nats:\/\/ or tls:\/\//],
      ['an empty string', '', /at least one server/],
      ['only commas', ' , ', /at least one server/],
      ['a port out of range', 'nats://127.0.0.1:99999', /not a valid URL/],
      ['a path', 'nats://127.0.0.1:4222/x', /without a path/],
      ['one bad entry among good ones', 'nats://a:4222,nats//b', /"nats\/\/b" must start with/],
    ];
    for (const [name, url, message] of bad) {
      it(`rejects ${name}`, () => {
        const issues = issuesOf({ url });
        expect(issues).to.have.length(1);
        expect(issues[0]?.path).to.equal('url');
        expect(issues[0]?.message).to.match(message);
      });
    }

    it('rejects credentials in the URL without repeating them', () => {
      const issues = issuesOf({ url: 'nats://node:hunter2@127.0.0.1:4222' });
      expect(issues[0]?.message).to.match(/carries credentials/);
      expect(JSON.stringify(issues)).not.to.include('hunter2');
    });

    it('rejects mixing nats:// and tls:// servers', () => {
      expect(issuesOf({ url: 'nats://a:4222,tls://b:4222' })[0]?.message).to.match(/mixes nats:\/\/ and tls:\/\//);
    });

    it('rejects a missing url', () => {
      expect(issuesOf({})[0]?.path).to.equal('url');
    });
  });

  it('reports every problem at once (bad url, two auth methods, unknown key, bad timeout)', () => {
    const issues = issuesOf({ url: 'http://x', token: 't', credsFile: '/c', extra: 1, connectTimeoutMs: -5 });
    const text = issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
    expect(text).to.match(/^url: .*must start with/m);
    expect(text).to.match(/choose one authentication method/);
    expect(text).to.match(/extra/);
    expect(text).to.match(/connectTimeoutMs/);
  });

  it('rejects reconnect.maxAttempts below -1 and non-integers', () => {
    expect(issuesOf({ url: URL_OK, reconnect: { maxAttempts: -2 } })[0]?.path).to.equal('reconnect.maxAttempts');
    expect(issuesOf({ url: URL_OK, pingIntervalMs: 1.5 })[0]?.path).to.equal('pingIntervalMs');
  });

  it('redacts pass and token for logging and keeps the rest', () => {
    const config = parse({ url: URL_OK, user: 'node', pass: 'hunter2' });
    const redacted = redactNatsConnectionConfig(config);
    expect(redacted.pass).to.equal('[redacted]');
    expect(redacted.user).to.equal('node');
    expect(JSON.stringify(redactNatsConnectionConfig(parse({ url: URL_OK, token: 'tok-123' })))).not.to.include('tok-123');
    expect(config.pass).to.equal('hunter2');
  });
});
