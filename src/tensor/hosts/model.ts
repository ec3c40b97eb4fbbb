/**
 * What the MLP and CNN hosts share: a stack of layers with seed slots after
 * chosen hidden layers, and the parameter groups a train step updates (one
 * for the host, one per trainable seed, so host updates never depend on a
 * seed's parameters).
 */
import type * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { SeedSlot, type SeedSlotOptions } from '../seed-slot.ts';

/** Where a slot goes: after hidden layer `afterLayer` (1-based; its activation is the slot's interface). */
export interface SlotSpec {
  id: string;
  /** 1 = after the first hidden layer (after its activation, and for CNNs its pooling). */
  afterLayer: number;
  options?: SeedSlotOptions;
}

/** A set of variables one optimizer state covers. */
export interface ParamGroup {
  /** `host`, or `seed:<slotId>` (see {@link seedGroupId}). */
  id: string;
  params: readonly tf.Variable[];
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
  readonly config: HostConfig;
  /** Input shape without the batch dimension. */
  readonly inputShape: readonly number[];
  /** Number of output classes (logits width). */
  readonly classes: number;
  /** The host's own variables, in a fixed order. */
  readonly hostParams: readonly tf.Variable[];
  /** Slots in declaration order. */
  readonly slots: readonly SeedSlot[];
  /** The slot with this id; throws `ESPER_NOT_FOUND`. */
  slot(id: string): SeedSlot;
  /** Logits [batch, classes] for x [batch, ...inputShape]; call inside `tf.tidy`. */
  forward(x: tf.Tensor): tf.Tensor2D;
  /** Groups updated by a train step now: the host, then each slot whose seed is trainable. */
  paramGroups(): ParamGroup[];
  /** Disposes host variables and every seed. */
  dispose(): void;
}

/** One host layer: its function and its output shape (without batch). */
export interface HostLayer {
  apply(x: tf.Tensor): tf.Tensor;
  readonly outShape: readonly number[];
}

/**
 * A stack of layers (the last produces logits) with slots after hidden
 * layers. Subclasses (the MLP and CNN builders) only create the layers.
 */
export class SlottedHost implements HostModel {
  readonly kind: string;
  readonly config: HostConfig;
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly hostParams: readonly tf.Variable[];
  readonly slots: readonly SeedSlot[];
  readonly #layers: readonly HostLayer[];
  /** Slots after each layer, indexed by layer (0-based). */
  readonly #slotsAfter: readonly (readonly SeedSlot[])[];

  constructor(kind: string, config: HostConfig, inputShape: readonly number[], hostParams: readonly tf.Variable[], layers: readonly HostLayer[], slotSpecs: readonly SlotSpec[]) {
    this.kind = kind;
    this.config = config;
    this.inputShape = Object.freeze([...inputShape]);
    this.hostParams = Object.freeze([...hostParams]);
    this.#layers = layers;
    const last = layers[layers.length - 1];
    if (last === undefined || last.outShape.length !== 1) throw new EsperError('ESPER_CONFIG_INVALID', `${kind} host: the last layer must produce [batch, classes]`);
    this.classes = last.outShape[0] ?? 0;
    const hidden = layers.length - 1;
    const slotsAfter: SeedSlot[][] = layers.map(() => []);
    const seen = new Set<string>();
    for (const spec of slotSpecs) {
      if (seen.has(spec.id)) throw new EsperError('ESPER_CONFIG_INVALID', `${kind} host: slot id ${JSON.stringify(spec.id)} is used twice`, { details: { slotId: spec.id } });
      if (!Number.isInteger(spec.afterLayer) || spec.afterLayer < 1 || spec.afterLayer > hidden) {
        throw new EsperError('ESPER_CONFIG_INVALID', `${kind} host: slot ${spec.id} afterLayer ${spec.afterLayer} is not a hidden layer (1..${hidden})`, {
          details: { slotId: spec.id, afterLayer: spec.afterLayer, hiddenLayers: hidden },
        });
      }
      seen.add(spec.id);
      const layer = layers[spec.afterLayer - 1] as HostLayer;
      slotsAfter[spec.afterLayer - 1]?.push(new SeedSlot(spec.id, layer.outShape, spec.options));
    }
    this.#slotsAfter = slotsAfter;
    // Declaration order, so checkpoints and groups list slots the way the config does.
    const byId = new Map(slotsAfter.flat().map((s) => [s.id, s]));
    this.slots = Object.freeze(slotSpecs.map((s) => byId.get(s.id) as SeedSlot));
  }

  slot(id: string): SeedSlot {
    const found = this.slots.find((s) => s.id === id);
    if (found === undefined) throw new EsperError('ESPER_NOT_FOUND', `${this.kind} host has no slot ${JSON.stringify(id)}`, { details: { slotId: id } });
    return found;
  }

  forward(x: tf.Tensor): tf.Tensor2D {
    const shape = x.shape.slice(1);
    if (shape.length !== this.inputShape.length || shape.some((d, i) => d !== this.inputShape[i])) {
      throw new RangeError(`Error in ${this.kind} host forward: x ${JSON.stringify(x.shape)} is not [batch, ${this.inputShape.join(', ')}]`);
    }
    let h = x;
    this.#layers.forEach((layer, i) => {
      h = layer.apply(h);
      for (const slot of this.#slotsAfter[i] ?? []) h = slot.apply(h);
    });
    return h as tf.Tensor2D;
  }

  paramGroups(): ParamGroup[] {
    const groups: ParamGroup[] = [{ id: HOST_GROUP_ID, params: this.hostParams }];
    for (const slot of this.slots) {
      if (slot.trainable && slot.seed !== undefined) groups.push({ id: seedGroupId(slot.id), params: slot.seed.params });
    }
    return groups;
  }

  dispose(): void {
    for (const slot of this.slots) slot.dispose();
    for (const p of this.hostParams) p.dispose();
  }
}
