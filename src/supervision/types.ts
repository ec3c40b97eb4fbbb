/**
 * The shapes of the supervision layer: actor references and contexts,
 * behaviours, child and supervisor specs, death-watch messages and events.
 */
import type { Logger } from '../infra/logger.ts';
import type { WireError } from '../errors/index.ts';
import type { ChildRestarted, ChildTerminated, Escalated, TerminationReason } from '../contracts/index.ts';
import type { BackoffSpec } from './backoff.ts';
import type { Policy, RestartType } from './policies.ts';

/**
 * A handle on a supervised actor. It stays valid across restarts: messages
 * sent while the actor is restarting (crashed, waiting its backoff, re-running
 * `init`) are queued and delivered, in order, to the new incarnation. Only once
 * the actor is stopped for good are messages dead letters: counted
 * (`esper_dead_letters_total`), logged, and — for queries — rejected at once
 * with `ESPER_ACTOR_STOPPED`. Nothing is dropped silently.
 */
export interface ActorRef<M> {
  /** The child id in its supervisor. */
  readonly id: string;
  /** Full path, e.g. `weatherlight/kasmina/seed-3`. */
  readonly path: string;
  /** False once the actor is stopped for good (it never comes back). */
  readonly alive: boolean;
  /** Fire and forget. */
  dispatch(msg: M): void;
  /**
   * Sends `msg` and resolves with what the handler passes to `ctx.reply`.
   * Rejects at once with the crash's `EsperError` when the handler throws on
   * this message (a non-Esper error becomes `ESPER_ACTOR_CRASHED`, the original
   * message in `details.error`); with `ESPER_TIMEOUT` after `timeoutMs`; with
   * `ESPER_ACTOR_STOPPED` when the actor is stopped for good.
   */
  query<R = unknown>(msg: M, timeoutMs: number): Promise<R>;
}

/** Settles one query later (see `ActorContext.deferReply`). */
export interface Replier {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** What a behaviour sees while it runs. One object per actor, reused for every message. */
export interface ActorContext<M> {
  readonly id: string;
  readonly path: string;
  readonly self: ActorRef<M>;
  readonly log: Logger;
  /** Answers the query being handled (ignored for a plain dispatch or an already-settled query). */
  reply(value: unknown): void;
  /** Rejects the query being handled without crashing the actor. */
  replyError(error: unknown): void;
  /**
   * Takes over the query being handled, to answer it after this handler has
   * returned; `undefined` for a plain dispatch. A query neither answered nor
   * deferred when its handler returns is rejected with `ESPER_INTERNAL`.
   */
  deferReply(): Replier | undefined;
  /**
   * Stops this actor normally once the current handler returns: a `permanent`
   * child is restarted, a `transient` or `temporary` one stays stopped.
   */
  stop(): void;
}

/** Why an incarnation ends, as its `terminate` hook sees it. */
export type ExitReason =
  | { readonly kind: 'normal' }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'crash'; readonly error: unknown };

/**
 * An actor's logic. State persistence is the behaviour's business: `init` may
 * load persisted state (a restarted seed actor resumes from it).
 */
export interface Behaviour<S, M> {
  /** Builds the state of a new incarnation (first start and every restart). Throwing fails the start (`ESPER_START_FAILED`). */
  init(ctx: ActorContext<M>): S | Promise<S>;
  /** Handles one message; returns the next state. Throwing crashes the incarnation (the message is dropped). */
  handle(state: S, msg: M, ctx: ActorContext<M>): S | Promise<S>;
  /** Releases what the incarnation holds; bounded by `shutdownTimeoutMs`, errors logged and ignored. */
  terminate?(state: S, reason: ExitReason): void | Promise<void>;
}

/** A worker child: one actor running a behaviour. */
export interface WorkerSpec<S = unknown, M = unknown> {
  /** Unique among its siblings. */
  id: string;
  restart: RestartType;
  /** How long a graceful stop (in-flight handler + `terminate`) may take before the actor is killed, ms. */
  shutdownTimeoutMs: number;
  /** Metrics label, e.g. `kasmina`. */
  subsystem: string;
  behaviour: Behaviour<S, M>;
}

/** How a supervisor restarts siblings when one child must be restarted. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** More than `maxRestarts` restarts within `periodMs` (sliding window) makes the supervisor give up. */
export interface Intensity {
  maxRestarts: number;
  periodMs: number;
}

/** A supervisor, as a root or as a child of another supervisor. */
export interface SupervisorSpec {
  id: string;
  strategy: Strategy;
  intensity: Intensity;
  backoff: BackoffSpec;
  /** Started in this order, stopped in reverse. */
  children: readonly ChildSpec[];
  /** @default defaultPolicy */
  policy?: Policy;
  /** Its restart type as a child. @default 'permanent' */
  restart?: RestartType;
  /** Metrics label as a child. @default 'supervisor' */
  subsystem?: string;
}

/** Either kind of child. */
export type ChildSpec = WorkerSpec | SupervisorSpec;

/** True when the spec describes a worker (it has a behaviour). */
export function isWorkerSpec(spec: ChildSpec): spec is WorkerSpec {
  return 'behaviour' in spec;
}

/** The death-watch message: the watched actor stopped for good. */
export interface Terminated {
  readonly type: 'Terminated';
  readonly id: string;
  readonly path: string;
  readonly reason: TerminationReason;
  /** The crash, when `reason` is `'error'`. */
  readonly error?: WireError;
}

/** Who is told about a termination: an actor (sent a `Terminated` message) or a callback. */
export type Watcher = ActorRef<Terminated> | ((terminated: Terminated) => void);

/**
 * Events a supervisor emits: the data of the `src/contracts/supervision.ts`
 * schemas plus their `type`, ready for the bus.
 */
export type SupervisionEvent =
  | ({ type: 'supervision.child.restarted' } & ChildRestarted)
  | ({ type: 'supervision.child.terminated' } & ChildTerminated)
  | ({ type: 'supervision.escalated' } & Escalated);
