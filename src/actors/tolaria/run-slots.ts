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
 *
 * CNN hosts (Fashion-MNIST images, `[28, 28, 1]`): `afterLayer` L ≤ the
 * number of conv blocks B is block L. Its depth slot is `conv2d [h_L, w_L,
 * c_L]` (the block's output after its 2×2 max-pool, each block halving the
 * spatial size, floor, as the tensor host does); its width slots add
 * channels to the block, reading the block's input `[h_{L−1}, w_{L−1},
 * c_{L−1}]` (see `convWidthInterface` in Karn's catalog for the output, and
 * {@link RunSlot.conv}). L = B + j is hidden dense layer j, with MLP-like
 * dense slots (the first one reads the flattened `h_B·w_B·c_B` features).
 */
import type { SlotInterface } from '../../contracts/common.ts';
import type { RunSpec } from '../../contracts/run.ts';
import type { HostSpec, TrainingSpecInput } from '../../contracts/training-spec.ts';
import { ConfigError } from '../../errors/index.ts';
import { convWidthInterface, shapePreservingInterface, type ConvWidthGeometry } from '../karn/index.ts';

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
  /** The layer's width (a conv block's channels) at the run's start (what width kernels scale k by). */
  readonly baseWidth: number;
  /** Width slots on a conv block: its kernel size and what reads its new channels (what the width kernels are built for). */
  readonly conv?: ConvWidthGeometry | undefined;
  /** Whether a FOSSILIZED depth seed keeps training. */
  readonly trainFossil?: boolean | undefined;
  readonly detachInBlending?: boolean | undefined;
  /** How a width seed learns in TRAINING (width slots only). */
  readonly trainingForward?: 'live' | 'straight-through' | undefined;
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

/** Spatial size and channels of the images a CNN host reads (Fashion-MNIST: 28 × 28, one channel). */
export const CNN_IMAGE_SHAPE: readonly [number, number, number] = Object.freeze([28, 28, 1] as const);

/** What the slots of one hidden layer are: its width at the start, the depth interface, and the width slots' interface (or why there are none). */
export interface HiddenLayerSlots {
  readonly width: number;
  readonly depth: SlotInterface;
  readonly widthSlot: { readonly interface: SlotInterface; readonly conv?: ConvWidthGeometry } | { readonly issue: string };
}

/** The hidden layers of an MLP host, in order (layer L, as `afterLayer`, at index L − 1). */
function mlpLayers(spec: RunSpec, hidden: readonly number[]): HiddenLayerSlots[] {
  const { inputs, classes } = datasetDims(spec);
  const widths = [inputs, ...hidden, classes];
  return hidden.map((width, i) => ({ width, depth: dense(width, width), widthSlot: { interface: dense(widths[i] as number, widths[i + 2] as number) } }));
}

/**
 * The hidden layers of a CNN host on {@link CNN_IMAGE_SHAPE} images: conv
 * blocks (each conv 'same' → relu → 2×2 max-pool, floor), then the hidden
 * dense layers, in order (layer L at index L − 1); computed as the tensor
 * host computes its shapes.
 */
export function cnnLayers(host: Extract<HostSpec, { kind: 'cnn' }>, classes: number, image: readonly [number, number, number] = CNN_IMAGE_SHAPE): HiddenLayerSlots[] {
  const blocks = host.convs.map((b) => ({ filters: b.filters, kernelSize: b.kernelSize ?? 3 }));
  // Each block's input [h, w, c]; the last entry (the last block's output) is what the first dense layer flattens.
  const shapes: [number, number, number][] = [[image[0], image[1], image[2]]];
  for (const b of blocks) {
    const [h, w] = shapes[shapes.length - 1] as [number, number, number];
    if (h < 2 || w < 2) throw new ConfigError('invalid slot', [`training.host.convs: ${blocks.length} conv blocks pool ${JSON.stringify(image)} down to nothing`]);
    shapes.push([Math.floor(h / 2), Math.floor(w / 2), b.filters]);
  }
  const out: HiddenLayerSlots[] = blocks.map((b, i) => {
    const output = shapes[i + 1] as [number, number, number];
    const next = blocks[i + 1];
    const conv: ConvWidthGeometry =
      next === undefined ? { kernelSize: b.kernelSize, next: { kind: 'flatten', height: output[0], width: output[1] } } : { kernelSize: b.kernelSize, next: { kind: 'conv', kernelSize: next.kernelSize } };
    let widthSlot: HiddenLayerSlots['widthSlot'];
    try {
      widthSlot = { interface: convWidthInterface(shapes[i] as [number, number, number], next?.filters ?? host.dense[0] ?? classes, conv), conv };
    } catch (error) {
      widthSlot = { issue: `conv block ${i + 1} cannot take width seeds: ${(error as Error).message.replace(/^Error in convWidthInterface: /, '')}` };
    }
    return { width: b.filters, depth: shapePreservingInterface(output), widthSlot };
  });
  const [fh, fw, fc] = shapes[shapes.length - 1] as [number, number, number];
  const widths = [fh * fw * fc, ...host.dense, classes];
  host.dense.forEach((width, j) => out.push({ width, depth: dense(width, width), widthSlot: { interface: dense(widths[j] as number, widths[j + 2] as number) } }));
  return out;
}

/** A CNN host reads images: Fashion-MNIST in the `image` layout. */
function cnnDatasetIssue(spec: RunSpec): string | undefined {
  const d = spec.training.dataset;
  return d.kind === 'fashion-mnist' && d.layout === 'image' ? undefined : `training.dataset: a cnn host grows seeds on images: fashion-mnist with layout 'image' (got ${d.kind}${d.kind === 'fashion-mnist' ? `, layout '${d.layout}'` : ''})`;
}

/** The run's slots, in declaration order (width generations after their site's depth slot). */
export function runSlots(spec: RunSpec): RunSlot[] {
  const host = spec.training.host;
  const issues: string[] = [];
  const out: RunSlot[] = [];
  if (host.kind === 'cnn' && spec.training.slots.length > 0) {
    const issue = cnnDatasetIssue(spec);
    if (issue !== undefined) throw new ConfigError('invalid slot', [issue]);
  }
  const layers = host.kind === 'mlp' ? mlpLayers(spec, host.hidden) : cnnLayers(host, datasetDims(spec).classes);
  const describe = host.kind === 'mlp' ? `the ${layers.length} hidden layers` : `the ${layers.length} hidden layers (${host.convs.length} conv block${host.convs.length === 1 ? '' : 's'}, then ${host.dense.length} dense)`;
  const generations = Math.max(1, Math.min(MAX_WIDTH_GENERATIONS, spec.budgets.maxSeeds));
  const bothKinds = spec.policy.kind === 'bottleneck';
  for (const slot of spec.training.slots) {
    const layer = slot.afterLayer;
    const place = layers[layer - 1];
    if (place === undefined) {
      issues.push(`training.slots.${slot.id}.afterLayer: ${layer} exceeds ${describe}`);
      continue;
    }
    const common = { layer, baseWidth: place.width, detachInBlending: slot.detachInBlending };
    const kind = slot.kind ?? (bothKinds ? undefined : 'depth');
    if (kind === 'depth' && slot.trainingForward !== undefined) {
      issues.push(`training.slots.${slot.id}.trainingForward: an option of width slots (this slot is a depth slot${slot.kind === undefined ? ` under the ${spec.policy.kind} policy` : ''})`);
      continue;
    }
    if (kind !== 'width') out.push({ slotId: slot.id, role: 'depth', interface: place.depth, trainFossil: slot.trainFossil, ...common });
    if (kind !== 'depth') {
      const widthSlot = place.widthSlot;
      if ('issue' in widthSlot) {
        issues.push(`training.slots.${slot.id}: ${widthSlot.issue}`);
        continue;
      }
      for (let g = 1; g <= generations; g++) {
        const slotId = kind === 'width' ? (g === 1 ? slot.id : `${slot.id}-${g}`) : `${slot.id}-w${g}`;
        out.push({
          slotId,
          role: 'width',
          interface: widthSlot.interface,
          ...common,
          ...(widthSlot.conv === undefined ? {} : { conv: widthSlot.conv }),
          ...(slot.trainingForward === undefined ? {} : { trainingForward: slot.trainingForward }),
        });
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
      ...(s.trainingForward === undefined ? {} : { trainingForward: s.trainingForward }),
    })),
  };
}
