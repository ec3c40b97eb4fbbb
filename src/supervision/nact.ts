/**
 * A typed adapter over the few nact 7.6.2 functions this layer uses.
 *
 * nact ships hand-written typings that drift from its code (they omit the
 * `sender` argument of `dispatch`, which we rely on, and are full of `any`), so
 * we import the runtime object and describe only what we call. Everything
 * else in nact — `onCrash`, `reset`, `resume`, `escalate`, `query`'s temporary
 * references — is deliberately left unused: see DESIGN §5 for why.
 */
import nactRuntime from 'nact';

/** An opaque nact reference (system or actor). */
export interface NactRef {
  readonly __nactRef: unique symbol;
}

/** The per-message context nact builds; we only read `sender`. */
export interface NactContext {
  readonly sender: unknown;
}

/**
 * A nact actor function. Its return value becomes nact's state and, when it is
 * a promise, nact keeps the actor busy (queueing new messages in its mailbox)
 * until it settles — the property our restart gate is built on.
 */
export type NactActorFn = (state: unknown, msg: unknown, ctx: NactContext) => unknown;

/** The subset of nact's API this layer calls. */
export interface NactApi {
  /** Starts an actor system. */
  start(): NactRef;
  /** Spawns a stateful actor under `parent`; names must be unique per parent. */
  spawn(parent: NactRef, fn: NactActorFn, name?: string): NactRef;
  /**
   * Enqueues `msg` (handled later, each message in its own `setImmediate`).
   * Silently does nothing when the actor is stopped: callers must check first.
   */
  dispatch(ref: NactRef, msg: unknown, sender?: unknown): void;
  /**
   * nact's own query: dispatches `msgFactory(tempRef)` and resolves with the
   * first message dispatched to `tempRef`. Used only by the benchmark's
   * raw-nact baseline.
   */
  query(ref: NactRef, msgFactory: (tempRef: NactRef) => unknown, timeoutMs: number): Promise<unknown>;
  /** Stops an actor (or a whole system) and its children. */
  stop(ref: NactRef): void;
}

/** nact's runtime, typed. */
export const nact: NactApi = nactRuntime as unknown as NactApi;
