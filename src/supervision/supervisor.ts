/**
 * OTP-style supervisors over nact actors. A supervisor is a control object
 * (no mailbox of its own): every decision runs as an operation on its serial
 * queue, so a crash report, a timer-fired restart, `startChild` and shutdown
 * never interleave.
 *
 * Lifecycle of a child failure: the child's incarnation ends (mailbox held,
 * `terminate` run) → policy decides → `restart`: record it in the sliding
 * intensity window (too many → the supervisor gives up), suspend the siblings
 * the strategy names (reverse start order), wait the backoff, resume them in
 * start order (each `init` completes before the next) | `stop`: the child
 * stops for good, watchers get `Terminated` | `escalate`: the supervisor gives
 * up. Giving up suspends every child and reports the error to the parent (whose
 * own strategy then restarts or stops this subtree), or, at the root, stops
 * the tree and calls `onGiveUp`.
 */
import { EsperError, SupervisionError } from '../errors/index.ts';
import { ActorCell } from './actor.ts';
import { backoffDelay } from './backoff.ts';
import { DeathWatch, registerWatchable } from './death-watch.ts';
import type { Logger } from '../infra/logger.ts';
import { crashError, escalated, restartIntensity, startFailed } from './failures.ts';
import { nact } from './nact.ts';
import { applyRestartType, decideNormalExit, defaultPolicy, restartCode, type ChildInfo, type Decision, type Policy } from './policies.ts';
import { exceedsIntensity, pruneWindow, restartSet, type WindowEntry } from './restart-plan.ts';
import { DelegatingNode, type ChildNode, type Exit, type ExitListener, type NodeStatus, type Runtime } from './runtime.ts';
import { validateChildSpec } from './validate.ts';
import { isWorkerSpec, type ActorRef, type ChildSpec, type SupervisionEvent, type SupervisorSpec, type Terminated, type WorkerSpec } from './types.ts';
import type { WireError } from '../errors/index.ts';

/** One line of `children()`. */
export interface ChildSummary {
  readonly id: string;
  readonly path: string;
  readonly kind: 'worker' | 'supervisor';
  /** Metrics label (`kasmina`, `tolaria`…). */
  readonly subsystem: string;
  readonly status: NodeStatus;
  /** True while a restart of this child is scheduled or running. */
  readonly restarting: boolean;
  readonly incarnation: number;
}

interface Batch {
  readonly attempt: number;
  readonly delayMs: number;
  readonly cause: WireError;
}

interface Entry {
  readonly node: ChildNode;
  readonly info: ChildInfo;
  readonly handle: ActorRef<unknown> | Supervisor;
  batch: Batch | null;
}

const nodes = new WeakMap<Supervisor, ChildNode>();

/** A running supervisor: the handle to grow, inspect and stop a supervision tree. */
export class Supervisor {
  readonly id: string;
  readonly path: string;
  readonly #spec: SupervisorSpec;
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #parent: Supervisor | null;
  readonly #reportExit: ExitListener | null;
  readonly #onGiveUp: ((error: EsperError) => void) | undefined;
  readonly #deathWatch: DeathWatch;
  readonly #policy: Policy;
  #status: NodeStatus = 'new';
  #incarnation = 0;
  #entries: Entry[] = [];
  #window: WindowEntry[] = [];
  readonly #timers = new Set<unknown>();
  #ops: Promise<unknown> = Promise.resolve();
  #lastError: EsperError | null = null;
  #terminated: Terminated | null = null;

  /** @internal use `startSupervisor` (root) or `startChild` (nested). */
  constructor(spec: SupervisorSpec, path: string, runtime: Runtime, parent: Supervisor | null, reportExit: ExitListener | null, onGiveUp?: (error: EsperError) => void) {
    this.id = spec.id;
    this.path = path;
    this.#spec = spec;
    this.#runtime = runtime;
    this.#log = runtime.log.child({ supervisor: path });
    this.#parent = parent;
    this.#reportExit = reportExit;
    this.#onGiveUp = onGiveUp;
    this.#policy = spec.policy ?? defaultPolicy;
    this.#deathWatch = new DeathWatch(this.#log);
    registerWatchable(this, this.#deathWatch);
    nodes.set(
      this,
      new DelegatingNode(this, 'supervisor', {
        start: () => this.#enqueue(() => this.#start()),
        suspend: () => this.#enqueue(() => this.#suspend()),
        resume: () => this.#enqueue(() => this.#resume()),
        stop: () => this.#enqueue(() => this.#stopForGood()),
      }),
    );
  }

  /** 1 after the first start, +1 per restart by its parent. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /** Lifecycle state. */
  get status(): NodeStatus {
    return this.#status;
  }

  /** False once stopped for good. */
  get alive(): boolean {
    return this.#status !== 'stopped';
  }

  /** Starts a worker under this supervisor (appended: started last, stopped first); resolves once its `init` completed. */
  startChild<S, M>(spec: WorkerSpec<S, M>): Promise<ActorRef<M>>;
  /** Starts a nested supervisor under this one; resolves once its whole subtree started. */
  startChild(spec: SupervisorSpec): Promise<Supervisor>;
  startChild(spec: ChildSpec): Promise<ActorRef<unknown> | Supervisor> {
    return this.#enqueue(async () => {
      if (this.#status !== 'running') {
        throw new SupervisionError('ESPER_START_FAILED', `supervisor ${this.path} is ${this.#status}; cannot start ${spec.id}`, {
          retryable: this.#status !== 'stopped' && this.#status !== 'stopping',
          details: { supervisor: this.path, child: spec.id, status: this.#status },
        });
      }
      if (this.#entries.some((entry) => entry.info.id === spec.id)) {
        throw new SupervisionError('ESPER_START_FAILED', `supervisor ${this.path} already has a child ${spec.id}`, {
          retryable: false,
          details: { supervisor: this.path, child: spec.id, reason: 'duplicate id' },
        });
      }
      validateChildSpec(spec);
      const entry = this.#createEntry(spec);
      this.#entries.push(entry);
      try {
        await entry.node.start();
      } catch (error) {
        this.#entries = this.#entries.filter((other) => other !== entry);
        throw error;
      }
      return entry.handle;
    });
  }

  /** Stops a child for good (graceful within its `shutdownTimeoutMs`, then killed) and forgets it. */
  stopChild(id: string): Promise<void> {
    return this.#enqueue(async () => {
      const entry = this.#entries.find((candidate) => candidate.info.id === id);
      if (entry === undefined) throw new EsperError('ESPER_NOT_FOUND', `supervisor ${this.path} has no child ${id}`, { details: { supervisor: this.path, child: id } });
      await this.#finish(entry);
    });
  }

  /** The ref of a worker child (stable across its restarts). */
  ref<M = unknown>(id: string): ActorRef<M> | undefined {
    const handle = this.#entries.find((entry) => entry.info.id === id)?.handle;
    return handle === undefined || handle instanceof Supervisor ? undefined : handle;
  }

  /** A nested supervisor child. */
  supervisor(id: string): Supervisor | undefined {
    const handle = this.#entries.find((entry) => entry.info.id === id)?.handle;
    return handle instanceof Supervisor ? handle : undefined;
  }

  /** The current children in start order (children stopped for good are removed). */
  children(): ChildSummary[] {
    return this.#entries.map((entry) => ({
      id: entry.info.id,
      path: entry.info.path,
      kind: entry.info.kind,
      subsystem: entry.info.subsystem,
      status: entry.node.status,
      restarting: entry.batch !== null,
      incarnation: entry.node.incarnation,
    }));
  }

  /**
   * Stops this supervisor for good: children in reverse start order, each
   * within its shutdown timeout. A nested supervisor asks its parent
   * (`parent.stopChild(id)`), so the parent does not restart it.
   */
  async stop(): Promise<Terminated> {
    if (this.#parent !== null && this.#parent.#entries.some((entry) => entry.handle === this)) {
      await this.#parent.stopChild(this.id);
    }
    // Already stopped by the parent: this returns the recorded termination.
    return this.#enqueue(() => this.#stopForGood());
  }

  // ------------------------------------------------------------ operations

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#ops.then(op);
    this.#ops = run.catch(() => undefined);
    return run;
  }

  /** Fire-and-forget operation; a failure is a bug in this layer and is logged. */
  #post(op: () => Promise<void>): void {
    this.#enqueue(op).catch((error: unknown) => this.#log.error({ err: error }, 'supervision operation failed'));
  }

  #createEntry(spec: ChildSpec): Entry {
    const onExit: ExitListener = (node, exit, incarnation) => this.#post(() => this.#onChildExit(node, exit, incarnation));
    const path = `${this.path}/${spec.id}`;
    if (isWorkerSpec(spec)) {
      const cell = new ActorCell(spec, this.path, this.#runtime, onExit);
      const info: ChildInfo = { id: spec.id, path, restart: spec.restart, subsystem: spec.subsystem, kind: 'worker' };
      return { node: cell, info, handle: cell.ref, batch: null };
    }
    const child = new Supervisor(spec, path, this.#runtime, this, onExit);
    const info: ChildInfo = { id: spec.id, path, restart: spec.restart ?? 'permanent', subsystem: spec.subsystem ?? 'supervisor', kind: 'supervisor' };
    return { node: nodeOf(child), info, handle: child, batch: null };
  }

  async #start(): Promise<void> {
    this.#status = 'starting';
    this.#incarnation = 1;
    for (const spec of this.#spec.children) {
      const entry = this.#createEntry(spec);
      this.#entries.push(entry);
      try {
        await entry.node.start();
      } catch (error) {
        this.#entries.pop();
        await this.#stopChildren();
        this.#status = 'stopped';
        if (this.#parent === null) nact.stop(this.#runtime.system);
        throw startFailed(error, this.path);
      }
    }
    this.#status = 'running';
  }

  async #suspend(): Promise<void> {
    if (this.#status === 'running') {
      this.#status = 'suspending';
      await this.#suspendChildren();
    }
    if (this.#status === 'suspending' || this.#status === 'exited') this.#status = 'suspended';
  }

  async #resume(): Promise<void> {
    if (this.#status === 'exited') this.#status = 'suspended';
    if (this.#status !== 'suspended') throw new Error(`cannot resume ${this.path} from ${this.#status}`);
    // A restarted supervisor is a fresh one: its intensity history starts empty (as in OTP).
    this.#status = 'running';
    this.#incarnation++;
    this.#window = [];
    this.#lastError = null;
    const batch: Batch = { attempt: 1, delayMs: 0, cause: { code: 'ESPER_ACTOR_CRASHED', message: `supervisor ${this.path} restarted`, retryable: true } };
    for (const entry of this.#entries) entry.batch = batch;
    await this.#runBatch([...this.#entries], batch);
  }

  async #stopForGood(): Promise<Terminated> {
    if (this.#terminated !== null) return this.#terminated;
    const lastError = this.#lastError;
    this.#status = 'stopping';
    await this.#stopChildren();
    this.#status = 'stopped';
    if (this.#parent === null) nact.stop(this.#runtime.system);
    const terminated: Terminated = {
      type: 'Terminated',
      id: this.id,
      path: this.path,
      reason: lastError === null ? 'shutdown' : 'error',
      ...(lastError === null ? {} : { error: lastError.toWire() }),
    };
    this.#terminated = terminated;
    this.#deathWatch.notify(terminated);
    return terminated;
  }

  async #onChildExit(node: ChildNode, exit: Exit, incarnation: number): Promise<void> {
    if (this.#status !== 'running') return; // suspending/stopping: that path settles every child
    const entry = this.#entries.find((candidate) => candidate.node === node);
    if (entry === undefined || entry.batch !== null || node.incarnation !== incarnation || node.status !== 'exited') return;
    if (exit.kind === 'crash') {
      await this.#failed(entry, exit.error);
    } else if (decideNormalExit(entry.info.restart) === 'restart') {
      await this.#restart(entry, { code: 'ESPER_ACTOR_STOPPED', message: `permanent child ${entry.info.id} exited normally`, retryable: false }, 'normal');
    } else {
      await this.#finish(entry);
    }
  }

  async #failed(entry: Entry, error: unknown): Promise<void> {
    const now = this.#runtime.clock.now();
    this.#window = pruneWindow(this.#window, now, this.#spec.intensity.periodMs);
    const history = this.#window.filter((record) => record.id === entry.info.id);
    let decision: Decision;
    try {
      decision = applyRestartType(this.#policy(error, entry.info, history), entry.info.restart);
    } catch (policyError) {
      this.#log.error({ err: policyError }, 'supervision policy threw; escalating');
      decision = 'escalate';
    }
    if (decision === 'restart') await this.#restart(entry, crashError(error, entry.info.path).toWire(), restartCode(error));
    else if (decision === 'stop') await this.#finish(entry);
    else await this.#giveUp(escalated(this.path, entry.info.id, error), entry.info.id);
  }

  async #restart(entry: Entry, cause: WireError, code: string): Promise<void> {
    const { clock, random } = this.#runtime;
    const now = clock.now();
    this.#window = pruneWindow(this.#window, now, this.#spec.intensity.periodMs);
    this.#window.push({ at: now, id: entry.info.id, code });
    if (exceedsIntensity(this.#window.length, this.#spec.intensity)) {
      await this.#giveUp(restartIntensity(this.path, this.#window.length, this.#spec.intensity.periodMs, entry.info.id), entry.info.id);
      return;
    }
    const attempt = this.#window.filter((record) => record.id === entry.info.id).length;
    const delayMs = backoffDelay(this.#spec.backoff, attempt, random);
    const batch: Batch = { attempt, delayMs, cause };
    const set = restartSet(this.#spec.strategy, this.#entries, entry);
    for (const member of set) member.batch = batch; // from here on their exit reports are stale
    for (const member of [...set].reverse()) await member.node.suspend();
    if (delayMs <= 0) {
      await this.#runBatch(set, batch);
      return;
    }
    const timer = clock.setTimeout(() => {
      this.#timers.delete(timer);
      this.#post(() => this.#runBatch(set, batch));
    }, delayMs);
    this.#timers.add(timer);
  }

  /** Resumes the members still bound to `batch`, in start order. */
  async #runBatch(set: readonly Entry[], batch: Batch): Promise<void> {
    for (const entry of set) {
      if (this.#status !== 'running') return;
      if (entry.batch !== batch || !this.#entries.includes(entry)) continue;
      try {
        await entry.node.resume();
      } catch (error) {
        entry.batch = null;
        this.#log.warn({ err: error, child: entry.info.id }, 'restart failed');
        await this.#failed(entry, error); // may rebind later members to a new batch
        continue;
      }
      entry.batch = null;
      this.#runtime.instruments.restarted(entry.info.subsystem);
      this.#emit({
        type: 'supervision.child.restarted',
        supervisor: this.path,
        child: entry.info.id,
        restartCount: batch.attempt,
        backoffMs: batch.delayMs,
        error: batch.cause,
        at: this.#at(),
      });
    }
  }

  /** Stops one child for good and forgets it. */
  async #finish(entry: Entry): Promise<void> {
    this.#entries = this.#entries.filter((other) => other !== entry);
    entry.batch = null;
    const terminated = await entry.node.stop();
    this.#emitTerminated(entry, terminated);
  }

  async #giveUp(error: EsperError, child: string): Promise<void> {
    this.#status = 'suspending';
    this.#lastError = error;
    this.#log.error({ err: error, code: error.code }, 'supervisor gives up');
    this.#emit({
      type: 'supervision.escalated',
      supervisor: this.path,
      child,
      error: error.toWire(),
      restarts: this.#window.length,
      periodMs: this.#spec.intensity.periodMs,
      at: this.#at(),
    });
    await this.#suspendChildren();
    if (this.#reportExit !== null) {
      this.#status = 'exited';
      this.#reportExit(nodeOf(this), { kind: 'crash', error }, this.#incarnation);
      return;
    }
    await this.#stopForGood();
    try {
      this.#onGiveUp?.(error);
    } catch (hookError) {
      this.#log.error({ err: hookError }, 'onGiveUp threw');
    }
  }

  async #suspendChildren(): Promise<void> {
    this.#cancelTimers();
    for (const entry of [...this.#entries].reverse()) {
      entry.batch = null;
      await entry.node.suspend();
    }
  }

  async #stopChildren(): Promise<void> {
    this.#cancelTimers();
    const entries = this.#entries;
    this.#entries = [];
    for (const entry of [...entries].reverse()) {
      entry.batch = null;
      this.#emitTerminated(entry, await entry.node.stop());
    }
  }

  #cancelTimers(): void {
    for (const timer of this.#timers) this.#runtime.clock.clearTimeout(timer);
    this.#timers.clear();
  }

  #emitTerminated(entry: Entry, terminated: Terminated): void {
    this.#emit({
      type: 'supervision.child.terminated',
      supervisor: this.path,
      child: entry.info.id,
      reason: terminated.reason,
      ...(terminated.error === undefined ? {} : { error: terminated.error }),
      at: this.#at(),
    });
  }

  #emit(event: SupervisionEvent): void {
    try {
      this.#runtime.emit(event);
    } catch (error) {
      this.#log.error({ err: error, event: event.type }, 'supervision event sink threw');
    }
  }

  #at(): string {
    return new Date(this.#runtime.clock.now()).toISOString();
  }
}

/** The protocol face of a supervisor (for its parent, or `startSupervisor`). @internal */
export function nodeOf(supervisor: Supervisor): ChildNode {
  return nodes.get(supervisor) as ChildNode;
}
