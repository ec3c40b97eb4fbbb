/**
 * The seed lifecycle (DESIGN §2, digest §2C): one pure state machine.
 *
 * ```
 * DORMANT → GERMINATED → TRAINING → BLENDING ⇄ HOLDING → FOSSILIZED   (terminal, never pruned)
 * GERMINATED | TRAINING | BLENDING | HOLDING → PRUNED → EMBARGOED → RESETTING → DORMANT
 * ```
 *
 * `transition(state, event, gates)` never throws and never mutates: it returns
 * the next state and the stage change (if any) with its cause, or a coded
 * error. Commands move a seed only if the target stage's gate passes
 * (`ESPER_GATE_FAILED`); moves the table forbids are `ESPER_INVALID_TRANSITION`.
 * Time passes only through `epochEnded`: it counts epochs in the stage, ticks
 * α along the blend curve in BLENDING, and walks a pruned slot through its
 * embargo back to DORMANT. The actor around it persists and emits.
 */
import { z } from 'zod';
import {
  BlendSpecSchema,
  BlueprintIdSchema,
  CommandIdSchema,
  KernelIdSchema,
  RunIdSchema,
  SeedIdSchema,
  SeedStageSchema,
  SlotIdSchema,
  type BlendSpec,
  type SeedStage,
  type SeedState,
  type SeedTransitioned,
  type SlotInterface,
} from '../../contracts/index.ts';
import { EsperError } from '../../errors/index.ts';
import { alphaAt } from '../../tensor/alpha-schedule.ts';
import {
  ALPHA_EPSILON,
  evaluateG0,
  evaluateG1,
  evaluateG2,
  evaluateG3,
  evaluateG5,
  type GateConfig,
  type GateResult,
  type KernelCandidate,
  type SeedMeasurements,
} from './gates.ts';

/** Every move the lifecycle allows, from → to. Anything else is rejected. */
export const ALLOWED_TRANSITIONS: Readonly<Record<SeedStage, readonly SeedStage[]>> = Object.freeze({
  DORMANT: ['GERMINATED'],
  GERMINATED: ['TRAINING', 'PRUNED'],
  TRAINING: ['BLENDING', 'PRUNED'],
  BLENDING: ['HOLDING', 'PRUNED'],
  HOLDING: ['FOSSILIZED', 'PRUNED', 'BLENDING'],
  FOSSILIZED: [],
  PRUNED: ['EMBARGOED'],
  EMBARGOED: ['RESETTING'],
  RESETTING: ['DORMANT'],
});

/** True when the lifecycle allows `from → to`. */
export function canTransition(from: SeedStage, to: SeedStage): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/** Stages in which α may be non-zero. */
export const BLENDED_STAGES = ['BLENDING', 'HOLDING', 'FOSSILIZED'] as const satisfies readonly SeedStage[];
/** Stages that have a kernel attached. */
export const KERNEL_STAGES = ['GERMINATED', 'TRAINING', 'BLENDING', 'HOLDING', 'FOSSILIZED'] as const satisfies readonly SeedStage[];

/** Accepted command ids remembered for de-duplication (a redelivered command is applied once). */
export const RECENT_COMMANDS_KEPT = 32;

const MeasurementsSchema = z
  .object({
    kernelLoaded: z.boolean().optional(),
    paramsFinite: z.boolean().optional(),
    gradsFinite: z.boolean().optional(),
    gradNorm: z.number().min(0).optional(),
    gradRatio: z.number().min(0).optional(),
    improvementPp: z.number().optional(),
    contributionPp: z.number().optional(),
    lossContributionPct: z.number().optional(),
  })
  .strict();

/** A seed's full lifecycle state, as persisted (JSON) after every change. */
export const SeedLifecycleStateSchema = z
  .object({
    runId: RunIdSchema,
    seedId: SeedIdSchema,
    slotId: SlotIdSchema,
    stage: SeedStageSchema,
    /** The latest epoch boundary (0 before the first epoch ended). */
    epoch: z.number().int().min(0),
    /** Epoch of the last `epochEnded` applied (a repeat of it is ignored). */
    lastEpochEnded: z.number().int().min(0).optional(),
    /** Whole epochs in the current stage (0 in the epoch it was entered). */
    epochsInStage: z.number().int().min(0),
    /** Blend weight α ∈ [0, 1]. */
    alpha: z.number().min(0).max(1),
    /** α the current (or last) ramp goes to. */
    alphaTarget: z.number().min(0).max(1).optional(),
    /** α the current ramp started from (0, or the held α for a retarget). */
    alphaStart: z.number().min(0).max(1),
    /** Ticks of the current ramp applied (1 on entering BLENDING: its first epoch trains at the first tick). */
    blendEpochs: z.number().int().min(0),
    blend: BlendSpecSchema.optional(),
    kernelId: KernelIdSchema.optional(),
    blueprintId: BlueprintIdSchema.optional(),
    paramCount: z.number().int().min(0).optional(),
    /** Latest measurements reported by the trainer. */
    measured: MeasurementsSchema,
    /** Why the seed was pruned (while PRUNED / EMBARGOED / RESETTING). */
    pruneReason: z.string().max(500).optional(),
    /** Accepted command ids, newest last, at most {@link RECENT_COMMANDS_KEPT}. */
    recentCommandIds: z.array(CommandIdSchema).max(RECENT_COMMANDS_KEPT),
    /** Incremented on every change; persisted state with a higher revision is newer. */
    revision: z.number().int().min(0),
  })
  .strict();
export type SeedLifecycleState = z.infer<typeof SeedLifecycleStateSchema>;

/** A fresh DORMANT seed. */
export function initialSeedState(ids: { runId: string; seedId: string; slotId: string }): SeedLifecycleState {
  return {
    runId: ids.runId,
    seedId: ids.seedId,
    slotId: ids.slotId,
    stage: 'DORMANT',
    epoch: 0,
    epochsInStage: 0,
    alpha: 0,
    alphaStart: 0,
    blendEpochs: 0,
    measured: {},
    recentCommandIds: [],
    revision: 0,
  };
}

/** Measurements as the trainer hands them over in-process: numbers may be NaN (recorded as flags, never stored). */
export type SeedObservation = SeedMeasurements;

interface CommandBase {
  /** The AdaptationCommand's id: the idempotency key and the cause of the transition. */
  commandId: string;
}

/** GERMINATE: attach a kernel to a DORMANT slot (gate G0). */
export interface GerminateEvent extends CommandBase {
  type: 'germinate';
  /** The kernel Kasmina resolved for the request; null when none was found. */
  kernel: KernelCandidate | null;
  /** The slot's interface. */
  slotInterface: SlotInterface;
  /** What the command asked for. */
  requested: { kernelId?: string; blueprintId?: string };
  /** α schedule for the coming BLENDING stage. */
  blend?: BlendSpec;
}

/**
 * ADVANCE: to the next stage — GERMINATED→TRAINING (G1), TRAINING→BLENDING
 * (G2), BLENDING→HOLDING (G3), HOLDING→FOSSILIZED (G5). From HOLDING with an
 * `alphaTarget`, it is an α retarget: back to BLENDING, ramping from the held α.
 */
export interface AdvanceEvent extends CommandBase {
  type: 'advance';
  /** α to ramp to: on entering BLENDING (default 1, must be > 0) or as a retarget from HOLDING ([0, 1]). */
  alphaTarget?: number;
  /** α schedule to use (overrides the one chosen at germination). */
  blend?: BlendSpec;
}

/** PRUNE: remove a live seed (no gate; never a FOSSILIZED one). */
export interface PruneEvent extends CommandBase {
  type: 'prune';
  reason: string;
}

/** FOSSILIZE: merge a HOLDING seed into the host for good (gate G5). */
export interface FossilizeEvent extends CommandBase {
  type: 'fossilize';
}

/** CANCEL: withdraw a seed that has not touched the host output yet (GERMINATED or TRAINING) → PRUNED. */
export interface CancelEvent extends CommandBase {
  type: 'cancel';
  reason?: string;
}

/** An epoch ended: time passes. */
export interface EpochEndedEvent {
  type: 'epochEnded';
  epoch: number;
  /** What the trainer measured over the epoch; replaces the previous measurements. */
  telemetry?: SeedObservation;
}

/**
 * The trainer attached a GERMINATED seed's kernel (at the same boundary):
 * what it checked there — the kernel loaded, its parameters finite — is
 * recorded for G1, so an ADVANCE at the same boundary can pass it instead of
 * waiting an idle epoch for the epoch's telemetry. No time passes.
 */
export interface AttachedEvent {
  type: 'attached';
  telemetry: Pick<SeedObservation, 'kernelLoaded' | 'paramsFinite'>;
}

/** A command for the seed. */
export type SeedCommandEvent = GerminateEvent | AdvanceEvent | PruneEvent | FossilizeEvent | CancelEvent;
/** Everything that can happen to a seed. */
export type SeedEvent = SeedCommandEvent | EpochEndedEvent | AttachedEvent;

/** A stage change, exactly the data of `kasmina.seed.transitioned`. */
export type StageTransition = SeedTransitioned;

/** Outcome of {@link transition}. */
export type TransitionResult =
  | {
      readonly ok: true;
      readonly state: SeedLifecycleState;
      /** The stage change, or null when the stage stayed (a tick, or a duplicate). */
      readonly transition: StageTransition | null;
      /** True when the event was already applied (a redelivered command, a repeated epoch); `state` is unchanged. */
      readonly duplicate: boolean;
    }
  | { readonly ok: false; readonly error: EsperError };

const ok = (state: SeedLifecycleState, change: StageTransition | null): TransitionResult => ({ ok: true, state, transition: change, duplicate: false });
const fail = (error: EsperError): TransitionResult => ({ ok: false, error });

function invalid(state: SeedLifecycleState, command: string, to: SeedStage | undefined, why: string): TransitionResult {
  const details: Record<string, unknown> = { seedId: state.seedId, from: state.stage, command, stage: state.stage };
  if (to !== undefined) details['to'] = to;
  return fail(new EsperError('ESPER_INVALID_TRANSITION', `seed ${state.seedId}: cannot ${command} from ${state.stage}: ${why}`, { details }));
}

function gateFailed(state: SeedLifecycleState, command: string, to: SeedStage, gate: GateResult): TransitionResult {
  return fail(
    new EsperError('ESPER_GATE_FAILED', `seed ${state.seedId}: gate ${gate.gate} (→${to}) failed: ${gate.reasons.join('; ')}`, {
      details: { seedId: state.seedId, from: state.stage, to, command, gate: gate.gate, reasons: [...gate.reasons], measured: { ...gate.measured } },
    }),
  );
}

function badParam(state: SeedLifecycleState, command: string, why: string): TransitionResult {
  return fail(new EsperError('ESPER_SCHEMA_VIOLATION', `seed ${state.seedId}: ${command}: ${why}`, { details: { seedId: state.seedId, command, issues: [why] } }));
}

function remember(ids: readonly string[], commandId: string): string[] {
  const next = [...ids, commandId];
  return next.length > RECENT_COMMANDS_KEPT ? next.slice(next.length - RECENT_COMMANDS_KEPT) : next;
}

interface Cause {
  commandId?: string;
  gate?: GateResult['gate'];
  reason: string;
}

/** Moves `state` to `to` with `patch` applied; the edge is checked against the table once more. */
function move(state: SeedLifecycleState, to: SeedStage, cause: Cause, patch: Partial<SeedLifecycleState>): TransitionResult {
  if (!canTransition(state.stage, to)) {
    // Unreachable unless this file is wrong: every caller checked the edge.
    return fail(new EsperError('ESPER_INTERNAL', `seed lifecycle bug: ${state.stage} → ${to} is not in ALLOWED_TRANSITIONS`));
  }
  const next: SeedLifecycleState = {
    ...state,
    ...patch,
    stage: to,
    epochsInStage: 0,
    revision: state.revision + 1,
    ...(cause.commandId === undefined ? {} : { recentCommandIds: remember(state.recentCommandIds, cause.commandId) }),
  };
  const change: StageTransition = {
    seedId: state.seedId,
    slotId: state.slotId,
    from: state.stage,
    to,
    epoch: state.epoch,
    cause: { ...cause, reason: cause.reason.slice(0, 500) },
    alpha: next.alpha,
  };
  if (next.kernelId !== undefined) change.kernelId = next.kernelId;
  return ok(next, change);
}

/** What a seed without a kernel looks like (DORMANT, PRUNED, EMBARGOED, RESETTING). */
function detached(state: SeedLifecycleState): SeedLifecycleState {
  const { kernelId: _k, blueprintId: _b, paramCount: _p, blend: _bl, alphaTarget: _t, ...rest } = state;
  return { ...rest, alpha: 0, alphaStart: 0, blendEpochs: 0, measured: {} };
}

function withoutPruneReason(state: SeedLifecycleState): SeedLifecycleState {
  const { pruneReason: _reason, ...rest } = state;
  return rest;
}

function germinate(state: SeedLifecycleState, event: GerminateEvent): TransitionResult {
  if (state.stage !== 'DORMANT') return invalid(state, 'germinate', 'GERMINATED', 'only a DORMANT slot can germinate');
  const gate = evaluateG0({ kernel: event.kernel, slotInterface: event.slotInterface, requested: event.requested });
  if (!gate.passed || event.kernel === null) return gateFailed(state, 'germinate', 'GERMINATED', gate);
  const { kernel } = event;
  const patch: Partial<SeedLifecycleState> = {
    kernelId: kernel.kernelId,
    blueprintId: kernel.blueprintId,
    alpha: 0,
    alphaStart: 0,
    blendEpochs: 0,
    measured: {},
  };
  if (kernel.paramCount !== undefined) patch.paramCount = kernel.paramCount;
  if (event.blend !== undefined) patch.blend = event.blend;
  return move(withoutPruneReason(state), 'GERMINATED', { commandId: event.commandId, gate: 'G0', reason: `gate G0 passed: ${gate.reasons.join(', ')}` }, patch);
}

/**
 * Where a ramp into BLENDING starts: at its first tick, so the first epoch of
 * BLENDING already trains with the seed's contribution (1/tempo of the way
 * from `start` to `target` on a linear curve). Starting at `start` itself
 * spent that epoch at α = 0 for a new seed — a width seed took no step at
 * all in it (its gradients are exactly zero there) and merged one epoch
 * later. The ramp still reaches `target` after `tempoEpochs` ticks.
 */
function firstTick(blend: BlendSpec, start: number, target: number): { alpha: number; blendEpochs: number } {
  return { alpha: alphaAt(blend.curve, blend.tempoEpochs, 1, target, start), blendEpochs: 1 };
}

function advance(state: SeedLifecycleState, event: AdvanceEvent, gates: GateConfig): TransitionResult {
  const cause = (gate: GateResult): Cause => ({ commandId: event.commandId, gate: gate.gate, reason: `gate ${gate.gate} passed: ${gate.reasons.join(', ')}` });
  switch (state.stage) {
    case 'GERMINATED': {
      const gate = evaluateG1(state.measured);
      if (!gate.passed) return gateFailed(state, 'advance', 'TRAINING', gate);
      return move(state, 'TRAINING', cause(gate), event.blend === undefined ? {} : { blend: event.blend });
    }
    case 'TRAINING': {
      const target = event.alphaTarget ?? 1;
      if (!(target > 0 && target <= 1)) return badParam(state, 'advance', `alphaTarget ${target} must be in (0, 1] to enter BLENDING`);
      const gate = evaluateG2({ epochsInTraining: state.epochsInStage, measured: state.measured }, gates);
      if (!gate.passed) return gateFailed(state, 'advance', 'BLENDING', gate);
      const blend = event.blend ?? state.blend ?? gates.defaultBlend;
      return move(state, 'BLENDING', cause(gate), { ...firstTick(blend, 0, target), alphaStart: 0, alphaTarget: target, blend });
    }
    case 'BLENDING': {
      if (event.alphaTarget !== undefined) return invalid(state, 'advance', 'HOLDING', 'α can only be retargeted from HOLDING');
      const gate = evaluateG3({ alpha: state.alpha, alphaTarget: state.alphaTarget ?? 1, epochsInBlending: state.epochsInStage }, gates);
      if (!gate.passed) return gateFailed(state, 'advance', 'HOLDING', gate);
      return move(state, 'HOLDING', cause(gate), { alpha: state.alphaTarget ?? state.alpha });
    }
    case 'HOLDING': {
      if (event.alphaTarget === undefined) return fossilize(state, { type: 'fossilize', commandId: event.commandId }, gates, 'advance');
      const target = event.alphaTarget;
      if (!(target >= 0 && target <= 1)) return badParam(state, 'advance', `alphaTarget ${target} must be in [0, 1]`);
      if (Math.abs(target - state.alpha) <= ALPHA_EPSILON) return invalid(state, 'advance', 'BLENDING', `α is already ${state.alpha}`);
      const blend = event.blend ?? state.blend ?? gates.defaultBlend;
      return move(
        state,
        'BLENDING',
        { commandId: event.commandId, reason: `α retarget ${state.alpha} → ${target}` },
        { ...firstTick(blend, state.alpha, target), alphaStart: state.alpha, alphaTarget: target, blend },
      );
    }
    case 'FOSSILIZED':
      return invalid(state, 'advance', undefined, 'FOSSILIZED is terminal');
    default:
      return invalid(state, 'advance', undefined, 'no kernel attached (germinate first)');
  }
}

function fossilize(state: SeedLifecycleState, event: FossilizeEvent, gates: GateConfig, command = 'fossilize'): TransitionResult {
  if (state.stage !== 'HOLDING') return invalid(state, command, 'FOSSILIZED', 'only a HOLDING seed can fossilize');
  const gate = evaluateG5({ alpha: state.alpha, measured: state.measured }, gates);
  if (!gate.passed) return gateFailed(state, command, 'FOSSILIZED', gate);
  return move(
    state,
    'FOSSILIZED',
    { commandId: event.commandId, gate: 'G5', reason: `gate G5 passed: ${gate.reasons.join(', ')}` },
    { alpha: 1, alphaTarget: 1, alphaStart: 1 },
  );
}

function prune(state: SeedLifecycleState, commandId: string, command: 'prune' | 'cancel', reason: string, from: readonly SeedStage[]): TransitionResult {
  if (state.stage === 'FOSSILIZED') return invalid(state, command, 'PRUNED', 'a FOSSILIZED seed is part of the host and is never pruned');
  if (!from.includes(state.stage)) return invalid(state, command, 'PRUNED', `only a ${from.join(' | ')} seed can be ${command === 'prune' ? 'pruned' : 'cancelled'}`);
  return move(detached(state), 'PRUNED', { commandId, reason: `${command}: ${reason}` }, { pruneReason: reason.slice(0, 500) });
}

/** Records what the trainer measured; non-finite numbers become flags and are never stored. */
function absorb(observation: SeedObservation): SeedMeasurements {
  const out: SeedMeasurements = {};
  if (observation.kernelLoaded !== undefined) out.kernelLoaded = observation.kernelLoaded;
  if (observation.paramsFinite !== undefined) out.paramsFinite = observation.paramsFinite;
  if (observation.gradsFinite !== undefined) out.gradsFinite = observation.gradsFinite;
  for (const key of ['gradNorm', 'gradRatio'] as const) {
    const value = observation[key];
    if (value === undefined) continue;
    if (Number.isFinite(value) && value >= 0) out[key] = value;
    else out.gradsFinite = false;
  }
  for (const key of ['improvementPp', 'contributionPp', 'lossContributionPct'] as const) {
    const value = observation[key];
    if (value !== undefined && Number.isFinite(value)) out[key] = value;
  }
  return out;
}

function attached(state: SeedLifecycleState, event: AttachedEvent): TransitionResult {
  if (state.stage !== 'GERMINATED') return invalid(state, 'attached', undefined, 'only a GERMINATED seed is attached');
  const measured = { ...state.measured, ...absorb(event.telemetry) };
  return ok({ ...state, measured, revision: state.revision + 1 }, null);
}

function epochEnded(state: SeedLifecycleState, event: EpochEndedEvent, gates: GateConfig): TransitionResult {
  if (!Number.isInteger(event.epoch) || event.epoch < 0) return badParam(state, 'epochEnded', `epoch ${event.epoch} must be an integer ≥ 0`);
  if (state.lastEpochEnded === event.epoch) return { ok: true, state, transition: null, duplicate: true };
  // A pruned or dormant slot has no seed to measure; anything reported for it is dropped.
  const measured = event.telemetry === undefined || !KERNEL_STAGES.some((s) => s === state.stage) ? state.measured : absorb(event.telemetry);
  const ticked: SeedLifecycleState = {
    ...state,
    epoch: event.epoch,
    lastEpochEnded: event.epoch,
    epochsInStage: state.epochsInStage + 1,
    measured,
    revision: state.revision + 1,
  };
  switch (state.stage) {
    case 'BLENDING': {
      const blend = state.blend ?? gates.defaultBlend;
      const blendEpochs = state.blendEpochs + 1;
      const alpha = alphaAt(blend.curve, blend.tempoEpochs, blendEpochs, state.alphaTarget ?? 1, state.alphaStart);
      return ok({ ...ticked, blendEpochs, alpha }, null);
    }
    case 'PRUNED':
      // The trainer removed the seed during the epoch; the slot now waits out its embargo.
      return move({ ...ticked, revision: state.revision }, 'EMBARGOED', { reason: `pruned seed removed; embargo ${gates.embargoEpochs} epochs` }, {});
    case 'EMBARGOED':
      if (ticked.epochsInStage < gates.embargoEpochs) return ok(ticked, null);
      return move({ ...ticked, revision: state.revision }, 'RESETTING', { reason: `embargo elapsed (${gates.embargoEpochs} epochs)` }, {});
    case 'RESETTING':
      if (ticked.epochsInStage < gates.resettingEpochs) return ok(ticked, null);
      return move(withoutPruneReason({ ...ticked, revision: state.revision }), 'DORMANT', {
        reason: `slot reset (${gates.resettingEpochs} epoch${gates.resettingEpochs === 1 ? '' : 's'})`,
      }, {});
    default:
      return ok(ticked, null);
  }
}

/**
 * The lifecycle's one transition function: pure, total, never throws.
 *
 * - A command whose id was already accepted is a duplicate: `ok`, state unchanged.
 * - A command moves the seed only along {@link ALLOWED_TRANSITIONS} and only if
 *   the target stage's gate passes; otherwise `ESPER_INVALID_TRANSITION`
 *   (details: from, to, command, stage) or `ESPER_GATE_FAILED` (details: gate,
 *   reasons, measured).
 * - `epochEnded` counts the epoch, ticks α in BLENDING and advances the
 *   PRUNED → EMBARGOED → RESETTING → DORMANT countdown automatically.
 * - `attached` records the trainer's check of a GERMINATED seed's kernel
 *   (loaded, parameters finite) without moving it or counting an epoch.
 */
export function transition(state: SeedLifecycleState, event: SeedEvent, gates: GateConfig): TransitionResult {
  if (event.type === 'epochEnded') return epochEnded(state, event, gates);
  if (event.type === 'attached') return attached(state, event);
  if (state.recentCommandIds.includes(event.commandId)) return { ok: true, state, transition: null, duplicate: true };
  switch (event.type) {
    case 'germinate':
      return germinate(state, event);
    case 'advance':
      return advance(state, event, gates);
    case 'fossilize':
      return fossilize(state, event, gates);
    case 'prune':
      return prune(state, event.commandId, 'prune', event.reason, ['GERMINATED', 'TRAINING', 'BLENDING', 'HOLDING']);
    case 'cancel':
      return prune(state, event.commandId, 'cancel', event.reason ?? 'cancelled before blending', ['GERMINATED', 'TRAINING']);
  }
}

/** The seed as the contracts describe it (SystemStatePacket, replies): what the trainer applies. */
export function toSeedState(state: SeedLifecycleState): SeedState {
  const out: SeedState = {
    seedId: state.seedId,
    slotId: state.slotId,
    stage: state.stage,
    epochsInStage: state.epochsInStage,
    alpha: state.alpha,
  };
  if (state.alphaTarget !== undefined) out.alphaTarget = state.alphaTarget;
  if (state.blend !== undefined) out.blend = state.blend;
  if (state.blueprintId !== undefined) out.blueprintId = state.blueprintId;
  if (state.kernelId !== undefined) out.kernelId = state.kernelId;
  if (state.paramCount !== undefined) out.paramCount = state.paramCount;
  const m = state.measured;
  if (m.gradNorm !== undefined) out.gradNorm = m.gradNorm;
  if (m.gradRatio !== undefined) out.gradRatio = m.gradRatio;
  if (m.improvementPp !== undefined) out.improvementPp = m.improvementPp;
  if (m.contributionPp !== undefined) out.contributionPp = m.contributionPp;
  if (m.lossContributionPct !== undefined) out.lossContributionPct = m.lossContributionPct;
  return out;
}
