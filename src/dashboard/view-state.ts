/**
 * The dashboard's model (pure apart from the clock it is given): folds what
 * the upstream reports — membership records, run records, run events,
 * telemetry, supervision events, library reads — into {@link Snapshot}
 * views, and tells its listener each change as one small message (the SSE
 * event name and its data). Every series is bounded, so a run of a million
 * epochs or a day of events cannot grow the server without limit.
 */
import { DOWN_AFTER_HEARTBEATS } from '../node/membership.ts';
import { JETSTREAM_BREAKER } from '../node/jetstream-breaker.ts';
import type { NodeStatus } from '../contracts/control.ts';
import type { Envelope } from '../contracts/envelope.ts';
import type { SeedStage, SeedState } from '../contracts/kasmina.ts';
import type { RunState } from '../contracts/tolaria.ts';
import type { AnyMessage } from '../contracts/registry.ts';
import type { BandColumn, BreakerView, CurvePoint, DecisionView, EventLine, GraftDropView, LibraryView, NodeView, RollbackView, RunSummary, RunView, SeedView, Snapshot } from './view-types.ts';

/** Bounds of the model. */
export const VIEW_LIMITS = {
  /** Curve points (epochs) kept per run; the oldest go first. */
  points: 5000,
  /** Band columns kept per run. */
  bands: 2000,
  /** Decisions kept per run (the newest). */
  decisions: 200,
  rollbacks: 200,
  graftDrops: 200,
  /** Lines of the event tail. */
  events: 500,
  /** Runs kept (finished ones are forgotten first). */
  runs: 200,
} as const;

/** Receives every change: the SSE event name and its data. */
export type ViewListener = (event: string, data: unknown) => void;

/** What a run record (the runs KV bucket) tells the dashboard. */
export interface RunRecordInput {
  runId: string;
  state: RunState;
  epoch: number;
  maxEpochs?: number;
  nodeId?: string;
  resumes?: number;
  validationAccuracy?: number;
  seedStages?: Partial<Record<SeedStage, number>>;
  createdAt?: string;
  updatedAt?: string;
  error?: { code: string; message: string };
  /** True when results.json is stored (the report can be rendered). */
  hasResults?: boolean;
}

const TERMINAL: readonly RunState[] = ['completed', 'failed', 'stopped'];
/** Epochs averaged for the ETA. */
const ETA_WINDOW = 5;

function pushBounded<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}

/** `breakers` with `breaker` in place of the one of its name, sorted by name. */
function withBreaker(breakers: readonly BreakerView[], breaker: BreakerView): BreakerView[] {
  return [...breakers.filter((b) => b.name !== breaker.name), breaker].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The breakers of a node after a membership record: those seen so far for
 * this incarnation, and its `jetstream` breaker as the record states it
 * (the events say the same sooner; the record covers a page opened later).
 */
function breakersOf(kept: readonly BreakerView[], record: NodeStatus): BreakerView[] {
  const state = record.nats?.breaker;
  if (state === undefined || kept.find((b) => b.name === JETSTREAM_BREAKER)?.state === state) return [...kept];
  return withBreaker(kept, { name: JETSTREAM_BREAKER, state, at: record.nats?.degradedSince ?? record.lastHeartbeatAt ?? record.startedAt });
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** One line summarising an event for the tail. */
export function summarizeEvent(message: AnyMessage | Envelope): string {
  const m = message as AnyMessage;
  switch (m.type) {
    case 'tolaria.epoch.completed':
      return `epoch ${m.data.epoch}: accuracy ${percent(m.data.validationAccuracy)}, loss ${m.data.trainingLoss.toFixed(4)} / val ${m.data.validationLoss.toFixed(4)}`;
    case 'kasmina.seed.transitioned':
      return `${m.data.slotId ?? m.data.seedId}: ${m.data.from} → ${m.data.to} (${m.data.cause.reason})`;
    case 'tamiyo.decision.made':
      return `${m.data.policy}${m.data.fallback ? ' (fallback)' : ''}: ${m.data.reason}${m.data.commands.length > 0 ? ` [${m.data.commands.length} command${m.data.commands.length > 1 ? 's' : ''}]` : ''}`;
    case 'tamiyo.command.issued':
      return `${m.data.type}${m.data.seedOperation === undefined ? '' : ` ${m.data.seedOperation.op}`}${m.data.targetSeedId === undefined ? '' : ` → ${m.data.targetSeedId}`}`;
    case 'tolaria.run.rolled_back':
      return `rollback ${m.data.fromEpoch} → ${m.data.toEpoch} (${m.data.cause.trigger}: ${m.data.cause.reason})`;
    case 'tolaria.run.state_changed':
      return `${m.data.from} → ${m.data.to}${m.data.reason === undefined ? '' : ` (${m.data.reason})`}`;
    case 'tolaria.checkpoint.saved':
      return `checkpoint ${m.data.checkpointId} (${m.data.reason}, epoch ${m.data.epoch})`;
    case 'urabrask.kernel.validated':
      return `${m.data.kernelId}: ${m.data.status}`;
    case 'nissa.operator.action':
      return `operator ${m.data.verb}${m.data.seedId === undefined ? '' : ` ${m.data.seedId}`} via ${m.data.via}: ${m.data.ok ? 'ok' : (m.data.code ?? 'failed')}${m.data.reason === undefined ? '' : ` (${m.data.reason})`}`;
    case 'supervision.breaker.state':
      return `breaker ${m.data.name}: ${m.data.from} → ${m.data.to}`;
    default:
      return '';
  }
}

function emptyRun(runId: string): RunView {
  return { runId, state: 'pending', epoch: 0, maxGraftDropPct: 0, points: [], seeds: [], bands: [], decisions: [], rollbacks: [], graftDrops: [] };
}

function summaryOf(run: RunView): RunSummary {
  const { points: _p, seeds: _s, bands: _b, decisions: _d, rollbacks: _r, graftDrops: _g, ...summary } = run;
  return summary;
}

export class ViewState {
  readonly mode: 'cluster' | 'embedded';
  readonly #nodes = new Map<string, NodeView>();
  readonly #runs = new Map<string, RunView>();
  /**
   * Per run, when the state it shows was set (a `tolaria.run.state_changed`
   * event's time, or a run record's `updatedAt`). The runs bucket and the
   * events stream are separate subscriptions and may deliver out of order: a
   * record written before a pause can arrive after the pause event, and
   * must not turn the run back to `running`.
   */
  readonly #stateAt = new Map<string, string>();
  readonly #events: EventLine[] = [];
  readonly #now: () => number;
  #library: LibraryView | null = null;
  #listener: ViewListener = () => undefined;
  #seq = 0;
  /** Report path of a finished run (set by whoever can serve it). */
  readonly #reportPath: (runId: string) => string;
  actions = false;

  constructor(options: { mode: 'cluster' | 'embedded'; now?: () => number; reportPath?: (runId: string) => string }) {
    this.mode = options.mode;
    this.#now = options.now ?? Date.now;
    this.#reportPath = options.reportPath ?? ((runId) => `/runs/${encodeURIComponent(runId)}/report.html`);
  }

  /** Sets who hears about changes (the SSE hub). */
  listen(listener: ViewListener): void {
    this.#listener = listener;
  }

  snapshot(): Snapshot {
    return {
      mode: this.mode,
      actions: this.actions,
      nodes: [...this.#nodes.values()].sort((a, b) => a.name.localeCompare(b.name)),
      runs: [...this.#runs.values()].sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '')),
      library: this.#library,
      events: [...this.#events],
    };
  }

  run(runId: string): RunView | undefined {
    return this.#runs.get(runId);
  }

  // ------------------------------------------------------------------ nodes

  /** A membership record (a heartbeat). */
  putNode(record: NodeStatus): void {
    const previous = this.#nodes.get(record.nodeId);
    const actors = record.actors;
    const view: NodeView = {
      nodeId: record.nodeId,
      name: record.name,
      incarnationId: record.incarnationId,
      roles: [...record.roles],
      version: record.version,
      status: record.status,
      late: false,
      startedAt: record.startedAt,
      load: { ...record.load },
      runs: [...record.runs],
      breakers: breakersOf(previous !== undefined && previous.incarnationId === record.incarnationId ? previous.breakers : [], record),
      ...(record.lastHeartbeatAt === undefined ? {} : { lastHeartbeatAt: record.lastHeartbeatAt }),
      ...(record.heartbeatMs === undefined ? {} : { heartbeatMs: record.heartbeatMs }),
      ...(record.bus === undefined ? {} : { bus: record.bus }),
      ...(actors === undefined
        ? record.actorSummary === undefined
          ? {}
          : { actors: { ...record.actorSummary } }
        : { actors: { total: actors.length, notRunning: actors.filter((a) => a.status !== 'running').length, restarts: actors.reduce((n, a) => n + Math.max(0, a.incarnation - 1), 0) } }),
    };
    this.#judge(view, this.#now());
    this.#nodes.set(view.nodeId, view);
    this.#listener('node', view);
  }

  removeNode(nodeId: string): void {
    if (this.#nodes.delete(nodeId)) this.#listener('node.removed', { nodeId });
  }

  /** Re-judges every node's liveness at `now`; sends the ones that changed. */
  tick(now: number = this.#now()): void {
    for (const node of this.#nodes.values()) {
      const before = `${node.status}/${String(node.late)}`;
      this.#judge(node, now);
      if (`${node.status}/${String(node.late)}` !== before) this.#listener('node', node);
    }
  }

  #judge(node: NodeView, now: number): void {
    if (node.lastHeartbeatAt === undefined || node.heartbeatMs === undefined) return;
    const age = Math.max(0, now - Date.parse(node.lastHeartbeatAt));
    node.late = age > 1.5 * node.heartbeatMs;
    if (age > DOWN_AFTER_HEARTBEATS * node.heartbeatMs) node.status = 'down';
  }

  // ------------------------------------------------------------------- runs

  /** A run record (the runs bucket) or an embedded run's status. */
  putRun(input: RunRecordInput): void {
    const run = this.#runs.get(input.runId) ?? this.#createRun(input.runId);
    if (this.#newerState(input.runId, input.updatedAt)) run.state = input.state;
    run.epoch = Math.max(run.epoch, input.epoch);
    if (input.maxEpochs !== undefined) run.maxEpochs = input.maxEpochs;
    if (input.nodeId !== undefined) run.nodeId = input.nodeId;
    else delete run.nodeId;
    if (input.resumes !== undefined) run.resumes = input.resumes;
    if (input.validationAccuracy !== undefined) run.validationAccuracy = input.validationAccuracy;
    if (input.seedStages !== undefined) run.seedStages = input.seedStages;
    if (input.createdAt !== undefined) run.createdAt = input.createdAt;
    if (input.updatedAt !== undefined) run.updatedAt = input.updatedAt;
    if (input.error !== undefined) run.error = input.error;
    if (input.hasResults === true && TERMINAL.includes(input.state)) run.reportUrl = this.#reportPath(run.runId);
    this.#updateEta(run);
    this.#listener('run', summaryOf(run));
  }

  removeRun(runId: string): void {
    this.#stateAt.delete(runId);
    if (this.#runs.delete(runId)) this.#listener('run.removed', { runId });
  }

  /** Whether state information of time `at` (ISO; undefined: unknown, taken) is not older than what the run shows; records it when taken. */
  #newerState(runId: string, at: string | undefined): boolean {
    const shown = this.#stateAt.get(runId);
    if (at === undefined) return true;
    if (shown !== undefined && Date.parse(at) < Date.parse(shown)) return false;
    this.#stateAt.set(runId, at);
    return true;
  }

  #createRun(runId: string): RunView {
    const run = emptyRun(runId);
    this.#runs.set(runId, run);
    if (this.#runs.size > VIEW_LIMITS.runs) {
      // Forget the oldest finished run (or the oldest run).
      const victims = [...this.#runs.values()].filter((r) => r.runId !== runId);
      const finished = victims.filter((r) => TERMINAL.includes(r.state));
      const victim = (finished.length > 0 ? finished : victims).sort((a, b) => (a.updatedAt ?? '').localeCompare(b.updatedAt ?? ''))[0];
      if (victim !== undefined) this.removeRun(victim.runId);
    }
    return run;
  }

  #updateEta(run: RunView): void {
    const recent = run.points.slice(-ETA_WINDOW);
    if (recent.length === 0) return;
    run.epochMs = recent.reduce((sum, p) => sum + p.epochMs, 0) / recent.length;
    if (run.maxEpochs !== undefined && (run.state === 'running' || run.state === 'pending')) run.etaMs = Math.max(0, run.maxEpochs - run.epoch) * run.epochMs;
    else delete run.etaMs;
  }

  // ----------------------------------------------------------------- events

  /**
   * A run event (parsed) or any enveloped message from the events stream or
   * the supervision subjects. `seq` is the stream sequence when known.
   */
  applyEvent(message: AnyMessage, seq?: number): void {
    this.#seq = Math.max(this.#seq + 1, seq ?? 0);
    const line: EventLine = { seq: this.#seq, ts: message.ts, type: message.type, source: message.source, summary: summarizeEvent(message) };
    if (message.runId !== undefined) line.runId = message.runId;
    pushBounded(this.#events, line, VIEW_LIMITS.events);
    this.#listener('event', line);
    const runId = message.runId;
    switch (message.type) {
      case 'tolaria.epoch.completed': {
        const run = this.#runOf(message.data.runId);
        const d = message.data;
        const point: CurvePoint = {
          epoch: d.epoch,
          trainingLoss: d.trainingLoss,
          validationLoss: d.validationLoss,
          validationAccuracy: d.validationAccuracy,
          epochMs: d.epochMs,
          paramCount: d.paramCount,
          receivedAt: this.#now(),
        };
        // A rollback rewinds: points at or after this epoch are replaced.
        while (run.points.length > 0 && (run.points.at(-1)?.epoch ?? -1) >= d.epoch) run.points.pop();
        const previous = run.points.at(-1);
        pushBounded(run.points, point, VIEW_LIMITS.points);
        run.epoch = Math.max(run.epoch, d.epoch);
        run.validationAccuracy = d.validationAccuracy;
        if (run.state === 'pending') run.state = 'running';
        this.#listener('run.point', { runId: run.runId, point });
        this.#graftDrop(run, previous, point);
        this.#updateEta(run);
        this.#listener('run', summaryOf(run));
        break;
      }
      case 'tolaria.state.published': {
        const run = this.#runOf(message.data.runId);
        this.#band(run, message.data.epoch, message.data.seeds);
        break;
      }
      case 'kasmina.seed.transitioned': {
        if (runId === undefined) break;
        const run = this.#runOf(runId);
        const d = message.data;
        const existing = run.seeds.find((s) => s.seedId === d.seedId || (d.slotId !== undefined && s.slotId === d.slotId));
        const seed: SeedView = {
          seedId: d.seedId,
          slotId: d.slotId ?? existing?.slotId ?? d.seedId,
          stage: d.to,
          alpha: d.alpha ?? existing?.alpha ?? 0,
          epoch: d.epoch,
          reason: d.cause.reason,
          ...(existing?.blueprintId === undefined ? {} : { blueprintId: existing.blueprintId }),
        };
        if (existing === undefined) run.seeds.push(seed);
        else run.seeds.splice(run.seeds.indexOf(existing), 1, seed);
        this.#listener('run.seed', { runId: run.runId, seed });
        break;
      }
      case 'tamiyo.decision.made': {
        const run = this.#runOf(message.data.runId);
        const d = message.data;
        const decision: DecisionView = {
          epoch: d.epoch,
          policy: d.policy,
          reason: d.reason,
          fallback: d.fallback,
          ...(d.decisionMs === undefined ? {} : { decisionMs: d.decisionMs }),
          commands: d.commands.map((c) => ({
            type: c.type,
            ...(c.seedOperation === undefined ? {} : { op: c.seedOperation.op }),
            ...(c.targetSeedId === undefined ? {} : { seedId: c.targetSeedId }),
            ...(c.seedOperation?.blueprintId === undefined ? {} : { blueprintId: c.seedOperation.blueprintId }),
            ...(Object.keys(c.annotations).length === 0 ? {} : { annotations: c.annotations }),
          })),
        };
        pushBounded(run.decisions, decision, VIEW_LIMITS.decisions);
        this.#listener('run.decision', { runId: run.runId, decision });
        break;
      }
      case 'tolaria.run.rolled_back': {
        const run = this.#runOf(message.data.runId);
        const d = message.data;
        const rollback: RollbackView = {
          fromEpoch: d.fromEpoch,
          toEpoch: d.toEpoch,
          trigger: d.cause.trigger,
          reason: d.cause.reason,
          prunedSeedIds: [...d.prunedSeedIds],
          ...(d.cause.seedId === undefined ? {} : { seedId: d.cause.seedId }),
        };
        pushBounded(run.rollbacks, rollback, VIEW_LIMITS.rollbacks);
        this.#listener('run.rollback', { runId: run.runId, rollback });
        break;
      }
      case 'tolaria.run.state_changed': {
        const run = this.#runOf(message.data.runId);
        if (!this.#newerState(run.runId, message.ts)) break;
        run.state = message.data.to;
        this.#listener('run', summaryOf(run));
        break;
      }
      case 'supervision.breaker.state': {
        const nodeId = message.source.split('/')[0] ?? message.source;
        const node = this.#nodes.get(nodeId);
        if (node === undefined) break;
        const d = message.data;
        const breaker: BreakerView = { name: d.name, state: d.to, at: d.at, ...(d.reason === undefined ? {} : { reason: d.reason }) };
        node.breakers = withBreaker(node.breakers, breaker);
        this.#listener('node', node);
        break;
      }
      default:
        break;
    }
  }

  /** An unregistered event (e.g. `tolaria.run.completed`): only the tail sees it. */
  applyOtherEvent(envelope: Envelope, seq?: number): void {
    this.#seq = Math.max(this.#seq + 1, seq ?? 0);
    const line: EventLine = { seq: this.#seq, ts: envelope.ts, type: envelope.type, source: envelope.source, summary: '' };
    if (envelope.runId !== undefined) line.runId = envelope.runId;
    pushBounded(this.#events, line, VIEW_LIMITS.events);
    this.#listener('event', line);
  }

  /** A telemetry packet (`tel.<runId>.<kind>`): shown in the event tail only for now. */
  applyTelemetry(runId: string, kind: string, metrics: Record<string, number>, ts: string): void {
    const line: EventLine = { seq: ++this.#seq, ts, runId, type: `telemetry.${kind}`, source: 'tel', summary: Object.entries(metrics).slice(0, 6).map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`).join(' ') };
    pushBounded(this.#events, line, VIEW_LIMITS.events);
    this.#listener('event', line);
  }

  setLibrary(library: LibraryView): void {
    this.#library = library;
    this.#listener('library', library);
  }

  #runOf(runId: string): RunView {
    return this.#runs.get(runId) ?? this.#createRun(runId);
  }

  #band(run: RunView, epoch: number, seeds: readonly SeedState[]): void {
    const column: BandColumn = { epoch, cells: seeds.map((s) => ({ slotId: s.slotId, stage: s.stage, alpha: s.alpha })) };
    while (run.bands.length > 0 && (run.bands.at(-1)?.epoch ?? -1) >= epoch) run.bands.pop();
    pushBounded(run.bands, column, VIEW_LIMITS.bands);
    // The packet is the authoritative state of every slot at the boundary.
    for (const s of seeds) {
      const existing = run.seeds.find((v) => v.slotId === s.slotId);
      const seed: SeedView = {
        seedId: s.seedId,
        slotId: s.slotId,
        stage: s.stage,
        alpha: s.alpha,
        epoch,
        ...(s.blueprintId === undefined ? {} : { blueprintId: s.blueprintId }),
        ...(existing?.reason === undefined || existing.stage !== s.stage ? {} : { reason: existing.reason }),
      };
      if (existing === undefined) run.seeds.push(seed);
      else run.seeds.splice(run.seeds.indexOf(existing), 1, seed);
    }
    this.#listener('run.band', { runId: run.runId, column, seeds: run.seeds });
  }

  #graftDrop(run: RunView, previous: CurvePoint | undefined, point: CurvePoint): void {
    if (previous === undefined || previous.validationAccuracy <= 0) return;
    const blending = run.seeds.filter((s) => s.stage === 'BLENDING').map((s) => s.slotId);
    if (blending.length === 0) return;
    const dropPct = ((previous.validationAccuracy - point.validationAccuracy) / previous.validationAccuracy) * 100;
    if (dropPct <= 0) return;
    const drop: GraftDropView = { epoch: point.epoch, dropPct, slots: blending };
    pushBounded(run.graftDrops, drop, VIEW_LIMITS.graftDrops);
    run.maxGraftDropPct = Math.max(run.maxGraftDropPct, dropPct);
    this.#listener('run.graft', { runId: run.runId, drop });
  }
}
