/**
 * The example server configuration enforces the permission model: only
 * operators steer (`esper.ctl.>`), nodes answer and use JetStream, viewers watch.
 *
 * Each suite starts its own nats-server (a child process on a spare loopback
 * port, JetStream in a temp dir) from a copy of config/nats-server.example.conf,
 * and builds every client through NatsConnectionConfigSchema →
 * toNatsConnectionOptions, so the config mapping is exercised end to end.
 * The shared server on 4222 is not used.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, ErrorCode, Events, NatsError, StringCodec, type NatsConnection, type Status } from 'nats';
import { NatsConnectionConfigSchema, type NatsConnectionConfigInput } from '../../../src/config/nats.ts';
import { toNatsConnectionOptions } from '../../../src/node/nats-options.ts';
import { tcpReachable } from '../../helpers/services.ts';
import { rejectionOf } from '../../helpers/rejects-with.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const EXAMPLE_CONF = join(ROOT, 'config/nats-server.example.conf');
const sc = StringCodec();

// A throwaway user nkey (generated for this test; it protects nothing).
const NKEY_SEED = 'SUAJEZYM7FOU43TLYZIRLN3ERCXVLIBBAGU4CYDC574YLGQITF6XVS2GWU';
const NKEY_PUBLIC = 'UDV4QPL6TDG5NFVOZUVAA5AMTJLHJJWK27FRR4NJP2SBDDDJ5AKL76LZ';
// The viewer's server side is a bcrypt hash (cost 10) of this test password, as the example recommends.
const VIEWER_PASSWORD = 'esper-viewer-test';
const VIEWER_BCRYPT = '$2b$10$Q/oubMciWK2nqhPRg5HAI.6U2bdb1VtEV44Tq4j7qkJdTg0g6/2bi';

/** An environment value as the example conf expects it: double-quoted, so nats-server reads a string. */
const confString = (value: string): string => `"${value}"`;

/**
 * A random password. Digits first on purpose: unquoted, values like `3e4f…` or
 * `10k` would be parsed as numbers by the server, which confString prevents.
 */
const randomPassword = (): string => `12e4${randomBytes(12).toString('hex')}`;

// ---------------------------------------------------------------------------
// harness
// ---------------------------------------------------------------------------

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The nats-server binary, or undefined (ESPER_NATS_SERVER overrides the Debian path). */
function natsServerBinary(): string | undefined {
  const candidates = [process.env['ESPER_NATS_SERVER'], '/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'];
  return candidates.find((path): path is string => path !== undefined && path !== '' && executable(path));
}

/** Skips the suite when a tool is missing, or fails it under ESPER_REQUIRE_SERVICES=1 (CI). */
function requireTool(ctx: Mocha.Context, found: boolean, what: string): void {
  if (found) return;
  if (process.env['ESPER_REQUIRE_SERVICES'] === '1') throw new Error(`${what} is missing (ESPER_REQUIRE_SERVICES=1)`);
  ctx.skip();
}

/** A loopback port that was free a moment ago (bind to 0, read it, close). */
function sparePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolvePort(port) : reject(new Error('no port'))));
    });
  });
}

interface RunningServer {
  process: ChildProcess;
  port: number;
  /** stdout + stderr so far, for failure messages. */
  log: () => string;
}

/** Starts nats-server with `confText` on a spare loopback port; resolves once it accepts TCP connections. */
async function startServer(bin: string, dir: string, confText: string, env: Record<string, string>): Promise<RunningServer> {
  const confPath = join(dir, 'nats-server.conf');
  writeFileSync(confPath, confText, { mode: 0o600 });
  const port = await sparePort();
  let output = '';
  const child = spawn(bin, ['-c', confPath, '-a', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const server: RunningServer = { process: child, port, log: () => output };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode}) before accepting connections:\n${output}`);
    }
    if (await tcpReachable('127.0.0.1', port, 200)) return server;
    if (Date.now() > deadline) {
      await stopServer(server);
      throw new Error(`nats-server did not accept connections on 127.0.0.1:${port} within 15 s:\n${output}`);
    }
    await new Promise((wake) => setTimeout(wake, 50));
  }
}

/** Stops our child nats-server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
async function stopServer(server: RunningServer | undefined): Promise<void> {
  const child = server?.process;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** The example configuration adjusted for a test: JetStream store in `storeDir`, plus extra users. */
function adjustedExample(storeDir: string, extraUsers: string[] = []): string {
  const example = readFileSync(EXAMPLE_CONF, 'utf8');
  const storeLine = /^(\s*store_dir:\s*)"[^"]*"/m;
  expect(example, 'the example must have a store_dir placeholder').to.match(storeLine);
  let text = example.replace(storeLine, `$1"${storeDir}"`);
  if (extraUsers.length > 0) {
    const marker = /^(\s*)# --- Switching to nkeys/m;
    expect(text, 'the example must keep its nkey section inside the users list').to.match(marker);
    text = text.replace(marker, (line, indent: string) => `${extraUsers.map((user) => `${indent}${user}\n`).join('')}${line}`);
  }
  return text;
}

/** A next status event of the given type from `nc.status()`, or a timeout error. */
function nextStatus(nc: NatsConnection, type: Status['type'], timeoutMs = 3000): Promise<Status> {
  return new Promise((resolveStatus, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' status within ${timeoutMs} ms`)), timeoutMs);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === type) {
          clearTimeout(timer);
          resolveStatus(status);
          return;
        }
      }
    })();
  });
}

function natsErrorOf(error: unknown): NatsError {
  expect(error).to.be.instanceOf(NatsError);
  return error as NatsError;
}

// ---------------------------------------------------------------------------
// the example configuration
// ---------------------------------------------------------------------------

describe('NATS security: config/nats-server.example.conf permissions', function () {
  this.timeout(30_000);

  const passwords = { operator: randomPassword(), node: randomPassword(), viewer: VIEWER_PASSWORD };
  let dir: string | undefined;
  let server: RunningServer | undefined;
  const connections: NatsConnection[] = [];

  const baseConfig = (): NatsConnectionConfigInput => ({
    url: `nats://127.0.0.1:${server?.port ?? 0}`,
    connectTimeoutMs: 3000,
    reconnect: { maxAttempts: 0 },
  });

  async function connectWith(input: Partial<NatsConnectionConfigInput>): Promise<NatsConnection> {
    const config = NatsConnectionConfigSchema.parse({ ...baseConfig(), ...input });
    const nc = await connect(toNatsConnectionOptions(config));
    connections.push(nc);
    return nc;
  }
  const connectAs = (user: keyof typeof passwords): Promise<NatsConnection> =>
    connectWith({ name: `test-${user}`, user, pass: passwords[user] });

  before(async function () {
    const bin = natsServerBinary();
    requireTool(this, bin !== undefined, 'nats-server (/usr/sbin/nats-server)');
    dir = mkdtempSync(join(tmpdir(), 'esper-nats-security-'));
    const storeDir = join(dir, 'jetstream');
    mkdirSync(storeDir);
    const conf = adjustedExample(storeDir, [`{ nkey: "${NKEY_PUBLIC}", permissions: $NODE_PERMISSIONS }`]);
    server = await startServer(bin!, dir, conf, {
      ESPER_OPERATOR_PASSWORD: confString(passwords.operator),
      ESPER_NODE_PASSWORD: confString(passwords.node),
      ESPER_VIEWER_PASSWORD: confString(VIEWER_BCRYPT),
    });
  });

  after(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await stopServer(server);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong password at connect with an authorization violation', async () => {
    const error = natsErrorOf(await rejectionOf(connectWith({ user: 'node', pass: `${passwords.node}x` })));
    expect(error.code).to.equal(ErrorCode.AuthorizationViolation);
  });

  it('refuses an unknown user and a client without credentials', async () => {
    expect(natsErrorOf(await rejectionOf(connectWith({ user: 'intruder', pass: 'guess' }))).code).to.equal(ErrorCode.AuthorizationViolation);
    expect(natsErrorOf(await rejectionOf(connectWith({}))).code).to.equal(ErrorCode.AuthorizationViolation);
  });

  it("lets the operator's request on esper.ctl.cluster.nodes reach a node responder and get its reply", async () => {
    const node = await connectAs('node');
    node.subscribe('esper.ctl.cluster.>', {
      queue: 'esper-cluster',
      callback: (error, msg) => {
        if (error === null) msg.respond(sc.encode(JSON.stringify({ ok: true, data: { nodes: ['n1'], subject: msg.subject } })));
      },
    });
    await node.flush();
    const operator = await connectAs('operator');
    const reply = await operator.request('esper.ctl.cluster.nodes', sc.encode(''), { timeout: 3000 });
    expect(JSON.parse(sc.decode(reply.data))).to.deep.equal({ ok: true, data: { nodes: ['n1'], subject: 'esper.ctl.cluster.nodes' } });
  });

  it("refuses the viewer's publish to esper.ctl.cluster.nodes and the node never sees it", async () => {
    const node = await connectAs('node');
    const seen: string[] = [];
    let sentinelSeen!: () => void;
    const sentinel = new Promise<void>((done) => (sentinelSeen = done));
    node.subscribe('esper.ctl.>', {
      callback: (error, msg) => {
        if (error !== null) return;
        seen.push(msg.subject);
        if (msg.subject === 'esper.ctl.test.sentinel') sentinelSeen();
      },
    });
    await node.flush();

    const viewer = await connectAs('viewer');
    const refused = nextStatus(viewer, Events.Error);
    viewer.publish('esper.ctl.cluster.nodes', sc.encode('{}'));
    const status = await refused;
    expect(status.data).to.equal(ErrorCode.PermissionsViolation);
    expect(status.permissionContext).to.deep.include({ operation: 'publish', subject: 'esper.ctl.cluster.nodes' });
    expect(viewer.isClosed()).to.equal(false); // a violation is refused, not fatal

    // A request (without the shared inbox) fails with the same violation.
    const requestError = natsErrorOf(await rejectionOf(viewer.request('esper.ctl.cluster.nodes', sc.encode(''), { timeout: 2000, noMux: true })));
    expect(requestError.code).to.equal(ErrorCode.PermissionsViolation);
    expect(requestError.permissionContext).to.deep.include({ operation: 'publish', subject: 'esper.ctl.cluster.nodes' });

    // The server queues to the node in order; once the operator's later sentinel
    // arrives, anything the viewer had got through would have arrived before it.
    const operator = await connectAs('operator');
    operator.publish('esper.ctl.test.sentinel', sc.encode(''));
    await sentinel;
    expect(seen).to.deep.equal(['esper.ctl.test.sentinel']);
  });

  it('refuses a node publishing control requests (only operators steer)', async () => {
    const node = await connectAs('node');
    const refused = nextStatus(node, Events.Error);
    node.publish('esper.ctl.run.start', sc.encode('{}'));
    const status = await refused;
    expect(status.data).to.equal(ErrorCode.PermissionsViolation);
    expect(status.permissionContext).to.deep.include({ operation: 'publish', subject: 'esper.ctl.run.start' });
  });

  it('refuses the operator subscribing to control requests (it steers, it does not answer)', async () => {
    const operator = await connectAs('operator');
    const sub = operator.subscribe('esper.ctl.>');
    const ended = (async () => {
      try {
        for await (const _msg of sub) {
          // nothing arrives
        }
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    const error = natsErrorOf(await ended);
    expect(error.code).to.equal(ErrorCode.PermissionsViolation);
    expect(error.permissionContext).to.deep.include({ operation: 'subscription', subject: 'esper.ctl.>' });
  });

  it('lets the node user create and use a KV bucket (JetStream)', async () => {
    const node = await connectAs('node');
    const kv = await node.jetstream().views.kv('esper_security_test', { history: 1, ttl: 60_000 });
    await kv.put('n1', sc.encode('alive'));
    const entry = await kv.get('n1');
    expect(entry === null ? undefined : sc.decode(entry.value)).to.equal('alive');
    await node.jetstreamManager().then((jsm) => jsm.streams.delete('KV_esper_security_test'));
  });

  it('refuses the viewer the JetStream API', async () => {
    const viewer = await connectAs('viewer');
    const refused = nextStatus(viewer, Events.Error);
    const attempt = rejectionOf(viewer.jetstream({ timeout: 1000 }).views.kv('esper_viewer_bucket'));
    const status = await refused;
    expect(status.data).to.equal(ErrorCode.PermissionsViolation);
    expect(status.permissionContext?.operation).to.equal('publish');
    expect(status.permissionContext?.subject).to.match(/^\$JS\.API\./);
    expect(await attempt).to.be.instanceOf(Error);
  });

  it('accepts a node authenticating with an nkey seed file (nkeySeedFile) under the node permissions', async () => {
    const seedFile = join(dir!, 'node.nk');
    writeFileSync(seedFile, `${NKEY_SEED}\n`, { mode: 0o600 });
    const node = await connectWith({ name: 'test-nkey-node', nkeySeedFile: seedFile });
    node.subscribe('esper.ctl.>');
    await node.flush();
    const refused = nextStatus(node, Events.Error);
    node.publish('esper.ctl.run.start', sc.encode('{}'));
    expect((await refused).permissionContext).to.deep.include({ operation: 'publish', subject: 'esper.ctl.run.start' });
  });
});

// ---------------------------------------------------------------------------
// TLS with a private CA and client certificates
// ---------------------------------------------------------------------------

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=Esper Test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem'], dir);
  for (const [name, ext] of [
    ['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=esper-${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  }
}

describe('NATS security: TLS with a private CA and client certificates', function () {
  this.timeout(30_000);

  const nodePassword = randomPassword();
  let dir: string | undefined;
  let server: RunningServer | undefined;
  const connections: NatsConnection[] = [];

  async function connectWith(input: Partial<NatsConnectionConfigInput>): Promise<NatsConnection> {
    const config = NatsConnectionConfigSchema.parse({ url: `tls://localhost:${server?.port ?? 0}`, connectTimeoutMs: 3000, reconnect: { maxAttempts: 0 }, ...input });
    const nc = await connect(toNatsConnectionOptions(config));
    connections.push(nc);
    return nc;
  }

  before(async function () {
    const bin = natsServerBinary();
    requireTool(this, bin !== undefined, 'nats-server (/usr/sbin/nats-server)');
    requireTool(this, opensslAvailable(), 'openssl');
    dir = mkdtempSync(join(tmpdir(), 'esper-nats-tls-'));
    const storeDir = join(dir, 'jetstream');
    mkdirSync(storeDir);
    makeCertificates(dir);
    // The example's commented tls block, filled in: mutual TLS.
    const tlsBlock = `tls {\n  cert_file: "${join(dir, 'server.pem')}"\n  key_file: "${join(dir, 'server-key.pem')}"\n  ca_file: "${join(dir, 'ca.pem')}"\n  verify: true\n  timeout: 2\n}\n`;
    server = await startServer(bin!, dir, `${adjustedExample(storeDir)}\n${tlsBlock}`, {
      ESPER_OPERATOR_PASSWORD: confString(randomPassword()),
      ESPER_NODE_PASSWORD: confString(nodePassword),
      ESPER_VIEWER_PASSWORD: confString(randomPassword()),
    });
  });

  after(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await stopServer(server);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('connects over tls:// with tls.caFile, tls.certFile and tls.keyFile plus user/pass', async () => {
    const nc = await connectWith({
      user: 'node',
      pass: nodePassword,
      tls: { caFile: join(dir!, 'ca.pem'), certFile: join(dir!, 'client.pem'), keyFile: join(dir!, 'client-key.pem') },
    });
    expect(nc.info?.tls_required).to.equal(true);
    const rtt = await nc.rtt();
    expect(rtt).to.be.a('number');
  });

  it('refuses a client that does not trust the server certificate (no caFile)', async () => {
    const error = await rejectionOf(
      connectWith({ user: 'node', pass: nodePassword, tls: { certFile: join(dir!, 'client.pem'), keyFile: join(dir!, 'client-key.pem') } }),
    );
    expect(String((error as Error).message)).to.match(/certificate|self.signed|unable to (get|verify)/i);
  });

  it('refuses a client without a client certificate (verify: true)', async () => {
    const error = await rejectionOf(connectWith({ user: 'node', pass: nodePassword, tls: { caFile: join(dir!, 'ca.pem') } }));
    expect(error).to.be.instanceOf(Error);
  });
});
