/**
 * What a supervision tree shares (one nact system, the clock, the log, the
 * metrics, the event sink) and the protocol between a supervisor and each of
 * its children. @internal
 */
import type { Logger } from '../infra/logger.ts';
import type { Clock } from '../infra/clock.ts';
import type { Instruments } from './instruments.ts';
import type { NactRef } from './nact.ts';
import type { SupervisionEvent, Terminated } from './types.ts';

/** Shared by every node of one supervision tree. */
export interface Runtime {
  readonly system: NactRef;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly instruments: Instruments;
  readonly emit: (event: SupervisionEvent) => void;
}

/** How an incarnation ended on its own. */
export type Exit = { readonly kind: 'normal' } | { readonly kind: 'crash'; readonly error: unknown };

/** Tells a supervisor that a child's incarnation ended by itself (a crash or `ctx.stop()`). */
export type ExitListener = (node: ChildNode, exit: Exit, incarnation: number) => void;

/** A node's lifecycle as its supervisor sees it. */
export type NodeStatus = 'new' | 'starting' | 'running' | 'exited' | 'suspending' | 'suspended' | 'stopping' | 'stopped';

/**
 * The contract between a supervisor and a child (worker or supervisor).
 *
 * - `start()` — first start; rejects with `ESPER_START_FAILED`, leaving the node stopped.
 * - After an exit report the node is `exited`: its `terminate` ran (or is
 *   running), its mailbox is held, and it waits for `resume()` or `stop()`.
 * - `suspend()` — ends the current incarnation gracefully for a restart
 *   (in-flight work and `terminate` get `shutdownTimeoutMs`, then it is
 *   killed); the mailbox is held.
 * - `resume()` — a new incarnation from `exited`/`suspended` (re-runs `init`);
 *   rejects with `ESPER_START_FAILED` and stays `suspended` when `init` throws.
 * - `stop()` — stops for good from any state; watchers get `Terminated`.
 *
 * A supervisor calls these one at a time per child.
 */
export interface ChildNode {
  readonly id: string;
  readonly path: string;
  readonly kind: 'worker' | 'supervisor';
  /** Counts incarnations; exit reports carry it so stale ones are ignored. */
  readonly incarnation: number;
  readonly status: NodeStatus;
  start(): Promise<void>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<Terminated>;
}

/** What `DelegatingNode` reads from the object it stands for. */
interface NodeFace {
  readonly id: string;
  readonly path: string;
  readonly incarnation: number;
  readonly status: NodeStatus;
}

/** A `ChildNode` that delegates to closures, so the protocol stays off a public class (the `Supervisor`). */
export class DelegatingNode implements ChildNode {
  readonly start: () => Promise<void>;
  readonly suspend: () => Promise<void>;
  readonly resume: () => Promise<void>;
  readonly stop: () => Promise<Terminated>;

  constructor(
    private readonly face: NodeFace,
    readonly kind: ChildNode['kind'],
    ops: Pick<ChildNode, 'start' | 'suspend' | 'resume' | 'stop'>,
  ) {
    this.start = ops.start;
    this.suspend = ops.suspend;
    this.resume = ops.resume;
    this.stop = ops.stop;
  }

  get id(): string {
    return this.face.id;
  }

  get path(): string {
    return this.face.path;
  }

  get incarnation(): number {
    return this.face.incarnation;
  }

  get status(): NodeStatus {
    return this.face.status;
  }
}
