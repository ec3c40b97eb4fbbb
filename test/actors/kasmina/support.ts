// Shared fixtures of the Kasmina tests: slot interfaces, kernels, commands, a seeded PRNG.
import type { AdaptationCommand, SeedOperation, SlotInterface } from '../../../src/contracts/index.ts';
import type { KernelCandidate, SeedEvent, SeedLifecycleState, SeedObservation } from '../../../src/actors/kasmina/index.ts';
import { DEFAULT_GATE_CONFIG, initialSeedState, transition, type GateConfig } from '../../../src/actors/kasmina/index.ts';

export const IFACE: SlotInterface = { kind: 'dense', inputShape: [64], outputShape: [64], dtype: 'float32' };
export const OTHER_IFACE: SlotInterface = { kind: 'dense', inputShape: [32], outputShape: [32], dtype: 'float32' };

export function kernel(overrides: Partial<KernelCandidate> = {}): KernelCandidate {
  return { kernelId: 'k-1', blueprintId: 'bp-lowrank', status: 'VALIDATED', interface: IFACE, paramCount: 512, ...overrides };
}

export function freshSeed(): SeedLifecycleState {
  return initialSeedState({ runId: 'run-1', seedId: 'seed-a', slotId: 'a' });
}

let commandSeq = 0;
export const nextCommandId = (): string => `cmd-${++commandSeq}`;

/** A lifecycle germinate event for a matching, validated kernel. */
export function germinateEvent(overrides: Partial<Extract<SeedEvent, { type: 'germinate' }>> = {}): SeedEvent {
  return { type: 'germinate', commandId: nextCommandId(), kernel: kernel(), slotInterface: IFACE, requested: { blueprintId: 'bp-lowrank' }, ...overrides };
}

export const HEALTHY: SeedObservation = {
  kernelLoaded: true,
  paramsFinite: true,
  gradsFinite: true,
  gradNorm: 1.5,
  gradRatio: 0.3,
  improvementPp: 0.8,
  contributionPp: 1.2,
};

/** Applies events in order, failing the test on the first rejection. */
export function run(state: SeedLifecycleState, events: readonly SeedEvent[], gates: GateConfig = DEFAULT_GATE_CONFIG): SeedLifecycleState {
  let current = state;
  for (const event of events) {
    const result = transition(current, event, gates);
    if (!result.ok) throw new Error(`${event.type} rejected: ${result.error.code} ${result.error.message}`);
    current = result.state;
  }
  return current;
}

/** `n` consecutive epochEnded events starting after `state.epoch`. */
export function epochs(state: SeedLifecycleState, n: number, telemetry: SeedObservation = HEALTHY): SeedEvent[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'epochEnded' as const, epoch: state.epoch + i + 1, telemetry }));
}

/** Runs `n` epochs from `state`. */
export function tick(state: SeedLifecycleState, n: number, telemetry: SeedObservation = HEALTHY, gates: GateConfig = DEFAULT_GATE_CONFIG): SeedLifecycleState {
  return run(state, epochs(state, n, telemetry), gates);
}

/** A SEED AdaptationCommand for seed `seedId`. */
export function seedCommand(seedId: string, seedOperation: SeedOperation, overrides: Partial<AdaptationCommand> = {}): AdaptationCommand {
  return {
    commandId: nextCommandId(),
    type: 'SEED',
    targetSeedId: seedId,
    deadlineMs: 60_000,
    annotations: {},
    seedOperation,
    causationPacketId: 'pkt-1',
    issuedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** mulberry32: a tiny seeded PRNG, [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
