// Shared fixtures of the Tamiyo tests: packets, seeds, kernels and a scripted run.
import type { SeedState, SystemStatePacket } from '../../../src/contracts/index.ts';
import type { KernelChoice, PolicyContext, PolicyDecision, PolicyMemory } from '../../../src/actors/tamiyo/index.ts';
import { decideHeuristic, initialPolicyMemory, type HeuristicConfig } from '../../../src/actors/tamiyo/index.ts';
import { DEFAULT_HEURISTIC_CONFIG } from '../../../src/actors/tamiyo/index.ts';

export const IFACE = 'dense:64->64:float32';
export const OTHER_IFACE = 'dense:32->32:float32';

/** A seed in slot `slotId` (seed id `seed-<slotId>`), DORMANT unless overridden. */
export function seed(slotId: string, overrides: Partial<SeedState> = {}): SeedState {
  return { seedId: `seed-${slotId}`, slotId, stage: 'DORMANT', epochsInStage: 0, alpha: 0, ...overrides };
}

/** A live seed of blueprint bp-best / kernel k-best. */
export function live(slotId: string, overrides: Partial<SeedState> = {}): SeedState {
  return seed(slotId, { blueprintId: 'bp-best', kernelId: 'k-best', paramCount: 500, ...overrides });
}

export interface PacketInput {
  epoch: number;
  acc?: number;
  trainLoss?: number;
  validationLoss?: number;
  seeds?: SeedState[];
  metrics?: Record<string, number>;
  packetId?: string;
}

/** A packet of run-1 at `epoch` (id `pkt-<epoch>` unless given). */
export function packet(input: PacketInput): SystemStatePacket {
  const { epoch } = input;
  return {
    v: 1,
    packetId: input.packetId ?? `pkt-${epoch}`,
    runId: 'run-1',
    epoch,
    globalStep: epoch * 100,
    validationAccuracy: input.acc ?? 0.7,
    validationLoss: input.validationLoss ?? 0.9,
    trainingLoss: input.trainLoss ?? 1 - epoch * 0.005,
    metrics: input.metrics ?? {},
    hardware: { backend: 'cpu' },
    seeds: input.seeds ?? [seed('a'), seed('b')],
    ts: new Date(Date.UTC(2025, 0, 1, 0, epoch)).toISOString(),
  };
}

export function kernel(kernelId: string, overrides: Partial<KernelChoice> = {}): KernelChoice {
  return { kernelId, blueprintId: `bp-${kernelId.replace(/^k-/, '')}`, interfaceKey: IFACE, riskScore: 0.2, paramCount: 500, ...overrides };
}

/** risky: high risk; big: 90% of the budget; best: the winner; cheap: the winner unless penalised. */
export const KERNELS: KernelChoice[] = [
  kernel('k-risky', { riskScore: 0.9, paramCount: 100 }),
  kernel('k-big', { riskScore: 0.1, paramCount: 9_000 }),
  kernel('k-best', { riskScore: 0.2, paramCount: 500 }),
  kernel('k-cheap', { riskScore: 0.05, paramCount: 10 }),
];

export function context(overrides: Partial<PolicyContext> = {}): PolicyContext {
  return { availableKernels: KERNELS, budget: { maxSeeds: 4, maxParamsAdded: 10_000, paramsAdded: 0 }, ...overrides };
}

/**
 * Validation accuracy of the scripted host: a fast climb, a last +1 pp at
 * epoch 3, then +0.1 pp per epoch (a plateau). Training loss falls 0.5% per
 * epoch (stable from epoch 1, so "stabilised" latches at epoch 3).
 */
export function scriptedAcc(epoch: number): number {
  const climb = [0.5, 0.6, 0.7, 0.71];
  return climb[epoch] ?? 0.71 + (epoch - 3) * 0.001;
}

/** Packets of the scripted host with every slot DORMANT, epochs `from..to` inclusive. */
export function plateauPackets(from: number, to: number, seeds?: SeedState[]): SystemStatePacket[] {
  const out: SystemStatePacket[] = [];
  for (let epoch = from; epoch <= to; epoch++) out.push(packet({ epoch, acc: scriptedAcc(epoch), ...(seeds === undefined ? {} : { seeds }) }));
  return out;
}

/** A kernel-free run through `packets`, returning every decision and the final memory. */
export function runPackets(
  packets: readonly SystemStatePacket[],
  ctx: PolicyContext = context(),
  config: HeuristicConfig = DEFAULT_HEURISTIC_CONFIG,
  start: PolicyMemory = initialPolicyMemory(),
): { decisions: PolicyDecision<PolicyMemory>[]; memory: PolicyMemory } {
  let memory = start;
  const decisions: PolicyDecision<PolicyMemory>[] = [];
  for (const p of packets) {
    const decision = decideHeuristic(p, memory, ctx, config);
    decisions.push(decision);
    memory = decision.memory;
  }
  return { decisions, memory };
}
