/**
 * The bottleneck policy's rule for dead layers: a chain of two or more
 * consecutive hidden layers whose units are all dead is revived (a HOST
 * REVIVE command; Tolaria draws their incoming weights afresh and zeroes
 * where the next layer reads them, so the model computes what it did).
 * Pure. One dead layer alone is left to the width rule, which widens it:
 * its new units read a live input and feed a layer that passes a gradient.
 * Two in a row block each other — the first's new units would feed a layer
 * that passes no gradient, the second's would read only zeros — and nothing
 * could grow: a Fashion-MNIST 784-2-2-10 host whose four ReLUs died in its
 * first epoch (data seed 1), a 784-6-4-2-10 (data seed 3) and a
 * 784-2-2-6-10 (data seed 4), whose layers 2 and 3 died, stayed at chance
 * for their whole runs, their resolution undefined.
 */
import type { AdaptationCommand, LayerSignals, SystemStatePacket } from '../../contracts/index.ts';
import { LIVE_SEED_STAGES } from '../../contracts/index.ts';
import { clip, deriveCommandId, type PolicyMemory } from './policy.ts';

/** Most revivals in one run: units that die again after two get no third (the run's learning rate kills them). */
export const MAX_REVIVALS = 2;

const LIVE: ReadonlySet<string> = new Set(LIVE_SEED_STAGES);

/** A layer's units that are not dead on the probe batch. */
export function liveUnits(layer: LayerSignals): number {
  return layer.width * (1 - layer.deadFraction);
}

/** True when every unit of the layer is dead on the probe batch (under half a live unit). */
export function allDead(layer: LayerSignals): boolean {
  return liveUnits(layer) < 0.5;
}

/** Every run of two or more consecutive dense hidden layers whose units are all dead (1-based layers, in order). */
export function deadChains(layers: readonly LayerSignals[]): number[][] {
  const sorted = [...layers].sort((a, b) => a.layer - b.layer);
  const chains: number[][] = [];
  let run: number[] = [];
  for (const layer of sorted) {
    const dead = layer.kind === 'dense' && allDead(layer);
    if (dead && (run.length === 0 || layer.layer === (run[run.length - 1] as number) + 1)) {
      run.push(layer.layer);
      continue;
    }
    if (run.length >= 2) chains.push(run);
    run = dead ? [layer.layer] : [];
  }
  if (run.length >= 2) chains.push(run);
  return chains;
}

/** Revivals a policy memory has issued (absent in memories written before the rule: 0). */
export function revivalsIssued(memory: PolicyMemory): number {
  return memory.revivals ?? 0;
}

/** The revival `packet` calls for — the first dead chain — or why there is none now (undefined: no dead chain). */
export function revivalFor(packet: SystemStatePacket, memory: PolicyMemory): { readonly layers: number[]; readonly why: string } | { readonly wait: string } | undefined {
  const chain = deadChains(packet.layers ?? [])[0];
  if (chain === undefined) return undefined;
  const names = chain.map((l) => `L${l}`).join('–');
  if (revivalsIssued(memory) >= MAX_REVIVALS) return { wait: `${names} dead again after ${MAX_REVIVALS} revivals: left as they are` };
  const live = packet.seeds.filter((s) => LIVE.has(s.stage)).map((s) => s.seedId);
  if (live.length > 0) return { wait: `${names} dead; revived once no seed is live (${live.join(', ')})` };
  return { layers: chain, why: `revive ${names}: every unit dead, and two dead layers in a row block any seed (the first's would feed a layer passing no gradient, the second's read only zeros)` };
}

/** The HOST REVIVE command for `layers`, answering `packet`. */
export function reviveCommand(packet: SystemStatePacket, layers: readonly number[], options: { readonly deadlineMs: number; readonly policy: string; readonly reason: string }): AdaptationCommand {
  return {
    commandId: deriveCommandId(packet.packetId, `host:${layers.join(',')}`, 'REVIVE'),
    type: 'HOST',
    deadlineMs: options.deadlineMs,
    annotations: { policy: clip(options.policy, 512), reason: clip(options.reason, 512), epoch: String(packet.epoch) },
    hostOperation: { op: 'REVIVE', layers: [...layers] },
    causationPacketId: packet.packetId,
    issuedAt: packet.ts,
  };
}
