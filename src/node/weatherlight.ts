/**
 * Weatherlight, the node's root supervisor (DESIGN §1): starts the subsystem
 * actors the node's roles ask for, in a fixed order, under one_for_one
 * supervision, and publishes supervision events on `<prefix>.sys.<type>`.
 * Every child does real work (there are no placeholder actors): a role's
 * subsystem without an implementation is a bug, refused at start. A trainer
 * node's Tolaria supervises each hosted run as a subtree (the run's loop,
 * its Kasmina seed actors and its Tamiyo), so `describe()` — and so the
 * node's status — shows runs, seeds and their incarnations as they live.
 */
import type { Bus } from '../actors/oona/index.ts';
import type { NodeRole } from '../config/schema.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import { EsperError } from '../errors/index.ts';
import { alwaysRestart, startSupervisor, type ChildSpec, type Supervisor } from '../supervision/index.ts';
import { systemEventPublisher } from './system-events.ts';

/**
 * Subsystems each role brings, in start order. Kasmina and Tamiyo live inside
 * each run (under the trainer's Tolaria); Oona is the bus itself, not an actor.
 */
export const SUBSYSTEMS_BY_ROLE: Readonly<Record<NodeRole, readonly string[]>> = {
  library: ['urza', 'nissa'],
  compiler: ['tezzeret'],
  validator: ['urabrask'],
  controller: ['karn'],
  trainer: ['tolaria'],
};

/** Start order: infrastructure, then storage, the pipeline, control, training — so dependencies come up first. */
const START_ORDER: readonly NodeRole[] = ['library', 'compiler', 'validator', 'controller', 'trainer'];

/** The subsystems a node with `roles` runs, in start order. */
export function subsystemsFor(roles: readonly NodeRole[]): string[] {
  return START_ORDER.filter((role) => roles.includes(role)).flatMap((role) => SUBSYSTEMS_BY_ROLE[role]);
}

export interface WeatherlightOptions {
  roles: readonly NodeRole[];
  /** The implementation of every subsystem the roles ask for, by name. */
  implementations: Readonly<Record<string, () => ChildSpec>>;
  bus: Bus;
  logger: Logger;
  metrics: Metrics;
  subjectPrefix: string;
  onGiveUp: (error: EsperError) => void;
}

/** One actor of the tree, as the node's status lists it. */
export interface ActorLine {
  subsystem: string;
  /** e.g. `weatherlight/tolaria/run-r1/kasmina-r1/seed-h1`. */
  path: string;
  status: string;
  /** Restarts so far + 1. */
  incarnation: number;
}

export interface Weatherlight {
  readonly supervisor: Supervisor;
  /** Every actor of the tree, depth first in start order (nested supervisors included). */
  describe(): ActorLine[];
  /** Stops the tree in reverse start order. */
  stop(): Promise<void>;
}

/** Every actor under `supervisor`, depth first. */
export function describeTree(supervisor: Supervisor): ActorLine[] {
  return supervisor.children().flatMap((child) => {
    const line: ActorLine = { subsystem: child.subsystem, path: child.path, status: child.status, incarnation: child.incarnation };
    const nested = child.kind === 'supervisor' ? supervisor.supervisor(child.id) : undefined;
    return nested === undefined ? [line] : [line, ...describeTree(nested)];
  });
}

export async function startWeatherlight(options: WeatherlightOptions): Promise<Weatherlight> {
  const names = subsystemsFor(options.roles);
  const missing = names.filter((name) => options.implementations[name] === undefined);
  if (missing.length > 0) throw new EsperError('ESPER_INTERNAL', `weatherlight: no implementation for ${missing.join(', ')} (roles ${options.roles.join(', ')})`, { details: { missing } });
  const children: ChildSpec[] = names.map((name) => (options.implementations[name] as () => ChildSpec)());
  const supervisor = await startSupervisor(
    {
      id: 'weatherlight',
      strategy: 'one_for_one',
      intensity: { maxRestarts: 5, periodMs: 30_000 },
      backoff: { initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 },
      // The root has no parent to escalate to: escalating would only stop the
      // node. Any crash of a subsystem is restarted, bounded by the intensity
      // (more than 5 in 30 s and the node gives up and exits 1).
      policy: alwaysRestart,
      children,
    },
    {
      logger: options.logger,
      metrics: options.metrics,
      onGiveUp: options.onGiveUp,
      emit: systemEventPublisher(options.bus, options.subjectPrefix, `${options.logger.bindings()['node'] as string}/weatherlight`),
    },
  );
  return {
    supervisor,
    describe: () => describeTree(supervisor),
    stop: async () => {
      await supervisor.stop();
    },
  };
}
