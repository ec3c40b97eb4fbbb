/**
 * Control-plane requests and replies (DESIGN §4, §9). These travel as plain
 * JSON on `ctl.*` subjects (not in envelopes) so an operator can use the `nats`
 * CLI; replies are wrapped in the §4 reply shape. Verbs without input accept
 * `{}` (the bus passes `{}` for an empty payload).
 */
import { z } from 'zod';
import {
  BlueprintIdSchema,
  CheckpointIdSchema,
  CommandIdSchema,
  EmptySchema,
  KernelIdSchema,
  NodeIdSchema,
  RunIdSchema,
  TimestampSchema,
  count,
  idSchema,
  label,
  nonNegative,
  text,
} from './common.ts';
import { BlendSpecSchema, SeedStateSchema } from './kasmina.ts';
import { RunSpecSchema } from './run.ts';
import { BreakerStateSchema } from './supervision.ts';
import type { ClusterVerb, NodeVerb, RunVerb, SeedVerb } from './subjects.ts';
import { CheckpointMetadataSchema, RunStatusSchema } from './tolaria.ts';

/** Roles a node can host. */
export const NODE_ROLES = ['trainer', 'compiler', 'validator', 'library', 'controller'] as const;
export const NodeRoleSchema = z.enum(NODE_ROLES);
export type NodeRole = z.infer<typeof NodeRoleSchema>;

/** Roles as configured: a role, or `all` as a shortcut for every role. */
export const NodeRoleConfigSchema = z.enum([...NODE_ROLES, 'all']);
export type NodeRoleConfig = z.infer<typeof NodeRoleConfigSchema>;

/** The roles a configured list stands for (`all` expands; duplicates dropped; order of NODE_ROLES). */
export function expandRoles(roles: readonly NodeRoleConfig[]): NodeRole[] {
  if (roles.includes('all')) return [...NODE_ROLES];
  return NODE_ROLES.filter((role) => roles.includes(role));
}

/** States of a node: `starting` → `ready` → `draining` → `stopping` → `down` (seen by others when heartbeats stop). */
export const NODE_STATES = ['starting', 'ready', 'draining', 'stopping', 'down'] as const;
export const NodeStateSchema = z.enum(NODE_STATES);
export type NodeState = z.infer<typeof NodeStateSchema>;

/** Most nodes in a cluster reply; most runs in a runs reply. */
export const MAX_CLUSTER_NODES = 1024;
export const MAX_CLUSTER_RUNS = 4096;

/** A node's status: reply of `ctl.node.<nodeId>.status`, element of `ctl.cluster.nodes`, and the membership record. */
export const NodeStatusSchema = z
  .object({
    nodeId: NodeIdSchema,
    /** Display name (usually equal to nodeId). */
    name: label(),
    /** Changes on every process start, so a restarted node is told apart from its predecessor. */
    incarnationId: idSchema('incarnationId'),
    /** Roles it hosts (`all` expanded). */
    roles: z.array(NodeRoleSchema).max(NODE_ROLES.length),
    /** Esper version. */
    version: label(64),
    startedAt: TimestampSchema,
    uptimeMs: nonNegative(),
    load: z
      .object({
        /** Event-loop delay (p99 over the last interval). */
        eventLoopLagMs: nonNegative(),
        /** CPU used by the process, in cores (1.5 = one and a half cores). */
        cpuCores: nonNegative().optional(),
        rssBytes: count(),
        heapUsedBytes: count().optional(),
      })
      .strict(),
    /** Runs it hosts. */
    runs: z.array(RunIdSchema).max(MAX_CLUSTER_RUNS),
    status: NodeStateSchema,
    /** Last heartbeat seen (cluster view). */
    lastHeartbeatAt: TimestampSchema.optional(),
    /** Heartbeat interval of the node, ms; it is reported `down` after 3 missed intervals. */
    heartbeatMs: z.number().int().positive().max(3_600_000).optional(),
    /** Which bus the node is on: `nats` (cluster) or `memory` (embedded). */
    bus: z.enum(['nats', 'memory']).optional(),
    /**
     * What its actor tree looks like, in three numbers (membership records
     * carry this instead of the whole tree): supervised actors, how many are
     * not running, restarts so far.
     */
    actorSummary: z.object({ total: count(), notRunning: count(), restarts: count() }).strict().optional(),
    /** Its supervised subsystem actors (node's own status only). */
    actors: z
      .array(
        z
          .object({
            subsystem: label(64),
            path: text(500),
            status: label(32),
            /** Restarts so far + 1. */
            incarnation: count(),
          })
          .strict(),
      )
      .max(256)
      .optional(),
    /**
     * The node's view of NATS (cluster mode; issue 13): whether a server is
     * reachable, whether JetStream operations are failing transiently (a
     * server lost, a leader election: retried with backoff, not a crash), and
     * how many events its runs hold that the events stream has not taken.
     */
    nats: z
      .object({
        connected: z.boolean(),
        /** The server it is connected to (`host:port`). */
        server: label(200).optional(),
        /** How long no server has been reachable, ms (0 while connected). */
        disconnectedMs: nonNegative(),
        /** Reconnections since the node started. */
        reconnects: count(),
        /** Replicas of the JetStream assets this node creates. */
        replicas: z.number().int().min(1).max(5),
        /** True while some JetStream operation is being retried or failed transiently a moment ago, or no server is reachable. */
        degraded: z.boolean(),
        /** Since when it is degraded. */
        degradedSince: TimestampSchema.optional(),
        /**
         * The node's `jetstream` breaker: `open` while degraded, `half_open`
         * on probation once nothing is retried any more, `closed` after.
         */
        breaker: BreakerStateSchema.optional(),
        /** Events held by this node's runs that the events stream has not taken yet (bounded per run). */
        eventBacklog: count(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type NodeStatus = z.infer<typeof NodeStatusSchema>;

/** Request on `ctl.node.<nodeId>.drain`: stop taking work, hand off or finish runs. */
export const DrainRequestSchema = z
  .object({
    /** Budget to finish in-flight work before giving up. @default the node's `shutdown.drainTimeoutMs` */
    timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict();
export type DrainRequest = z.infer<typeof DrainRequestSchema>;

/** Reply of `ctl.node.<nodeId>.drain` (answered at once; the drain proceeds in the background). */
export const DrainReplySchema = z
  .object({
    nodeId: NodeIdSchema,
    status: NodeStateSchema,
    /** Runs that will be checkpointed and released. */
    runs: z.array(RunIdSchema).max(MAX_CLUSTER_RUNS),
  })
  .strict();
export type DrainReply = z.infer<typeof DrainReplySchema>;

/** Request on `ctl.node.<nodeId>.shutdown`: drain, then exit the process. */
export const ShutdownRequestSchema = z
  .object({
    reason: text(500).optional(),
    /** Drain budget before exiting anyway. @default the node's `shutdown.drainTimeoutMs` */
    timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict();
export type ShutdownRequest = z.infer<typeof ShutdownRequestSchema>;

/** Reply of `ctl.node.<nodeId>.shutdown` (sent before the node exits). */
export const ShutdownReplySchema = z
  .object({
    nodeId: NodeIdSchema,
    status: NodeStateSchema,
  })
  .strict();
export type ShutdownReply = z.infer<typeof ShutdownReplySchema>;

/** Reply of `ctl.cluster.nodes`: every node known to membership, down ones included until forgotten. */
export const ClusterNodesReplySchema = z.object({ nodes: z.array(NodeStatusSchema).max(MAX_CLUSTER_NODES) }).strict();
export type ClusterNodesReply = z.infer<typeof ClusterNodesReplySchema>;

/** Reply of `ctl.cluster.runs`. */
export const ClusterRunsReplySchema = z.object({ runs: z.array(RunStatusSchema).max(MAX_CLUSTER_RUNS) }).strict();
export type ClusterRunsReply = z.infer<typeof ClusterRunsReplySchema>;

/** Requests on `ctl.node.<nodeId>.<verb>`. */
export const NODE_CONTROL_REQUESTS = {
  status: EmptySchema,
  drain: DrainRequestSchema,
  shutdown: ShutdownRequestSchema,
} as const satisfies Record<NodeVerb, z.ZodType>;

/** Replies (the `data` of an ok reply) on `ctl.node.<nodeId>.<verb>`. */
export const NODE_CONTROL_REPLIES = {
  status: NodeStatusSchema,
  drain: DrainReplySchema,
  shutdown: ShutdownReplySchema,
} as const satisfies Record<NodeVerb, z.ZodType>;

/** Requests on `ctl.cluster.<verb>`. */
export const CLUSTER_CONTROL_REQUESTS = {
  nodes: EmptySchema,
  runs: EmptySchema,
} as const satisfies Record<ClusterVerb, z.ZodType>;

/** Replies on `ctl.cluster.<verb>`. */
export const CLUSTER_CONTROL_REPLIES = {
  nodes: ClusterNodesReplySchema,
  runs: ClusterRunsReplySchema,
} as const satisfies Record<ClusterVerb, z.ZodType>;

/** Longest run id `run.start` accepts (the id is a subject token and a key prefix of the run's artifacts). */
export const MAX_RUN_ID_LENGTH = 64;

/**
 * Request on `ctl.run.start`: a run spec (examples/spirals.json) and,
 * optionally, the run's id (default `run-<hex>`). One trainer node takes it
 * (queue group); the reply is the run's first status.
 */
export const RunStartRequestSchema = z
  .object({
    spec: RunSpecSchema,
    /** Run id to use. @default `run-<hex>` */
    runId: RunIdSchema.max(MAX_RUN_ID_LENGTH, `runId must be at most ${MAX_RUN_ID_LENGTH} characters`).optional(),
  })
  .strict();
export type RunStartRequest = z.infer<typeof RunStartRequestSchema>;
/** A run.start request as written (the spec's defaults optional). */
export type RunStartRequestInput = z.input<typeof RunStartRequestSchema>;

/** An optional operator reason (pause, resume, stop, checkpoint). */
export const ReasonRequestSchema = z.object({ reason: text(500).optional() }).strict();
export type ReasonRequest = z.infer<typeof ReasonRequestSchema>;

/** Request on `ctl.run.<runId>.rollback`: restore a checkpoint (the latest good one when absent). */
export const RollbackRequestSchema = z
  .object({
    checkpointId: CheckpointIdSchema.optional(),
    reason: text(500).min(1),
  })
  .strict();
export type RollbackRequest = z.infer<typeof RollbackRequestSchema>;

/** Reply of `ctl.run.<runId>.rollback`. */
export const RollbackReplySchema = z
  .object({
    runId: RunIdSchema,
    checkpointId: CheckpointIdSchema,
    /** Epoch of the restored checkpoint. */
    toEpoch: count(),
  })
  .strict();
export type RollbackReply = z.infer<typeof RollbackReplySchema>;

/** Requests on `ctl.run.<runId>.<verb>`. */
export const RUN_CONTROL_REQUESTS = {
  status: EmptySchema,
  pause: ReasonRequestSchema,
  resume: ReasonRequestSchema,
  stop: ReasonRequestSchema,
  checkpoint: ReasonRequestSchema,
  rollback: RollbackRequestSchema,
} as const satisfies Record<RunVerb, z.ZodType>;

/** Replies on `ctl.run.<runId>.<verb>`: the run's status after the verb, a checkpoint's metadata, or the rollback. */
export const RUN_CONTROL_REPLIES = {
  status: RunStatusSchema,
  pause: RunStatusSchema,
  resume: RunStatusSchema,
  stop: RunStatusSchema,
  checkpoint: CheckpointMetadataSchema,
  rollback: RollbackReplySchema,
} as const satisfies Record<RunVerb, z.ZodType>;

/** The request of one run verb. */
export type RunControlRequest<V extends RunVerb = RunVerb> = z.infer<(typeof RUN_CONTROL_REQUESTS)[V]>;
/** The reply data of one run verb. */
export type RunControlReply<V extends RunVerb = RunVerb> = z.infer<(typeof RUN_CONTROL_REPLIES)[V]>;

/** Request on `ctl.seed.<runId>.<seedId>.germinate`: Tamiyo is bypassed, the gates are not. */
export const GerminateRequestSchema = z
  .object({
    /** Blueprint to germinate (a VALIDATED kernel of the run matching the slot is chosen). This or `kernelId` is required. */
    blueprintId: BlueprintIdSchema.optional(),
    /** Exact kernel to germinate (one the run compiled and validated: results.json `kernels`). */
    kernelId: KernelIdSchema.optional(),
    blend: BlendSpecSchema.optional(),
    reason: text(500).optional(),
  })
  .strict()
  .refine((g) => g.blueprintId !== undefined || g.kernelId !== undefined, {
    message: 'germinate needs a blueprintId or a kernelId (one of the kernels the run compiled: results.json kernels)',
    path: ['blueprintId'],
  });
export type GerminateRequest = z.infer<typeof GerminateRequestSchema>;

/** Request on `ctl.seed.<runId>.<seedId>.prune`: a reason is required (it goes into the audit trail). */
export const PruneRequestSchema = z.object({ reason: text(500).min(1) }).strict();
export type PruneRequest = z.infer<typeof PruneRequestSchema>;

/** Requests on `ctl.seed.<runId>.<seedId>.<verb>`. */
export const SEED_CONTROL_REQUESTS = {
  status: EmptySchema,
  germinate: GerminateRequestSchema,
  advance: ReasonRequestSchema,
  prune: PruneRequestSchema,
  fossilize: ReasonRequestSchema,
} as const satisfies Record<SeedVerb, z.ZodType>;

/** Reply of a seed override: the command it became (applied at the next epoch boundary) and the seed's state now. */
export const SeedCommandReplySchema = z
  .object({
    commandId: CommandIdSchema,
    seed: SeedStateSchema,
  })
  .strict();
export type SeedCommandReply = z.infer<typeof SeedCommandReplySchema>;

/** Replies on `ctl.seed.<runId>.<seedId>.<verb>`. */
export const SEED_CONTROL_REPLIES = {
  status: SeedStateSchema,
  germinate: SeedCommandReplySchema,
  advance: SeedCommandReplySchema,
  prune: SeedCommandReplySchema,
  fossilize: SeedCommandReplySchema,
} as const satisfies Record<SeedVerb, z.ZodType>;

/** The request of one seed verb. */
export type SeedControlRequest<V extends SeedVerb = SeedVerb> = z.infer<(typeof SEED_CONTROL_REQUESTS)[V]>;
/** The reply data of one seed verb. */
export type SeedControlReply<V extends SeedVerb = SeedVerb> = z.infer<(typeof SEED_CONTROL_REPLIES)[V]>;
