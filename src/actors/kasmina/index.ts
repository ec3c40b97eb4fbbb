/**
 * Kasmina (DESIGN §1, §2): the seeds of a run. A pure lifecycle
 * (`transition`) with its gates, and one supervised seed actor per slot that
 * persists its state and emits `kasmina.seed.transitioned`.
 *
 * @example
 * const kasmina = await startKasmina({ runId: 'run-1', slots: [{ slotId: 'r0c1', interface: iface }], bus, kernels });
 * const state = await kasmina.seed('r0c1').query<SeedState>({ type: 'command', command }, 1_000);
 * await kasmina.epochEnded(4, { r0c1: { kernelLoaded: true, paramsFinite: true } });
 *
 * @module
 */
export {
  ALPHA_EPSILON,
  DEFAULT_GATE_CONFIG,
  GateConfigSchema,
  STRICT_GATE_CONFIG,
  evaluateG0,
  evaluateG1,
  evaluateG2,
  evaluateG3,
  evaluateG5,
  lowersLoss,
  parseGateConfig,
  type G0Input,
  type G2Input,
  type G3Input,
  type G5Input,
  type GateConfig,
  type GateConfigInput,
  type GateResult,
  type KernelCandidate,
  type MeasuredValue,
  type SeedMeasurements,
} from './gates.ts';
export {
  ALLOWED_TRANSITIONS,
  BLENDED_STAGES,
  KERNEL_STAGES,
  RECENT_COMMANDS_KEPT,
  SeedLifecycleStateSchema,
  canTransition,
  initialSeedState,
  toSeedState,
  transition,
  type AdvanceEvent,
  type CancelEvent,
  type AttachedEvent,
  type EpochEndedEvent,
  type FossilizeEvent,
  type GerminateEvent,
  type PruneEvent,
  type SeedCommandEvent,
  type SeedEvent,
  type SeedLifecycleState,
  type SeedObservation,
  type StageTransition,
  type TransitionResult,
} from './seed-lifecycle.ts';
export {
  DEFAULT_SEED_STATE_BUCKET,
  KvSeedStateStore,
  MemorySeedStateStore,
  parseStoredSeedState,
  type KvSeedStateStoreOptions,
  type SeedStateStore,
} from './seed-state-store.ts';
export {
  SEED_SHUTDOWN_TIMEOUT_MS,
  seedBehaviour,
  seedWorkerSpec,
  type CausedBy,
  type KernelRequest,
  type KernelResolver,
  type SeedActorOptions,
  type SeedMessage,
  type SeedReply,
  type SeedTransitionedEnvelope,
} from './seed.actor.ts';
export { kasminaSpec, seedIdOf, startKasmina, type KasminaHandle, type KasminaOptions, type KasminaSlot } from './kasmina.ts';
export { attachObservation, observationFrom, slotCommandFor, type ModuleForKernel } from './slot-bridge.ts';
export { urzaKernelResolver, type UrzaKernelResolver, type UrzaKernelResolverOptions } from './urza-kernel-resolver.ts';
