/**
 * What the MLP and CNN hosts share: a stack of layers with seed slots, and
 * the parameter groups a train step updates (one for the host, one per
 * trainable seed, so host updates never depend on a seed's parameters).
 * Two kinds of slot: depth slots after a hidden layer's activation (a
 * shape-preserving seed) and width slots on a hidden layer (new units of
 * that layer, merged into it when fossilised, so the host's topology, and
 * its `config`, change). The implementation is `SlottedHost`.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ResidentFusion } from '../resident-fusion.ts';
import type { Rng } from '../rng.ts';
import type { SeedSlot, SeedSlotOptions } from '../seed-slot.ts';
import type { WidthSlot, WidthSlotOptions } from '../width/width-slot.ts';
import type { ShrinkPerturb } from './shrink-perturb.ts';

/** Where a slot goes: after (depth) or on (width) hidden layer `afterLayer` (1-based). */
export interface SlotSpec {
  id: string;
  /** 1 = the first hidden layer: a depth slot sits after its activation (and for CNNs its pooling), a width slot adds units to it. */
  afterLayer: number;
  /** `depth` (default): a shape-preserving seed after the layer. `width`: new units (channels) of the layer, read from its input and fed into the next layer. */
  kind?: 'depth' | 'width';
  /** Depth slots use `detachInBlending` and `trainFossil`; width slots `detachInBlending` and `trainingForward` (a merged width seed is host and always trains). */
  options?: SeedSlotOptions & Pick<WidthSlotOptions, 'trainingForward'>;
}

/** Either kind of slot; both have the same modes and lifecycle methods (attach takes their own kind of seed). */
export type HostSlot = SeedSlot | WidthSlot;

/** What a probe of a width slot's layer returns (see {@link HostModel.probeLayer}). */
export interface LayerProbe {
  logits: tf.Tensor2D;
  /** Layer L's input, flattened when layer L is a dense layer after conv blocks. */
  input: tf.Tensor;
  /** Layer L+1's pre-activation (before `delta` is added). */
  next: tf.Tensor;
}

/** A set of variables one optimizer state covers. */
export interface ParamGroup {
  /** `host`, or `seed:<slotId>` (see {@link seedGroupId}). */
  id: string;
  params: readonly tf.Variable[];
  /**
   * Parameters (by index into `params`) a train step leaves alone: they get
   * no update and their optimizer state does not move (a width seed's
   * incoming weights in TRAINING). @default none
   */
  frozen?: readonly number[];
}

/** Id of the host's parameter group. */
export const HOST_GROUP_ID = 'host';

/** Id of the parameter group of the seed in slot `slotId`. */
export function seedGroupId(slotId: string): string {
  return `seed:${slotId}`;
}

/** JSON description of a host's architecture (what built it). */
export type HostConfig = Readonly<Record<string, unknown>>;

/** A host network with seed slots: what training, evaluation and checkpoints work on. */
export interface HostModel {
  /** `mlp` or `cnn`. */
  readonly kind: string;
  /** The current architecture (widths grow when a width seed is merged). */
  readonly config: HostConfig;
  /** Input shape without the batch dimension. */
  readonly inputShape: readonly number[];
  /** Number of output classes (logits width). */
  readonly classes: number;
  /** The host's own variables, in a fixed order (kernel and bias per layer); replaced by a merge or a resize. */
  readonly hostParams: readonly tf.Variable[];
  /** Depth slots in declaration order. */
  readonly slots: readonly SeedSlot[];
  /** Width slots in declaration order. */
  readonly widthSlots: readonly WidthSlot[];
  /** Every slot, both kinds, in declaration order. */
  readonly allSlots: readonly HostSlot[];
  /** The depth slot with this id; throws `ESPER_NOT_FOUND`. */
  slot(id: string): SeedSlot;
  /** The width slot with this id; throws `ESPER_NOT_FOUND`. */
  widthSlot(id: string): WidthSlot;
  /** The slot of either kind with this id; throws `ESPER_NOT_FOUND`. */
  anySlot(id: string): HostSlot;
  /** Logits [batch, classes] for x [batch, ...inputShape]; call inside `tf.tidy`. */
  forward(x: tf.Tensor): tf.Tensor2D;
  /**
   * The forward pass, also returning hidden layer `layer`'s input and layer
   * `layer` + 1's pre-activation, with `delta` (shaped like it) added there:
   * what width-seed initialisation differentiates. Call inside `tf.tidy`.
   */
  probeLayer(x: tf.Tensor, layer: number, delta?: tf.Tensor): LayerProbe;
  /**
   * Each hidden layer's output for x (after its ReLU, and for a conv block its
   * pooling; before the depth slots after it; a live width seed's units are
   * not included): [batch, units] or [batch, h, w, channels], layer 1 first.
   * What the per-layer signals measure. Call inside `tf.tidy`.
   */
  hiddenActivations(x: tf.Tensor): tf.Tensor[];
  /** The host parameter shapes `config` would have, or undefined when it is not this host with other widths. */
  hostParamShapes(config: HostConfig): number[][] | undefined;
  /**
   * Resizes the host to `config` (same host, other widths): variables whose
   * shape changes are replaced by zero ones (a checkpoint restore then fills
   * them), slots whose interface changes are emptied (depth slots get the new
   * shape). Throws `ESPER_CHECKPOINT_MISMATCH` for a config of another host.
   */
  adoptConfig(config: HostConfig): void;
  /**
   * Groups updated by a train step now: the host, then each slot (either
   * kind, declaration order) whose seed is trainable — while seeds are
   * resident, the host group holds the wide variables and their groups are
   * not listed.
   */
  paramGroups(): ParamGroup[];
  /**
   * Makes every blending width seed that can be resident in its host layers
   * (see `resident-fusion.ts`), for a run of training steps; undefined when
   * none can. Until {@link unfuseResidentSeeds}, only the forward pass, the
   * parameter groups and training may be used.
   */
  fuseResidentSeeds(): ResidentFusion | undefined;
  /** Writes the resident seeds' and the host's values back into their own variables and leaves the resident form (a no-op outside it). */
  unfuseResidentSeeds(): void;
  /**
   * Revives hidden layers whose units are all dead (1-based, consecutive,
   * dense; see `layer-revival.ts`): new incoming weights from `rng`, zero
   * biases, a zero kernel where the next layer reads them. Only while no seed
   * is live (`ESPER_CONFLICT`). Returns the units revived.
   */
  reviveLayers(layers: readonly number[], rng: Rng): number;
  /**
   * Shrinks and perturbs the host and its live width seeds
   * (`shrink-perturb.ts`): predictions unchanged but for the noise drawn from
   * `rng`. Returns why it did not (a depth seed in the host), else undefined.
   */
  shrinkAndPerturb(options: ShrinkPerturb, rng: Rng): string | undefined;
  /** Disposes host variables and every seed. */
  dispose(): void;
}
