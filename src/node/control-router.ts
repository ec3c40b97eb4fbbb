/**
 * The control plane's routing, free of any transport: a subject and raw
 * payload in, a §4 reply out. Every failure — oversize, not JSON, wrong
 * shape, unknown verb, a handler's throw — comes back as a coded error reply;
 * `handle` itself never throws, so one bad request cannot take the daemon down.
 */
import type { z } from 'zod';
import { errorReply, okReply, type Reply } from '../contracts/reply.ts';
import { formatZodIssues } from '../contracts/index.ts';
import { InputError, toWireError } from '../errors/index.ts';

/** One route: `pattern` is the subject after `<prefix>.ctl.`, with `:name` tokens captured as params. */
export interface ControlRoute<S extends z.ZodType = z.ZodType> {
  pattern: string;
  schema: S;
  /** Human summary, used in docs and in the unknown-verb error. */
  summary: string;
  handle(input: z.infer<S>, params: Readonly<Record<string, string>>): unknown;
}

/** Declares a route with its input type inferred from the schema. */
export function route<S extends z.ZodType>(definition: ControlRoute<S>): ControlRoute {
  return definition;
}

interface CompiledRoute {
  tokens: readonly string[];
  route: ControlRoute;
}

export interface ControlRouterOptions {
  /** Subject prefix. @default 'esper' */
  prefix: string;
  /** Largest accepted payload. @default 1 MiB */
  maxPayloadBytes: number;
  /** Called with each request's verb label and duration (s), for the latency histogram. */
  observe?: (label: string, seconds: number, ok: boolean) => void;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses a control payload: empty (or whitespace) is `{}`, like `nats req SUBJECT ''`. */
export function parseControlPayload(data: Uint8Array): unknown {
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    throw new InputError('ESPER_INVALID_JSON', 'payload is not UTF-8 text');
  }
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError('ESPER_INVALID_JSON', `payload is not JSON: ${(error as Error).message}`);
  }
}

export class ControlRouter {
  readonly #routes: CompiledRoute[] = [];
  readonly #options: ControlRouterOptions;
  readonly #ctlPrefix: string;

  constructor(options: ControlRouterOptions) {
    this.#options = options;
    this.#ctlPrefix = `${options.prefix}.ctl.`;
  }

  add(...routes: ControlRoute[]): this {
    for (const r of routes) this.#routes.push({ tokens: r.pattern.split('.'), route: r });
    return this;
  }

  /** The registered routes (for docs and tests). */
  get routes(): readonly ControlRoute[] {
    return this.#routes.map((compiled) => compiled.route);
  }

  /** Finds the route for a subject, with its params; undefined when none matches. */
  match(subject: string): { route: ControlRoute; params: Record<string, string> } | undefined {
    if (!subject.startsWith(this.#ctlPrefix)) return undefined;
    const tokens = subject.slice(this.#ctlPrefix.length).split('.');
    for (const compiled of this.#routes) {
      const params = matchTokens(compiled.tokens, tokens);
      if (params !== undefined) return { route: compiled.route, params };
    }
    return undefined;
  }

  /** Answers one request. Never throws. */
  async handle(subject: string, data: Uint8Array): Promise<Reply> {
    const started = process.hrtime.bigint();
    const matched = this.match(subject);
    const label = matched?.route.pattern ?? 'unknown';
    let reply: Reply;
    try {
      reply = okReply(await this.#dispatch(subject, data, matched));
    } catch (error) {
      reply = errorReply(toWireError(error));
    }
    this.#options.observe?.(label, Number(process.hrtime.bigint() - started) / 1e9, reply.ok);
    return reply;
  }

  async #dispatch(
    subject: string,
    data: Uint8Array,
    matched: { route: ControlRoute; params: Record<string, string> } | undefined,
  ): Promise<unknown> {
    if (data.byteLength > this.#options.maxPayloadBytes) {
      throw new InputError('ESPER_PAYLOAD_TOO_LARGE', `payload of ${data.byteLength} bytes exceeds the ${this.#options.maxPayloadBytes}-byte limit`, {
        details: { sizeBytes: data.byteLength, maxBytes: this.#options.maxPayloadBytes },
      });
    }
    if (matched === undefined) {
      throw new InputError('ESPER_UNKNOWN_VERB', `no control verb answers ${subject}`, {
        details: { subject, known: this.#routes.map((compiled) => `${this.#ctlPrefix}${compiled.route.pattern}`) },
      });
    }
    const payload = parseControlPayload(data);
    const parsed = matched.route.schema.safeParse(payload);
    if (!parsed.success) {
      const issues = formatZodIssues(parsed.error);
      throw new InputError('ESPER_SCHEMA_VIOLATION', `invalid request for ${matched.route.pattern}: ${issues.join('; ')}`, {
        details: { issues },
      });
    }
    return await matched.route.handle(parsed.data, matched.params);
  }
}

function matchTokens(pattern: readonly string[], tokens: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== tokens.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] ?? '';
    const actual = tokens[i] ?? '';
    if (expected.startsWith(':')) {
      if (actual === '') return undefined;
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}
