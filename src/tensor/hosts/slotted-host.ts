/**
 * The {@link HostModel} the MLP and CNN builders make: a stack of
 * {@link LayerStructure}s whose widths can grow, with depth slots after
 * hidden layers and width slots on them. Forward, per layer i:
 * input → pre-activation z → + each width slot on layer i−1 (reading layer
 * i−1's input) → activation → each depth slot after layer i.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { canonicalJson } from '../../infra/content-hash.ts';
import { SeedSlot } from '../seed-slot.ts';
import { partialInputMatMul } from '../ops/dense-matmul.ts';
import type { FusedParam, ResidentFusion } from '../resident-fusion.ts';
import { mergeWidthSeed, padWidthSeed, widthJoins, type NeighbourGrowth } from '../width/width-merge.ts';
import { sameGeometry, type WidthGeometry, type WidthSeed } from '../width/width-seed.ts';
import { WidthSlot } from '../width/width-slot.ts';
import { zerosVariable } from './init.ts';
import { reviveLayers } from './layer-revival.ts';
import { shrinkAndPerturb, shrinkProblem, type ShrinkPerturb } from './shrink-perturb.ts';
import type { Rng } from '../rng.ts';
import { activation, kernelShape, layerFanIn, layerInput, outputShape, preActivation, type LayerParams, type LayerStructure } from './host-layers.ts';
import { HOST_GROUP_ID, seedGroupId, type HostConfig, type HostModel, type HostSlot, type LayerProbe, type ParamGroup, type SlotSpec } from './model.ts';

/** What a builder tells the host about its architecture. */
export interface HostStructure {
  /** `mlp` or `cnn`. */
  kind: string;
  inputShape: readonly number[];
  /** Every layer, the last producing the logits. */
  layers: readonly LayerStructure[];
  /** The config of this host with these layer widths (output units / channels per layer). */
  configFor(widths: readonly number[]): HostConfig;
  /** Candidate layer widths read from `config` (checked by a round trip through {@link configFor}). */
  widthsIn(config: HostConfig): unknown;
}

/** The host's state while width seeds are resident (see `resident-fusion.ts`). */
interface HostResidency {
  fusion: ResidentFusion;
  /** The host group's parameters while fused (the wide variables in place of the host's own). */
  groupParams: readonly tf.Variable[];
  /** By layer (0-based), the host's own variables the wide ones replaced. */
  canonical: Map<number, LayerParams>;
  /**
   * By layer (0-based), the scale of its kernel's input rows (1 for rows of host units, α for a resident seed's:
   * the seed's contribution α·u·Ω), shaped to broadcast against the kernel; absent when every α is 1.
   */
  scales: Map<number, tf.Tensor>;
  /** By layer (0-based), how many of its units (the host's) pass a gradient to its input (a seed reading it detached). */
  detached: Map<number, number>;
  /** The layers (0-based) holding resident units. */
  widened: Set<number>;
  slots: WidthSlot[];
}

/**
 * The scale of a next-layer kernel's input rows: 1 for the host's, `alpha` for the seed's, broadcasting over its
 * outputs — [columns, 1] against a conv kernel [kh, kw, columns, outputs], [outer · columns, 1] against a dense one
 * (outer > 1: a flatten, whose rows interleave the columns per position).
 */
function rowScale(layout: { outer: number; owners: readonly number[] }, alpha: number, kernelRank: number): tf.Tensor {
  const columns = layout.owners.map((o) => (o === 0 ? 1 : alpha));
  const rows = kernelRank === 4 ? columns.length : layout.outer * columns.length;
  return tf.tensor2d(Float32Array.from({ length: rows }, (_, r) => columns[r % columns.length] as number), [rows, 1]);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A host with growable layers and both kinds of slot. */
export class SlottedHost implements HostModel {
  readonly kind: string;
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly #structure: HostStructure;
  readonly #specs: readonly SlotSpec[];
  #widths: number[];
  readonly #params: LayerParams[];
  /** Depth slots by id (replaced when their layer grows), width slots by id. */
  readonly #depth = new Map<string, SeedSlot>();
  readonly #width = new Map<string, WidthSlot>();
  #hostParams: readonly tf.Variable[] = [];
  #config: HostConfig = {};
  /** Per layer (0-based): the depth slots after it, and the width slots feeding its pre-activation (those on the layer before). */
  #depthAfter: SeedSlot[][] = [];
  #widthInto: WidthSlot[][] = [];
  #residency: HostResidency | undefined;

  /** `params` holds each layer's kernel and bias, shaped for `widths` (each layer's output units or channels). */
  constructor(structure: HostStructure, widths: readonly number[], params: readonly LayerParams[], slotSpecs: readonly SlotSpec[]) {
    const { kind, layers } = structure;
    this.kind = kind;
    this.#structure = structure;
    this.inputShape = Object.freeze([...structure.inputShape]);
    this.#widths = [...widths];
    this.#params = [...params];
    const last = layers[layers.length - 1];
    if (last?.kind !== 'dense' || !last.logits || widths.length !== layers.length || params.length !== layers.length) {
      throw new EsperError('ESPER_CONFIG_INVALID', `${kind} host: the last layer must produce [batch, classes]`);
    }
    this.classes = widths[widths.length - 1] ?? 0;
    const hidden = layers.length - 1;
    for (const spec of slotSpecs) {
      if (this.#depth.has(spec.id) || this.#width.has(spec.id)) throw new EsperError('ESPER_CONFIG_INVALID', `${kind} host: slot id ${JSON.stringify(spec.id)} is used twice`, { details: { slotId: spec.id } });
      if (!Number.isInteger(spec.afterLayer) || spec.afterLayer < 1 || spec.afterLayer > hidden) {
        throw new EsperError('ESPER_CONFIG_INVALID', `${kind} host: slot ${spec.id} afterLayer ${spec.afterLayer} is not a hidden layer (1..${hidden})`, {
          details: { slotId: spec.id, afterLayer: spec.afterLayer, hiddenLayers: hidden },
        });
      }
      if (spec.kind === 'width') {
        const host = { geometry: () => this.#geometry(spec.afterLayer), merge: (slot: WidthSlot, seed: WidthSeed) => this.#merge(slot, seed) };
        const { detachInBlending, trainingForward } = spec.options ?? {};
        this.#width.set(
          spec.id,
          new WidthSlot(spec.id, spec.afterLayer, host, { ...(detachInBlending === undefined ? {} : { detachInBlending }), ...(trainingForward === undefined ? {} : { trainingForward }) }),
        );
      } else {
        const { trainingForward, ...options } = spec.options ?? {};
        if (trainingForward !== undefined) {
          throw new EsperError('ESPER_CONFIG_INVALID', `${kind} host: slot ${spec.id} is a depth slot; trainingForward is an option of width slots`, { details: { slotId: spec.id } });
        }
        this.#depth.set(spec.id, new SeedSlot(spec.id, this.#outShape(spec.afterLayer - 1), options));
      }
    }
    this.#specs = slotSpecs.map((s) => ({ ...s }));
    this.#refresh();
  }

  get config(): HostConfig {
    return this.#config;
  }

  get hostParams(): readonly tf.Variable[] {
    return this.#hostParams;
  }

  get slots(): readonly SeedSlot[] {
    return this.#specs.flatMap((s) => this.#depth.get(s.id) ?? []);
  }

  get widthSlots(): readonly WidthSlot[] {
    return this.#specs.flatMap((s) => this.#width.get(s.id) ?? []);
  }

  get allSlots(): readonly HostSlot[] {
    return this.#specs.map((s) => (this.#depth.get(s.id) ?? this.#width.get(s.id)) as HostSlot);
  }

  #notFound(what: string, id: string): EsperError {
    return new EsperError('ESPER_NOT_FOUND', `${this.kind} host has no ${what}slot ${JSON.stringify(id)}`, { details: { slotId: id } });
  }

  slot(id: string): SeedSlot {
    const found = this.#depth.get(id);
    if (found === undefined) throw this.#notFound('', id);
    return found;
  }

  widthSlot(id: string): WidthSlot {
    const found = this.#width.get(id);
    if (found === undefined) throw this.#notFound('width ', id);
    return found;
  }

  anySlot(id: string): HostSlot {
    const found = this.#depth.get(id) ?? this.#width.get(id);
    if (found === undefined) throw this.#notFound('', id);
    return found;
  }

  forward(x: tf.Tensor): tf.Tensor2D {
    return this.#run(x, undefined).logits;
  }

  probeLayer(x: tf.Tensor, layer: number, delta?: tf.Tensor): LayerProbe {
    if (!Number.isInteger(layer) || layer < 1 || layer >= this.#structure.layers.length) throw new RangeError(`Error in probeLayer: ${layer} is not a hidden layer of the ${this.kind} host`);
    const probe: { layer: number; delta?: tf.Tensor; input?: tf.Tensor; next?: tf.Tensor } = { layer, ...(delta === undefined ? {} : { delta }) };
    const logits = this.#run(x, probe).logits;
    return { logits, input: probe.input as tf.Tensor, next: probe.next as tf.Tensor };
  }

  hiddenActivations(x: tf.Tensor): tf.Tensor[] {
    const activations: tf.Tensor[] = [];
    this.#run(x, undefined, activations);
    return activations;
  }

  /** The forward pass; fills `probe` (see {@link probeLayer}) and, when given, `activations` with each hidden layer's output before its depth slots. */
  #run(x: tf.Tensor, probe: { layer: number; delta?: tf.Tensor; input?: tf.Tensor; next?: tf.Tensor } | undefined, activations?: tf.Tensor[]): { logits: tf.Tensor2D } {
    const shape = x.shape.slice(1);
    if (!sameShape(shape, this.inputShape)) throw new RangeError(`Error in ${this.kind} host forward: x ${JSON.stringify(x.shape)} is not [batch, ${this.inputShape.join(', ')}]`);
    const inputs: tf.Tensor[] = [];
    let h = x;
    this.#structure.layers.forEach((layer, i) => {
      const input = layerInput(layer, h);
      inputs.push(input);
      const own = this.#params[i] as LayerParams;
      // Resident units feeding this layer: α scales their rows of its kernel (cheaper than scaling the activations).
      const scale = this.#residency?.scales.get(i);
      const params = scale === undefined ? own : { weight: tf.mul(own.weight, scale), bias: own.bias };
      const hostColumns = this.#residency?.detached.get(i);
      let z = hostColumns === undefined ? preActivation(layer, params, input) : tf.add(partialInputMatMul(input as tf.Tensor2D, params.weight as tf.Tensor2D, hostColumns), params.bias);
      for (const slot of this.#widthInto[i] ?? []) z = slot.apply(z, inputs[i - 1] as tf.Tensor);
      if (probe?.layer === i) {
        probe.input = inputs[i - 1] as tf.Tensor;
        probe.next = z;
        if (probe.delta !== undefined) z = tf.add(z, probe.delta);
      }
      h = activation(layer, z);
      if (activations !== undefined && i + 1 < this.#structure.layers.length) activations.push(h);
      // A layer holding resident units has no depth seed after it (#canReside): its empty depth slots expect its own width.
      if (this.#residency?.widened.has(i) !== true) for (const slot of this.#depthAfter[i] ?? []) h = slot.apply(h);
    });
    return { logits: h as tf.Tensor2D };
  }

  paramGroups(): ParamGroup[] {
    const groups: ParamGroup[] = [{ id: HOST_GROUP_ID, params: this.#residency?.groupParams ?? this.#hostParams }];
    for (const slot of this.allSlots) {
      if (!slot.trainable || slot.seed === undefined || (slot instanceof WidthSlot && slot.resident)) continue;
      const frozen = slot.frozenParams;
      groups.push({ id: seedGroupId(slot.id), params: slot.seed.params, ...(frozen.length === 0 ? {} : { frozen }) });
    }
    return groups;
  }

  hostParamShapes(config: HostConfig): number[][] | undefined {
    const widths = this.#widthsOf(config);
    return widths === undefined ? undefined : this.#structure.layers.flatMap((layer, i) => [kernelShape(layer, this.#inChannels(i, widths), widths[i] as number), [widths[i] as number]]);
  }

  adoptConfig(config: HostConfig): void {
    this.#checkNotResident('adoptConfig');
    const widths = this.#widthsOf(config);
    if (widths === undefined) throw new EsperError('ESPER_CHECKPOINT_MISMATCH', `${this.kind} host cannot take the architecture ${canonicalJson(config)}`);
    const changed = this.#widths.map((w, i) => w !== widths[i]);
    const geometries = new Map(this.widthSlots.map((s) => [s.id, s.geometry]));
    this.#widths = widths;
    this.#structure.layers.forEach((layer, i) => {
      const params = this.#params[i] as LayerParams;
      const weightShape = kernelShape(layer, this.#inChannels(i, widths), widths[i] as number);
      if (!sameShape(params.weight.shape, weightShape)) {
        params.weight.dispose();
        params.weight = zerosVariable(weightShape);
      }
      if (!sameShape(params.bias.shape, [widths[i] as number])) {
        params.bias.dispose();
        params.bias = zerosVariable([widths[i] as number]);
      }
    });
    for (const slot of this.slots) if (changed[this.#afterLayer(slot.id) - 1] === true) this.#reshapeDepthSlot(slot);
    for (const slot of this.widthSlots) if (!sameGeometry(geometries.get(slot.id) as WidthGeometry, slot.geometry)) slot.reset();
    this.#refresh();
  }

  reviveLayers(layers: readonly number[], rng: Rng): number {
    this.#checkNotResident('reviveLayers');
    const live = this.allSlots.filter((slot) => slot.seed !== undefined && slot.mode !== 'FOSSILIZED').map((slot) => slot.id);
    if (live.length > 0) {
      throw new EsperError('ESPER_CONFLICT', `${this.kind} host: layers are revived only while no seed is live (live: ${live.join(', ')})`, { details: { liveSlots: live } });
    }
    return reviveLayers(this.#structure.layers, this.#params, layers, rng);
  }

  shrinkAndPerturb(options: ShrinkPerturb, rng: Rng): string | undefined {
    this.#checkNotResident('shrinkAndPerturb');
    const problem = shrinkProblem(this.slots.filter((slot) => slot.seed !== undefined).map((slot) => slot.id));
    if (problem !== undefined) return problem;
    const seeds = this.widthSlots.flatMap((slot) => (slot.seed === undefined ? [] : [{ layer: slot.layer, seed: slot.seed }]));
    shrinkAndPerturb(this.#params, seeds, options, rng);
    return undefined;
  }

  dispose(): void {
    if (this.#residency !== undefined) this.unfuseResidentSeeds();
    for (const slot of this.allSlots) slot.dispose();
    for (const p of this.#hostParams) p.dispose();
  }

  // --- width growth -----------------------------------------------------------

  #afterLayer(slotId: string): number {
    return this.#specs.find((s) => s.id === slotId)?.afterLayer ?? 0;
  }

  #inChannels(i: number, widths: readonly number[]): number {
    return i === 0 ? (this.inputShape[this.inputShape.length - 1] ?? 0) : (widths[i - 1] ?? 0);
  }

  #outShape(i: number): number[] {
    return outputShape(this.#structure.layers[i] as LayerStructure, this.#widths[i] as number);
  }

  /** What a width seed on hidden layer `layer` (1-based) reads and feeds now. */
  #geometry(layer: number): WidthGeometry {
    const i = layer - 1;
    const here = this.#structure.layers[i] as LayerStructure;
    const next = this.#structure.layers[i + 1] as LayerStructure;
    const inChannels = this.#inChannels(i, this.#widths);
    const outputs = this.#widths[i + 1] as number;
    if (here.kind === 'dense') return { layout: 'dense', inputs: layerFanIn(here, inChannels), outputs };
    if (next.kind === 'conv') return { layout: 'conv', channels: inChannels, kernelSize: here.kernelSize, nextKernelSize: next.kernelSize, outputs };
    return { layout: 'conv-dense', channels: inChannels, kernelSize: here.kernelSize, height: here.height, width: here.width, outputs };
  }

  // --- resident width seeds (resident-fusion.ts) ------------------------------

  #checkNotResident(op: string): void {
    if (this.#residency !== undefined) throw new EsperError('ESPER_INTERNAL', `Error in ${this.kind} host ${op}: width seeds are resident (call unfuseResidentSeeds first)`);
  }

  /**
   * Whether `slot`'s seed can be resident now: it blends (or holds), no depth
   * seed sits after its layer and no width seed on a neighbouring layer
   * (their shapes assume the layer's current width, as for a merge), no
   * other seed is resident on its layer, and, reading a hidden layer's
   * output through a gradient stop, its layer is dense (a conv layer's input
   * gradient cannot be limited to the host's channels in one op).
   */
  #canReside(slot: WidthSlot, taken: ReadonlySet<number>): boolean {
    const seed = slot.seed;
    if (seed === undefined || (slot.mode !== 'BLENDING' && slot.mode !== 'HOLDING') || taken.has(slot.layer)) return false;
    if (!sameGeometry(seed.geometry, this.#geometry(slot.layer))) return false;
    if (slot.layer >= 2 && slot.detachInBlending && this.#structure.layers[slot.layer - 1]?.kind !== 'dense') return false;
    if (this.slots.some((s) => this.#afterLayer(s.id) === slot.layer && s.seed !== undefined)) return false;
    return !this.widthSlots.some((s) => s !== slot && Math.abs(s.layer - slot.layer) === 1 && s.seed !== undefined);
  }

  fuseResidentSeeds(): ResidentFusion | undefined {
    this.#checkNotResident('fuseResidentSeeds');
    const taken = new Set<number>();
    const chosen = this.widthSlots.filter((slot) => {
      if (!this.#canReside(slot, taken)) return false;
      taken.add(slot.layer);
      return true;
    });
    if (chosen.length === 0) return undefined;
    const layers = this.#structure.layers;
    const canonical = new Map<number, LayerParams>();
    const scales = new Map<number, tf.Tensor>();
    const detached = new Map<number, number>();
    const params = new Map<number, FusedParam>();
    const seeds: { groupId: string; frozen: boolean }[] = [];
    for (const slot of chosen) {
      const seed = slot.seed as WidthSeed;
      const i = slot.layer - 1;
      const here = this.#params[i] as LayerParams;
      const next = this.#params[i + 1] as LayerParams;
      const joins = widthJoins(layers[i] as LayerStructure, here, layers[i + 1] as LayerStructure, next, seed);
      const groupId = seedGroupId(slot.id);
      const fuse = (index: number, host: tf.Variable, seedIndex: number): tf.Variable => {
        const j = joins[seedIndex] as (typeof joins)[number];
        const wide = tf.tidy(() => tf.variable(j.join([host, seed.params[seedIndex] as tf.Variable])));
        params.set(index, { wide, parts: [{ groupId: HOST_GROUP_ID, index }, { groupId, index: seedIndex }], join: j.join, split: j.split, layout: j.layout });
        return wide;
      };
      canonical.set(i, here).set(i + 1, next);
      this.#params[i] = { weight: fuse(2 * i, here.weight, 0), bias: fuse(2 * i + 1, here.bias, 1) };
      this.#params[i + 1] = { weight: fuse(2 * (i + 1), next.weight, 2), bias: next.bias };
      const units = here.bias.shape[0];
      if (slot.alpha < 1) scales.set(i + 1, tf.keep(rowScale(joins[2].layout, slot.alpha, next.weight.rank)));
      if (slot.layer >= 2 && slot.detachInBlending) detached.set(i, units);
      seeds.push({ groupId, frozen: slot.frozenParams.length === seed.params.length });
      slot.setResident(true);
    }
    const groupParams = Object.freeze(this.#params.flatMap((p) => [p.weight, p.bias]));
    const fusion: ResidentFusion = { groupId: HOST_GROUP_ID, params, seeds };
    this.#residency = { fusion, groupParams, canonical, scales, detached, widened: new Set(chosen.map((s) => s.layer - 1)), slots: chosen };
    return fusion;
  }

  unfuseResidentSeeds(): void {
    const residency = this.#residency;
    if (residency === undefined) return;
    const owners = new Map<string, readonly tf.Variable[]>(residency.slots.map((s) => [seedGroupId(s.id), (s.seed as WidthSeed).params]));
    for (const [index, fused] of residency.fusion.params) {
      const layer = Math.floor(index / 2);
      const host = residency.canonical.get(layer) as LayerParams;
      const targets = fused.parts.map((part, j) => (j === 0 ? (index % 2 === 0 ? host.weight : host.bias) : (owners.get(part.groupId)?.[part.index] as tf.Variable)));
      tf.tidy(() => fused.split(fused.wide).forEach((part, j) => (targets[j] as tf.Variable).assign(part)));
      fused.wide.dispose();
    }
    for (const [layer, params] of residency.canonical) this.#params[layer] = params;
    for (const scale of residency.scales.values()) scale.dispose();
    for (const slot of residency.slots) slot.setResident(false);
    this.#residency = undefined;
  }

  /** Fossilises `seed` of `slot`: widens layers L and L+1, disposes the replaced variables and the seed. */
  #merge(slot: WidthSlot, seed: WidthSeed): void {
    this.#checkNotResident('merge');
    const i = slot.layer - 1;
    const refuse = (reason: string, details: Record<string, unknown>): EsperError =>
      new EsperError('ESPER_INVALID_TRANSITION', `width slot ${slot.id} cannot merge into layer ${slot.layer} now: ${reason}`, { details: { slotId: slot.id, to: 'FOSSILIZED', ...details } });
    if (!sameGeometry(seed.geometry, this.#geometry(slot.layer))) throw refuse('its seed no longer fits the layer', { seed: seed.geometry });
    const blockingDepth = this.slots.find((s) => this.#afterLayer(s.id) === slot.layer && s.seed !== undefined);
    if (blockingDepth !== undefined) throw refuse(`depth slot ${blockingDepth.id} after that layer holds a seed of the current width`, { blockingSlot: blockingDepth.id });
    // A live width seed on a neighbouring layer is widened with layer L (zero weights where the new units meet it).
    const neighbours = this.widthSlots.filter((s) => s !== slot && Math.abs(s.layer - slot.layer) === 1 && s.seed !== undefined);
    const layers = this.#structure.layers;
    const here = this.#params[i] as LayerParams;
    const next = this.#params[i + 1] as LayerParams;
    const merged = mergeWidthSeed(layers[i] as LayerStructure, here, layers[i + 1] as LayerStructure, next, seed);
    for (const v of [here.weight, here.bias, next.weight]) v.dispose();
    this.#params[i] = merged.layer;
    this.#params[i + 1] = { weight: merged.nextWeight, bias: next.bias };
    this.#widths[i] = (this.#widths[i] as number) + seed.units;
    for (const neighbour of neighbours) {
      const growth: NeighbourGrowth = neighbour.layer > slot.layer ? { side: 'inputs', next: layers[i + 1] as LayerStructure, merged: seed } : { side: 'outputs', added: seed.units };
      neighbour.replaceWidened(padWidthSeed(neighbour.seed as WidthSeed, this.#geometry(neighbour.layer), growth));
    }
    seed.dispose();
    for (const s of this.slots) if (this.#afterLayer(s.id) === slot.layer) this.#reshapeDepthSlot(s);
    this.#refresh();
  }

  /** Replaces an (emptied) depth slot by one shaped for its layer's current width. */
  #reshapeDepthSlot(slot: SeedSlot): void {
    slot.dispose();
    const layer = this.#afterLayer(slot.id);
    this.#depth.set(slot.id, new SeedSlot(slot.id, this.#outShape(layer - 1), { detachInBlending: slot.detachInBlending, trainFossil: slot.trainFossil }));
  }

  #widthsOf(config: HostConfig): number[] | undefined {
    const candidate = this.#structure.widthsIn(config);
    if (!Array.isArray(candidate) || candidate.length !== this.#structure.layers.length || !candidate.every((w) => Number.isInteger(w) && (w as number) >= 1)) return undefined;
    const widths = candidate as number[];
    if (widths[widths.length - 1] !== this.classes) return undefined;
    return canonicalJson(this.#structure.configFor(widths)) === canonicalJson(config) ? [...widths] : undefined;
  }

  /** Rebuilds what derives from layers and slots (after construction, a merge or a resize). */
  #refresh(): void {
    this.#hostParams = Object.freeze(this.#params.flatMap((p) => [p.weight, p.bias]));
    this.#config = Object.freeze(this.#structure.configFor(this.#widths));
    // Width slots on hidden layer L (1-based) feed layer L's (0-based) pre-activation; depth slots sit after layer L − 1 (0-based).
    this.#depthAfter = this.#structure.layers.map((_, i) => this.slots.filter((s) => this.#afterLayer(s.id) === i + 1));
    this.#widthInto = this.#structure.layers.map((_, i) => this.widthSlots.filter((s) => s.layer === i));
  }
}
