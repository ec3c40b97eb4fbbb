/**
 * A supervised worker actor: one nact actor whose handler wraps the
 * behaviour in try/catch, so nact's own crash machinery (onCrash, reset,
 * resume, escalate) never runs. Crashes are reported to our supervisor, the
 * query that crashed is rejected at once, and a restart re-runs `init` inside
 * the same nact actor: while the actor is down its nact handler is parked on a
 * "gate" promise, which keeps nact busy, so new messages queue in nact's
 * mailbox (in order) and flow to the new incarnation when the gate opens.
 *
 * Hot path (running actor, sync handler): one status check, a depth counter,
 * nact's dispatch, and on delivery the try/catch around `handle`.
 */
import type { Logger } from '../infra/logger.ts';
import type { TerminationReason } from '../contracts/index.ts';
import { settlesWithin } from '../infra/clock.ts';
import { ActorRefImpl, RUNNING, STARTING, EXITED, SUSPENDING, SUSPENDED, STOPPING, STOPPED, NEW, STATUS_NAMES, type CellPort, type PendingQuery } from './actor-ref.ts';
import { DeathWatch, registerWatchable } from './death-watch.ts';
import { actorStopped, crashError, noReply, shutdownTimeout, startFailed } from './failures.ts';
import { nact, type NactActorFn, type NactRef } from './nact.ts';
import type { ChildNode, ExitListener, Exit, NodeStatus, Runtime } from './runtime.ts';
import type { ActorContext, ActorRef, Behaviour, ExitReason, Terminated, WorkerSpec } from './types.ts';

/** Dead letters logged individually per actor before the log is sampled (every 1000th). */
const DEAD_LETTER_LOG_FIRST = 10;

let nactNames = 0;

/** An async handler still running. */
interface InFlight {
  readonly query: PendingQuery | null;
  release: (value: unknown) => void;
  /** Who waits for it to finish (a graceful stop). */
  readonly waiters: (() => void)[];
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The worker side of a supervision tree. @internal */
export class ActorCell<S, M> implements ChildNode, CellPort<M> {
  readonly kind = 'worker';
  readonly id: string;
  readonly path: string;
  readonly subsystem: string;
  readonly ref: ActorRef<M>;
  readonly clock: Runtime['clock'];
  /** Numeric status (see `actor-ref.ts`). */
  code = NEW;
  /** Messages handed to nact and not yet handled or dead-lettered. */
  depth = 0;
  incarnation = 0;

  readonly #spec: WorkerSpec<S, M>;
  readonly #behaviour: Behaviour<S, M>;
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #onExit: ExitListener;
  readonly #ctx: ActorContext<M>;
  readonly #deathWatch: DeathWatch;
  readonly #nactFn: NactActorFn = (_state, msg, nactCtx) => this.#receive(msg as M, nactCtx.sender as PendingQuery | null);
  #nactRef: NactRef | null = null;
  #state: S | undefined = undefined;
  #current: PendingQuery | null = null;
  #stopRequested = false;
  #gate: Promise<void> | null = null;
  #openGate: (() => void) | null = null;
  #inflight: InFlight | null = null;
  #termination: Promise<void> | null = null;
  #lastExit: Exit | null = null;
  #stopping: Promise<Terminated> | null = null;
  #started = false;
  #deadLetters = 0;
  #drained: (() => void) | null = null;

  constructor(spec: WorkerSpec<S, M>, parentPath: string, runtime: Runtime, onExit: ExitListener) {
    this.id = spec.id;
    this.path = `${parentPath}/${spec.id}`;
    this.subsystem = spec.subsystem;
    this.#spec = spec;
    this.#behaviour = spec.behaviour;
    this.#runtime = runtime;
    this.clock = runtime.clock;
    this.#log = runtime.log.child({ actor: this.path });
    this.#onExit = onExit;
    this.#deathWatch = new DeathWatch(this.#log);
    this.ref = new ActorRefImpl<M>(this);
    registerWatchable(this.ref, this.#deathWatch);
    this.#ctx = {
      id: this.id,
      path: this.path,
      self: this.ref,
      log: this.#log,
      reply: (value) => this.#current?.resolve(value),
      replyError: (error) => this.#current?.reject(error),
      deferReply: () => {
        const pending = this.#current;
        if (pending === null) return undefined;
        pending.deferred = true;
        return pending;
      },
      stop: () => {
        this.#stopRequested = true;
      },
    };
  }

  get status(): NodeStatus {
    return STATUS_NAMES[this.code] ?? 'new';
  }

  // ---------------------------------------------------------------- messages

  /** Hands a message to nact, or dead-letters it once the actor is stopped for good. */
  send(msg: M, query: PendingQuery | null): void {
    if (this.code >= STOPPING) {
      this.deadLetter(query);
      return;
    }
    this.depth++;
    nact.dispatch(this.#nactRef as NactRef, msg, query);
  }

  /** Counts and logs a message that reached a stopped actor; rejects its query at once. */
  deadLetter(query: PendingQuery | null): void {
    this.#deadLetters++;
    this.#runtime.instruments.deadLetter(this.subsystem);
    if (this.#deadLetters <= DEAD_LETTER_LOG_FIRST || this.#deadLetters % 1000 === 0) {
      this.#log.warn({ deadLetters: this.#deadLetters, query: query !== null }, 'dead letter: message to a stopped actor');
    }
    query?.reject(actorStopped(this.path));
  }

  #receive(msg: M, query: PendingQuery | null): unknown {
    if (this.code !== RUNNING) return this.#receiveSlow(msg, query);
    this.depth--;
    this.#current = query;
    let next: S | PromiseLike<S>;
    try {
      next = this.#behaviour.handle(this.#state as S, msg, this.#ctx);
    } catch (error) {
      return this.#crashed(error, query);
    }
    if (isPromiseLike(next)) return this.#awaitHandler(next, query);
    return this.#handled(next, query);
  }

  #receiveSlow(msg: M, query: PendingQuery | null): unknown {
    if (this.code === STOPPING || this.code === STOPPED) {
      this.depth--;
      this.deadLetter(query);
      if (this.code === STOPPED && this.depth === 0) this.#releaseNact();
      return undefined;
    }
    // Down for a restart: park here (nact stays busy, the rest queue behind us) until the gate opens.
    return this.#closeGate().then(() => this.#receive(msg, query));
  }

  #handled(next: S, query: PendingQuery | null): unknown {
    this.#state = next;
    this.#current = null;
    if (query !== null && !query.settled && !query.deferred) query.reject(noReply(this.path));
    if (this.#stopRequested && this.code === RUNNING) return this.#exit({ kind: 'normal' });
    return undefined;
  }

  #awaitHandler(pending: PromiseLike<S>, query: PendingQuery | null): Promise<unknown> {
    const flight: InFlight = { query, release: () => {}, waiters: [] };
    this.#inflight = flight;
    return new Promise<unknown>((release) => {
      flight.release = release;
      pending.then(
        (next) => {
          if (this.#inflight !== flight) return; // killed: the late result belongs to a dead incarnation
          this.#inflight = null;
          const after = this.#handled(next, query);
          for (const waiter of flight.waiters) waiter();
          release(after);
        },
        (error: unknown) => {
          if (this.#inflight !== flight) {
            this.#log.warn({ err: error }, 'a killed handler failed after its kill');
            return;
          }
          this.#inflight = null;
          const after = this.#crashed(error, query);
          for (const waiter of flight.waiters) waiter();
          release(after);
        },
      );
    });
  }

  #crashed(error: unknown, query: PendingQuery | null): unknown {
    this.#current = null;
    if (query !== null) query.reject(error);
    if (this.code !== RUNNING) {
      // Already being suspended or stopped by the supervisor: nothing more to report.
      this.#log.warn({ err: error }, 'handler failed while the actor was stopping');
      return undefined;
    }
    return this.#exit({ kind: 'crash', error });
  }

  /** Ends the incarnation on its own: hold the mailbox, run `terminate`, then tell the supervisor. */
  #exit(exit: Exit): Promise<void> {
    this.code = EXITED;
    this.#lastExit = exit;
    const gate = this.#closeGate();
    if (exit.kind === 'crash') this.#log.warn({ err: exit.error }, 'actor crashed');
    const incarnation = this.incarnation;
    const reason: ExitReason = exit.kind === 'crash' ? { kind: 'crash', error: exit.error } : { kind: 'normal' };
    this.#termination = this.#terminateBounded(reason);
    void this.#termination.then(() => this.#onExit(this, exit, incarnation));
    return gate;
  }

  // ------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    this.#nactRef = nact.spawn(this.#runtime.system, this.#nactFn, `esper-${++nactNames}`);
    await this.#initialise();
    if (this.code !== STARTING) return;
    this.#started = true;
    this.#runtime.instruments.actorStarted(this);
    this.#afterInit();
  }

  async suspend(): Promise<void> {
    if (this.code === RUNNING) {
      this.code = SUSPENDING;
      void this.#closeGate();
      await this.#quiesce();
      if (this.code === SUSPENDING) this.code = SUSPENDED;
    } else if (this.code === EXITED) {
      await this.#termination;
      if (this.code === EXITED) this.code = SUSPENDED;
    }
  }

  async resume(): Promise<void> {
    if (this.code === EXITED) {
      await this.#termination;
      this.code = SUSPENDED;
    }
    if (this.code !== SUSPENDED) throw new Error(`cannot resume ${this.path} from ${this.status}`);
    try {
      await this.#initialise();
    } catch (error) {
      this.code = SUSPENDED;
      this.#lastExit = { kind: 'crash', error };
      throw error;
    }
    this.#afterInit();
  }

  stop(): Promise<Terminated> {
    this.#stopping ??= this.#stopForGood();
    return this.#stopping;
  }

  async #stopForGood(): Promise<Terminated> {
    const previous = this.code;
    const lastExit = this.#lastExit;
    this.code = STOPPING;
    this.#releaseGate(); // a parked message now drains as a dead letter, as does the rest of the mailbox
    let reason: TerminationReason = 'shutdown';
    let error: unknown = undefined;
    if (previous === RUNNING || previous === SUSPENDING) {
      if (!(await this.#quiesce())) reason = 'killed';
    } else if ((previous === EXITED || previous === SUSPENDED) && lastExit !== null) {
      // It ended by itself (or its restart's init failed) and was never brought back: report that end.
      await this.#termination;
      if (lastExit.kind === 'crash') {
        reason = 'error';
        error = lastExit.error;
      } else {
        reason = 'normal';
      }
    }
    this.code = STOPPED;
    if (this.#started) this.#runtime.instruments.actorStopped(this);
    // Let nact hand us what is still queued, to dead-letter it (queries rejected) before we report the stop;
    // stopping the nact actor earlier would lose those messages silently.
    if (this.depth > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    this.#releaseNact();
    const terminated: Terminated = {
      type: 'Terminated',
      id: this.id,
      path: this.path,
      reason,
      ...(error === undefined ? {} : { error: crashError(error, this.path).toWire() }),
    };
    this.#deathWatch.notify(terminated);
    return terminated;
  }

  /** Runs `init` for a new incarnation (the gate stays closed meanwhile). */
  async #initialise(): Promise<void> {
    this.code = STARTING;
    void this.#closeGate();
    this.incarnation++;
    this.#stopRequested = false;
    this.#termination = null;
    this.#lastExit = null;
    try {
      this.#state = await this.#behaviour.init(this.#ctx);
    } catch (error) {
      if (!this.#started) {
        // A first start that fails leaves nothing running: drain what init may have sent itself.
        this.code = STOPPED;
        this.#releaseGate();
        if (this.depth === 0) this.#releaseNact();
      }
      throw startFailed(error, this.path);
    }
  }

  #afterInit(): void {
    if (this.code !== STARTING) return; // stopped while init ran
    this.code = RUNNING;
    this.#releaseGate();
    if (this.#stopRequested) void this.#exit({ kind: 'normal' });
  }

  /**
   * Lets the in-flight handler finish and runs `terminate`, within
   * `shutdownTimeoutMs`; past it the actor is killed (the handler abandoned,
   * its query rejected with ESPER_SHUTDOWN_TIMEOUT). True when it stopped in time.
   */
  async #quiesce(): Promise<boolean> {
    const work = (async () => {
      const flight = this.#inflight;
      if (flight !== null) await new Promise<void>((resolve) => flight.waiters.push(resolve));
      await this.#callTerminate({ kind: 'shutdown' });
    })();
    const timeoutMs = this.#spec.shutdownTimeoutMs;
    if (await settlesWithin(this.clock, work, timeoutMs)) return true;
    const error = shutdownTimeout(this.path, timeoutMs);
    this.#log.warn({ code: error.code, timeoutMs }, error.message);
    const flight = this.#inflight;
    if (flight !== null) {
      this.#inflight = null;
      this.#current = null;
      flight.query?.reject(error);
      flight.release(undefined); // frees nact's mailbox: the next message meets the gate or a dead letter
    }
    return false;
  }

  #terminateBounded(reason: ExitReason): Promise<void> {
    const timeoutMs = this.#spec.shutdownTimeoutMs;
    return settlesWithin(this.clock, this.#callTerminate(reason), timeoutMs).then((inTime) => {
      if (!inTime) this.#log.warn({ code: 'ESPER_SHUTDOWN_TIMEOUT', timeoutMs }, 'terminate did not finish in time; abandoned');
    });
  }

  async #callTerminate(reason: ExitReason): Promise<void> {
    if (this.#behaviour.terminate === undefined) return;
    try {
      await this.#behaviour.terminate(this.#state as S, reason);
    } catch (error) {
      this.#log.error({ err: error }, 'terminate threw');
    }
  }

  #closeGate(): Promise<void> {
    if (this.#gate === null) {
      this.#gate = new Promise<void>((resolve) => (this.#openGate = resolve));
    }
    return this.#gate;
  }

  #releaseGate(): void {
    const open = this.#openGate;
    this.#gate = null;
    this.#openGate = null;
    open?.();
  }

  #releaseNact(): void {
    const drained = this.#drained;
    this.#drained = null;
    drained?.();
    if (this.#nactRef === null) return;
    nact.stop(this.#nactRef);
    this.#nactRef = null;
  }
}
