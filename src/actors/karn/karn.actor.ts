/**
 * The Karn actor (DESIGN §1): the blueprint architect, a supervised worker
 * and a thin shell around the pure parts — mutation.ts, diversity.ts,
 * field-stats.ts.
 *
 * - **init** registers what the library already holds for the configured
 *   slot interfaces, then stores every catalog blueprint for those interfaces
 *   that is not there yet (so a restart stores nothing twice and announces
 *   nothing twice), folds the library's field reports into the statistics
 *   when the library offers them, and arms the proposal timer.
 * - **fieldReport** updates the statistics (a redelivered report counts once).
 * - **propose** (from the timer, or on demand) picks a parent — the best
 *   record (field-stats.ts), or, with no record good enough and `explore` on,
 *   a blueprint not yet judged with the fewest descendants — mutates it,
 *   skips children whose IR hash is already known, stores the child with its
 *   parent id and publishes `karn.blueprint.submitted`. The reply
 *   ({@link KarnProposal}) carries the mutation, the diversity of the child's
 *   interface after it and the child's novelty.
 * - **submit** (an operator's IR, `esper.ctl.karn.submit`): static analysis
 *   first — an invalid IR is answered with its coded error and its numbers
 *   (e.g. ESPER_BLUEPRINT_LIMIT `{limit, value, max}`), never a crash — then
 *   stored and announced; an IR already stored answers `duplicate: true` with
 *   the existing id.
 * - **status** answers counts, per-interface diversity and statistics.
 *
 * Bad input is answered, never crashes the actor; a library failure
 * (storage down) crashes it and the supervisor restarts it from the library.
 *
 * The library is reached through the narrow {@link BlueprintLibrary}
 * interface (Urza in a node; {@link MemoryBlueprintLibrary} in tests and
 * embedded use).
 */
import { slotInterfaceKey, type SlotInterface } from '../../contracts/common.ts';
import {
  BlueprintIRSchema,
  type BlueprintIR,
  type BlueprintRecord,
  type BlueprintStatus,
  type KarnSubmitReply,
  type KarnSubmitRequest,
} from '../../contracts/karn.ts';
import { createMessage, formatZodIssues, type TypedEnvelope } from '../../contracts/registry.ts';
import { FieldReportSchema, type FieldReport } from '../../contracts/tamiyo.ts';
import { EsperError, InputError } from '../../errors/index.ts';
import { systemClock, type ActorContext, type Behaviour, type Clock, type WorkerSpec } from '../../supervision/index.ts';
import { Rng } from '../../tensor/rng.ts';
import { analyzeBlueprint, blueprintIrHash, type BlueprintLimitsInput, type BlueprintReport } from '../../blueprint/blueprint-analysis.ts';
import { catalogFor } from './catalog.ts';
import { BlueprintRegistry, blueprintFeatures, novelty } from './diversity.ts';
import {
  DEFAULT_IMPROVEMENT_METRIC,
  DEFAULT_MIN_REPORTS,
  descendantCounts,
  emptyFieldStats,
  judgedReports,
  meanImprovement,
  rankParents,
  recordFieldReport,
  successRate,
  type BlueprintStats,
  type FieldStatsTable,
} from './field-stats.ts';
import { mutate, type Mutation, type MutationOptions } from './mutation.ts';

// ------------------------------------------------------------------ library

/** A blueprint to store. */
export interface LibraryPutInput {
  ir: BlueprintIR;
  /** `karn`, `operator:<name>`, … */
  submittedBy: string;
  /** The blueprint it mutates (must exist). */
  parentBlueprintId?: string | undefined;
  /** When given, must equal the IR's hash. */
  irHash?: string | undefined;
}

/** What storing did. */
export interface LibraryPutResult {
  blueprintId: string;
  irHash: string;
  status: BlueprintStatus;
  /** False when the IR was already stored (the existing blueprint is returned). */
  created: boolean;
}

/** A blueprint's ancestry and offspring. */
export interface LibraryLineage {
  /** Parent first, the root last. */
  readonly ancestors: readonly BlueprintRecord[];
  /** All generations below it. */
  readonly descendants: readonly BlueprintRecord[];
}

/** Where Karn's blueprints go: only the write side. */
export interface BlueprintSink {
  /** Stores a blueprint, idempotent on its IR hash: the same IR again returns the stored blueprint with `created: false`. */
  putBlueprint(input: LibraryPutInput): Promise<LibraryPutResult>;
}

/** What Karn needs of Urza's library. */
export interface BlueprintLibrary extends BlueprintSink {
  /** Every blueprint (with its IR), of one slot interface when given; oldest first. */
  listBlueprints(filter?: { interface?: SlotInterface }): Promise<readonly BlueprintRecord[]>;
  /** A blueprint's ancestors and descendants; ESPER_NOT_FOUND when unknown. */
  lineage(blueprintId: string): Promise<LibraryLineage>;
  /** The stored field reports, if the library keeps them (Karn rebuilds its statistics from them at start). */
  fieldReports?(): Promise<readonly FieldReport[]>;
}

/** The id a blueprint gets: `bp-` and the first 16 hex digits of its IR hash (as in Urza). */
export function blueprintIdOf(irHash: string): string {
  return `bp-${irHash.slice(0, 16)}`;
}

/** An in-memory {@link BlueprintLibrary}: embedded mode and tests. */
export class MemoryBlueprintLibrary implements BlueprintLibrary {
  readonly #byId = new Map<string, BlueprintRecord>();
  readonly #byHash = new Map<string, string>();
  readonly #reports: FieldReport[] = [];
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? ((): Date => new Date());
  }

  /** Blueprints stored. */
  get size(): number {
    return this.#byId.size;
  }

  putBlueprint(input: LibraryPutInput): Promise<LibraryPutResult> {
    const parsed = BlueprintIRSchema.safeParse(input.ir);
    if (!parsed.success) {
      const issues = formatZodIssues(parsed.error, ['ir']);
      return Promise.reject(new InputError('ESPER_SCHEMA_VIOLATION', `invalid blueprint IR: ${issues.join('; ')}`, { details: { issues } }));
    }
    const ir = parsed.data;
    const irHash = blueprintIrHash(ir);
    if (input.irHash !== undefined && input.irHash !== irHash) {
      return Promise.reject(
        new InputError('ESPER_SCHEMA_VIOLATION', `irHash ${input.irHash} is not the hash of this IR (${irHash})`, { details: { issues: [`irHash: expected ${irHash}`] } }),
      );
    }
    const existingId = this.#byHash.get(irHash);
    const existing = existingId === undefined ? undefined : this.#byId.get(existingId);
    if (existing !== undefined) return Promise.resolve({ blueprintId: existing.blueprintId, irHash, status: existing.status, created: false });
    const parent = input.parentBlueprintId;
    if (parent !== undefined && !this.#byId.has(parent)) {
      return Promise.reject(new InputError('ESPER_NOT_FOUND', `blueprint ${parent} does not exist`, { details: { blueprintId: parent } }));
    }
    const blueprintId = blueprintIdOf(irHash);
    const now = this.#now().toISOString();
    this.#byId.set(blueprintId, {
      blueprintId,
      name: ir.name,
      irHash,
      status: 'SUBMITTED',
      tags: [...ir.tags],
      interface: ir.interface,
      submittedBy: input.submittedBy,
      ...(parent === undefined ? {} : { parentBlueprintId: parent }),
      ir,
      createdAt: now,
      updatedAt: now,
    });
    this.#byHash.set(irHash, blueprintId);
    return Promise.resolve({ blueprintId, irHash, status: 'SUBMITTED', created: true });
  }

  listBlueprints(filter: { interface?: SlotInterface } = {}): Promise<readonly BlueprintRecord[]> {
    const key = filter.interface === undefined ? undefined : slotInterfaceKey(filter.interface);
    return Promise.resolve([...this.#byId.values()].filter((r) => key === undefined || slotInterfaceKey(r.interface) === key));
  }

  lineage(blueprintId: string): Promise<LibraryLineage> {
    const record = this.#byId.get(blueprintId);
    if (record === undefined) return Promise.reject(new InputError('ESPER_NOT_FOUND', `blueprint ${blueprintId} does not exist`, { details: { blueprintId } }));
    const ancestors: BlueprintRecord[] = [];
    for (let p = record.parentBlueprintId; p !== undefined; ) {
      const parent = this.#byId.get(p);
      if (parent === undefined || ancestors.includes(parent)) break;
      ancestors.push(parent);
      p = parent.parentBlueprintId;
    }
    const descendants: BlueprintRecord[] = [];
    let level = [blueprintId];
    while (level.length > 0) {
      const ids = new Set(level);
      const next = [...this.#byId.values()].filter((r) => r.parentBlueprintId !== undefined && ids.has(r.parentBlueprintId));
      descendants.push(...next);
      level = next.map((r) => r.blueprintId);
    }
    return Promise.resolve({ ancestors, descendants });
  }

  /** Keeps a field report (what Urza's putFieldReport does). */
  addFieldReport(report: FieldReport): void {
    this.#reports.push(report);
  }

  fieldReports(): Promise<readonly FieldReport[]> {
    return Promise.resolve([...this.#reports]);
  }
}

// ------------------------------------------------------------------ messages

/** The envelope Karn publishes for every blueprint it stores. */
export type BlueprintSubmittedEnvelope = TypedEnvelope<'karn.blueprint.submitted'>;

/** What the Karn actor understands. */
export type KarnMessage =
  /** A FieldReport (`tamiyo.field_report` data); the reply is the blueprint's {@link BlueprintStats}. */
  | { readonly type: 'fieldReport'; readonly report: FieldReport }
  /** Propose one mutant now; the reply is a {@link KarnProposal}. */
  | { readonly type: 'propose'; readonly trigger?: 'timer' | 'demand' }
  /** An operator's blueprint; the reply is a {@link KarnSubmitReply} or a coded error. */
  | { readonly type: 'submit'; readonly request: KarnSubmitRequest }
  /** The reply is a {@link KarnStatus}. */
  | { readonly type: 'status' };

/** The outcome of a proposal. */
export type KarnProposal =
  | {
      readonly proposed: true;
      readonly blueprintId: string;
      readonly irHash: string;
      readonly name: string;
      readonly parentBlueprintId: string;
      /** `record`: chosen for its field reports; `explore`: no record was good enough, an unjudged blueprint was tried. */
      readonly reason: 'record' | 'explore';
      readonly mutation: Mutation;
      readonly paramCount: number;
      readonly startsAsIdentity: boolean;
      /** Diversity (mean nearest-neighbour distance) of the child's slot interface, the child included (diversity.ts). */
      readonly diversity: number;
      /** Spread (mean pairwise distance) of the same set. */
      readonly spread: number;
      /** The child's distance to its nearest sibling of the same interface (0 would be a clone). */
      readonly novelty: number;
      /** Mutants skipped because their IR was already known. */
      readonly duplicatesSkipped: number;
    }
  | {
      readonly proposed: false;
      /** `no-parent`: nothing to mutate; `no-mutation`: no valid mutant found; `duplicates`: every mutant was already known. */
      readonly reason: 'no-parent' | 'no-mutation' | 'duplicates';
      readonly parentBlueprintId?: string;
      readonly duplicatesSkipped: number;
    };

/** The reply of `status`. */
export interface KarnStatus {
  readonly blueprints: number;
  readonly proposals: number;
  readonly interfaces: readonly { readonly interfaceKey: string; readonly blueprints: number; readonly diversity: number; readonly spread: number }[];
  readonly stats: readonly {
    readonly blueprintId: string;
    readonly reports: number;
    readonly judged: number;
    readonly successRate: number;
    readonly meanImprovement?: number;
  }[];
}

// ------------------------------------------------------------------ options

/** Options of the Karn actor. */
export interface KarnOptions {
  library: BlueprintLibrary;
  /** Slot interfaces whose catalog Karn loads (and whose blueprints it registers at start). */
  interfaces: readonly SlotInterface[];
  /** Where `karn.blueprint.submitted` goes (the bus in a node). Failures are logged, not fatal: the blueprint is stored. */
  publish: (envelope: BlueprintSubmittedEnvelope) => void | Promise<void>;
  /** Budgets every blueprint must fit. @default DEFAULT_BLUEPRINT_LIMITS */
  limits?: BlueprintLimitsInput;
  /** Seed of the mutation RNG (mixed with the library size at each start). @default 0x4b41524e */
  seed?: number;
  /** Milliseconds between timer proposals; 0 arms no timer. @default 60_000 */
  proposeIntervalMs?: number;
  /** Judged reports before a blueprint is chosen on its record. @default 3 */
  minReports?: number;
  /** With no record good enough, mutate an unjudged blueprint with the fewest descendants. @default true */
  explore?: boolean;
  /** Mutants tried per proposal when they turn out to be duplicates. @default 8 */
  proposalAttempts?: number;
  /** Mutation options (kinds, widths, attempts). */
  mutation?: Pick<MutationOptions, 'kinds' | 'maxAttempts' | 'minWidth' | 'maxWidth'>;
  /** FieldReport metric averaged as improvement. @default 'improvementPp' */
  metric?: string;
  /** Child id in its supervisor. @default 'karn' */
  id?: string;
  /** Envelope source. @default 'karn' */
  source?: string;
  /** `submittedBy` of Karn's own blueprints. @default 'karn' */
  submittedBy?: string;
  /** Envelope clock. @default () => new Date() */
  now?: () => Date;
  /** Timer clock. @default systemClock */
  clock?: Clock;
}

/** Default interval between timer proposals. */
export const DEFAULT_PROPOSE_INTERVAL_MS = 60_000;
/** Default proposal attempts past duplicates. */
export const DEFAULT_PROPOSAL_ATTEMPTS = 8;
/** Default RNG seed ('KARN'). */
export const DEFAULT_KARN_SEED = 0x4b41524e;
const KARN_SHUTDOWN_TIMEOUT_MS = 5_000;

// ------------------------------------------------------------------ the shell

interface Known {
  readonly blueprintId: string;
  readonly ir: BlueprintIR;
  readonly report: BlueprintReport;
  readonly parentBlueprintId: string | undefined;
}

/** One incarnation's state. */
export interface KarnState {
  readonly registry: BlueprintRegistry;
  readonly known: Map<string, Known>;
  stats: FieldStatsTable;
  readonly rng: Rng;
  proposals: number;
  timer: unknown;
  stopped: boolean;
}

function combineErrors(errors: readonly EsperError[]): EsperError {
  const [first] = errors;
  if (first === undefined) return new EsperError('ESPER_INTERNAL', 'blueprint analysis failed without a reason');
  if (errors.length === 1) return first;
  return new EsperError(first.code, errors.map((e) => e.message).join('; '), {
    details: { ...(first.details ?? {}), errors: errors.map((e) => e.toWire()) },
  });
}

function unref(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle && typeof handle.unref === 'function') (handle as { unref(): void }).unref();
}

class KarnShell {
  readonly #o: KarnOptions;
  readonly #keys: readonly string[];
  readonly #interfaces: readonly SlotInterface[];
  readonly #clock: Clock;

  constructor(options: KarnOptions) {
    this.#o = options;
    const byKey = new Map(options.interfaces.map((iface) => [slotInterfaceKey(iface), iface]));
    this.#keys = [...byKey.keys()];
    this.#interfaces = [...byKey.values()];
    this.#clock = options.clock ?? systemClock;
  }

  get #submittedBy(): string {
    return this.#o.submittedBy ?? 'karn';
  }

  async init(ctx: ActorContext<KarnMessage>): Promise<KarnState> {
    const registry = new BlueprintRegistry();
    const known = new Map<string, Known>();
    const state: KarnState = { registry, known, stats: emptyFieldStats(), rng: new Rng(0), proposals: 0, timer: undefined, stopped: false };
    for (const iface of this.#interfaces) {
      for (const record of await this.#o.library.listBlueprints({ interface: iface })) {
        if (record.ir === undefined) continue;
        const analysis = analyzeBlueprint(record.ir, this.#limits());
        if (!analysis.ok) {
          ctx.log.warn({ blueprintId: record.blueprintId, codes: analysis.errors.map((e) => e.code) }, 'stored blueprint fails analysis under the current limits; not registered');
          continue;
        }
        this.#register(state, record.blueprintId, analysis.ir, analysis.report, record.parentBlueprintId);
      }
    }
    let stored = 0;
    for (const iface of this.#interfaces) {
      for (const ir of catalogFor(iface)) {
        const analysis = analyzeBlueprint(ir, this.#limits());
        if (!analysis.ok) {
          ctx.log.warn({ name: ir.name, codes: analysis.errors.map((e) => e.code) }, 'catalog blueprint does not fit this interface under the current limits; skipped');
          continue;
        }
        if (registry.has(analysis.report.irHash)) continue;
        const put = await this.#o.library.putBlueprint({ ir: analysis.ir, submittedBy: this.#submittedBy, irHash: analysis.report.irHash });
        this.#register(state, put.blueprintId, analysis.ir, analysis.report, undefined);
        if (put.created) {
          stored++;
          await this.#announce(ctx, put.blueprintId, analysis.report.irHash, analysis.ir, this.#submittedBy, undefined);
        }
      }
    }
    const reports = this.#o.library.fieldReports === undefined ? [] : await this.#o.library.fieldReports();
    for (const report of reports) state.stats = recordFieldReport(state.stats, report, this.#metric());
    const seed = ((this.#o.seed ?? DEFAULT_KARN_SEED) ^ Math.imul(registry.size, 0x9e3779b1)) >>> 0;
    const rng = new Rng(seed);
    const ready: KarnState = { ...state, rng };
    ctx.log.info({ blueprints: registry.size, catalogStored: stored, reports: reports.length }, 'karn started');
    this.#arm(ready, ctx);
    return ready;
  }

  #limits(): { limits?: BlueprintLimitsInput } {
    return this.#o.limits === undefined ? {} : { limits: this.#o.limits };
  }

  #metric(): string {
    return this.#o.metric ?? DEFAULT_IMPROVEMENT_METRIC;
  }

  #arm(state: KarnState, ctx: ActorContext<KarnMessage>): void {
    const interval = this.#o.proposeIntervalMs ?? DEFAULT_PROPOSE_INTERVAL_MS;
    if (interval <= 0) return;
    const tick = (): void => {
      if (state.stopped) return;
      ctx.self.dispatch({ type: 'propose', trigger: 'timer' });
      state.timer = this.#clock.setTimeout(tick, interval);
      unref(state.timer);
    };
    state.timer = this.#clock.setTimeout(tick, interval);
    unref(state.timer);
  }

  terminate(state: KarnState): void {
    state.stopped = true;
    if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
  }

  #register(state: KarnState, blueprintId: string, ir: BlueprintIR, report: BlueprintReport, parentBlueprintId: string | undefined): void {
    if (state.registry.has(report.irHash) || state.known.has(blueprintId)) return;
    state.registry.add({
      blueprintId,
      irHash: report.irHash,
      interfaceKey: report.interfaceKey,
      features: blueprintFeatures(report),
      ...(parentBlueprintId === undefined ? {} : { parentBlueprintId }),
    });
    state.known.set(blueprintId, { blueprintId, ir, report, parentBlueprintId });
  }

  async #announce(
    ctx: ActorContext<KarnMessage>,
    blueprintId: string,
    irHash: string,
    ir: BlueprintIR,
    submittedBy: string,
    parentBlueprintId: string | undefined,
  ): Promise<void> {
    try {
      const envelope = createMessage(
        'karn.blueprint.submitted',
        { blueprintId, irHash, ir, submittedBy, ...(parentBlueprintId === undefined ? {} : { parentBlueprintId }) },
        {
          source: this.#o.source ?? 'karn',
          // Deterministic: a re-announcement de-duplicates on the event stream.
          id: `karn.blueprint.${blueprintId}`,
          ...(this.#o.now === undefined ? {} : { now: this.#o.now }),
        },
      );
      await this.#o.publish(envelope);
    } catch (error) {
      ctx.log.error({ err: error, blueprintId }, 'publishing karn.blueprint.submitted failed');
    }
  }

  async handle(state: KarnState, msg: KarnMessage, ctx: ActorContext<KarnMessage>): Promise<KarnState> {
    switch (msg.type) {
      case 'fieldReport':
        return this.#fieldReport(state, msg.report, ctx);
      case 'propose': {
        const proposal = await this.#propose(state, ctx);
        if (proposal.proposed) ctx.log.info({ blueprintId: proposal.blueprintId, parent: proposal.parentBlueprintId, mutation: proposal.mutation.summary }, 'proposed a blueprint');
        else ctx.log.debug({ reason: proposal.reason, trigger: msg.trigger ?? 'demand' }, 'no proposal');
        ctx.reply(proposal);
        return state;
      }
      case 'submit':
        await this.#submit(state, msg.request, ctx);
        return state;
      case 'status':
        ctx.reply(this.#status(state));
        return state;
      default: {
        const unknown: unknown = msg;
        ctx.replyError(new InputError('ESPER_UNKNOWN_VERB', `karn does not understand ${JSON.stringify(unknown)}`));
        return state;
      }
    }
  }

  #fieldReport(state: KarnState, raw: FieldReport, ctx: ActorContext<KarnMessage>): KarnState {
    const parsed = FieldReportSchema.safeParse(raw);
    if (!parsed.success) {
      const issues = formatZodIssues(parsed.error, ['report']);
      const error = new InputError('ESPER_SCHEMA_VIOLATION', `invalid field report: ${issues.join('; ')}`, { details: { issues } });
      ctx.log.warn({ code: error.code, details: error.details }, error.message);
      ctx.replyError(error);
      return state;
    }
    state.stats = recordFieldReport(state.stats, parsed.data, this.#metric());
    ctx.reply(state.stats.get(parsed.data.blueprintId));
    return state;
  }

  async #chooseParent(state: KarnState): Promise<{ parent: Known; reason: 'record' | 'explore' } | null> {
    const minReports = this.#o.minReports ?? DEFAULT_MIN_REPORTS;
    const eligible = rankParents(
      state.stats,
      [...state.known.keys()].map((blueprintId) => ({ blueprintId, descendants: 0 })),
      { minReports },
    );
    if (eligible.length > 0) {
      // Ties on the record go to fewer descendants: ask the library (it sees every node's blueprints).
      const candidates = await Promise.all(
        eligible.map(async (choice) => ({ blueprintId: choice.blueprintId, descendants: (await this.#o.library.lineage(choice.blueprintId)).descendants.length })),
      );
      const best = rankParents(state.stats, candidates, { minReports })[0];
      const parent = best === undefined ? undefined : state.known.get(best.blueprintId);
      if (parent !== undefined) return { parent, reason: 'record' };
    }
    if (this.#o.explore === false) return null;
    const counts = descendantCounts([...state.known.values()].map((k) => ({ blueprintId: k.blueprintId, parentBlueprintId: k.parentBlueprintId })));
    const unjudged = [...state.known.values()].filter((k) => {
      const stats = state.stats.get(k.blueprintId);
      return this.#keys.includes(k.report.interfaceKey) && (stats === undefined || judgedReports(stats) < minReports);
    });
    if (unjudged.length === 0) return null;
    const fewest = Math.min(...unjudged.map((k) => counts.get(k.blueprintId) ?? 0));
    const pool = unjudged.filter((k) => (counts.get(k.blueprintId) ?? 0) === fewest);
    const parent = pool[state.rng.int(pool.length)];
    return parent === undefined ? null : { parent, reason: 'explore' };
  }

  async #propose(state: KarnState, ctx: ActorContext<KarnMessage>): Promise<KarnProposal> {
    const choice = await this.#chooseParent(state);
    if (choice === null) return { proposed: false, reason: 'no-parent', duplicatesSkipped: 0 };
    const { parent, reason } = choice;
    const attempts = Math.max(1, this.#o.proposalAttempts ?? DEFAULT_PROPOSAL_ATTEMPTS);
    let duplicatesSkipped = 0;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const child = mutate(parent.ir, state.rng, {
        ...this.#o.mutation,
        ...this.#limits(),
        interface: parent.ir.interface,
        parentId: parent.blueprintId,
      });
      if (child === null) {
        return { proposed: false, reason: 'no-mutation', parentBlueprintId: parent.blueprintId, duplicatesSkipped };
      }
      if (state.registry.has(child.report.irHash)) {
        duplicatesSkipped++;
        continue;
      }
      const siblings = state.registry.list(child.report.interfaceKey).map((e) => e.features);
      const put = await this.#o.library.putBlueprint({
        ir: child.ir,
        submittedBy: this.#submittedBy,
        parentBlueprintId: parent.blueprintId,
        irHash: child.report.irHash,
      });
      this.#register(state, put.blueprintId, child.ir, child.report, put.created ? parent.blueprintId : undefined);
      if (!put.created) {
        // Stored meanwhile by someone else (another node): known now, not new.
        duplicatesSkipped++;
        continue;
      }
      state.proposals++;
      await this.#announce(ctx, put.blueprintId, put.irHash, child.ir, this.#submittedBy, parent.blueprintId);
      return {
        proposed: true,
        blueprintId: put.blueprintId,
        irHash: put.irHash,
        name: child.ir.name,
        parentBlueprintId: parent.blueprintId,
        reason,
        mutation: child.mutation,
        paramCount: child.report.paramCount,
        startsAsIdentity: child.report.startsAsIdentity,
        diversity: state.registry.diversity(child.report.interfaceKey),
        spread: state.registry.spread(child.report.interfaceKey),
        novelty: novelty(blueprintFeatures(child.report), siblings),
        duplicatesSkipped,
      };
    }
    return { proposed: false, reason: 'duplicates', parentBlueprintId: parent.blueprintId, duplicatesSkipped };
  }

  async #submit(state: KarnState, request: KarnSubmitRequest, ctx: ActorContext<KarnMessage>): Promise<void> {
    const ownTags: unknown = request.ir['tags'];
    const raw =
      request.tags === undefined || (ownTags !== undefined && !Array.isArray(ownTags))
        ? request.ir
        : { ...request.ir, tags: [...new Set([...((ownTags as unknown[] | undefined) ?? []), ...request.tags])] };
    const analysis = analyzeBlueprint(raw, { ...this.#limits(), ...(request.interface === undefined ? {} : { interface: request.interface }) });
    if (!analysis.ok) {
      const error = combineErrors(analysis.errors);
      ctx.log.info({ code: error.code, details: error.details, submittedBy: request.submittedBy }, `blueprint rejected: ${error.message}`);
      ctx.replyError(error);
      return;
    }
    const { ir, report } = analysis;
    let put: LibraryPutResult;
    try {
      put = await this.#o.library.putBlueprint({
        ir,
        submittedBy: request.submittedBy,
        irHash: report.irHash,
        ...(request.parentBlueprintId === undefined ? {} : { parentBlueprintId: request.parentBlueprintId }),
      });
    } catch (error) {
      // A refusal (unknown parent, conflict) is an answer; a storage failure crashes the actor (restart from the library).
      if (error instanceof EsperError && !error.retryable) {
        ctx.replyError(error);
        return;
      }
      throw error;
    }
    this.#register(state, put.blueprintId, ir, report, put.created ? request.parentBlueprintId : undefined);
    if (put.created) await this.#announce(ctx, put.blueprintId, put.irHash, ir, request.submittedBy, request.parentBlueprintId);
    const reply: KarnSubmitReply = {
      blueprintId: put.blueprintId,
      irHash: put.irHash,
      status: put.status,
      paramCount: report.paramCount,
      startsAsIdentity: report.startsAsIdentity,
      duplicate: !put.created,
    };
    ctx.reply(reply);
  }

  #status(state: KarnState): KarnStatus {
    const keys = [...new Set([...this.#keys, ...state.registry.list().map((e) => e.interfaceKey)])];
    return {
      blueprints: state.registry.size,
      proposals: state.proposals,
      interfaces: keys.map((interfaceKey) => ({
        interfaceKey,
        blueprints: state.registry.list(interfaceKey).length,
        diversity: state.registry.diversity(interfaceKey),
        spread: state.registry.spread(interfaceKey),
      })),
      stats: [...state.stats.values()].map((s: BlueprintStats) => {
        const mean = meanImprovement(s);
        return {
          blueprintId: s.blueprintId,
          reports: s.reports,
          judged: judgedReports(s),
          successRate: successRate(s),
          ...(mean === undefined ? {} : { meanImprovement: mean }),
        };
      }),
    };
  }
}

/** The behaviour of the Karn actor (for a custom supervision tree; {@link karnWorkerSpec} wraps it). */
export function karnBehaviour(options: KarnOptions): Behaviour<KarnState, KarnMessage> {
  const shell = new KarnShell(options);
  return {
    init: (ctx) => shell.init(ctx),
    handle: (state, msg, ctx) => shell.handle(state, msg, ctx),
    terminate: (state) => shell.terminate(state),
  };
}

/** A permanent worker running the Karn actor. */
export function karnWorkerSpec(options: KarnOptions): WorkerSpec<KarnState, KarnMessage> {
  return {
    id: options.id ?? 'karn',
    restart: 'permanent',
    shutdownTimeoutMs: KARN_SHUTDOWN_TIMEOUT_MS,
    subsystem: 'karn',
    behaviour: karnBehaviour(options),
  };
}
