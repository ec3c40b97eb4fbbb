/**
 * The control plane's routing, free of any transport: a subject and raw
 * payload in, a §4 reply out. Every control subject — node, cluster,
 * `run.start`, run and seed verbs, library queries — is a route here, and
 * every request is decoded by Oona's one request decoder (`decodeRequest`:
 * size limit, JSON, schema). Every failure — oversize, not JSON, wrong shape,
 * unknown verb, a handler's throw — comes back as a coded error reply;
 * `handle` itself never throws, so one bad request cannot take the daemon down.
 *
 * Each route names its owner: who answers its subjects in a cluster. The
 * control plane (`control-plane.ts`) binds the kinds to listeners; a route's
 * handler runs only on a node that owns it, or on the shared listener when no
 * live node does (the handler then answers the coded "nobody serves this").
 */
import type { z } from 'zod';
import type { Bus, Subscription } from '../actors/oona/index.ts';
import { decodeRequest, oversizedRequest } from '../actors/oona/index.ts';
import type { NodeRole } from '../contracts/control.ts';
import { errorReply, okReply, type Reply } from '../contracts/reply.ts';
import { EsperError, InputError, toWireError } from '../errors/index.ts';

/** Who answers a route's subjects in a cluster. */
export type RouteOwner =
  /** Any one node: the shared listener `<prefix>.ctl.>` (queue group). */
  | { readonly kind: 'any' }
  /** The node named by `:nodeId`, on its own listener `<prefix>.ctl.node.<nodeId>.>` (every subject below it). */
  | { readonly kind: 'node' }
  /** One node with `role`, in that role's queue group; the shared listener runs the handler only when no live node has the role. */
  | { readonly kind: 'role'; readonly role: NodeRole }
  /**
   * The node hosting `:runId`, on the run's own listeners (every verb of the
   * run and of its seeds), open while it hosts the run; the shared listener
   * runs the handler only when no live node hosts the run.
   */
  | { readonly kind: 'run' };

const ANY: RouteOwner = { kind: 'any' };

/** One route: `pattern` is the subject after `<prefix>.ctl.`, with `:name` tokens captured as params. */
export interface ControlRoute<S extends z.ZodType = z.ZodType> {
  pattern: string;
  schema: S;
  /** Human summary, used in docs and in the unknown-verb error. */
  summary: string;
  /** Who answers it in a cluster. @default { kind: 'any' } */
  owner?: RouteOwner;
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

/** A subject's owner, with the params its route captures. */
export interface OwnedSubject {
  owner: RouteOwner;
  params: Record<string, string>;
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
    const tokens = this.#tokens(subject);
    if (tokens === undefined) return undefined;
    for (const compiled of this.#routes) {
      const params = matchTokens(compiled.tokens, tokens);
      if (params !== undefined) return { route: compiled.route, params };
    }
    return undefined;
  }

  /**
   * Who answers `subject`: its route's owner; for a subject no route matches,
   * the owner of the node or run it falls under (`node.n1.reboot`,
   * `run.r1.bogus`: that node's or run's listeners get every such subject and
   * answer it ESPER_UNKNOWN_VERB). Undefined: nobody in particular (the shared
   * listener answers).
   */
  ownerOf(subject: string): OwnedSubject | undefined {
    const matched = this.match(subject);
    if (matched !== undefined) return { owner: matched.route.owner ?? ANY, params: matched.params };
    const tokens = this.#tokens(subject);
    if (tokens === undefined) return undefined;
    for (const { tokens: pattern, route: r } of this.#routes) {
      const kind = r.owner?.kind;
      // A run's listeners take one verb token after the run (or seed); a node's take any depth.
      const fits = kind === 'run' ? tokens.length === pattern.length : kind === 'node' && tokens.length >= pattern.length;
      if (!fits || r.owner === undefined) continue;
      const params = matchTokens(pattern.slice(0, -1), tokens.slice(0, pattern.length - 1));
      if (params !== undefined) return { owner: r.owner, params };
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

  #tokens(subject: string): string[] | undefined {
    return subject.startsWith(this.#ctlPrefix) ? subject.slice(this.#ctlPrefix.length).split('.') : undefined;
  }

  async #dispatch(
    subject: string,
    data: Uint8Array,
    matched: { route: ControlRoute; params: Record<string, string> } | undefined,
  ): Promise<unknown> {
    // Size first: an oversized request is refused whatever its subject.
    const tooLarge = oversizedRequest(data, this.#options.maxPayloadBytes);
    if (tooLarge !== undefined) throw tooLarge;
    if (matched === undefined) {
      const family = this.#tokens(subject)?.[0];
      const near = this.#routes.filter((compiled) => compiled.tokens[0] === family);
      throw new InputError('ESPER_UNKNOWN_VERB', `no control verb answers ${subject}`, {
        details: { subject, known: (near.length > 0 ? near : this.#routes).map((compiled) => `${this.#ctlPrefix}${compiled.route.pattern}`) },
      });
    }
    const input = decodeRequest(data, matched.route.schema, { maxBytes: this.#options.maxPayloadBytes, what: matched.route.pattern });
    if (!input.ok) throw input.error;
    const result = await matched.route.handle(input.value, matched.params);
    // JSON drops an undefined field, and a reply without `data` is malformed: send null.
    return result === undefined ? null : result;
  }
}

/**
 * Serves `subject` (a pattern: `<prefix>.ctl.run.r1.*`) on `bus` through
 * `router`: each request gets the router's reply. `queue`: one member of the
 * group answers each request.
 */
export function serveRoutes(bus: Bus, subject: string, router: ControlRouter, options: { queue?: string } = {}): Subscription {
  return bus.subscribe(
    subject,
    async (message) => {
      const reply = await router.handle(message.subject, message.data);
      if (message.reply === undefined) return; // a publish, not a request: nobody to tell
      try {
        message.respond(reply);
      } catch (error) {
        // Data JSON cannot encode (a BigInt, a cycle): say so instead of going silent.
        message.respond(errorReply(new EsperError('ESPER_INTERNAL', `reply could not be encoded: ${(error as Error).message}`)));
      }
    },
    options.queue === undefined ? undefined : { queue: options.queue },
  );
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
