/**
 * Where a run may grow (DESIGN §8): the spec's slots expanded into the slots
 * the tensors and Kasmina get, each with its role and slot interface.
 *
 * - `kind: 'depth'`: one depth slot after hidden layer L (shape-preserving
 *   residual modules; interface `[n_L] → [n_L]`).
 * - `kind: 'width'`: width slots on hidden layer L, one per growth step
 *   (`<id>`, `<id>-2`, …, as many as the seed budget allows, at most
 *   {@link MAX_WIDTH_GENERATIONS}): each adds k units to layer L, merged
 *   into it when fossilized. Interface `[n_{L−1}] → [n_{L+1}]` at the run's
 *   start (a width kernel reads the layer's input and writes into the next
 *   layer's pre-activation).
 * - no `kind`: a growth site. Under the bottleneck policy, which decides
 *   between depth and width itself, it is both (a depth slot `<id>` and width
 *   slots `<id>-w1`, `<id>-w2`, …); under the heuristic policy (depth only)
 *   it is a depth slot, as it always was.
 */
import type { SlotInterface } from '../../contracts/common.ts';
import type { RunSpec } from '../../contracts/run.ts';
import type { TrainingSpecInput } from '../../contracts/training-spec.ts';
import { ConfigError } from '../../errors/index.ts';

/** What a slot grows. */
export type SlotRole = 'depth' | 'width';

/** Most width slots (growth steps) per declared slot. */
export const MAX_WIDTH_GENERATIONS = 8;

/** One slot of a run. */
export interface RunSlot {
  readonly slotId: string;
  readonly role: SlotRole;
  /** The hidden layer (1-based) it follows (depth) or widens (width). */
  readonly layer: number;
  readonly interface: SlotInterface;
  /** The layer's width at the run's start (what width kernels scale k by). */
  readonly baseWidth: number;
  /** Whether a FOSSILIZED depth seed keeps training. */
  readonly trainFossil?: boolean | undefined;
  readonly detachInBlending?: boolean | undefined;
}

/** Input features and classes of the spec's dataset, as the MLP host sees them. */
export function datasetDims(spec: RunSpec): { inputs: number; classes: number } {
  const d = spec.training.dataset;
  return d.kind === 'fashion-mnist' ? { inputs: 784, classes: 10 } : { inputs: 2, classes: 2 };
}

const dense = (inputs: number, outputs: number): SlotInterface => ({ kind: 'dense', inputShape: [inputs], outputShape: [outputs], dtype: 'float32' });

/** The key Tamiyo and Kasmina match kernels to slots by: the role, then the interface. */
export function roleInterfaceKey(role: SlotRole, key: string): string {
  return `${role}:${key}`;
}

/** The run's slots, in declaration order (width generations after their site's depth slot). */
export function runSlots(spec: RunSpec): RunSlot[] {
  const host = spec.training.host;
  const issues: string[] = [];
  const out: RunSlot[] = [];
  if (host.kind !== 'mlp') {
    if (spec.training.slots.length > 0) throw new ConfigError('esper run grows seeds in MLP hosts only for now', [`training.slots: a ${host.kind} host cannot take slots yet`]);
    return out;
  }
  const { inputs, classes } = datasetDims(spec);
  const widths = [inputs, ...host.hidden, classes];
  const generations = Math.max(1, Math.min(MAX_WIDTH_GENERATIONS, spec.budgets.maxSeeds));
  const bothKinds = spec.policy.kind === 'bottleneck';
  for (const slot of spec.training.slots) {
    const layer = slot.afterLayer;
    const width = host.hidden[layer - 1];
    if (width === undefined) {
      issues.push(`training.slots.${slot.id}.afterLayer: ${layer} exceeds the ${host.hidden.length} hidden layers`);
      continue;
    }
    const common = { layer, baseWidth: width, detachInBlending: slot.detachInBlending };
    const kind = slot.kind ?? (bothKinds ? undefined : 'depth');
    if (kind !== 'width') out.push({ slotId: slot.id, role: 'depth', interface: dense(width, width), trainFossil: slot.trainFossil, ...common });
    if (kind !== 'depth') {
      const iface = dense(widths[layer - 1] as number, widths[layer + 1] as number);
      for (let g = 1; g <= generations; g++) {
        const slotId = kind === 'width' ? (g === 1 ? slot.id : `${slot.id}-${g}`) : `${slot.id}-w${g}`;
        out.push({ slotId, role: 'width', interface: iface, ...common });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError('invalid slot', issues);
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.slotId)) issues.push(`training.slots: slot id ${s.slotId} is used twice (width generations are named <id>-2…, <id>-w1…)`);
    seen.add(s.slotId);
  }
  if (issues.length > 0) throw new ConfigError('invalid slot', issues);
  return out;
}

/** The worker's training spec: the run's, with its slots expanded (and none without growth). */
export function trainingSpecFor(spec: RunSpec, slots: readonly RunSlot[]): TrainingSpecInput {
  return {
    ...spec.training,
    slots: slots.map((s) => ({
      id: s.slotId,
      afterLayer: s.layer,
      kind: s.role,
      ...(s.trainFossil === undefined ? {} : { trainFossil: s.trainFossil }),
      ...(s.detachInBlending === undefined ? {} : { detachInBlending: s.detachInBlending }),
    })),
  };
}
