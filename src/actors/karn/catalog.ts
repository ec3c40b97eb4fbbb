/**
 * Karn's built-in blueprint catalog: blueprints as IR DATA (DESIGN §2),
 * parameterised by the slot they fill — its width (dense `[features]`) or
 * channels (conv2d `[h, w, c]`). Every one preserves the slot's shape and,
 * except squeeze-excitation, starts as the identity: its branch ends in a
 * zero-initialised layer and is added to the input by a residual (see
 * `startsAsIdentity` in blueprint-analysis.ts). `docs/blueprints.md` is
 * generated from this table (`npm run docs:blueprints`).
 */
import type { SlotInterface, SlotKind } from '../../contracts/common.ts';
import { BLUEPRINT_INPUT, BLUEPRINT_IR_VERSION, type BlueprintIR, type BlueprintNode } from '../../contracts/karn.ts';
import { InputError } from '../../errors/index.ts';

/** One catalog entry. */
export interface CatalogEntry {
  /** Blueprint name (also the IR's `name`). */
  readonly name: string;
  /** One line for docs and `esper blueprint` output. */
  readonly summary: string;
  /** Slot kinds it can fill. */
  readonly kinds: readonly SlotKind[];
  /** Whether analysis must find it the identity at initialisation. */
  readonly startsAsIdentity: boolean;
  readonly tags: readonly string[];
  /** The nodes for a slot whose last axis (features or channels) is `c`; the output node is `out`. */
  nodes(c: number, kind: SlotKind): BlueprintNode[];
}

const x = BLUEPRINT_INPUT;

/** `branch` nodes, then `out = input + last(branch)`. */
function residual(branch: BlueprintNode[]): BlueprintNode[] {
  const last = branch[branch.length - 1];
  if (last === undefined) throw new RangeError('Error in catalog: an empty residual branch');
  return [...branch, { id: 'out', op: 'residual', inputs: [x, last.id], params: {} }];
}

/** A residual MLP over the last axis: dense(c·expansion, he) → gelu → dense(c, zeros). */
function mlp(c: number, expansion: number): BlueprintNode[] {
  return residual([
    { id: 'up', op: 'dense', inputs: [x], params: { units: c * expansion, useBias: true, init: 'he_normal' } },
    { id: 'act', op: 'activation', inputs: ['up'], params: { fn: 'gelu' } },
    { id: 'down', op: 'dense', inputs: ['act'], params: { units: c, useBias: true, init: 'zeros' } },
  ]);
}

/** A deeper residual MLP: dense(c·expansion, he) → gelu → dense(c·expansion, he) → gelu → dense(c, zeros). */
function deepMlp(c: number, expansion: number): BlueprintNode[] {
  return residual([
    { id: 'up', op: 'dense', inputs: [x], params: { units: c * expansion, useBias: true, init: 'he_normal' } },
    { id: 'act1', op: 'activation', inputs: ['up'], params: { fn: 'gelu' } },
    { id: 'mid', op: 'dense', inputs: ['act1'], params: { units: c * expansion, useBias: true, init: 'he_normal' } },
    { id: 'act2', op: 'activation', inputs: ['mid'], params: { fn: 'gelu' } },
    { id: 'down', op: 'dense', inputs: ['act2'], params: { units: c, useBias: true, init: 'zeros' } },
  ]);
}

/** A LoRA-style adapter: x·A·B with B zero at start. */
function lora(c: number, rank: number): BlueprintNode[] {
  return residual([{ id: 'lora', op: 'low_rank', inputs: [x], params: { rank, units: c, init: 'zeros' } }]);
}

/** Bottleneck width: a quarter of the channels, at least 1. */
export function bottleneckWidth(c: number): number {
  return Math.max(1, Math.floor(c / 4));
}

/** Squeeze-excitation reduction used by the catalog. */
export const SE_REDUCTION = 4;

/** The catalog, in display order. */
export const BLUEPRINT_CATALOG: readonly CatalogEntry[] = [
  {
    name: 'norm',
    summary:
      'Normalisation added through a zero-initialised gate: x + g(norm(x)); layer norm + rank-1 gate (dense), batch norm + per-channel 1×1 depthwise gate (conv2d).',
    kinds: ['dense', 'conv2d'],
    startsAsIdentity: true,
    tags: ['norm'],
    // The vocabulary has no per-feature scale for dense slots; a rank-1 projection is its cheapest stand-in.
    nodes: (c, kind) =>
      kind === 'conv2d'
        ? residual([
            { id: 'bn', op: 'norm', inputs: [x], params: { kind: 'batch', epsilon: 0.001 } },
            { id: 'gate', op: 'depthwise', inputs: ['bn'], params: { kernelSize: 1, multiplier: 1, stride: 1, padding: 'same', init: 'zeros' } },
          ])
        : residual([
            { id: 'ln', op: 'norm', inputs: [x], params: { kind: 'layer', epsilon: 0.001 } },
            { id: 'gate', op: 'low_rank', inputs: ['ln'], params: { rank: 1, units: c, init: 'zeros' } },
          ]),
  },
  {
    name: 'mlp_small',
    summary: 'Residual MLP, 2× expansion: x + W₂·gelu(W₁x + b₁) + b₂, W₂ zero at start (pointwise on conv2d).',
    kinds: ['dense', 'conv2d'],
    startsAsIdentity: true,
    tags: ['mlp'],
    nodes: (c) => mlp(c, 2),
  },
  {
    name: 'mlp_large',
    summary: 'Residual MLP, 4× expansion (as mlp_small).',
    kinds: ['dense', 'conv2d'],
    startsAsIdentity: true,
    tags: ['mlp'],
    nodes: (c) => mlp(c, 4),
  },
  {
    name: 'mlp_deep',
    summary: 'Deep residual MLP, two hidden layers of 8× width: x + W₃·gelu(W₂·gelu(W₁x + b₁) + b₂) + b₃, W₃ zero at start (pointwise on conv2d).',
    kinds: ['dense', 'conv2d'],
    startsAsIdentity: true,
    tags: ['mlp', 'deep'],
    nodes: (c) => deepMlp(c, 8),
  },
  {
    name: 'lora_r4',
    summary: 'Low-rank adapter, rank 4: x + x·A·B, B zero at start (pointwise on conv2d).',
    kinds: ['dense', 'conv2d'],
    startsAsIdentity: true,
    tags: ['lora'],
    nodes: (c) => lora(c, 4),
  },
  {
    name: 'lora_r16',
    summary: 'Low-rank adapter, rank 16 (as lora_r4).',
    kinds: ['dense', 'conv2d'],
    startsAsIdentity: true,
    tags: ['lora'],
    nodes: (c) => lora(c, 16),
  },
  {
    name: 'attention_se',
    summary: `Squeeze-excitation channel gating, reduction ${SE_REDUCTION}: x + x ⊙ σ(W₂·relu(W₁·pool(x))). NOT the identity at start (the gate is ≈ ½).`,
    kinds: ['dense', 'conv2d'],
    startsAsIdentity: false,
    tags: ['attention'],
    nodes: () =>
      residual([{ id: 'se', op: 'attention', inputs: [x], params: { kind: 'squeeze_excitation', reduction: SE_REDUCTION } }]),
  },
  {
    name: 'conv_light',
    summary: 'Light convolution: x + conv3×3(x), the conv zero at start.',
    kinds: ['conv2d'],
    startsAsIdentity: true,
    tags: ['cnn', 'conv'],
    nodes: (c) =>
      residual([
        { id: 'conv', op: 'conv', inputs: [x], params: { filters: c, kernelSize: 3, stride: 1, padding: 'same', useBias: true, init: 'zeros' } },
      ]),
  },
  {
    name: 'depthwise',
    summary: 'Depthwise-separable: x + conv1×1(relu(depthwise3×3(x))), the 1×1 conv zero at start.',
    kinds: ['conv2d'],
    startsAsIdentity: true,
    tags: ['cnn', 'depthwise'],
    nodes: (c) =>
      residual([
        { id: 'dw', op: 'depthwise', inputs: [x], params: { kernelSize: 3, multiplier: 1, stride: 1, padding: 'same', init: 'he_normal' } },
        { id: 'act', op: 'activation', inputs: ['dw'], params: { fn: 'relu' } },
        { id: 'pw', op: 'conv', inputs: ['act'], params: { filters: c, kernelSize: 1, stride: 1, padding: 'same', useBias: true, init: 'zeros' } },
      ]),
  },
  {
    name: 'bottleneck',
    summary: 'Bottleneck: x + conv1×1↑(relu(conv3×3(relu(conv1×1↓(x))))) through c/4 channels, the last conv zero at start.',
    kinds: ['conv2d'],
    startsAsIdentity: true,
    tags: ['cnn', 'bottleneck'],
    nodes: (c: number): BlueprintNode[] => {
      const b = bottleneckWidth(c);
      return residual([
        { id: 'reduce', op: 'conv', inputs: [x], params: { filters: b, kernelSize: 1, stride: 1, padding: 'same', useBias: true, init: 'he_normal' } },
        { id: 'act1', op: 'activation', inputs: ['reduce'], params: { fn: 'relu' } },
        { id: 'conv', op: 'conv', inputs: ['act1'], params: { filters: b, kernelSize: 3, stride: 1, padding: 'same', useBias: true, init: 'he_normal' } },
        { id: 'act2', op: 'activation', inputs: ['conv'], params: { fn: 'relu' } },
        { id: 'expand', op: 'conv', inputs: ['act2'], params: { filters: c, kernelSize: 1, stride: 1, padding: 'same', useBias: true, init: 'zeros' } },
      ]);
    },
  },
];

const BY_NAME: ReadonlyMap<string, CatalogEntry> = (() => {
  const map = new Map<string, CatalogEntry>();
  for (const entry of BLUEPRINT_CATALOG) {
    if (map.has(entry.name)) throw new RangeError(`Error in catalog: duplicate blueprint name '${entry.name}'`);
    map.set(entry.name, entry);
  }
  return map;
})();

/** Names of the catalog's blueprints, in display order. */
export const CATALOG_NAMES: readonly string[] = BLUEPRINT_CATALOG.map((e) => e.name);

/** A catalog entry by name, or undefined. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  return BY_NAME.get(name);
}

/** A shape-preserving slot interface: `dense [features]` or `conv2d [h, w, c]`. */
export function shapePreservingInterface(shape: readonly [number] | readonly [number, number, number]): SlotInterface {
  return shape.length === 1
    ? { kind: 'dense', inputShape: [shape[0]], outputShape: [shape[0]], dtype: 'float32' }
    : { kind: 'conv2d', inputShape: [shape[0], shape[1], shape[2]], outputShape: [shape[0], shape[1], shape[2]], dtype: 'float32' };
}

/**
 * The IR of catalog blueprint `name` for a slot. Throws a RangeError for an
 * unknown name or a slot kind the blueprint cannot fill; the IR is not
 * analysed here (run `analyzeBlueprint` on it).
 */
export function catalogBlueprint(name: string, iface: SlotInterface): BlueprintIR {
  const entry = BY_NAME.get(name);
  if (entry === undefined) throw new RangeError(`Error in catalogBlueprint: no blueprint '${name}' (catalog: ${CATALOG_NAMES.join(', ')})`);
  if (!entry.kinds.includes(iface.kind)) throw new RangeError(`Error in catalogBlueprint: '${name}' does not fit a ${iface.kind} slot`);
  const c = iface.inputShape[iface.inputShape.length - 1] ?? 1;
  return {
    irVersion: BLUEPRINT_IR_VERSION,
    name: entry.name,
    description: entry.summary,
    tags: [...entry.tags, `slot:${iface.kind}`],
    interface: iface,
    nodes: entry.nodes(c, iface.kind),
    output: 'out',
  };
}

/** Every catalog blueprint that fits a slot of this interface's kind. */
export function catalogFor(iface: SlotInterface): BlueprintIR[] {
  return BLUEPRINT_CATALOG.filter((e) => e.kinds.includes(iface.kind)).map((e) => catalogBlueprint(e.name, iface));
}

const INTERFACE_PATTERN = /^(?:dense:(\d+)|conv2d:(\d+)x(\d+)x(\d+))$/;

/** Parses `dense:128` or `conv2d:14x14x16` into a shape-preserving float32 interface. */
export function parseInterfaceFlag(text: string, what = 'an interface'): SlotInterface {
  const match = INTERFACE_PATTERN.exec(text.trim());
  const dims = match?.slice(1).filter((d): d is string => d !== undefined).map(Number) ?? [];
  if (match === null || dims.some((d) => !Number.isSafeInteger(d) || d < 1 || d > 65_536)) {
    throw new InputError('ESPER_SCHEMA_VIOLATION', `${what} must be dense:N or conv2d:HxWxC with sizes 1–65536, got ${JSON.stringify(text)}`);
  }
  const [a = 1, b = 1, c = 1] = dims;
  return dims.length === 1 ? shapePreservingInterface([a]) : shapePreservingInterface([a, b, c]);
}
