/**
 * The control verbs that exist at this stage (DESIGN §4): node status, drain
 * and shutdown; cluster nodes and runs; run and seed subjects answer a coded
 * "not found" (no runs exist yet); library and run-start subjects answer
 * ESPER_UNAVAILABLE until their subsystems land.
 */
import { z } from 'zod';
import {
  CLUSTER_CONTROL_REQUESTS,
  NODE_CONTROL_REQUESTS,
  RUN_CONTROL_REQUESTS,
  SEED_CONTROL_REQUESTS,
  type ClusterNodesReply,
  type ClusterRunsReply,
  type DrainReply,
  type NodeStatus,
  type ShutdownReply,
} from '../contracts/control.ts';
import type { RunStatus } from '../contracts/tolaria.ts';
import { InputError } from '../errors/index.ts';
import { RUN_VERBS, SEED_VERBS } from '../contracts/subjects.ts';
import { route, type ControlRoute } from './control-router.ts';
import type { MemberView } from './membership.ts';

const { status: StatusRequest, drain: DrainRequest, shutdown: ShutdownRequest } = NODE_CONTROL_REQUESTS;
const { nodes: NodesRequest, runs: RunsRequest } = CLUSTER_CONTROL_REQUESTS;

/** What the control verbs need from the node. */
export interface ControlNodeHandle {
  readonly nodeId: string;
  status(): NodeStatus;
  listMembers(): Promise<MemberView[]>;
  /** Runs hosted by live nodes, with their status. */
  listRuns(): Promise<RunStatus[]>;
  /** Stops taking work and finishes in-flight work; the node stays up. */
  drain(timeoutMs: number | undefined): DrainReply;
  /** Drains, then exits. */
  shutdown(timeoutMs: number | undefined, reason: string | undefined): ShutdownReply;
}

function notFound(what: string, id: string): never {
  throw new InputError('ESPER_NOT_FOUND', `no ${what} ${JSON.stringify(id)} exists in this cluster`, { details: { [what]: id } });
}

function unavailable(feature: string): never {
  throw new InputError('ESPER_UNAVAILABLE', `${feature} is not available in this version of Esper`, { details: { feature } });
}

/** Routes of node-specific verbs (served by the addressed node only). */
export function nodeRoutes(node: ControlNodeHandle): ControlRoute[] {
  return [
    route({ pattern: 'node.:nodeId.status', summary: 'status of one node', schema: StatusRequest, handle: () => node.status() }),
    route({
      pattern: 'node.:nodeId.drain',
      summary: 'stop taking new work and finish in-flight work; the node stays up',
      schema: DrainRequest,
      handle: (input) => node.drain(input.timeoutMs),
    }),
    route({
      pattern: 'node.:nodeId.shutdown',
      summary: 'drain, deregister and exit 0',
      schema: ShutdownRequest,
      handle: (input) => node.shutdown(input.timeoutMs, input.reason),
    }),
  ];
}

/** Routes any one node may answer (served in a queue group). */
export function clusterRoutes(node: ControlNodeHandle): ControlRoute[] {
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
    route({ pattern: 'run.start', summary: 'start a run', schema: z.object({ spec: z.unknown() }).passthrough(), handle: () => unavailable('starting runs (no live trainer node)') }),
    ...RUN_VERBS.map((verb) =>
      route({
        pattern: `run.:runId.${verb}`,
        summary: `${verb} a run`,
        schema: RUN_CONTROL_REQUESTS[verb],
        handle: (_input, params) => notFound('run', params['runId'] ?? ''),
      }),
    ),
    ...SEED_VERBS.map((verb) =>
      route({
        pattern: `seed.:runId.:seedId.${verb}`,
        summary: `${verb} a seed`,
        schema: SEED_CONTROL_REQUESTS[verb],
        handle: (_input, params) => notFound('run', params['runId'] ?? ''),
      }),
    ),
    route({ pattern: 'karn.submit', summary: 'submit a blueprint IR', schema: z.unknown(), handle: () => unavailable('blueprint submission (Karn)') }),
    route({ pattern: 'urza.blueprints', summary: 'query blueprints', schema: z.unknown(), handle: () => unavailable('the library (Urza)') }),
    route({ pattern: 'urza.kernels', summary: 'query kernels', schema: z.unknown(), handle: () => unavailable('the library (Urza)') }),
  ];
}
