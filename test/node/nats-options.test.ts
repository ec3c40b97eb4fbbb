import { expect } from 'chai';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Authenticator } from 'nats';
import { NatsConnectionConfigSchema, type NatsConnectionConfigInput } from '../../src/config/nats.ts';
import { ConfigError } from '../../src/errors/index.ts';
import { toNatsConnectionOptions } from '../../src/node/nats-options.ts';
import { issuesOf, throwsWith } from '../helpers/rejects-with.ts';

// A throwaway user nkey (generated for these tests; it protects nothing).
const SEED = 'SUAMJPHOJQPZMJE6ET54EJBG2W7LJVDDFHXIHCCDJCOEIKCXTANLHOVAAQ';
const PUBLIC_KEY = 'UBBOW7HDPNKDAX2CCQOV32JZWHJQLABYAH4KUSHAUNBR5ESFKNRU43RA';
const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJ0ZXN0Ijp0cnVlfQ.c2lnbmF0dXJl';
const CREDS = `-----BEGIN NATS USER JWT-----
${JWT}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.

-----BEGIN USER NKEY SEED-----
${SEED}
------END USER NKEY SEED------
`;
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----\n';

function config(input: Partial<NatsConnectionConfigInput>): ReturnType<typeof NatsConnectionConfigSchema.parse> {
  return NatsConnectionConfigSchema.parse({ url: 'nats://127.0.0.1:4222', ...input });
}

function authenticate(authenticator: unknown, nonce: string): Record<string, unknown> {
  expect(authenticator).to.be.a('function');
  return (authenticator as Authenticator)(nonce) as unknown as Record<string, unknown>;
}

describe('toNatsConnectionOptions', () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'esper-nats-options-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps url, name, user/pass, timeouts and reconnection', () => {
    const options = toNatsConnectionOptions(
      config({
        url: 'nats://a:4222, nats://b:4223',
        name: 'node-1',
        user: 'node',
        pass: 's3cret',
        connectTimeoutMs: 1500,
        reconnect: { maxAttempts: 7, waitMs: 300 },
        pingIntervalMs: 10_000,
      }),
    );
    expect(options).to.deep.equal({
      servers: ['nats://a:4222', 'nats://b:4223'],
      name: 'node-1',
      user: 'node',
      pass: 's3cret',
      timeout: 1500,
      reconnect: true,
      maxReconnectAttempts: 7,
      reconnectTimeWait: 300,
      pingInterval: 10_000,
    });
  });

  it('maps defaults to retry forever every 2 s and no TLS', () => {
    const options = toNatsConnectionOptions(config({}));
    expect(options).to.deep.include({ servers: ['nats://127.0.0.1:4222'], timeout: 5000, maxReconnectAttempts: -1, reconnectTimeWait: 2000, reconnect: true });
    expect(options).not.to.have.property('tls');
    expect(options).not.to.have.property('authenticator');
    expect(options).not.to.have.property('user');
  });

  it('turns maxAttempts 0 into no reconnection', () => {
    expect(toNatsConnectionOptions(config({ reconnect: { maxAttempts: 0 } })).reconnect).to.equal(false);
  });

  it('maps a token and nothing else', () => {
    const options = toNatsConnectionOptions(config({ token: 't0ken' }));
    expect(options.token).to.equal('t0ken');
    expect(options).not.to.have.any.keys('user', 'pass', 'authenticator');
  });

  it('builds an nkey authenticator from the seed file (comments and blank lines tolerated)', () => {
    const path = file('node.nk', `# node-1 user nkey\n\n${SEED}\n`);
    const options = toNatsConnectionOptions(config({ nkeySeedFile: path }));
    const auth = authenticate(options.authenticator, 'nonce-1');
    expect(auth['nkey']).to.equal(PUBLIC_KEY);
    expect(auth['sig']).to.be.a('string').and.not.equal('');
    expect(options).not.to.have.any.keys('user', 'pass', 'token');
  });

  it('builds a creds authenticator from the creds file', () => {
    const options = toNatsConnectionOptions(config({ credsFile: file('node.creds', CREDS) }));
    const auth = authenticate(options.authenticator, 'nonce-2');
    expect(auth['jwt']).to.equal(JWT);
    expect(auth['nkey']).to.equal(PUBLIC_KEY);
  });

  it('reads the CA, client certificate and key into tls', () => {
    const options = toNatsConnectionOptions(
      config({
        url: 'tls://nats.internal:4443',
        tls: { caFile: file('ca.pem', CA_PEM), certFile: file('client.pem', CERT_PEM), keyFile: file('client-key.pem', KEY_PEM), handshakeFirst: true },
      }),
    );
    expect(options.tls).to.deep.equal({ ca: CA_PEM, cert: CERT_PEM, key: KEY_PEM, handshakeFirst: true });
  });

  it('requires TLS for tls:// URLs and for an empty tls block', () => {
    expect(toNatsConnectionOptions(config({ url: 'tls://nats.internal:4443' })).tls).to.deep.equal({});
    expect(toNatsConnectionOptions(config({ tls: {} })).tls).to.deep.equal({});
  });

  it('reads through the injected readFile', () => {
    const read: string[] = [];
    const options = toNatsConnectionOptions(config({ tls: { caFile: '/virtual/ca.pem' } }), {
      readFile: (path) => {
        read.push(path);
        return new TextEncoder().encode(CA_PEM);
      },
    });
    expect(read).to.deep.equal(['/virtual/ca.pem']);
    expect(options.tls?.ca).to.equal(CA_PEM);
  });

  it('lists every unreadable or malformed file in one ConfigError', () => {
    const missingCreds = join(dir, 'missing.creds');
    const missingCa = join(dir, 'missing-ca.pem');
    const directory = join(dir, 'a-directory');
    mkdirSync(directory, { recursive: true });
    const notAKey = file('not-a-key.pem', 'hello\n');
    const error = throwsWith(() =>
      toNatsConnectionOptions(config({ credsFile: missingCreds, tls: { caFile: missingCa, certFile: directory, keyFile: notAKey } })),
      ConfigError,
    );
    expect(error.code).to.equal('ESPER_CONFIG_INVALID');
    const issues = issuesOf(error);
    expect(issues).to.have.length(4);
    expect(issues[0]).to.match(/^nats\.credsFile: cannot read .*missing\.creds \(ENOENT/);
    expect(issues[1]).to.match(/^nats\.tls\.caFile: cannot read .*missing-ca\.pem \(ENOENT/);
    expect(issues[2]).to.match(/^nats\.tls\.certFile: cannot read .*a-directory \(EISDIR/);
    expect(issues[3]).to.match(/^nats\.tls\.keyFile: .*not-a-key\.pem does not hold a PEM private key/);
    for (const path of [missingCreds, missingCa, directory, notAKey]) expect(error.message).to.include(path);
  });

  it('reports permission problems with their code and the configured section path', () => {
    const denied = (path: string): never => {
      throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
    };
    const error = throwsWith(() => toNatsConnectionOptions(config({ nkeySeedFile: '/etc/esper/node.nk' }), { readFile: denied, configPath: 'cluster.nats' }), ConfigError);
    expect(issuesOf(error)).to.deep.equal([
      "cluster.nats.nkeySeedFile: cannot read /etc/esper/node.nk (EACCES: permission denied, open '/etc/esper/node.nk')",
    ]);
  });

  it('rejects a seed file without a valid user seed, without repeating its contents', () => {
    const secretLooking = 'SAAGARBAGEGARBAGEGARBAGE';
    const error = throwsWith(() => toNatsConnectionOptions(config({ nkeySeedFile: file('bad.nk', `${secretLooking}\n`) })), ConfigError);
    expect(issuesOf(error)[0]).to.match(/does not hold a valid user nkey seed/);
    expect(JSON.stringify(error.toWire())).not.to.include(secretLooking);
    // a user seed with a broken checksum is rejected too
    const broken = `${SEED.slice(0, -1)}${SEED.endsWith('A') ? 'B' : 'A'}`;
    expect(issuesOf(throwsWith(() => toNatsConnectionOptions(config({ nkeySeedFile: file('broken.nk', broken) })), ConfigError))).to.have.length(1);
  });

  it('rejects a creds file without a JWT and seed, without repeating its contents', () => {
    const error = throwsWith(() => toNatsConnectionOptions(config({ credsFile: file('bad.creds', `token=${SEED}\n`) })), ConfigError);
    expect(issuesOf(error)[0]).to.match(/^nats\.credsFile: .*bad\.creds is not a valid credentials file/);
    expect(JSON.stringify(error.toWire())).not.to.include(SEED);
  });

  it('never puts the password or token in an error', () => {
    const error = throwsWith(() =>
      toNatsConnectionOptions(config({ user: 'node', pass: 'hunter2', tls: { caFile: join(dir, 'nope.pem') } })),
      ConfigError,
    );
    expect(JSON.stringify({ message: error.message, wire: error.toWire() })).not.to.include('hunter2');
  });
});
