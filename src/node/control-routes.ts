/**
 * Every control route of a node (DESIGN §4, §9), each with its schema, its
 * owner (who answers it in a cluster) and its one handler:
 *  - node verbs (status, drain, shutdown), answered by the node they name;
 *  - cluster verbs (nodes, runs), answered by any one node;
 *  - `run.start`, answered by one trainer node (queue group), and the run and
 *    seed verbs, answered by the node hosting the run — both handled by the
 *    node's run service ({@link RunControl}); a node without one answers
 *    ESPER_UNAVAILABLE / ESPER_NOT_FOUND, which the shared listener sends only
 *    when no live node serves the subject;
 *  - library queries (`karn.submit`, `urza.*`), answered by the controller and
 *    library nodes' services; here they answer ESPER_UNAVAILABLE, sent only
 *    when no live node has the role.
 * {@link controlRoutes} lists them all; the AsyncAPI document and
 * docs/operations.md are checked against it.
 */
import {
  CLUSTER_CONTROL_REQUESTS,
  NODE_CONTROL_REQUESTS,
  RUN_CONTROL_REQUESTS,
  RunStartRequestSchema,
  SEED_CONTROL_REQUESTS,
  type ClusterNodesReply,
  type ClusterRunsReply,
  type DrainReply,
  type NodeStatus,
  type RunControlRequest,
  type RunStartRequest,
  type SeedControlRequest,
  type ShutdownReply,
} from '../contracts/control.ts';
import { KarnSubmitRequestSchema } from '../contracts/karn.ts';
import type { RunStatus } from '../contracts/tolaria.ts';
import { BlueprintQuerySchema, KernelQuerySchema } from '../contracts/urza.ts';
import { InputError } from '../errors/index.ts';
import { RUN_VERBS, SEED_VERBS, type RunVerb, type SeedVerb } from '../contracts/subjects.ts';
import { route, type ControlRoute, type RouteOwner } from './control-router.ts';
import type { MemberView } from './membership.ts';

const { status: StatusRequest, drain: DrainRequest, shutdown: ShutdownRequest } = NODE_CONTROL_REQUESTS;
const { nodes: NodesRequest, runs: RunsRequest } = CLUSTER_CONTROL_REQUESTS;

/** What the run routes need: the node's run service. */
export interface RunControl {
  /** `run.start`: validates, registers and starts a run; resolves with its first status. */
  runStart(request: RunStartRequest): Promise<RunStatus>;
  /** A verb of run `runId`; resolves with the reply data (at once, or at the run's next epoch boundary). */
  runVerb(runId: string, verb: RunVerb, request: RunControlRequest): unknown;
  /** A verb of seed `seedId` (seed or slot id) of run `runId`; resolves like {@link RunControl.runVerb}. */
  seedVerb(runId: string, seedId: string, verb: SeedVerb, request: SeedControlRequest): unknown;
}

/** What the control verbs need from the node. */
export interface ControlNodeHandle {
  readonly nodeId: string;
  status(): NodeStatus;
  listMembers(): Promise<MemberView[]>;
  /** Runs hosted by live nodes, with their status. */
  listRuns(): Promise<RunStatus[]>;
  /** Stops taking new work and finishes in-flight work; the node stays up. */
  drain(timeoutMs: number | undefined): DrainReply;
  /** Drains, then exits. */
  shutdown(timeoutMs: number | undefined, reason: string | undefined): ShutdownReply;
  /** The node's run service (trainer nodes start one after the control plane). */
  runs?(): RunControl | undefined;
}

/** ESPER_NOT_FOUND for a run no live node hosts. */
export function runNotFound(runId: string): never {
  throw new InputError('ESPER_NOT_FOUND', `no run ${JSON.stringify(runId)} exists in this cluster`, { details: { run: runId } });
}

function unavailable(feature: string): never {
  throw new InputError('ESPER_UNAVAILABLE', `${feature} is not available in this version of Esper`, { details: { feature } });
}

/** The run routes of a node that hosts no run service. */
const NO_RUNS: RunControl = {
  runStart: () => unavailable('starting runs (no live trainer node)'),
  runVerb: (runId) => runNotFound(runId),
  seedVerb: (runId) => runNotFound(runId),
};

const NODE: RouteOwner = { kind: 'node' };
const RUN: RouteOwner = { kind: 'run' };
const role = (name: 'trainer' | 'library' | 'controller'): RouteOwner => ({ kind: 'role', role: name });

/** Routes of node-specific verbs (served by the addressed node only). */
export function nodeRoutes(node: ControlNodeHandle): ControlRoute[] {
  return [
    route({ pattern: 'node.:nodeId.status', owner: NODE, summary: 'status of one node', schema: StatusRequest, handle: () => node.status() }),
    route({
      pattern: 'node.:nodeId.drain',
      owner: NODE,
      summary: 'stop taking new work and finish in-flight work; the node stays up',
      schema: DrainRequest,
      handle: (input) => node.drain(input.timeoutMs),
    }),
    route({
      pattern: 'node.:nodeId.shutdown',
      owner: NODE,
      summary: 'drain, deregister and exit 0',
      schema: ShutdownRequest,
      handle: (input) => node.shutdown(input.timeoutMs, input.reason),
    }),
  ];
}

/**
 * `run.start` (one trainer node) and the run and seed verbs (the node hosting
 * the run), handled by `runs`. The run service serves these on its own
 * listeners; the node lists them too, for the shared listener's answer when
 * no live node serves them.
 */
export function runRoutes(runs: RunControl): ControlRoute[] {
  return [
    route({ pattern: 'run.start', owner: role('trainer'), summary: 'start a run', schema: RunStartRequestSchema, handle: (input) => runs.runStart(input) }),
    ...RUN_VERBS.map((verb) =>
      route({
        pattern: `run.:runId.${verb}`,
        owner: RUN,
        summary: `${verb} a run`,
        schema: RUN_CONTROL_REQUESTS[verb],
        handle: (input, params) => runs.runVerb(params['runId'] ?? '', verb, input),
      }),
    ),
    ...SEED_VERBS.map((verb) =>
      route({
        pattern: `seed.:runId.:seedId.${verb}`,
        owner: RUN,
        summary: `${verb} a seed`,
        schema: SEED_CONTROL_REQUESTS[verb],
        handle: (input, params) => runs.seedVerb(params['runId'] ?? '', params['seedId'] ?? '', verb, input),
      }),
    ),
  ];
}

/** Routes any one node may answer (the shared listener), the run routes, and the library routes' stand-ins. */
export function clusterRoutes(node: ControlNodeHandle): ControlRoute[] {
  // Looked up per request: a trainer node starts its run service after the control plane.
  const runs = (): RunControl => node.runs?.() ?? NO_RUNS;
  return [
    route({
      pattern: 'cluster.nodes',
      summary: 'live and recently-down nodes',
      schema: NodesRequest,
      handle: async (): Promise<ClusterNodesReply> => ({ nodes: await node.listMembers() }),
    }),
    route({
      pattern: 'cluster.runs',
      summary: 'runs hosted by live nodes',
      schema: RunsRequest,
      handle: async (): Promise<ClusterRunsReply> => ({ runs: await node.listRuns() }),
    }),
    ...runRoutes({
      runStart: (request) => runs().runStart(request),
      runVerb: (runId, verb, request) => runs().runVerb(runId, verb, request),
      seedVerb: (runId, seedId, verb, request) => runs().seedVerb(runId, seedId, verb, request),
    }),
    // Served by Karn and Urza's own endpoints (same decoder); these answer only when no live node has the role.
    route({ pattern: 'karn.submit', owner: role('controller'), summary: 'submit a blueprint IR', schema: KarnSubmitRequestSchema, handle: () => unavailable('blueprint submission (Karn)') }),
    route({ pattern: 'urza.blueprints', owner: role('library'), summary: 'query blueprints', schema: BlueprintQuerySchema, handle: () => unavailable('the library (Urza)') }),
    route({ pattern: 'urza.kernels', owner: role('library'), summary: 'query kernels', schema: KernelQuerySchema, handle: () => unavailable('the library (Urza)') }),
  ];
}

/** Every control route of a node: the one route table (node, cluster, run, seed and library subjects). */
export function controlRoutes(node: ControlNodeHandle): ControlRoute[] {
  return [...nodeRoutes(node), ...clusterRoutes(node)];
}

/** Every control route pattern (after `<prefix>.ctl.`), e.g. `run.:runId.pause`; no handler is called. */
export function controlRoutePatterns(): string[] {
  return controlRoutes({} as ControlNodeHandle).map((r) => r.pattern);
}
