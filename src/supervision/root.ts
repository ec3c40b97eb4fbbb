/**
 * Starting a supervision tree: the root supervisor owns the tree's nact
 * system and the shared runtime (clock, log, metrics, event sink).
 */
import { getRootLogger, type Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { EsperError } from '../errors/index.ts';
import { systemClock, type Clock } from '../infra/clock.ts';
import { Instruments } from './instruments.ts';
import { nact } from './nact.ts';
import type { Runtime } from './runtime.ts';
import { nodeOf, Supervisor } from './supervisor.ts';
import type { SupervisionEvent, SupervisorSpec } from './types.ts';
import { validateChildSpec } from './validate.ts';

/** Options of a root supervisor (nested supervisors share their root's). */
export interface SupervisorOptions {
  /** @default systemClock */
  clock?: Clock;
  /** Jitter source, [0, 1). @default Math.random */
  random?: () => number;
  /** @default the process root logger */
  logger?: Logger;
  /** Registry for `esper_actors`, `esper_actor_restarts_total`, `esper_mailbox_depth`, `esper_dead_letters_total`. */
  metrics?: Metrics;
  /** Receives supervision events (the node publishes them on the bus); a throwing sink is logged, never fatal. */
  emit?: (event: SupervisionEvent) => void;
  /** Called once when the root gives up (after its tree is stopped). */
  onGiveUp?: (error: EsperError) => void;
  /** Prefix of every actor path, e.g. the node id. */
  pathPrefix?: string;
}

/**
 * Starts a root supervisor (with its own nact system) and its children, in
 * order. Rejects with `ESPER_CONFIG_INVALID` for a bad spec and
 * `ESPER_START_FAILED` when a child's `init` throws (the children already
 * started are stopped again, in reverse).
 */
export async function startSupervisor(spec: SupervisorSpec, options: SupervisorOptions = {}): Promise<Supervisor> {
  validateChildSpec(spec);
  const runtime: Runtime = {
    system: nact.start(),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    log: (options.logger ?? getRootLogger()).child({ component: 'supervision' }),
    instruments: Instruments.for(options.metrics),
    emit: options.emit ?? (() => {}),
  };
  const path = options.pathPrefix === undefined ? spec.id : `${options.pathPrefix}/${spec.id}`;
  const supervisor = new Supervisor(spec, path, runtime, null, null, options.onGiveUp);
  await nodeOf(supervisor).start();
  return supervisor;
}
