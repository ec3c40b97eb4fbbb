// Property test of the seed lifecycle: random command/epoch sequences (seeded,
// reproducible) never reach a state the machine forbids, every accepted move is
// an edge of the table, and every rejection carries a known error code.
import { expect } from 'chai';
import { SEED_GATES, SEED_STAGES, SeedTransitionedSchema, type BlendSpec, type SeedStage } from '../../../src/contracts/index.ts';
import { EsperError, isErrorCode } from '../../../src/errors/index.ts';
import {
  BLENDED_STAGES,
  DEFAULT_GATE_CONFIG,
  KERNEL_STAGES,
  STRICT_GATE_CONFIG,
  SeedLifecycleStateSchema,
  canTransition,
  parseGateConfig,
  transition,
  type GateConfig,
  type SeedEvent,
  type SeedLifecycleState,
  type SeedObservation,
} from '../../../src/actors/kasmina/index.ts';
import { IFACE, OTHER_IFACE, freshSeed, kernel, prng } from './support.ts';

const SEQUENCES = 2_000;
const STEPS = 30;
const CONFIGS: readonly GateConfig[] = [
  DEFAULT_GATE_CONFIG,
  STRICT_GATE_CONFIG,
  parseGateConfig({ g2: { minTrainingEpochs: 1 }, embargoEpochs: 1, defaultBlend: { curve: 'sigmoid', tempoEpochs: 3 } }),
];
const BLENDS: readonly BlendSpec[] = [
  { curve: 'linear', tempoEpochs: 3 },
  { curve: 'cosine', tempoEpochs: 5 },
  { curve: 'sigmoid', tempoEpochs: 8 },
];

class Gen {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = prng(seed);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  float(lo: number, hi: number): number {
    return lo + this.#next() * (hi - lo);
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)] as T;
  }
}

function telemetry(g: Gen): SeedObservation {
  const out: SeedObservation = {};
  // Mostly healthy, so seeds get far; sometimes missing, bad or NaN.
  if (g.chance(0.9)) out.kernelLoaded = g.chance(0.9);
  if (g.chance(0.9)) out.paramsFinite = g.chance(0.95);
  if (g.chance(0.5)) out.gradsFinite = g.chance(0.95);
  if (g.chance(0.9)) out.gradNorm = g.chance(0.05) ? Number.NaN : g.chance(0.05) ? 1e6 : g.float(0, 10);
  if (g.chance(0.8)) out.gradRatio = g.chance(0.03) ? Number.POSITIVE_INFINITY : g.float(0, 0.5);
  if (g.chance(0.8)) out.improvementPp = g.chance(0.03) ? Number.NaN : g.float(-1, 2);
  if (g.chance(0.7)) out.contributionPp = g.float(-0.5, 2.5);
  return out;
}

function randomEvent(g: Gen, state: SeedLifecycleState, usedIds: string[], n: number): SeedEvent {
  if (g.chance(0.45)) {
    const epoch = g.chance(0.9) ? state.epoch + 1 : g.chance(0.5) ? state.epoch : Math.max(0, state.epoch - g.int(1, 3));
    return g.chance(0.9) ? { type: 'epochEnded', epoch, telemetry: telemetry(g) } : { type: 'epochEnded', epoch };
  }
  // The trainer's check of a kernel it just attached (meaningful in GERMINATED only; refused elsewhere).
  if (g.chance(0.04)) return { type: 'attached', telemetry: { kernelLoaded: g.chance(0.9), paramsFinite: g.chance(0.95) } };
  const commandId = usedIds.length > 0 && g.chance(0.05) ? g.pick(usedIds) : `c${n}`;
  usedIds.push(commandId);
  switch (g.pick(['germinate', 'germinate', 'advance', 'advance', 'advance', 'advance', 'prune', 'fossilize', 'cancel'] as const)) {
    case 'germinate': {
      const k = g.chance(0.1)
        ? null
        : kernel({
            status: g.chance(0.85) ? 'VALIDATED' : g.pick(['REJECTED', 'PENDING_VALIDATION'] as const),
            interface: g.chance(0.9) ? IFACE : OTHER_IFACE,
          });
      const event: SeedEvent = { type: 'germinate', commandId, kernel: k, slotInterface: IFACE, requested: g.chance(0.95) ? { blueprintId: 'bp-lowrank' } : { blueprintId: 'bp-x' } };
      if (g.chance(0.5)) event.blend = g.pick(BLENDS);
      return event;
    }
    case 'advance': {
      const event: SeedEvent = { type: 'advance', commandId };
      if (g.chance(state.stage === 'HOLDING' ? 0.4 : 0.1)) event.alphaTarget = g.chance(0.1) ? g.float(-0.5, 1.5) : g.pick([0, 0.25, 0.5, 1, g.float(0, 1)]);
      if (g.chance(0.2)) event.blend = g.pick(BLENDS);
      return event;
    }
    case 'prune':
      return { type: 'prune', commandId, reason: 'random' };
    case 'fossilize':
      return { type: 'fossilize', commandId };
    case 'cancel':
      return { type: 'cancel', commandId };
  }
}

const ZERO_ALPHA_STAGES: readonly SeedStage[] = SEED_STAGES.filter((stage) => !(BLENDED_STAGES as readonly SeedStage[]).includes(stage));

/** A cheap assertion for the hot loop (chai's are too slow for 60,000 steps); the message is built only on failure. */
function check(condition: boolean, where: string, what: () => string): void {
  if (!condition) throw new Error(`${where}: ${what()}`);
}

function checkState(state: SeedLifecycleState, config: GateConfig, where: string): void {
  check(SEED_STAGES.includes(state.stage), where, () => `unknown stage ${state.stage}`);
  check(Number.isFinite(state.alpha) && state.alpha >= 0 && state.alpha <= 1, where, () => `α ${state.alpha} outside [0, 1]`);
  check(!ZERO_ALPHA_STAGES.includes(state.stage) || state.alpha === 0, where, () => `α ${state.alpha} in ${state.stage}`);
  check(state.stage !== 'FOSSILIZED' || state.alpha === 1, where, () => `FOSSILIZED with α ${state.alpha}`);
  check(state.stage !== 'HOLDING' || state.alpha === state.alphaTarget, where, () => `HOLDING α ${state.alpha} ≠ target ${state.alphaTarget}`);
  check((state.kernelId !== undefined) === (KERNEL_STAGES as readonly SeedStage[]).includes(state.stage), where, () => `kernel ${state.kernelId} in ${state.stage}`);
  check(state.stage !== 'EMBARGOED' || state.epochsInStage < config.embargoEpochs, where, () => `embargoed for ${state.epochsInStage} epochs`);
  check(state.stage !== 'RESETTING' || state.epochsInStage < config.resettingEpochs, where, () => `resetting for ${state.epochsInStage} epochs`);
  const parsed = SeedLifecycleStateSchema.safeParse(state);
  check(parsed.success, where, () => `not persistable: ${parsed.error?.message}`);
}

describe('seed lifecycle (property)', () => {
  it(`never reaches a forbidden state over ${SEQUENCES} random sequences of ${STEPS} steps`, function () {
    this.timeout(60_000);
    const edges = new Set<string>();
    const codes = new Set<string>();
    let accepted = 0;
    let rejected = 0;
    for (let seq = 0; seq < SEQUENCES; seq++) {
      const g = new Gen(0x5eed + seq);
      const config = CONFIGS[seq % CONFIGS.length] as GateConfig;
      let state = freshSeed();
      const usedIds: string[] = [];
      let fossil: SeedLifecycleState | null = null;
      for (let step = 0; step < STEPS; step++) {
        const where = `seq ${seq} step ${step}`;
        const event = randomEvent(g, state, usedIds, step);
        const before = JSON.stringify(state);
        const result = transition(state, event, config);
        check(JSON.stringify(state) === before, where, () => 'the input state was mutated');
        if (!result.ok) {
          rejected++;
          const error = result.error;
          check(error instanceof EsperError && isErrorCode(error.code), where, () => `rejection without a known code: ${String(error)}`);
          check(event.type !== 'epochEnded', where, () => `time passing was rejected: ${error.message}`);
          if (error.code === 'ESPER_GATE_FAILED') {
            const reasons = error.details?.['reasons'];
            check((SEED_GATES as readonly unknown[]).includes(error.details?.['gate']), where, () => `gate ${String(error.details?.['gate'])}`);
            check(Array.isArray(reasons) && reasons.length > 0, where, () => 'a failed gate without reasons');
          }
          codes.add(error.code);
          continue;
        }
        accepted++;
        const next = result.state;
        checkState(next, config, where);
        check(!result.duplicate || next === state, where, () => 'a duplicate changed the state');
        const change = result.transition;
        if (change === null) {
          check(next.stage === state.stage, where, () => `stage changed ${state.stage}→${next.stage} without a transition`);
          check(event.type === 'epochEnded' || event.type === 'attached' || result.duplicate, where, () => `applied ${event.type} did not move the seed`);
        } else {
          edges.add(`${change.from}>${change.to}`);
          check(change.from === state.stage && change.to === next.stage, where, () => `transition ${change.from}→${change.to} but state ${state.stage}→${next.stage}`);
          check(canTransition(change.from, change.to), where, () => `forbidden edge ${change.from}→${change.to}`);
          check(next.epochsInStage === 0, where, () => `epochsInStage ${next.epochsInStage} after a transition`);
          check(change.cause.reason !== '', where, () => 'a transition without a reason');
          const commandId = event.type === 'epochEnded' || event.type === 'attached' ? undefined : event.commandId;
          check(change.cause.commandId === commandId, where, () => `cause ${change.cause.commandId} ≠ command ${commandId}`);
          check(SeedTransitionedSchema.safeParse(change).success, where, () => 'not a valid kasmina.seed.transitioned');
        }
        if (fossil !== null) {
          check(next.stage === 'FOSSILIZED' && next.kernelId === fossil.kernelId, where, () => `left FOSSILIZED for ${next.stage}`);
        } else if (next.stage === 'FOSSILIZED') {
          fossil = next;
        }
        state = next;
      }
    }
    // The generator must exercise the whole machine, or the property proves little.
    const allEdges = SEED_STAGES.flatMap((from) => SEED_STAGES.filter((to) => canTransition(from, to)).map((to) => `${from}>${to}`));
    expect([...edges].sort()).to.deep.equal(allEdges.sort());
    expect([...codes].sort()).to.deep.equal(['ESPER_GATE_FAILED', 'ESPER_INVALID_TRANSITION', 'ESPER_SCHEMA_VIOLATION']);
    expect(accepted).to.be.above(SEQUENCES * 5);
    expect(rejected).to.be.above(SEQUENCES);
  });
});
