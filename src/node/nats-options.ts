/**
 * Turns a validated {@link NatsConnectionConfig} into nats.js `ConnectionOptions`:
 * servers, the one authentication method, TLS material, timeouts and reconnection.
 *
 * Every file the configuration names (nkey seed, creds, CA, client certificate
 * and key) is read here, up front, so a node fails at start with one
 * `ConfigError` listing every unreadable or malformed file instead of failing
 * later inside a reconnect. Nothing is logged, and no message repeats a secret
 * or a file's contents.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type TlsOptions } from 'nats';
import { splitNatsUrls, type NatsConnectionConfig } from '../config/nats.ts';
import { ConfigError } from '../errors/index.ts';

/** Options of {@link toNatsConnectionOptions}. */
export interface NatsOptionsDeps {
  /**
   * Reads a file's bytes; throws when it cannot (a seam for tests). Synchronous:
   * this runs once at start, before the connection opens. @default `fs.readFileSync`
   */
  readFile?: (path: string) => Uint8Array;
  /** Where the section sits in the whole configuration, used to name fields in issues. @default 'nats' */
  configPath?: string;
}

/** A file to read: the field naming it, its path, and a check of its contents (a problem message, or undefined). */
interface FileSpec {
  field: string;
  path: string;
  check: (text: string, bytes: Uint8Array) => string | undefined;
}

const USER_SEED = /^\s*(SU[A-Z2-7]{56})\s*$/m;

/** The user nkey seed in a seed file's text (a line of its own), validated; undefined when there is none. */
function findUserSeed(text: string): string | undefined {
  const seed = USER_SEED.exec(text)?.[1];
  if (seed === undefined) return undefined;
  try {
    // Decodes the seed (checksum included) without signing anything.
    const { nkey } = nkeyAuthenticator(new TextEncoder().encode(seed))(undefined) as { nkey?: unknown };
    return typeof nkey === 'string' && nkey.startsWith('U') ? seed : undefined;
  } catch {
    return undefined; // bad checksum or encoding
  }
}

function checkSeed(text: string): string | undefined {
  return findUserSeed(text) === undefined
    ? 'does not hold a valid user nkey seed (a line "SU…" as printed by `nk -gen user`)'
    : undefined;
}

function checkCreds(_text: string, bytes: Uint8Array): string | undefined {
  try {
    // Parses the JWT and seed blocks and decodes the seed, without a nonce (no signing).
    const auth = credsAuthenticator(bytes)(undefined) as { jwt?: unknown };
    if (typeof auth.jwt !== 'string' || auth.jwt === '') throw new Error('no jwt');
    return undefined;
  } catch {
    return 'is not a valid credentials file (a user JWT and an nkey seed, as written by `nsc generate creds`)';
  }
}

const pemCheck =
  (label: RegExp, what: string) =>
  (text: string): string | undefined =>
    label.test(text) ? undefined : `does not hold a PEM ${what} (-----BEGIN ${what.toUpperCase()}-----)`;

/** The reason a read failed, short and without contents (e.g. `ENOENT`, `EACCES`). */
function readFailure(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined || error.message.startsWith(code) ? error.message : `${code}: ${error.message}`;
  }
  return String(error);
}

/**
 * The nats.js connection options for `config`. Reads the seed, creds and TLS
 * files it names; throws a `ConfigError` (code ESPER_CONFIG_INVALID) whose
 * `details.issues` names every file that could not be read or is malformed.
 */
export function toNatsConnectionOptions(config: NatsConnectionConfig, deps: NatsOptionsDeps = {}): ConnectionOptions {
  const readFile = deps.readFile ?? ((path: string): Uint8Array => readFileSync(path));
  const prefix = deps.configPath ?? 'nats';
  const servers = splitNatsUrls(config.url);

  const specs: FileSpec[] = [];
  if (config.nkeySeedFile !== undefined) specs.push({ field: 'nkeySeedFile', path: config.nkeySeedFile, check: checkSeed });
  if (config.credsFile !== undefined) specs.push({ field: 'credsFile', path: config.credsFile, check: checkCreds });
  if (config.tls?.caFile !== undefined) {
    specs.push({ field: 'tls.caFile', path: config.tls.caFile, check: pemCheck(/-----BEGIN [A-Z0-9 ]*CERTIFICATE-----/, 'certificate') });
  }
  if (config.tls?.certFile !== undefined) {
    specs.push({ field: 'tls.certFile', path: config.tls.certFile, check: pemCheck(/-----BEGIN [A-Z0-9 ]*CERTIFICATE-----/, 'certificate') });
  }
  if (config.tls?.keyFile !== undefined) {
    specs.push({ field: 'tls.keyFile', path: config.tls.keyFile, check: pemCheck(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, 'private key') });
  }

  // Every file is tried, so the error lists all the bad ones, not the first only.
  const issues: string[] = [];
  const contents = new Map<string, { text: string; bytes: Uint8Array }>();
  for (const spec of specs) {
    let bytes: Uint8Array;
    try {
      bytes = readFile(spec.path);
    } catch (error) {
      issues.push(`${prefix}.${spec.field}: cannot read ${spec.path} (${readFailure(error)})`);
      continue;
    }
    const text = new TextDecoder().decode(bytes);
    const problem = spec.check(text, bytes);
    if (problem !== undefined) {
      issues.push(`${prefix}.${spec.field}: ${spec.path} ${problem}`);
      continue;
    }
    contents.set(spec.field, { text, bytes });
  }
  if (issues.length > 0) {
    const files = issues.length === 1 ? 'a file' : `${issues.length} files`;
    throw new ConfigError(`NATS connection settings name ${files} that cannot be used: ${issues.join('; ')}`, issues);
  }

  const options: ConnectionOptions = {
    servers,
    timeout: config.connectTimeoutMs,
    reconnect: config.reconnect.maxAttempts !== 0,
    maxReconnectAttempts: config.reconnect.maxAttempts,
    reconnectTimeWait: config.reconnect.waitMs,
    pingInterval: config.pingIntervalMs,
  };
  if (config.name !== undefined) options.name = config.name;

  if (config.user !== undefined && config.pass !== undefined) {
    options.user = config.user;
    options.pass = config.pass;
  }
  if (config.token !== undefined) options.token = config.token;
  const seed = contents.get('nkeySeedFile');
  if (seed !== undefined) {
    const userSeed = findUserSeed(seed.text);
    if (userSeed !== undefined) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(userSeed));
  }
  const creds = contents.get('credsFile');
  if (creds !== undefined) options.authenticator = credsAuthenticator(creds.bytes);

  // nats.js strips the scheme from server URLs, so `tls://` must become an explicit `tls` option.
  const tlsScheme = servers.some((server) => server.toLowerCase().startsWith('tls://'));
  if (config.tls !== undefined || tlsScheme) {
    const tls: TlsOptions = {};
    const ca = contents.get('tls.caFile');
    const cert = contents.get('tls.certFile');
    const key = contents.get('tls.keyFile');
    if (ca !== undefined) tls.ca = ca.text;
    if (cert !== undefined) tls.cert = cert.text;
    if (key !== undefined) tls.key = key.text;
    if (config.tls?.handshakeFirst === true) tls.handshakeFirst = true;
    options.tls = tls;
  }
  return options;
}
