/**
 * Weatherlight, the node's root supervisor (DESIGN §1): starts the subsystem
 * actors the node's roles ask for, in a fixed order, under one_for_one
 * supervision, and publishes supervision events on `<prefix>.sys.<type>`.
 */
import type { Bus } from '../actors/oona/index.ts';
import { createEnvelope } from '../contracts/envelope.ts';
import { subjects } from '../contracts/subjects.ts';
import type { NodeRole } from '../config/schema.ts';
import type { EsperError } from '../errors/index.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import { alwaysRestart, startSupervisor, type Supervisor, type WorkerSpec } from '../supervision/index.ts';
import { subsystemShell, type SubsystemMessage, type SubsystemStatus } from './subsystem-shell.ts';

/** Subsystems every node runs, whatever its roles. */
const ALWAYS = ['oona', 'nissa'] as const;

/** Subsystems each role brings, in start order. */
export const SUBSYSTEMS_BY_ROLE: Readonly<Record<NodeRole, readonly string[]>> = {
  library: ['urza'],
  compiler: ['tezzeret'],
  validator: ['urabrask'],
  controller: ['karn', 'tamiyo'],
  trainer: ['kasmina', 'tolaria'],
};

/** Start order: infrastructure, then storage, the pipeline, control, training — so dependencies come up first. */
const START_ORDER: readonly NodeRole[] = ['library', 'compiler', 'validator', 'controller', 'trainer'];

/** The subsystems a node with `roles` runs, in start order. */
export function subsystemsFor(roles: readonly NodeRole[]): string[] {
  return [...ALWAYS, ...START_ORDER.filter((role) => roles.includes(role)).flatMap((role) => SUBSYSTEMS_BY_ROLE[role])];
}

export interface WeatherlightOptions {
  roles: readonly NodeRole[];
  /** Real implementations by subsystem name; the others run as supervised shells until their issues land. */
  implementations?: Readonly<Record<string, () => WorkerSpec>>;
  bus: Bus;
  logger: Logger;
  metrics: Metrics;
  subjectPrefix: string;
  onGiveUp: (error: EsperError) => void;
}

export interface Weatherlight {
  readonly supervisor: Supervisor;
  /** One line per subsystem actor. */
  describe(): { subsystem: string; path: string; status: string; incarnation: number }[];
  /** Asks every subsystem to stop taking work; resolves when all have answered. */
  drain(): Promise<void>;
  /** Stops the tree in reverse start order. */
  stop(): Promise<void>;
}

export async function startWeatherlight(options: WeatherlightOptions): Promise<Weatherlight> {
  const names = subsystemsFor(options.roles);
  const children: WorkerSpec[] = names.map(
    (name): WorkerSpec =>
      options.implementations?.[name]?.() ?? {
        id: name,
        restart: 'permanent',
        shutdownTimeoutMs: 5000,
        subsystem: name,
        behaviour: subsystemShell(name),
      },
  );
  const shells = new Set(names.filter((name) => options.implementations?.[name] === undefined));
  const sys = subjects(options.subjectPrefix);
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
      emit: (event) => {
        const { type, ...data } = event;
        options.bus.publish(sys.system(type), createEnvelope({ type, data, source: `${options.logger.bindings()['node'] as string}/weatherlight` }));
      },
    },
  );
  return {
    supervisor,
    describe: () =>
      supervisor.children().map((child) => ({ subsystem: child.id, path: child.path, status: child.status, incarnation: child.incarnation })),
    drain: async () => {
      await Promise.all(
        [...shells].map(async (name) => {
          const ref = supervisor.ref<SubsystemMessage>(name);
          if (ref?.alive === true) await ref.query<SubsystemStatus>({ type: 'drain' }, 5000);
        }),
      );
    },
    stop: async () => {
      await supervisor.stop();
    },
  };
}
