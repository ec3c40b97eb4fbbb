/**
 * Kasmina for one run: a `one_for_one` supervisor with one seed actor per
 * slot. A crashed seed is restarted alone and resumes from its persisted
 * state; its siblings never notice.
 */
import { assertSubjectToken, subjects, type SeedState, type SlotInterface } from '../../contracts/index.ts';
import { ConfigError, InputError } from '../../errors/index.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Metrics } from '../../infra/metrics.ts';
import type { Bus } from '../oona/index.ts';
import {
  startSupervisor,
  type ActorRef,
  type BackoffSpec,
  type Clock,
  type Intensity,
  type Supervisor,
  type SupervisorOptions,
  type SupervisorSpec,
} from '../../supervision/index.ts';
import { DEFAULT_GATE_CONFIG, type GateConfig } from './gates.ts';
import type { SeedObservation } from './seed-lifecycle.ts';
import { seedWorkerSpec, type KernelResolver, type SeedMessage, type SeedTransitionedEnvelope } from './seed.actor.ts';
import { KvSeedStateStore, type SeedStateStore } from './seed-state-store.ts';

/** One slot of the host model. */
export interface KasminaSlot {
  slotId: string;
  /** @default `seed-<slotId>` */
  seedId?: string;
  interface: SlotInterface;
  /** This slot's gates (e.g. width slots train in isolation for fewer epochs). @default the Kasmina's `gates` */
  gates?: GateConfig;
}

/** Options of {@link startKasmina}. */
export interface KasminaOptions {
  runId: string;
  slots: readonly KasminaSlot[];
  /** Default transport: seed states in its KV (`kasmina-seeds`) and events on `<prefix>.evt.<runId>.kasmina.seed.transitioned`. */
  bus?: Bus;
  /** Where seed states persist. @default a KvSeedStateStore over `bus` */
  store?: SeedStateStore;
  /** Where transition events go. @default `bus.publish` on the run's event subject */
  publish?: (envelope: SeedTransitionedEnvelope) => void;
  /** Subject prefix for the default publisher. @default 'esper' */
  subjectPrefix?: string;
  kernels?: KernelResolver;
  /** @default DEFAULT_GATE_CONFIG */
  gates?: GateConfig;
  logger?: Logger;
  metrics?: Metrics;
  clock?: Clock;
  /** Envelope clock and command deadlines. @default () => new Date() */
  now?: () => Date;
  /** Supervision events of a root Kasmina supervisor. */
  emit?: SupervisorOptions['emit'];
  /** @default { maxRestarts: 5, periodMs: 10_000 } */
  intensity?: Intensity;
  /** @default { initialMs: 50, maxMs: 2_000, factor: 2, jitter: 0.2 } */
  backoff?: BackoffSpec;
  /** Start under this supervisor instead of as a root. */
  parent?: Supervisor;
}

/** A running Kasmina. */
export interface KasminaHandle {
  readonly runId: string;
  readonly supervisor: Supervisor;
  /** Slot ids, in start order. */
  readonly slotIds: readonly string[];
  /** The seed actor of a slot (the ref survives restarts); ESPER_NOT_FOUND for an unknown slot. */
  seed(slotId: string): ActorRef<SeedMessage>;
  /** Every seed's state, in slot order. */
  states(timeoutMs?: number): Promise<SeedState[]>;
  /** Tells every seed that `epoch` ended, with its slot's telemetry, and returns the new states in slot order. */
  epochEnded(epoch: number, telemetry?: Readonly<Record<string, SeedObservation>>, timeoutMs?: number): Promise<SeedState[]>;
  /** Stops every seed (reverse order) and the supervisor. */
  stop(): Promise<void>;
}

const DEFAULT_INTENSITY: Intensity = { maxRestarts: 5, periodMs: 10_000 };
const DEFAULT_BACKOFF: BackoffSpec = { initialMs: 50, maxMs: 2_000, factor: 2, jitter: 0.2 };
const DEFAULT_QUERY_TIMEOUT_MS = 5_000;

/** The seed id of a slot. */
export function seedIdOf(slot: KasminaSlot): string {
  return slot.seedId ?? `seed-${slot.slotId}`;
}

/** The supervisor spec of a run's Kasmina (for a caller that builds its own tree). */
export function kasminaSpec(options: KasminaOptions): SupervisorSpec {
  const issues: string[] = [];
  const check = (token: string, what: string): void => {
    try {
      assertSubjectToken(token, what);
    } catch (error) {
      issues.push((error as Error).message);
    }
  };
  check(options.runId, 'runId');
  const slotIds = new Set<string>();
  const seedIds = new Set<string>();
  for (const slot of options.slots) {
    check(slot.slotId, 'slotId');
    check(seedIdOf(slot), 'seedId');
    if (slotIds.has(slot.slotId)) issues.push(`duplicate slot ${slot.slotId}`);
    if (seedIds.has(seedIdOf(slot))) issues.push(`duplicate seed ${seedIdOf(slot)}`);
    slotIds.add(slot.slotId);
    seedIds.add(seedIdOf(slot));
  }
  if (options.store === undefined && options.bus === undefined) issues.push('a store or a bus is needed to persist seed states');
  if (options.publish === undefined && options.bus === undefined) issues.push('a publish function or a bus is needed to emit transitions');
  if (issues.length > 0) throw new ConfigError(`invalid Kasmina options for run ${options.runId}`, issues);

  const { runId, bus } = options;
  const store = options.store ?? new KvSeedStateStore(bus as Bus);
  const subject = subjects(options.subjectPrefix).event(runId, 'kasmina.seed.transitioned');
  const publish = options.publish ?? ((envelope: SeedTransitionedEnvelope): void => (bus as Bus).publish(subject, envelope));
  return {
    id: `kasmina-${runId}`,
    strategy: 'one_for_one',
    intensity: options.intensity ?? DEFAULT_INTENSITY,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    subsystem: 'kasmina',
    children: options.slots.map((slot) =>
      seedWorkerSpec({
        runId,
        seedId: seedIdOf(slot),
        slotId: slot.slotId,
        slotInterface: slot.interface,
        store,
        publish,
        gates: slot.gates ?? options.gates ?? DEFAULT_GATE_CONFIG,
        ...(options.kernels === undefined ? {} : { kernels: options.kernels }),
        ...(options.now === undefined ? {} : { now: options.now }),
        ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      }),
    ),
  };
}

/** Starts Kasmina for a run: one supervised seed actor per slot, each resuming from its persisted state. */
export async function startKasmina(options: KasminaOptions): Promise<KasminaHandle> {
  const spec = kasminaSpec(options);
  let supervisor: Supervisor;
  if (options.parent !== undefined) {
    supervisor = await options.parent.startChild(spec);
  } else {
    const rootOptions: SupervisorOptions = {};
    if (options.logger !== undefined) rootOptions.logger = options.logger;
    if (options.metrics !== undefined) rootOptions.metrics = options.metrics;
    if (options.clock !== undefined) rootOptions.clock = options.clock;
    if (options.emit !== undefined) rootOptions.emit = options.emit;
    supervisor = await startSupervisor(spec, rootOptions);
  }
  const seeds = new Map(options.slots.map((slot) => [slot.slotId, seedIdOf(slot)]));
  const slotIds = options.slots.map((slot) => slot.slotId);
  const seed = (slotId: string): ActorRef<SeedMessage> => {
    const seedId = seeds.get(slotId);
    const ref = seedId === undefined ? undefined : supervisor.ref<SeedMessage>(seedId);
    if (ref === undefined) {
      throw new InputError('ESPER_NOT_FOUND', `run ${options.runId} has no seed in slot ${slotId}`, { details: { runId: options.runId, slotId } });
    }
    return ref;
  };
  return {
    runId: options.runId,
    supervisor,
    slotIds,
    seed,
    states: (timeoutMs = DEFAULT_QUERY_TIMEOUT_MS) => Promise.all(slotIds.map((slotId) => seed(slotId).query<SeedState>({ type: 'status' }, timeoutMs))),
    epochEnded: (epoch, telemetry = {}, timeoutMs = DEFAULT_QUERY_TIMEOUT_MS) =>
      Promise.all(
        slotIds.map((slotId) => {
          const observed = telemetry[slotId];
          const msg: SeedMessage = observed === undefined ? { type: 'epochEnded', epoch } : { type: 'epochEnded', epoch, telemetry: observed };
          return seed(slotId).query<SeedState>(msg, timeoutMs);
        }),
      ),
    stop: async () => {
      if (options.parent !== undefined) await options.parent.stopChild(spec.id);
      else await supervisor.stop();
    },
  };
}
