/**
 * Loads the node configuration: schema defaults < `config/default.json` <
 * `--config FILE` < environment (`ESPER_*`) < command-line flags. Every
 * problem from every source is collected and reported at once in one
 * ConfigError (ESPER_CONFIG_INVALID).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFrozen } from '../contracts/index.ts';
import { NodeConfigSchema, type NodeConfig } from './schema.ts';

/** The defaults file shipped with the package. */
export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../../config/default.json', import.meta.url));

/** Flags of `esper node start` that map onto configuration. */
export interface ConfigFlags {
  nats?: string;
  db?: string;
  name?: string;
  roles?: string;
  metricsPort?: string;
  config?: string;
}

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge: objects merge key by key, anything else (arrays included) replaces. */
export function mergeConfig(base: Json, override: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeConfig(current, value) : value;
  }
  return out;
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isPlainObject(next)) node = next;
    else {
      const created: Json = {};
      node[key] = created;
      node = created;
    }
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function readJsonFile(path: string, what: string, problems: string[]): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`${what} ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isPlainObject(parsed)) {
      problems.push(`${what} ${path}: must contain a JSON object`);
      return {};
    }
    return parsed;
  } catch (error) {
    problems.push(`${what} ${path}: not valid JSON (${(error as Error).message})`);
    return {};
  }
}

function parseInteger(raw: string, name: string, problems: string[]): number | undefined {
  if (!/^-?\d+$/.test(raw.trim())) {
    problems.push(`${name}: expected an integer, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return Number(raw);
}

function parseList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Environment variables read, and where each lands. */
export const CONFIG_ENVIRONMENT = {
  ESPER_NATS_URL: ['nats', 'url'],
  ESPER_NATS_USER: ['nats', 'user'],
  ESPER_NATS_PASS: ['nats', 'pass'],
  ESPER_NATS_TOKEN: ['nats', 'token'],
  ESPER_NATS_CREDS_FILE: ['nats', 'credsFile'],
  ESPER_NATS_NKEY_SEED_FILE: ['nats', 'nkeySeedFile'],
  ESPER_NATS_REPLICAS: ['nats', 'replicas'],
  ESPER_DB_URL: ['db', 'url'],
  ESPER_NODE_NAME: ['node', 'name'],
  ESPER_ROLES: ['node', 'roles'],
  ESPER_METRICS_PORT: ['metrics', 'port'],
  ESPER_SUBJECT_PREFIX: ['subjectPrefix'],
  ESPER_DATA_DIR: ['dataDir'],
  ESPER_LOG_LEVEL: ['log', 'level'],
  ESPER_HEARTBEAT_MS: ['membership', 'heartbeatMs'],
} as const satisfies Record<string, readonly string[]>;

const INTEGER_ENV = new Set<string>(['ESPER_METRICS_PORT', 'ESPER_HEARTBEAT_MS', 'ESPER_NATS_REPLICAS']);

function fromEnvironment(env: NodeJS.ProcessEnv, problems: string[]): Json {
  const out: Json = {};
  for (const [name, path] of Object.entries(CONFIG_ENVIRONMENT)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (INTEGER_ENV.has(name)) value = parseInteger(raw, name, problems);
    else if (name === 'ESPER_ROLES') value = parseList(raw);
    if (value !== undefined) setPath(out, path, value);
  }
  return out;
}

function fromFlags(flags: ConfigFlags, problems: string[]): Json {
  const out: Json = {};
  if (flags.nats !== undefined) setPath(out, ['nats', 'url'], flags.nats);
  if (flags.db !== undefined) setPath(out, ['db', 'url'], flags.db);
  if (flags.name !== undefined) setPath(out, ['node', 'name'], flags.name);
  if (flags.roles !== undefined) setPath(out, ['node', 'roles'], parseList(flags.roles));
  if (flags.metricsPort !== undefined) {
    const port = parseInteger(flags.metricsPort, '--metrics-port', problems);
    if (port !== undefined) setPath(out, ['metrics', 'port'], port);
  }
  return out;
}

export interface LoadConfigOptions {
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
  /** @default DEFAULT_CONFIG_FILE */
  defaultsFile?: string;
}

/** Loads, merges and validates the configuration; throws one ConfigError listing every problem. */
export function loadNodeConfig(options: LoadConfigOptions = {}): Readonly<NodeConfig> {
  const flags = options.flags ?? {};
  const problems: string[] = [];
  let merged = readJsonFile(options.defaultsFile ?? DEFAULT_CONFIG_FILE, 'defaults file', problems);
  if (flags.config !== undefined) merged = mergeConfig(merged, readJsonFile(flags.config, 'config file', problems));
  merged = mergeConfig(merged, fromEnvironment(options.env ?? process.env, problems));
  merged = mergeConfig(merged, fromFlags(flags, problems));
  return parseFrozen(NodeConfigSchema, merged, 'configuration', { problems });
}
