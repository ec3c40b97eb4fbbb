/**
 * `esper ctl …`: a convenience over the control subjects, sending exactly what
 * `nats req SUBJECT PAYLOAD` would send (raw payload, plain request/reply).
 */
import { connect, type NatsConnection } from 'nats';
import { subjects as subjectBuilders, NODE_VERBS, RUN_VERBS, SEED_VERBS } from '../contracts/subjects.ts';
import { ReplySchema } from '../contracts/reply.ts';
import { BusError, EsperError, InputError } from '../errors/index.ts';
import { NatsConnectionConfigSchema } from '../config/nats.ts';
import { toNatsConnectionOptions } from '../node/nats-options.ts';
import { formatZodIssues } from '../contracts/index.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { printError, type CliOutput } from './output.ts';

/** Connection flags shared by every `esper ctl` command. */
export interface CtlConnectionFlags {
  nats?: string;
  user?: string;
  password?: string;
  token?: string;
  creds?: string;
  timeout?: string;
  prefix?: string;
}

export const DEFAULT_CTL_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * The NATS connection config of a CLI command: flags, then ESPER_NATS_* env.
 * `esper ctl` gives up at once on a lost connection (`reconnectAttempts` 0);
 * a command that follows a run for long reconnects forever (-1).
 */
export function connectionConfig(flags: CtlConnectionFlags, env: NodeJS.ProcessEnv, client: { name: string; reconnectAttempts: number } = { name: 'esper-ctl', reconnectAttempts: 0 }): unknown {
  const config: Record<string, unknown> = { url: flags.nats ?? env['ESPER_NATS_URL'] ?? DEFAULT_CTL_NATS_URL, name: client.name };
  const user = flags.user ?? env['ESPER_NATS_USER'];
  const pass = flags.password ?? env['ESPER_NATS_PASS'];
  const token = flags.token ?? env['ESPER_NATS_TOKEN'];
  const creds = flags.creds ?? env['ESPER_NATS_CREDS_FILE'];
  if (user !== undefined) config['user'] = user;
  if (pass !== undefined) config['pass'] = pass;
  if (token !== undefined) config['token'] = token;
  if (creds !== undefined) config['credsFile'] = creds;
  config['reconnect'] = { maxAttempts: client.reconnectAttempts };
  return config;
}

function parseTimeout(raw: string | undefined): number {
  if (raw === undefined) return 5000;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new InputError('ESPER_SCHEMA_VIOLATION', `--timeout must be a positive integer (ms), got ${JSON.stringify(raw)}`);
  return value;
}

/** Sends one raw request and returns the decoded reply text. */
async function sendRequest(nc: NatsConnection, subject: string, payload: string, timeoutMs: number): Promise<string> {
  try {
    const message = await nc.request(subject, new TextEncoder().encode(payload), { timeout: timeoutMs });
    return new TextDecoder().decode(message.data);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '503') throw new BusError('ESPER_NO_RESPONDERS', `no node answers ${subject}`);
    if (code === 'TIMEOUT') throw new BusError('ESPER_TIMEOUT', `no reply on ${subject} within ${timeoutMs} ms`);
    throw new BusError('ESPER_BUS_UNAVAILABLE', `request on ${subject} failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Runs one control request and prints the reply (pretty JSON) on stdout.
 * Returns 0 for `{ok:true}`, 1 for an error reply or a transport failure
 * (printed with its code), 2 for bad flags.
 */
export async function runCtlRequest(
  subject: string,
  payload: string,
  flags: CtlConnectionFlags,
  output: CliOutput,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ExitCode> {
  let timeoutMs: number;
  let options;
  try {
    timeoutMs = parseTimeout(flags.timeout);
    const parsed = NatsConnectionConfigSchema.safeParse(connectionConfig(flags, env));
    if (!parsed.success) {
      throw new InputError('ESPER_SCHEMA_VIOLATION', 'invalid connection flags', { details: { issues: formatZodIssues(parsed.error) } });
    }
    options = toNatsConnectionOptions(parsed.data);
  } catch (error) {
    printError(output, error);
    return EXIT.USAGE;
  }
  let nc: NatsConnection | undefined;
  try {
    nc = await connect(options).catch((error: unknown) => {
      throw new BusError('ESPER_BUS_UNAVAILABLE', `cannot connect to NATS: ${(error as Error).message}`, { cause: error });
    });
    const text = await sendRequest(nc, subject, payload, timeoutMs);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      output.out(text);
      return EXIT.OK;
    }
    output.out(JSON.stringify(json, null, 2));
    const reply = ReplySchema.safeParse(json);
    if (reply.success && !reply.data.ok) {
      printError(output, EsperError.fromWire(reply.data.error));
      return EXIT.FAILED;
    }
    return EXIT.OK;
  } catch (error) {
    printError(output, error);
    return EXIT.FAILED;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** The subject of a friendly `esper ctl` verb, or an InputError for unknown verbs. */
export function friendlySubject(prefix: string, kind: 'node' | 'run' | 'seed', verb: string, ids: readonly string[]): string {
  const s = subjectBuilders(prefix);
  const known = kind === 'node' ? NODE_VERBS : kind === 'run' ? RUN_VERBS : SEED_VERBS;
  if (!(known as readonly string[]).includes(verb)) {
    throw new InputError('ESPER_UNKNOWN_VERB', `unknown ${kind} verb ${JSON.stringify(verb)}; expected one of ${known.join(', ')}`);
  }
  const [first = '', second = ''] = ids;
  try {
    if (kind === 'node') return s.node(first, verb as (typeof NODE_VERBS)[number]);
    if (kind === 'run') return s.run(first, verb as (typeof RUN_VERBS)[number]);
    return s.seed(first, second, verb as (typeof SEED_VERBS)[number]);
  } catch (error) {
    throw new InputError('ESPER_SCHEMA_VIOLATION', (error as Error).message);
  }
}
