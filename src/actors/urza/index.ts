/**
 * Urza, the library (DESIGN §1, §6): blueprints, kernels, validation and
 * field reports, runs, checkpoint metadata and the event store in PostgreSQL
 * (or embedded PGlite); artifacts in the filesystem or a JetStream Object
 * Store; an outbox so that nothing is lost while storage is down; and the
 * supervised actor answering `ctl.urza.blueprints` and `ctl.urza.kernels`.
 *
 * @example
 * const db = await openDatabase({ url: config.db.url, dataDir: config.dataDir });
 * await migrate(db);
 * const library = new UrzaLibrary(db);
 * const { blueprintId } = await library.putBlueprint({ ir, submittedBy: 'karn' });
 * const { kernels } = await library.queryKernels({ interface: iface, status: 'VALIDATED', maxParams: 50_000 });
 *
 * // or, supervised, with the query API on the bus:
 * const root = await startSupervisor({ ..., children: [urzaWorkerSpec({ openDatabase: () => openDatabase(cfg), dataDir, bus })] });
 *
 * @module
 */
export {
  DEFAULT_EVENTS_LIMIT,
  MAX_LINEAGE_DEPTH,
  NO_RUN,
  UrzaLibrary,
  type AppendResult,
  type Lineage,
  type PutBlueprintInput,
  type PutBlueprintResult,
  type RunRecord,
  type StatusChange,
  type StoredEvent,
  type UrzaLibraryOptions,
} from './library.ts';
export {
  BLUEPRINT_TRANSITIONS,
  KERNEL_TRANSITIONS,
  assertBlueprintTransition,
  assertVerdict,
  canApplyVerdict,
  canMoveBlueprint,
} from './lifecycle.ts';
export { contentHash, defaultBlueprintId } from './rows.ts';
export { canonicalJson, sha256Hex } from '../../infra/content-hash.ts';
export {
  DEFAULT_ARTIFACT_BUCKET,
  FsArtifactStore,
  ObjectStoreArtifactStore,
  checkArtifactKey,
  objectDigestHex,
  type ArtifactStore,
  type ObjectStoreArtifactStoreOptions,
} from './artifact-store.ts';
export {
  DEFAULT_RETRY_MS,
  Outbox,
  STORAGE_BREAKER_DEFAULTS,
  UrzaWriteSchema,
  applyUrzaWrite,
  openUrzaOutbox,
  type OutboxOptions,
  type StorageBreakerConfig,
  type UrzaOutboxOptions,
  type UrzaWrite,
  type WriteOutcome,
} from './outbox.ts';
export {
  URZA_OUTBOX_FILE,
  URZA_QUEUE,
  URZA_SHUTDOWN_TIMEOUT_MS,
  guardedQueries,
  register,
  urzaBehaviour,
  urzaWorkerSpec,
  type UrzaActorOptions,
  type UrzaMessage,
  type UrzaQueries,
  type UrzaState,
  type UrzaStatus,
} from './urza.actor.ts';
