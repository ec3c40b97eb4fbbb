/**
 * What the page is sent: the dashboard's view of the cluster, its runs, the
 * kernel library and the event tail. Plain JSON shapes (the page is a small
 * JS module without a build step, so they are documented here, once).
 */
import type { NodeRole, NodeState, NodeStatus } from '../contracts/control.ts';
import type { SeedStage } from '../contracts/kasmina.ts';
import type { RunState } from '../contracts/tolaria.ts';

/** One node as shown. */
export interface NodeView {
  nodeId: string;
  name: string;
  incarnationId: string;
  roles: NodeRole[];
  version: string;
  /** As the node wrote it, or `down` once its heartbeat is older than three intervals (the cluster's own rule). */
  status: NodeState;
  /** True once one heartbeat interval (and a half) has passed without a beat: the first sign of a dying node. */
  late: boolean;
  startedAt: string;
  lastHeartbeatAt?: string;
  heartbeatMs?: number;
  load: NodeStatus['load'];
  runs: string[];
  bus?: 'nats' | 'memory';
  /** Supervised actors: how many, how many not running, restarts so far. */
  actors?: { total: number; notRunning: number; restarts: number };
  /** Circuit breakers seen on this node (from `sys.supervision.breaker.state`). */
  breakers: BreakerView[];
}

export interface BreakerView {
  name: string;
  state: 'closed' | 'open' | 'half_open';
  at: string;
  reason?: string;
}

/** One point of a run's curves (one epoch). */
export interface CurvePoint {
  epoch: number;
  trainingLoss: number;
  validationLoss: number;
  validationAccuracy: number;
  epochMs: number;
  paramCount: number;
  /** When the dashboard received the epoch's event (ms since the epoch), for latency checks. */
  receivedAt: number;
}

/** A seed as shown (latest known). */
export interface SeedView {
  seedId: string;
  slotId: string;
  stage: SeedStage;
  alpha: number;
  blueprintId?: string;
  epoch: number;
  /** Why it is in this stage (the last transition's cause). */
  reason?: string;
}

/** One epoch column of the lifecycle bands: every slot's stage and α at the end of `epoch`. */
export interface BandColumn {
  epoch: number;
  cells: { slotId: string; stage: SeedStage; alpha: number }[];
}

/** A Tamiyo decision with its reasons. */
export interface DecisionView {
  epoch: number;
  policy: string;
  reason: string;
  fallback: boolean;
  decisionMs?: number;
  commands: { type: string; op?: string; seedId?: string; blueprintId?: string; annotations?: Record<string, string> }[];
}

export interface RollbackView {
  fromEpoch: number;
  toEpoch: number;
  trigger: string;
  reason: string;
  seedId?: string;
  prunedSeedIds: string[];
}

/** A graft drop: validation accuracy fell from one epoch to the next while a seed was blending (percent of the former, as results.json's maxGraftDropPct). */
export interface GraftDropView {
  epoch: number;
  dropPct: number;
  slots: string[];
}

/** A run's summary (the `run` event). */
export interface RunSummary {
  runId: string;
  state: RunState;
  epoch: number;
  maxEpochs?: number;
  nodeId?: string;
  createdAt?: string;
  updatedAt?: string;
  validationAccuracy?: number;
  /** Mean epoch time of the last epochs, ms. */
  epochMs?: number;
  /** Estimated time to the epoch budget, ms (running runs). */
  etaMs?: number;
  resumes?: number;
  seedStages?: Partial<Record<SeedStage, number>>;
  error?: { code: string; message: string };
  /** Path of the run's report.html on this dashboard once finished and reachable. */
  reportUrl?: string;
  maxGraftDropPct: number;
}

/** A run with its series (in the snapshot). */
export interface RunView extends RunSummary {
  points: CurvePoint[];
  seeds: SeedView[];
  bands: BandColumn[];
  decisions: DecisionView[];
  rollbacks: RollbackView[];
  graftDrops: GraftDropView[];
}

/** The kernel library (from `ctl.urza.*`), and the work queues' depth. */
export interface LibraryView {
  /** When it was read. */
  at: string;
  /** Null when no library node answered (`error` says why). */
  blueprints: { blueprintId: string; name: string; status: string; tags: string[]; paramCount?: number }[] | null;
  kernels: { kernelId: string; blueprintId: string; status: string; paramCount?: number; riskScore?: number; latencyP50Ms?: number; validatedAt?: string }[] | null;
  /** Messages waiting in the compile and validate queues; null when unknown. */
  queues: { compile: number | null; validate: number | null };
  error?: string;
}

/** One line of the event tail. */
export interface EventLine {
  /** Stream sequence (cluster) or arrival order (embedded). */
  seq: number;
  ts: string;
  runId?: string;
  type: string;
  source: string;
  summary: string;
}

/** Everything a page needs to start (the `snapshot` event and GET /api/state). */
export interface Snapshot {
  mode: 'cluster' | 'embedded';
  /** True when operator actions are enabled (a token is configured); the token itself is never sent. */
  actions: boolean;
  nodes: NodeView[];
  runs: RunView[];
  library: LibraryView | null;
  events: EventLine[];
}
