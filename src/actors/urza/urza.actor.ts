/**
 * The Urza actor (DESIGN §1): a supervised worker and a thin shell around the
 * library. Each incarnation opens the database, brings its schema up to date,
 * opens the outbox (reloading writes a previous incarnation left) and, given
 * a bus, answers `ctl.urza.blueprints` and `ctl.urza.kernels`. Writes sent to
 * it go through the outbox in arrival order; reads go through the storage
 * breaker, so while the database is down they fail fast with
 * ESPER_BREAKER_OPEN instead of hanging.
 *
 * The handler never waits on the database: it hands each message to the
 * outbox or a read and answers later (`ctx.deferReply`), so queries do not
 * queue behind one another in the mailbox.
 */
import { join } from 'node:path';
import {
  BlueprintQuerySchema,
  KernelQuerySchema,
  subjects,
  type BlueprintQuery,
  type BlueprintQueryReply,
  type KernelQuery,
  type KernelQueryReply,
} from '../../contracts/index.ts';
import { migrate, type Database } from '../../infra/db/index.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Metrics } from '../../infra/metrics.ts';
import type { ActorContext, Behaviour, BreakerEvent, WorkerSpec } from '../../supervision/index.ts';
import type { Bus, Subscription } from '../oona/index.ts';
import { serve } from '../oona/index.ts';
import { UrzaLibrary, type Lineage, type StoredEvent } from './library.ts';
import { openUrzaOutbox, type Outbox, type StorageBreakerConfig, type UrzaWrite } from './outbox.ts';

/** How long a graceful stop may take (in-flight writes, closing the database), ms. */
export const URZA_SHUTDOWN_TIMEOUT_MS = 10_000;
/** The outbox file under the data directory. */
export const URZA_OUTBOX_FILE = 'urza-outbox.jsonl';
/** Queue group of the query endpoints: each request is answered by one library node. */
export const URZA_QUEUE = 'urza';

/** What the Urza actor understands; query any of them for the reply named. */
export type UrzaMessage =
  /** Store something (reply: WriteOutcome, `'stored'` or `'queued'`). */
  | { readonly type: 'write'; readonly write: UrzaWrite }
  /** Reply: BlueprintQueryReply. */
  | { readonly type: 'blueprints'; readonly query: Partial<BlueprintQuery> }
  /** Reply: KernelQueryReply. */
  | { readonly type: 'kernels'; readonly query: Partial<KernelQuery> }
  /** Reply: {@link Lineage}. */
  | { readonly type: 'lineage'; readonly blueprintId: string }
  /** Reply: StoredEvent[]. */
  | { readonly type: 'eventsOfRun'; readonly runId: string; readonly afterSeq?: number; readonly limit?: number }
  /** Reply: {@link UrzaStatus}. */
  | { readonly type: 'status' };

/** Reply of `{ type: 'status' }`. */
export interface UrzaStatus {
  /** Writes waiting in the outbox. */
  pending: number;
  breaker: Outbox<UrzaWrite>['breakerState'];
  driver: Database['kind'];
}

/** Options of the Urza actor. */
export interface UrzaActorOptions {
  /** Opens the database for an incarnation (it is closed when the incarnation ends). */
  openDatabase: () => Promise<Database>;
  /** The outbox file goes here (`urza-outbox.jsonl`); absent → memory only. */
  dataDir?: string;
  /** Answer the query API on this bus. */
  bus?: Bus;
  /** Subject prefix. @default 'esper' */
  prefix?: string;
  /** Storage breaker settings. @default STORAGE_BREAKER_DEFAULTS (10 failures, 120 s) */
  breaker?: Partial<StorageBreakerConfig>;
  /** Outbox retry period, ms. @default 1000 */
  retryMs?: number;
  metrics?: Metrics;
  logger?: Logger;
  /** Receives storage breaker state changes. */
  emit?: (event: BreakerEvent) => void;
  /** Time source of the library's timestamps. */
  now?: () => Date;
}

/** One incarnation's resources. */
export interface UrzaState {
  readonly db: Database;
  readonly library: UrzaLibrary;
  readonly outbox: Outbox<UrzaWrite>;
  readonly subscriptions: readonly Subscription[];
}

/** The reads the query endpoints need. */
export interface UrzaQueries {
  blueprints(query: BlueprintQuery): Promise<BlueprintQueryReply>;
  kernels(query: KernelQuery): Promise<KernelQueryReply>;
}

/**
 * Serves `<prefix>.ctl.urza.blueprints` and `<prefix>.ctl.urza.kernels` on
 * `bus` (queue group `urza`) with `queries`; unsubscribe the returned
 * subscriptions to stop.
 */
export function register(bus: Bus, prefix: string, queries: UrzaQueries, options: { logger?: Logger } = {}): Subscription[] {
  const s = subjects(prefix);
  const common = { queue: URZA_QUEUE, ...(options.logger === undefined ? {} : { logger: options.logger }) };
  return [
    serve(bus, s.urzaBlueprints, { schema: BlueprintQuerySchema, ...common }, (query) => queries.blueprints(query)),
    serve(bus, s.urzaKernels, { schema: KernelQuerySchema, ...common }, (query) => queries.kernels(query)),
  ];
}

/** The queries of a library, each through the outbox's breaker. */
export function guardedQueries(library: UrzaLibrary, outbox: Outbox<UrzaWrite>): UrzaQueries {
  return {
    blueprints: (query) => outbox.read(() => library.queryBlueprints(query)),
    kernels: (query) => outbox.read(() => library.queryKernels(query)),
  };
}

async function start(options: UrzaActorOptions, ctx: ActorContext<UrzaMessage>): Promise<UrzaState> {
  const db = await options.openDatabase();
  try {
    const { applied, version } = await migrate(db, { logger: options.logger ?? ctx.log });
    ctx.log.info({ driver: db.kind, schemaVersion: version, applied: applied.length }, 'urza database ready');
    const library = new UrzaLibrary(db, options.now === undefined ? {} : { now: options.now });
    const outbox = await openUrzaOutbox(library, {
      file: options.dataDir === undefined ? undefined : join(options.dataDir, URZA_OUTBOX_FILE),
      breaker: options.breaker,
      retryMs: options.retryMs,
      metrics: options.metrics,
      logger: options.logger ?? ctx.log,
      emit: options.emit,
    });
    const subscriptions = options.bus === undefined ? [] : register(options.bus, options.prefix ?? 'esper', guardedQueries(library, outbox), { logger: ctx.log });
    return { db, library, outbox, subscriptions };
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** Settles the current query (if any) with `work`'s outcome, without holding the mailbox. */
function answerLater(ctx: ActorContext<UrzaMessage>, work: Promise<unknown>, what: string): void {
  const replier = ctx.deferReply();
  work.then(
    (value) => replier?.resolve(value),
    (error: unknown) => {
      if (replier === undefined) ctx.log.warn({ err: error }, `${what} failed`);
      else replier.reject(error);
    },
  );
}

function handle(state: UrzaState, msg: UrzaMessage, ctx: ActorContext<UrzaMessage>): UrzaState {
  const { library, outbox } = state;
  switch (msg.type) {
    case 'write':
      answerLater(ctx, outbox.write(msg.write), `urza ${msg.write.op}`);
      break;
    case 'blueprints':
      answerLater(ctx, outbox.read(() => library.queryBlueprints(msg.query)), 'urza blueprint query');
      break;
    case 'kernels':
      answerLater(ctx, outbox.read(() => library.queryKernels(msg.query)), 'urza kernel query');
      break;
    case 'lineage':
      answerLater(ctx, outbox.read<Lineage>(() => library.lineage(msg.blueprintId)), 'urza lineage');
      break;
    case 'eventsOfRun': {
      const opts = { ...(msg.afterSeq === undefined ? {} : { afterSeq: msg.afterSeq }), ...(msg.limit === undefined ? {} : { limit: msg.limit }) };
      answerLater(ctx, outbox.read<StoredEvent[]>(() => library.eventsOfRun(msg.runId, opts)), 'urza events query');
      break;
    }
    case 'status':
      ctx.reply({ pending: outbox.pending, breaker: outbox.breakerState, driver: state.db.kind } satisfies UrzaStatus);
      break;
  }
  return state;
}

async function stop(state: UrzaState): Promise<void> {
  for (const subscription of state.subscriptions) subscription.unsubscribe();
  await Promise.all(state.subscriptions.map((subscription) => subscription.closed));
  await state.outbox.close();
  await state.db.close();
}

/** The behaviour of the Urza actor (for a custom supervision tree; {@link urzaWorkerSpec} wraps it). */
export function urzaBehaviour(options: UrzaActorOptions): Behaviour<UrzaState, UrzaMessage> {
  return {
    init: (ctx) => start(options, ctx),
    handle: (state, msg, ctx) => handle(state, msg, ctx),
    terminate: (state) => stop(state),
  };
}

/** A permanent worker `urza` running the Urza actor. */
export function urzaWorkerSpec(options: UrzaActorOptions): WorkerSpec<UrzaState, UrzaMessage> {
  return {
    id: 'urza',
    restart: 'permanent',
    shutdownTimeoutMs: URZA_SHUTDOWN_TIMEOUT_MS,
    subsystem: 'urza',
    behaviour: urzaBehaviour(options),
  };
}
