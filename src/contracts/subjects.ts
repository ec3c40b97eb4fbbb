/**
 * Subject builders (DESIGN §4). Every subject Esper uses is built here, so the
 * prefix is configurable in one place and tokens are checked once.
 */

/** Verbs on `<prefix>.ctl.node.<nodeId>.<verb>`. */
export const NODE_VERBS = ['status', 'drain', 'shutdown'] as const;
/** Verbs on `<prefix>.ctl.cluster.<verb>`. */
export const CLUSTER_VERBS = ['nodes', 'runs'] as const;
/** Verbs on `<prefix>.ctl.run.<runId>.<verb>`. */
export const RUN_VERBS = ['status', 'pause', 'resume', 'stop', 'checkpoint', 'rollback'] as const;
/** Verbs on `<prefix>.ctl.seed.<runId>.<seedId>.<verb>`. */
export const SEED_VERBS = ['status', 'germinate', 'advance', 'prune', 'fossilize'] as const;

export type NodeVerb = (typeof NODE_VERBS)[number];
export type ClusterVerb = (typeof CLUSTER_VERBS)[number];
export type RunVerb = (typeof RUN_VERBS)[number];
export type SeedVerb = (typeof SEED_VERBS)[number];

/** Telemetry kinds on `<prefix>.tel.<runId>.<kind>`. */
export const TELEMETRY_KINDS = ['epoch', 'seed', 'step', 'node'] as const;
export type TelemetryKind = (typeof TELEMETRY_KINDS)[number];

/** The default subject prefix. */
export const DEFAULT_SUBJECT_PREFIX = 'esper';

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Throws when `token` cannot be one subject token (no dots, wildcards or spaces). */
export function assertSubjectToken(token: string, what: string): string {
  if (!TOKEN.test(token)) {
    throw new RangeError(`${what} must be a single subject token of letters, digits, '_' or '-', got ${JSON.stringify(token)}`);
  }
  return token;
}

/** Subject builders bound to one prefix ('*' stands for a wildcard token where allowed). */
export interface SubjectBuilders {
  readonly prefix: string;
  readonly controlAll: string;
  node(nodeId: string, verb: NodeVerb | '*' | '>'): string;
  cluster(verb: ClusterVerb | '*'): string;
  readonly runStart: string;
  run(runId: string, verb: RunVerb | '*'): string;
  seed(runId: string, seedId: string, verb: SeedVerb | '*'): string;
  readonly karnSubmit: string;
  readonly urzaBlueprints: string;
  readonly urzaKernels: string;
  event(runId: string, type: string): string;
  eventsOfRun(runId: string): string;
  /** Events of one type from every run: `<prefix>.evt.*.<type>` (a subscription pattern). */
  eventsOfType(type: string): string;
  readonly eventsAll: string;
  telemetry(runId: string, kind: TelemetryKind): string;
  readonly telemetryAll: string;
  readonly jobCompile: string;
  readonly jobValidate: string;
  deadLetter(stream: string): string;
  system(type: string): string;
}

/** Subject builders bound to a prefix. */
export function subjects(prefix: string = DEFAULT_SUBJECT_PREFIX): SubjectBuilders {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new RangeError(`subject prefix must be dot-separated tokens, got ${JSON.stringify(prefix)}`);
  }
  const t = assertSubjectToken;
  return {
    prefix,
    /** Everything under the control plane. */
    controlAll: `${prefix}.ctl.>`,
    node: (nodeId: string, verb: NodeVerb | '*' | '>') => `${prefix}.ctl.node.${t(nodeId, 'nodeId')}.${verb}`,
    cluster: (verb: ClusterVerb | '*') => `${prefix}.ctl.cluster.${verb}`,
    runStart: `${prefix}.ctl.run.start`,
    run: (runId: string, verb: RunVerb | '*') => `${prefix}.ctl.run.${runId === '*' ? '*' : t(runId, 'runId')}.${verb}`,
    seed: (runId: string, seedId: string, verb: SeedVerb | '*') =>
      `${prefix}.ctl.seed.${runId === '*' ? '*' : t(runId, 'runId')}.${seedId === '*' ? '*' : t(seedId, 'seedId')}.${verb}`,
    karnSubmit: `${prefix}.ctl.karn.submit`,
    urzaBlueprints: `${prefix}.ctl.urza.blueprints`,
    urzaKernels: `${prefix}.ctl.urza.kernels`,
    /** Events of a run: `<prefix>.evt.<runId>.<type>` (type dots kept as tokens). */
    event: (runId: string, type: string) => `${prefix}.evt.${t(runId, 'runId')}.${type}`,
    eventsOfRun: (runId: string) => `${prefix}.evt.${runId === '*' ? '*' : t(runId, 'runId')}.>`,
    eventsOfType: (type: string) => `${prefix}.evt.*.${type}`,
    eventsAll: `${prefix}.evt.>`,
    telemetry: (runId: string, kind: TelemetryKind) => `${prefix}.tel.${t(runId, 'runId')}.${kind}`,
    telemetryAll: `${prefix}.tel.>`,
    jobCompile: `${prefix}.job.compile`,
    jobValidate: `${prefix}.job.validate`,
    /** Dead letters of a stream: `<prefix>.dlq.<stream>`. */
    deadLetter: (stream: string) => `${prefix}.dlq.${t(stream, 'stream')}`,
    /** Supervision and breaker events that belong to no run. */
    system: (type: string) => `${prefix}.sys.${type}`,
  };
}

