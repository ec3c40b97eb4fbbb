/**
 * Runs hosted by a trainer node (DESIGN §3, §4). `<prefix>.ctl.run.start` (one
 * trainer node takes each request, queue group) registers the run in the runs
 * bucket and starts `esper run`'s loop in this process — its tensors in a
 * worker thread. The node then answers `<prefix>.ctl.run.<runId>.<verb>` and
 * `<prefix>.ctl.seed.<runId>.<seedId>.<verb>` for it: the run routes
 * (`runRoutes` in control-routes.ts) through a control router, on listeners
 * opened when the node starts hosting the run.
 *
 * At every epoch boundary the run is made durable before it trains on:
 * checkpoint bytes and loop state (with the events emitted since the last
 * boundary) go to the artifact store, then the run's record is advanced by
 * compare-and-set, then those events are published to the events stream
 * (de-duplicated by id), then the artifacts of older checkpoints are deleted
 * (`checkpoint-retention.ts`: a run keeps its committed checkpoint, a
 * finished one its final checkpoint and results). A node that dies mid-epoch
 * loses only that epoch: every trainer node sweeps for runs whose owner
 * incarnation is gone, claims one by compare-and-set (one winner),
 * republishes the boundary's events (duplicates are dropped by id) and trains
 * on from the boundary. The event log has neither gaps nor duplicates.
 *
 * Operator verbs that change the run (seed overrides, checkpoint, rollback)
 * are queued and served at the next boundary — at once while the run is
 * paused — and answered then; status, pause, resume, stop answer at once.
 * A draining node hands its runs back at their next boundary (owner cleared,
 * state `pending`) for another trainer node to continue.
 */
import { randomBytes } from 'node:crypto';
import { retryTransient, type Bus, type RetryObserver, type Subscription } from '../actors/oona/index.ts';
import { checkRunSpec, startRun, type EpochBoundary, type EpochFaults } from '../actors/tolaria/index.ts';
import type { Supervisor } from '../supervision/index.ts';
import { publishRunEvents } from '../actors/nissa/index.ts';
import { createMessage } from '../contracts/registry.ts';
import type { RunLoopState } from '../actors/tolaria/index.ts';
import type { Envelope } from '../contracts/envelope.ts';
import { RunSpecSchema, type RunResults, type RunSpec } from '../contracts/run.ts';
import type { GerminateRequest, RunControlRequest, RunStartRequest, SeedCommandReply, SeedControlRequest } from '../contracts/control.ts';
import type { SeedState } from '../contracts/kasmina.ts';
import type { CheckpointMetadata, RunState, RunStatus } from '../contracts/tolaria.ts';
import { subjects, type RunVerb, type SeedVerb } from '../contracts/subjects.ts';
import { EsperError, InputError, toEsperError } from '../errors/index.ts';
import type { Logger } from '../infra/logger.ts';
import { serviceName } from './control-plane.ts';
import { ControlRouter, serveRoutes } from './control-router.ts';
import { runNotFound, runRoutes, type RunControl } from './control-routes.ts';
import { isOrphan, isTerminal, type RunOwner, type RunRecord, type RunRegistry, type VersionedRunRecord } from './run-registry.ts';
import { RunEventBacklog } from './run-event-backlog.ts';

/** Ends a run's loop at a boundary: stopped by an operator, handed back by a draining node, or taken over by another node. */
class LeaveRun extends Error {
  constructor(readonly why: 'stop' | 'handover' | 'lost') {
    super(why);
  }
}

type Pending = { kind: 'run' | 'seed'; verb: string; target: string; body: Record<string, unknown>; resolve: (data: unknown) => void; reject: (error: unknown) => void };

interface HostedRun {
  runId: string;
  spec: RunSpec;
  status: RunStatus;
  versioned: VersionedRunRecord;
  paused: boolean;
  stopRequested: boolean;
  /** Wakes a paused boundary (new request, resume, stop, drain). */
  wake: (() => void) | undefined;
  requests: Pending[];
  /** Events emitted or recorded since the last boundary persisted (and those whose publish failed). */
  events: RunEventBacklog;
  seeds: SeedState[];
  subscriptions: Subscription[];
  finished: Promise<RunResults | undefined>;
  /**
   * The next deletion pass lists the run's artifacts (a full retention
   * sweep) instead of deleting only the checkpoint the commit superseded:
   * true for the first commit of this owner (leftovers of a fenced or killed
   * predecessor) and after a failed deletion.
   */
  sweepPending: boolean;
  /** The state the run is ending in, while its end is being recorded (status shows it once the record has it). */
  ending: RunState | undefined;
}

export interface RunServiceOptions {
  bus: Bus;
  prefix: string;
  nodeId: string;
  incarnationId: string;
  logger: Logger;
  maxPayloadBytes: number;
  registry: () => Promise<RunRegistry>;
  /** Node incarnations that are alive now (membership). */
  liveNodes: () => Promise<RunOwner[]>;
  /** How often to look for orphaned runs, ms. */
  sweepMs: number;
  /** Called with each control request's route and duration (s), for the latency histogram. */
  observe?: (label: string, seconds: number, ok: boolean) => void;
  /**
   * Who runs the orphan sweep every `sweepMs`: this service's own timer, or
   * an external caller of {@link RunService.sweep} (the node's supervised
   * Tolaria sweeper). @default 'internal'
   */
  sweeper?: 'internal' | 'external';
  /** The supervisor runs start under (the node's Tolaria); @default each run is a root of its own */
  runSupervisor?: () => Supervisor | undefined;
  /** Told about JetStream operations that fail transiently and recover (the node's health: status, metrics). */
  health?: RetryObserver;
  /**
   * Events a run may hold that the events stream has not taken (it is
   * unavailable); past this, the run waits at its boundary until they are
   * published. They are durable meanwhile: saved with every checkpoint.
   * @default {@link MAX_EVENT_BACKLOG}
   */
  maxEventBacklog?: number;
  /** How long a boundary's commit is retried while JetStream is unavailable before the run fails, ms. @default 600000 */
  commitRetryMs?: number;
  /**
   * How long a boundary retries publishing its events before the run trains
   * on with them held (saved with the checkpoint, published at the next
   * boundary), ms: long enough for a leader election. @default 5000
   */
  publishRetryMs?: number;
  /** Fault injection for the run `runId` (tests, drills): passed to its training loop. @default none */
  faults?: (runId: string) => EpochFaults | undefined;
}

/** Default bound of a run's unpublished events (see {@link RunServiceOptions.maxEventBacklog}). */
export const MAX_EVENT_BACKLOG = 10_000;

/** Where a taken-over run continues from: its last boundary and the events saved with it. */
type ResumeInput = { state: { state: RunLoopState; checkpoint: Uint8Array }; events: Envelope[] };

const SEED_MUTATIONS = new Set(['germinate', 'advance', 'prune', 'fossilize']);
const RUN_MUTATIONS = new Set(['checkpoint', 'rollback']);
/** Run verbs answered at once whose request the run's event log records (`nissa.operator.action`). */
const AUDITED_VERBS: ReadonlySet<string> = new Set(['pause', 'resume', 'stop']);

export class RunService implements RunControl {
  readonly #options: RunServiceOptions;
  readonly #bus: Bus;
  readonly #prefix: string;
  readonly #nodeId: string;
  readonly #logger: Logger;
  readonly #runs = new Map<string, HostedRun>();
  /** The run routes, handled here: `run.start` and the verbs of the runs hosted here. */
  readonly #router: ControlRouter;
  #startSubscription: Subscription | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> = Promise.resolve();
  #accepting = true;
  #sweepFailedLoggedAt = 0;
  /** Runs being registered by start() and not hosted yet (the sweep leaves them alone). */
  readonly #starting = new Set<string>();

  constructor(options: RunServiceOptions) {
    this.#options = options;
    this.#bus = options.bus;
    this.#prefix = options.prefix;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger.child({ component: 'runs' });
    this.#router = new ControlRouter({
      prefix: options.prefix,
      maxPayloadBytes: options.maxPayloadBytes,
      ...(options.observe === undefined ? {} : { observe: options.observe }),
    }).add(...runRoutes(this));
  }

  get #owner(): RunOwner {
    return { nodeId: this.#nodeId, incarnationId: this.#options.incarnationId };
  }

  /** Starts answering `run.start` (queue group of the trainer nodes) and sweeping for orphaned runs. */
  listen(): void {
    this.#startSubscription = serveRoutes(this.#bus, subjects(this.#prefix).runStart, this.#router, { queue: `${serviceName(this.#prefix)}-trainers` });
    if (this.#options.sweeper === 'external') return;
    this.#sweepTimer = setInterval(() => {
      this.#sweeping = this.#sweeping.then(() => this.sweep());
    }, this.#options.sweepMs);
    this.#sweepTimer.unref();
    this.#sweeping = this.#sweeping.then(() => this.sweep());
  }

  /** Ids of the runs hosted here (membership advertises them). */
  runIds(): string[] {
    return [...this.#runs.keys()];
  }

  statuses(): RunStatus[] {
    return [...this.#runs.values()].map((run) => run.status);
  }

  /** `run.start`: see {@link start}. */
  runStart(request: RunStartRequest): Promise<RunStatus> {
    return this.start(request.spec, request.runId);
  }

  /** A verb of a run hosted here: answered at once (status, pause, resume, stop) or at the run's next boundary. */
  runVerb(runId: string, verb: RunVerb, request: RunControlRequest): Promise<unknown> {
    return this.#control(runId, 'run', verb, runId, request);
  }

  /** A verb of a seed (seed or slot id) of a run hosted here: status at once, overrides at the run's next boundary. */
  seedVerb(runId: string, seedId: string, verb: SeedVerb, request: SeedControlRequest): Promise<unknown> {
    return this.#control(runId, 'seed', verb, seedId, request);
  }

  /** Validates the spec, registers the run and starts it; resolves with its first status. */
  async start(specInput: unknown, requestedId?: string): Promise<RunStatus> {
    if (!this.#accepting) throw new InputError('ESPER_UNAVAILABLE', `node ${this.#nodeId} is draining and takes no new runs`);
    const parsed = RunSpecSchema.safeParse(specInput);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new InputError('ESPER_SCHEMA_VIOLATION', `invalid run spec: ${issues.join('; ')}`, { details: { issues } });
    }
    checkRunSpec(parsed.data);
    const runId = requestedId ?? `run-${randomBytes(6).toString('hex')}`;
    this.#starting.add(runId);
    try {
      return await this.#register(parsed.data, runId);
    } finally {
      this.#starting.delete(runId);
    }
  }

  /** Registers the run (compare-and-set create) and hosts it. */
  async #register(spec: RunSpec, runId: string): Promise<RunStatus> {
    const now = new Date().toISOString();
    const registry = await this.#retry(`open the runs bucket for ${runId}`, () => this.#options.registry(), 30_000);
    let versioned: VersionedRunRecord;
    try {
      // A create whose reply was lost and that is retried finds its own record (RunRegistry.create), not a conflict.
      versioned = await this.#retry(`register run ${runId}`, () => registry.create({
        v: 1,
        runId,
        spec,
        state: 'running',
        owner: this.#owner,
        resumes: 0,
        epoch: 0,
        maxEpochs: spec.epochs,
        checkpoint: null,
        createdAt: now,
        updatedAt: now,
      }), 30_000);
    } catch (error) {
      if (error instanceof EsperError && error.code === 'ESPER_CONFLICT') throw new EsperError('ESPER_CONFLICT', `run ${runId} already exists`, { details: { runId } });
      throw error;
    }
    const run = this.#host(spec, versioned, undefined);
    this.#logger.info({ runId, epochs: spec.epochs }, 'run started');
    return run.status;
  }

  /** One pass of the orphan sweep: claims (compare-and-set) and resumes every run whose owner is gone. */
  async sweep(): Promise<void> {
    if (!this.#accepting) return;
    try {
      const registry = await this.#options.registry();
      const records = await registry.list();
      const orphans = records.filter((r) => !this.#runs.has(r.record.runId) && !this.#starting.has(r.record.runId) && !isTerminal(r.record.state));
      if (orphans.length === 0) return;
      const live = await this.#options.liveNodes();
      // Also runs this incarnation claimed but could not resume (its store was unavailable): claimed again, resumed again.
      const mine = (record: RunRecord): boolean => record.owner?.nodeId === this.#nodeId && record.owner.incarnationId === this.#options.incarnationId;
      for (const found of orphans) {
        if (!(isOrphan(found.record, live) || mine(found.record)) || !this.#accepting) continue;
        let claimed: VersionedRunRecord;
        try {
          claimed = await registry.update(found, { owner: this.#owner, resumes: found.record.resumes + 1, state: found.record.state === 'paused' ? 'paused' : 'running' });
        } catch (error) {
          if (error instanceof EsperError && error.code === 'ESPER_CONFLICT') continue; // another node was faster
          throw error;
        }
        await this.#resume(claimed, found.record.owner);
      }
    } catch (error) {
      // A pass runs every sweep interval: while the cluster elects a leader, say so once per 10 s, not every pass.
      if (Date.now() - this.#sweepFailedLoggedAt >= 10_000) {
        this.#sweepFailedLoggedAt = Date.now();
        this.#logger.warn({ err: error }, 'run sweep failed; retrying at the next pass');
      }
    }
  }

  /** Retries `fn` through transient JetStream failures (elections, a lost server) for up to `budgetMs`. */
  #retry<T>(what: string, fn: () => Promise<T>, budgetMs: number, cancelled?: () => boolean): Promise<T> {
    return retryTransient(fn, {
      what,
      logger: this.#logger,
      budgetMs,
      observer: this.#options.health,
      ...(cancelled === undefined ? {} : { cancelled }),
    });
  }

  /** Events held by the hosted runs that the events stream has not taken yet (emitted since the last boundary, or whose publish failed). */
  eventBacklog(): number {
    let total = 0;
    for (const run of this.#runs.values()) total += run.events.size;
    return total;
  }

  async #resume(claimed: VersionedRunRecord, previous: RunOwner | null): Promise<void> {
    const { record } = claimed;
    const spec = RunSpecSchema.safeParse(record.spec);
    if (!spec.success) {
      const registry = await this.#options.registry();
      await registry.update(claimed, { state: 'failed', error: new InputError('ESPER_SCHEMA_VIOLATION', 'stored run spec no longer validates').toWire() }).catch(() => undefined);
      return;
    }
    let resume: ResumeInput | undefined;
    if (record.checkpoint !== null) {
      const registry = await this.#options.registry();
      const pointer = record.checkpoint;
      // Read through an election; should it still fail, the record names this node and the next sweep pass resumes it.
      const boundary = await this.#retry(`load the checkpoint of run ${record.runId}`, () => registry.loadBoundary(pointer), 60_000);
      resume = { state: { state: boundary.state.loop, checkpoint: boundary.tensors }, events: boundary.state.pendingEvents };
    }
    this.#logger.warn(
      { runId: record.runId, previousOwner: previous, fromCheckpoint: record.checkpoint?.checkpointId ?? null, iteration: record.checkpoint?.iteration ?? 0 },
      'resuming a run whose node is gone',
    );
    this.#host(spec.data, claimed, resume);
  }

  #host(spec: RunSpec, versioned: VersionedRunRecord, resume: ResumeInput | undefined): HostedRun {
    const runId = versioned.record.runId;
    const now = new Date().toISOString();
    const run: HostedRun = {
      runId,
      spec,
      status: {
        runId,
        state: versioned.record.state === 'paused' ? 'paused' : 'running',
        epoch: versioned.record.epoch,
        maxEpochs: spec.epochs,
        nodeId: this.#nodeId,
        startedAt: versioned.record.createdAt,
        updatedAt: now,
        ...(versioned.record.checkpoint === null ? {} : { lastCheckpointId: versioned.record.checkpoint.checkpointId }),
      },
      versioned,
      paused: versioned.record.state === 'paused',
      stopRequested: false,
      wake: undefined,
      requests: [],
      // Events of the boundary resumed from that may not have reached the stream: published again (de-duplicated by id).
      events: new RunEventBacklog(resume?.events),
      seeds: [],
      subscriptions: [],
      finished: Promise.resolve(undefined),
      sweepPending: true,
      ending: undefined,
    };
    run.subscriptions = this.#listen(runId);
    this.#runs.set(runId, run);
    const log = this.#logger.child({ runId });
    const faults = this.#options.faults?.(runId);
    run.finished = startRun(this.#options.runSupervisor?.(), spec, {
      runId,
      logger: log,
      ...(resume === undefined ? {} : { resume: resume.state }),
      ...(faults === undefined ? {} : { faults }),
      events: (event) => {
        run.events.emitted(event);
      },
      // A restarted loop replays the epoch after the last boundary (its events again); the operator's records stay.
      onRestart: () => {
        run.events.rewind();
      },
      onEpoch: (summary) => {
        const seedStages: Record<string, number> = {};
        for (const seed of summary.seeds) seedStages[seed.stage] = (seedStages[seed.stage] ?? 0) + 1;
        run.status = { ...run.status, epoch: run.status.epoch + 1, validationAccuracy: summary.validationAccuracy, seedStages, updatedAt: new Date().toISOString() };
      },
      boundary: async (boundary) => {
        await this.#atBoundary(run, boundary);
        run.events.committed();
      },
    })
      .then((handle) => handle.finished)
      .then(
      async (results) => {
        await this.#finish(run, { state: 'completed' }, results);
        this.#logger.info({ runId, finalAccuracy: results.finalAccuracy }, 'run completed');
        return results;
      },
      async (error: unknown) => {
        this.#failPending(run, error);
        if (error instanceof LeaveRun && error.why === 'lost') {
          run.status = { ...run.status, state: 'stopped', updatedAt: new Date().toISOString() };
          this.#logger.warn({ runId }, 'run taken over by another node; stopped here');
        } else if (error instanceof LeaveRun && error.why === 'handover') {
          await this.#finish(run, { state: 'pending', owner: null });
          this.#logger.info({ runId }, 'run handed back for another trainer node');
        } else if (error instanceof LeaveRun || run.stopRequested) {
          await this.#finish(run, { state: 'stopped' });
          this.#logger.info({ runId }, 'run stopped');
        } else {
          const wire = toEsperError(error).toWire();
          await this.#finish(run, { state: 'failed', error: wire });
          this.#logger.error({ err: error, runId }, 'run failed');
        }
        return undefined;
      },
    );
    return run;
  }

  /** Makes the boundary durable, serves queued operator requests, waits while paused. */
  async #atBoundary(run: HostedRun, boundary: EpochBoundary): Promise<void> {
    run.seeds = boundary.seeds();
    await this.#persist(run, boundary);
    for (;;) {
      let changed = false;
      while (run.requests.length > 0) {
        const request = run.requests.shift();
        if (request === undefined) break;
        try {
          const { data, mutated } = await this.#serveAtBoundary(run, boundary, request);
          if (mutated) {
            changed = true;
            await boundary.recheckpoint();
            run.seeds = boundary.seeds();
            await this.#persist(run, boundary);
          }
          request.resolve(typeof data === 'function' ? (data as () => unknown)() : data);
        } catch (error) {
          if (error instanceof LeaveRun) throw error;
          request.reject(error);
        }
      }
      if (changed) continue;
      if (run.stopRequested) throw new LeaveRun('stop');
      if (!this.#accepting) throw new LeaveRun('handover');
      if (!run.paused) break;
      // A pause that arrived while this boundary was serving came after its commit, which recorded `running`:
      // record the pause before waiting, or the runs bucket (the dashboard, a node taking the run over) says otherwise.
      if (run.versioned.record.state !== 'paused') await this.#recordState(run, 'paused');
      // The same for its record in the event log: pushed after this boundary's publish, it would wait for the resume.
      if (run.events.size > 0) await this.#publish(run, run.events.all());
      run.status = { ...run.status, state: 'paused', updatedAt: new Date().toISOString() };
      await new Promise<void>((resolve) => {
        run.wake = resolve;
      });
      run.wake = undefined;
    }
    // Resumed: record it now, not at the next boundary (a node taking the run over meanwhile would keep it paused).
    if (run.versioned.record.state === 'paused') await this.#recordState(run, 'running');
    if (run.status.state === 'paused') run.status = { ...run.status, state: 'running', updatedAt: new Date().toISOString() };
  }

  async #serveAtBoundary(run: HostedRun, boundary: EpochBoundary, request: Pending): Promise<{ data: unknown; mutated: boolean }> {
    const body = request.body as { reason?: string; checkpointId?: string };
    const requestId = `op-${randomBytes(6).toString('hex')}`;
    if (request.kind === 'run' && request.verb === 'checkpoint') {
      // The checkpoint is the one taken after this request (recheckpoint), read once persisted.
      return {
        mutated: true,
        data: (): CheckpointMetadata => ({
          checkpointId: boundary.checkpoint.checkpointId,
          runId: run.runId,
          epoch: boundary.checkpoint.epoch,
          globalStep: boundary.checkpoint.globalStep,
          hash: boundary.checkpoint.hash,
          sizeBytes: boundary.checkpoint.sizeBytes,
          createdAt: boundary.checkpoint.createdAt,
          reason: 'manual',
        }),
      };
    }
    if (request.kind === 'run' && request.verb === 'rollback') {
      const done = await boundary.rollback(body.reason ?? 'operator', body.checkpointId);
      return { mutated: true, data: { runId: run.runId, checkpointId: done.checkpointId, toEpoch: done.toEpoch } };
    }
    const operation =
      request.verb === 'germinate'
        ? (() => {
            const g = request.body as GerminateRequest;
            return {
              op: 'GERMINATE' as const,
              ...(g.blueprintId === undefined ? {} : { blueprintId: g.blueprintId }),
              ...(g.kernelId === undefined ? {} : { kernelId: g.kernelId }),
              ...(g.blend === undefined ? {} : { blend: g.blend }),
            };
          })()
        : { op: request.verb.toUpperCase() as 'ADVANCE' | 'PRUNE' | 'FOSSILIZE' };
    const done = await boundary.command(request.target, operation, { requestId, reason: body.reason ?? `operator ${request.verb}` });
    const reply: SeedCommandReply = { commandId: done.command.commandId, seed: done.seed };
    return { mutated: true, data: reply };
  }

  /** Saves the boundary's artifacts, commits the record (compare-and-set), then publishes the boundary's events. */
  /** Records `state` in the run's record (retried like a commit; a lost record means another node owns the run). */
  async #recordState(run: HostedRun, state: 'paused' | 'running'): Promise<void> {
    const what = `record run ${run.runId} ${state}`;
    const budget = this.#options.commitRetryMs ?? 600_000;
    await this.#updateRecord(run, await this.#retry(what, () => this.#options.registry(), budget), { state }, what, budget);
  }

  /** Updates the run's record, retried; a conflict means another node claimed the run (this one leaves it). */
  async #updateRecord(run: HostedRun, registry: RunRegistry, patch: Partial<RunRecord>, what: string, budgetMs: number): Promise<void> {
    try {
      // A retried update whose first try landed finds its own record (RunRegistry.update), not a conflict.
      run.versioned = await this.#retry(what, () => registry.update(run.versioned, patch), budgetMs);
    } catch (error) {
      if (error instanceof EsperError && error.code === 'ESPER_CONFLICT') throw new LeaveRun('lost');
      throw error;
    }
  }

  async #persist(run: HostedRun, boundary: EpochBoundary): Promise<void> {
    // While JetStream elects a leader (a NATS server lost) the commit is retried with backoff: the run waits, it does not fail.
    const budget = this.#options.commitRetryMs ?? 600_000;
    const what = `commit run ${run.runId} epoch ${run.status.epoch}`;
    const registry = await this.#retry(what, () => this.#options.registry(), budget);
    const events = run.events.all();
    const superseded = run.versioned.record.checkpoint;
    // Artifacts are immutable and content-checked: writing the same bytes again is a no-op.
    const pointer = await this.#retry(
      what,
      () => registry.saveBoundary(run.runId, boundary.checkpoint.checkpointId, run.versioned.record.resumes, boundary.checkpoint.bytes, { loop: boundary.state, pendingEvents: events }),
      budget,
    );
    const patch: Partial<RunRecord> = {
      checkpoint: pointer,
      epoch: run.status.epoch,
      ...(run.status.validationAccuracy === undefined ? {} : { validationAccuracy: run.status.validationAccuracy }),
      ...(run.status.seedStages === undefined ? {} : { seedStages: run.status.seedStages }),
      state: run.paused ? 'paused' : 'running',
    };
    await this.#updateRecord(run, registry, patch, what, budget);
    run.status = { ...run.status, lastCheckpointId: boundary.checkpoint.checkpointId, updatedAt: new Date().toISOString() };
    await this.#publish(run, events);
    const bound = this.#options.maxEventBacklog ?? MAX_EVENT_BACKLOG;
    if (run.events.size > bound) {
      // Bounded backlog: the run trains on only once the stream has taken its events (they are saved with the checkpoint meanwhile).
      this.#logger.warn({ runId: run.runId, events: run.events.size, bound }, 'event backlog over its bound; the run waits until the events stream takes them');
      await this.#publishAll(run, () => !this.#accepting);
    }
    await this.#prune(run, superseded);
  }

  /**
   * Deletes the checkpoint artifacts that the record just committed (by this
   * owner's compare-and-set — never called after a lost one) no longer needs:
   * in the steady state the one checkpoint the commit superseded (no
   * listing); a full sweep of the run's artifacts on this owner's first
   * commit, after a failure, and when the run ends. A failure costs only
   * space: it is logged, and the next commit sweeps.
   */
  async #prune(run: HostedRun, superseded?: RunRecord['checkpoint']): Promise<void> {
    try {
      const registry = await this.#options.registry();
      // Steady state: the commit superseded exactly one checkpoint, deleted without listing the store.
      const single = !run.sweepPending && superseded != null && superseded.checkpointId !== run.versioned.record.checkpoint?.checkpointId ? superseded : undefined;
      const { deleted, failed } = single === undefined ? await registry.pruneCheckpoints(run.versioned.record) : await registry.deleteBoundary(single);
      run.sweepPending = failed.length > 0;
      if (deleted.length > 0) this.#logger.debug({ runId: run.runId, deleted }, 'old checkpoint artifacts deleted');
      if (failed.length > 0) this.#logger.warn({ err: failed[0]?.error, runId: run.runId, keys: failed.map((f) => f.key) }, 'old checkpoint artifacts not deleted; retried after the next commit');
    } catch (error) {
      run.sweepPending = true;
      this.#logger.warn({ err: error, runId: run.runId }, 'checkpoint retention failed; retried after the next commit');
    }
  }
  /** Publishes `events` (in order) and drops them from the run's buffer; what fails stays for the next boundary. */
  async #publish(run: HostedRun, events: readonly Envelope[]): Promise<boolean> {
    if (events.length === 0) return true;
    try {
      // Short retries ride through a leader election; what still fails waits for the next boundary.
      await this.#retry(`publish ${events.length} events of run ${run.runId}`, () => publishRunEvents(this.#bus, this.#prefix, events), this.#options.publishRetryMs ?? 5000);
      run.events.published(events.length);
      return true;
    } catch (error) {
      this.#logger.warn({ err: error, runId: run.runId, events: events.length, backlog: run.events.size }, 'events not published; kept with the next checkpoint');
      return false;
    }
  }

  /**
   * Publishes everything the run holds, retrying (any failure, with backoff)
   * until the stream has taken it or `cancelled()`; true when nothing is left.
   */
  async #publishAll(run: HostedRun, cancelled: () => boolean): Promise<boolean> {
    try {
      await retryTransient(
        async () => {
          const events = run.events.all();
          if (events.length === 0) return;
          await publishRunEvents(this.#bus, this.#prefix, events);
          run.events.published(events.length);
        },
        { what: `publish the events of run ${run.runId}`, logger: this.#logger, observer: this.#options.health, retryable: () => true, cancelled },
      );
    } catch {
      // cancelled: what is left stays with the run (and its last checkpoint)
    }
    return run.events.size === 0;
  }

  /** Final record update: publishes what is left, stores results, sets the state. */
  async #finish(run: HostedRun, patch: Partial<RunRecord>, results?: RunResults): Promise<void> {
    // Verbs are refused from now on; the status shows the end once the record holds it (results stored first).
    run.ending = patch.state ?? run.status.state;
    this.#failPending(run, new EsperError('ESPER_CONFLICT', `run ${run.runId} is ${run.ending}`));
    try {
      // Never dropped: the end is recorded only once the stream has every event. Until then the record
      // still names this node; should it stop first, the next owner resumes from the last checkpoint
      // (whose saved events it republishes) and emits the rest again.
      const handback = patch.state === 'pending';
      if (!(await this.#publishAll(run, () => !this.#accepting)) && !handback) {
        this.#logger.error(
          { runId: run.runId, events: run.events.size },
          'final events not published before the node stopped; the end of the run is left unrecorded so the next owner replays it from the last checkpoint',
        );
        return;
      }
      const budget = this.#options.commitRetryMs ?? 600_000;
      const registry = await this.#retry(`record the end of run ${run.runId}`, () => this.#options.registry(), budget);
      const resultsRef = results === undefined ? undefined : await this.#retry(`store the results of run ${run.runId}`, () => registry.saveResults(run.runId, results), budget);
      const endPatch = { ...patch, epoch: run.status.epoch, ...(resultsRef === undefined ? {} : { results: resultsRef }) };
      run.versioned = await this.#retry(`record the end of run ${run.runId}`, () => registry.update(run.versioned, endPatch), budget);
      // Finished: the final checkpoint and results stay; handed back: the checkpoint the next owner resumes from stays.
      await this.#prune(run);
    } catch (error) {
      this.#logger.error({ err: error, runId: run.runId }, 'could not record the end of the run');
    } finally {
      run.status = {
        ...run.status,
        state: run.ending,
        ...(results === undefined ? {} : { validationAccuracy: results.finalAccuracy }),
        ...(patch.error === undefined ? {} : { error: patch.error }),
        updatedAt: new Date().toISOString(),
      };
    }
  }

  #failPending(run: HostedRun, error: unknown): void {
    for (const request of run.requests.splice(0)) request.reject(error);
  }

  /** Opens a hosted run's listeners: every verb of the run and of its seeds, through the run routes. */
  #listen(runId: string): Subscription[] {
    const s = subjects(this.#prefix);
    return [serveRoutes(this.#bus, s.run(runId, '*'), this.#router), serveRoutes(this.#bus, s.seed(runId, '*', '*'), this.#router)];
  }

  /** Answers a verb at once, or queues it for the run's next boundary (the promise settles then). */
  async #control(runId: string, kind: 'run' | 'seed', verb: string, target: string, body: object): Promise<unknown> {
    const run = this.#runs.get(runId);
    if (run === undefined) runNotFound(runId);
    const now = this.#immediate(run, kind, verb, target);
    if (now !== undefined) {
      if (kind === 'run' && AUDITED_VERBS.has(verb)) this.#recordOperatorAction(run, verb, body);
      return now;
    }
    if (run.ending !== undefined || isTerminal(run.status.state)) throw new EsperError('ESPER_CONFLICT', `run ${run.runId} is ${run.ending ?? run.status.state}`);
    return await new Promise<unknown>((resolve, reject) => {
      run.requests.push({ kind, verb, target, body: body as Record<string, unknown>, resolve, reject });
      run.wake?.();
    });
  }

  /**
   * Puts a pause, resume or stop into the run's event log (published with the
   * run's next boundary, like its other events), so that the audit trail shows
   * it whoever sent it — `nats req`, `esper ctl` or the dashboard. The other
   * verbs leave their own events (rollbacks, checkpoints, seed transitions
   * with the operator's reason as their cause).
   */
  #recordOperatorAction(run: HostedRun, verb: string, body: object): void {
    const reason = (body as { reason?: unknown }).reason;
    const action = {
      subject: subjects(this.#prefix).run(run.runId, verb as RunVerb),
      verb,
      runId: run.runId,
      ...(typeof reason === 'string' && reason !== '' ? { reason: reason.slice(0, 500) } : {}),
      via: `node ${this.#nodeId}`,
      ok: true,
    };
    run.events.recorded(createMessage('nissa.operator.action', action, { source: `${this.#nodeId}/runs`, runId: run.runId }));
  }

  /** Verbs answered at once (undefined: queued for the next boundary). */
  #immediate(run: HostedRun, kind: 'run' | 'seed', verb: string, target: string): unknown {
    const terminal = run.ending !== undefined || isTerminal(run.status.state);
    if (kind === 'seed') {
      if (SEED_MUTATIONS.has(verb)) return undefined;
      const seed = run.seeds.find((s) => s.seedId === target || s.slotId === target);
      if (seed === undefined) throw new InputError('ESPER_NOT_FOUND', `run ${run.runId} has no seed ${JSON.stringify(target)}${run.seeds.length === 0 ? ' (no epoch boundary reached yet)' : ''}`);
      return seed;
    }
    if (RUN_MUTATIONS.has(verb)) return undefined;
    switch (verb) {
      case 'status':
        return run.status;
      case 'pause':
        if (!terminal) run.paused = true;
        return run.status;
      case 'resume':
        run.paused = false;
        run.wake?.();
        return run.status;
      case 'stop':
        if (!terminal) {
          run.stopRequested = true;
          run.status = { ...run.status, state: 'stopping' };
          run.wake?.();
        }
        return run.status;
      default:
        throw new InputError('ESPER_UNKNOWN_VERB', `unknown run verb ${JSON.stringify(verb)}`);
    }
  }

  /** Stops taking runs and hands every hosted run back at its next boundary (another trainer node continues it); waits for them. */
  async drain(): Promise<void> {
    this.#accepting = false;
    this.#startSubscription?.unsubscribe();
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    await this.#sweeping;
    for (const run of this.#runs.values()) run.wake?.();
    await Promise.all([...this.#runs.values()].map((run) => run.finished));
    for (const run of this.#runs.values()) for (const s of run.subscriptions) s.unsubscribe();
  }
}
