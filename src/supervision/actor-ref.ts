/**
 * The caller's side of a worker actor: the `ActorRef` handed out to other
 * actors and the pending-query record. Kept apart from the cell so the hot
 * path (dispatch/query) reads as the few lines it is. @internal
 */
import type { Clock } from '../infra/clock.ts';
import { actorStopped, crashError, queryTimeout } from './failures.ts';
import type { NodeStatus } from './runtime.ts';
import type { ActorRef, Replier } from './types.ts';

// Numeric states: the hot path compares numbers. Everything ≥ STOPPING is a dead end for new messages.
export const RUNNING = 0;
export const STARTING = 1;
export const EXITED = 2;
export const SUSPENDING = 3;
export const SUSPENDED = 4;
export const STOPPING = 5;
export const STOPPED = 6;
export const NEW = 7;
export const STATUS_NAMES: readonly NodeStatus[] = ['running', 'starting', 'exited', 'suspending', 'suspended', 'stopping', 'stopped', 'new'];

/** What a ref needs from its cell. */
export interface CellPort<M> {
  readonly id: string;
  readonly path: string;
  readonly clock: Clock;
  /** Numeric status. */
  readonly code: number;
  /** Hands a message to nact, or dead-letters it once the actor is stopped for good. */
  send(msg: M, query: PendingQuery | null): void;
  /** Counts and logs a message to a stopped actor (rejecting its query). */
  deadLetter(query: PendingQuery | null): void;
}

/** A query waiting for its reply. Doubles as the nact `sender` of the message. */
export class PendingQuery implements Replier {
  settled = false;
  deferred = false;
  timer: unknown = undefined;

  constructor(
    private readonly onResolve: (value: unknown) => void,
    private readonly onReject: (error: unknown) => void,
    private readonly cell: { readonly path: string; readonly clock: Clock },
    private readonly timeoutMs: number,
  ) {}

  readonly expire = (): void => {
    if (this.settled) return;
    this.settled = true;
    this.onReject(queryTimeout(this.cell.path, this.timeoutMs));
  };

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.cell.clock.clearTimeout(this.timer);
    this.onResolve(value);
  }

  /** Rejects with `crashError(error)`: EsperErrors pass through, others become ESPER_ACTOR_CRASHED. */
  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.cell.clock.clearTimeout(this.timer);
    this.onReject(crashError(error, this.cell.path));
  }
}

/** The `ActorRef` of a worker: stable across restarts (it points at the cell, not at an incarnation). */
export class ActorRefImpl<M> implements ActorRef<M> {
  readonly #cell: CellPort<M>;

  constructor(cell: CellPort<M>) {
    this.#cell = cell;
  }

  get id(): string {
    return this.#cell.id;
  }

  get path(): string {
    return this.#cell.path;
  }

  get alive(): boolean {
    return this.#cell.code < STOPPING;
  }

  dispatch(msg: M): void {
    this.#cell.send(msg, null);
  }

  query<R = unknown>(msg: M, timeoutMs: number): Promise<R> {
    const cell = this.#cell;
    if (cell.code >= STOPPING) {
      cell.deadLetter(null);
      return Promise.reject(actorStopped(cell.path));
    }
    return new Promise<R>((resolve, reject) => {
      const pending = new PendingQuery(resolve as (value: unknown) => void, reject, cell, timeoutMs);
      pending.timer = cell.clock.setTimeout(pending.expire, timeoutMs);
      cell.send(msg, pending);
    });
  }

  toString(): string {
    return `ActorRef(${this.#cell.path})`;
  }
}
