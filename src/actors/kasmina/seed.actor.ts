/**
 * The Kasmina seed actor: one per slot, a supervised worker and a thin shell
 * around the pure lifecycle (style rule 7). It turns AdaptationCommands and
 * epoch ends into lifecycle events, runs them through `transition()`,
 * persists every change, emits `kasmina.seed.transitioned` for every stage
 * change, and answers with the seed's state — which the trainer applies to
 * the model (slot mode, α, kernel). A rejected command is answered with its
 * coded error and never crashes the actor; a failure to persist does, and the
 * supervisor restarts the actor from the last persisted state.
 */
import type { Counter } from 'prom-client';
import {
  AdaptationCommandSchema,
  createMessage,
  formatZodIssues,
  type AdaptationCommand,
  type SeedState,
  type SlotInterface,
  type TypedEnvelope,
} from '../../contracts/index.ts';
import { EsperError, InputError, toEsperError } from '../../errors/index.ts';
import type { Metrics } from '../../infra/metrics.ts';
import type { ActorContext, Behaviour, WorkerSpec } from '../../supervision/index.ts';
import { DEFAULT_GATE_CONFIG, type GateConfig, type KernelCandidate } from './gates.ts';
import {
  initialSeedState,
  toSeedState,
  transition,
  type AttachedEvent,
  type SeedCommandEvent,
  type SeedEvent,
  type SeedLifecycleState,
  type SeedObservation,
  type StageTransition,
} from './seed-lifecycle.ts';
import type { SeedStateStore } from './seed-state-store.ts';

/** The message that caused another, for envelope causation. */
export interface CausedBy {
  readonly id: string;
  readonly correlationId?: string;
}

/** What a seed actor understands. Query any of them to get the resulting {@link SeedState}. */
export type SeedMessage =
  /** Execute an AdaptationCommand (type SEED, addressed to this seed). */
  | { readonly type: 'command'; readonly command: AdaptationCommand; readonly correlationId?: string }
  /** An epoch ended: time passes (α ticks, embargo counts down), measurements are recorded. */
  | { readonly type: 'epochEnded'; readonly epoch: number; readonly telemetry?: SeedObservation; readonly causedBy?: CausedBy }
  /** The trainer attached the GERMINATED seed's kernel: what it checked (kernel loaded, parameters finite), for G1. */
  | { readonly type: 'attached'; readonly telemetry: AttachedEvent['telemetry'] }
  /** The current state. */
  | { readonly type: 'status' };

/** What GERMINATE asks Kasmina to find. */
export interface KernelRequest {
  readonly slotId: string;
  readonly slotInterface: SlotInterface;
  readonly kernelId?: string;
  readonly blueprintId?: string;
}

/** Finds the kernel a GERMINATE names (Urza in a cluster); null when there is none. */
export interface KernelResolver {
  resolve(request: KernelRequest): Promise<KernelCandidate | null>;
}

/** The event a seed actor publishes. */
export type SeedTransitionedEnvelope = TypedEnvelope<'kasmina.seed.transitioned'>;

/** Options of one seed actor. */
export interface SeedActorOptions {
  runId: string;
  seedId: string;
  slotId: string;
  /** The interface of the slot, which G0 matches kernels against. */
  slotInterface: SlotInterface;
  store: SeedStateStore;
  /** Sends an event (e.g. on `<prefix>.evt.<runId>.kasmina.seed.transitioned`); a throwing publisher is logged, never fatal. */
  publish: (envelope: SeedTransitionedEnvelope) => void;
  /** @default DEFAULT_GATE_CONFIG */
  gates?: GateConfig;
  /** Resolves GERMINATE requests; without one every GERMINATE fails G0 (no kernel found). */
  kernels?: KernelResolver;
  /** Envelope `source`. @default `kasmina/<seedId>` */
  source?: string;
  /** Clock for envelope timestamps and command deadlines. @default () => new Date() */
  now?: () => Date;
  /** Registry for `esper_seed_transitions_total` and `esper_seed_commands_rejected_total`. */
  metrics?: Metrics;
}

/** How long a seed actor may take to stop, ms. */
export const SEED_SHUTDOWN_TIMEOUT_MS = 5_000;

const NO_KERNELS: KernelResolver = { resolve: () => Promise.resolve(null) };

function numberParam(command: AdaptationCommand, key: string): number | undefined | EsperError {
  const value = command.seedOperation?.params?.[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') {
    return new InputError('ESPER_SCHEMA_VIOLATION', `command ${command.commandId}: params.${key} must be a number`, {
      details: { commandId: command.commandId, issues: [`seedOperation.params.${key}: must be a number`] },
    });
  }
  return value;
}

function textParam(command: AdaptationCommand, key: string): string | undefined {
  const value = command.seedOperation?.params?.[key] ?? command.annotations[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Checks what the lifecycle cannot: the envelope of the command (schema, type, address, deadline). */
function checkCommand(options: SeedActorOptions, raw: AdaptationCommand, now: Date): AdaptationCommand | EsperError {
  const parsed = AdaptationCommandSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error);
    return new InputError('ESPER_SCHEMA_VIOLATION', `invalid adaptation command: ${issues.join('; ')}`, { details: { issues } });
  }
  const command = parsed.data;
  if (command.type !== 'SEED' || command.seedOperation === undefined) {
    return new InputError('ESPER_SCHEMA_VIOLATION', `command ${command.commandId} is ${command.type}, not a SEED command`, {
      details: { commandId: command.commandId, issues: ['type: a seed executes SEED commands only'] },
    });
  }
  if (command.targetSeedId !== options.seedId) {
    return new InputError('ESPER_NOT_FOUND', `command ${command.commandId} targets seed ${command.targetSeedId}, not ${options.seedId}`, {
      details: { commandId: command.commandId, targetSeedId: command.targetSeedId, seedId: options.seedId },
    });
  }
  const deadline = Date.parse(command.issuedAt) + command.deadlineMs;
  if (now.getTime() > deadline) {
    return new EsperError('ESPER_COMMAND_EXPIRED', `command ${command.commandId} expired at ${new Date(deadline).toISOString()}`, {
      details: { commandId: command.commandId, issuedAt: command.issuedAt, deadlineMs: command.deadlineMs, now: now.toISOString() },
    });
  }
  return command;
}

/** Turns a checked SEED command into a lifecycle event (GERMINATE resolves its kernel first). */
async function toEvent(options: SeedActorOptions, command: AdaptationCommand): Promise<SeedCommandEvent | EsperError> {
  const op = command.seedOperation;
  const commandId = command.commandId;
  if (op === undefined) return new EsperError('ESPER_INTERNAL', `command ${commandId} lost its seedOperation`);
  switch (op.op) {
    case 'GERMINATE': {
      const requested: { kernelId?: string; blueprintId?: string } = {};
      if (op.kernelId !== undefined) requested.kernelId = op.kernelId;
      if (op.blueprintId !== undefined) requested.blueprintId = op.blueprintId;
      const kernel = await (options.kernels ?? NO_KERNELS).resolve({ slotId: options.slotId, slotInterface: options.slotInterface, ...requested });
      const event: SeedCommandEvent = { type: 'germinate', commandId, kernel, slotInterface: options.slotInterface, requested };
      if (op.blend !== undefined) event.blend = op.blend;
      return event;
    }
    case 'ADVANCE': {
      const alphaTarget = numberParam(command, 'alphaTarget');
      if (alphaTarget instanceof EsperError) return alphaTarget;
      const event: SeedCommandEvent = { type: 'advance', commandId };
      if (alphaTarget !== undefined) event.alphaTarget = alphaTarget;
      if (op.blend !== undefined) event.blend = op.blend;
      return event;
    }
    case 'PRUNE':
      return { type: 'prune', commandId, reason: textParam(command, 'reason') ?? 'pruned by command' };
    case 'FOSSILIZE':
      return { type: 'fossilize', commandId };
    case 'CANCEL': {
      const reason = textParam(command, 'reason');
      return reason === undefined ? { type: 'cancel', commandId } : { type: 'cancel', commandId, reason };
    }
  }
}

class SeedShell {
  readonly #options: SeedActorOptions;
  readonly #gates: GateConfig;
  readonly #now: () => Date;
  readonly #source: string;
  readonly #transitions: Counter | undefined;
  readonly #rejections: Counter | undefined;

  constructor(options: SeedActorOptions) {
    this.#options = options;
    this.#gates = options.gates ?? DEFAULT_GATE_CONFIG;
    this.#now = options.now ?? (() => new Date());
    this.#source = options.source ?? `kasmina/${options.seedId}`;
    this.#transitions = options.metrics?.counter('esper_seed_transitions_total', 'Seed lifecycle transitions.', ['from', 'to']);
    this.#rejections = options.metrics?.counter('esper_seed_commands_rejected_total', 'Seed commands rejected, by error code.', ['code']);
  }

  async init(): Promise<SeedLifecycleState> {
    const { runId, seedId, slotId } = this.#options;
    return (await this.#options.store.load(runId, seedId)) ?? initialSeedState({ runId, seedId, slotId });
  }

  async handle(state: SeedLifecycleState, msg: SeedMessage, ctx: ActorContext<SeedMessage>): Promise<SeedLifecycleState> {
    switch (msg.type) {
      case 'status':
        ctx.reply(toSeedState(state));
        return state;
      case 'epochEnded':
        return this.#apply(state, { type: 'epochEnded', epoch: msg.epoch, ...(msg.telemetry === undefined ? {} : { telemetry: msg.telemetry }) }, msg.causedBy, ctx);
      case 'attached':
        return this.#apply(state, { type: 'attached', telemetry: msg.telemetry }, undefined, ctx);
      case 'command': {
        const raw = msg.command;
        // A redelivered command that was already applied is answered with the current state.
        if (state.recentCommandIds.includes(raw.commandId)) {
          ctx.reply(toSeedState(state));
          return state;
        }
        const command = checkCommand(this.#options, raw, this.#now());
        if (command instanceof EsperError) return this.#reject(state, command, ctx);
        let event: SeedCommandEvent | EsperError;
        try {
          event = await toEvent(this.#options, command);
        } catch (error) {
          // The kernel lookup failed (Urza down, timeout): the command fails, the seed does not.
          event = toEsperError(error);
        }
        if (event instanceof EsperError) return this.#reject(state, event, ctx);
        const causedBy: CausedBy = { id: command.commandId, correlationId: msg.correlationId ?? command.causationPacketId };
        return this.#apply(state, event, causedBy, ctx);
      }
    }
  }

  async #apply(state: SeedLifecycleState, event: SeedEvent, causedBy: CausedBy | undefined, ctx: ActorContext<SeedMessage>): Promise<SeedLifecycleState> {
    const result = transition(state, event, this.#gates);
    if (!result.ok) return this.#reject(state, result.error, ctx);
    const next = result.state;
    if (next !== state) {
      // Persist before anything else sees the change: if this throws, the actor
      // crashes and restarts from the last saved state, as if the event never came.
      await this.#options.store.save(next);
    }
    if (result.transition !== null) {
      const change = result.transition;
      this.#transitions?.inc({ from: change.from, to: change.to });
      ctx.log.info({ seedId: change.seedId, from: change.from, to: change.to, epoch: change.epoch, cause: change.cause }, 'seed transitioned');
      this.#emit(next, change, causedBy, ctx);
    }
    ctx.reply(toSeedState(next));
    return next;
  }

  #emit(state: SeedLifecycleState, change: StageTransition, causedBy: CausedBy | undefined, ctx: ActorContext<SeedMessage>): void {
    try {
      const parent = causedBy === undefined ? undefined : causedBy.correlationId === undefined ? { id: causedBy.id } : { id: causedBy.id, correlationId: causedBy.correlationId };
      const envelope = createMessage('kasmina.seed.transitioned', change, {
        source: this.#source,
        runId: state.runId,
        // Deterministic: a replay of the same change de-duplicates on the stream.
        id: `kasmina.${state.runId}.${state.seedId}.r${state.revision}`,
        now: this.#now,
        ...(parent === undefined ? {} : { causedBy: parent }),
      });
      this.#options.publish(envelope);
    } catch (error) {
      ctx.log.error({ err: error, seedId: state.seedId, from: change.from, to: change.to }, 'publishing kasmina.seed.transitioned failed');
    }
  }

  #reject(state: SeedLifecycleState, error: EsperError, ctx: ActorContext<SeedMessage>): SeedLifecycleState {
    this.#rejections?.inc({ code: error.code });
    ctx.log.warn({ seedId: state.seedId, stage: state.stage, code: error.code, details: error.details }, error.message);
    ctx.replyError(error);
    return state;
  }
}

/** The behaviour of a seed actor (for a custom supervision tree; {@link seedWorkerSpec} wraps it). */
export function seedBehaviour(options: SeedActorOptions): Behaviour<SeedLifecycleState, SeedMessage> {
  const shell = new SeedShell(options);
  return {
    init: () => shell.init(),
    handle: (state, msg, ctx) => shell.handle(state, msg, ctx),
  };
}

/** A permanent worker running one seed actor, with the seed id as its child id. */
export function seedWorkerSpec(options: SeedActorOptions): WorkerSpec<SeedLifecycleState, SeedMessage> {
  return {
    id: options.seedId,
    restart: 'permanent',
    shutdownTimeoutMs: SEED_SHUTDOWN_TIMEOUT_MS,
    subsystem: 'kasmina',
    behaviour: seedBehaviour(options),
  };
}

/** The reply of every seed query. */
export type SeedReply = SeedState;
