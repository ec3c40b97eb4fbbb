/**
 * Karn's built-in blueprint catalog: blueprints as IR DATA (DESIGN §2), in two
 * families (an entry's `role`):
 *
 * - **depth** — parameterised by the slot they fill, its width (dense
 *   `[features]`) or channels (conv2d `[h, w, c]`). Every one preserves the
 *   slot's shape and, except squeeze-excitation, starts as the identity: its
 *   branch ends in a zero-initialised layer and is added to the input by a
 *   residual (see `startsAsIdentity` in blueprint-analysis.ts).
 * - **width** — k new units of hidden layer L: u = relu(Ψ·h + b) from the
 *   layer's input h (`[n_{L−1}]`), and their contribution Ω·u to layer L+1's
 *   pre-activation (`[n_{L+1}]`), Ω zero-initialised, so the blueprint starts
 *   as zero (`startsAsZero`) and the host computes the same function at
 *   germination. The slot interface is NOT shape-preserving:
 *   `dense [n_{L−1}] → [n_{L+1}]`; k is a factor times the layer's width at the
 *   run's start (the base width, which the interface does not carry), built
 *   by {@link catalogWidthBlueprint}. An `init:<mode>` tag says how the tensor
 *   layer draws Ψ at germination (`gradient`: aimed at the loss gradient;
 *   `random`); the kernel fixes the structure and k, the weights are re-drawn
 *   for the layer's live geometry.
 *
 *   On a conv block L (`widen_conv_*`) the k units are channels: u =
 *   maxPool(relu(conv(h, Ψ) + b)) from the block's input h
 *   (`[h_{L−1}, w_{L−1}, c_{L−1}]`), read by the next layer as it reads the
 *   block (a conv of block L+1's kernel size, or the first dense layer over
 *   the flattened pooled map). The IR vocabulary has no pool op, so the IR
 *   holds the seed's own parameters (conv Ψ of the block's kernel size, conv
 *   Ω without bias, zero at start) and applies Ω to the unpooled map: its
 *   interface's input is where the seed reads, its output what Ω gives at
 *   that resolution (see {@link convWidthInterface}); the dense over the
 *   flattened map is written as the conv whose valid window covers the pooled
 *   map (the same weights, NHWC order).
 *
 * `docs/blueprints.md` is generated from this table (`npm run docs:blueprints`).
 */
import type { SlotInterface, SlotKind } from '../../contracts/common.ts';
import { BLUEPRINT_INPUT, BLUEPRINT_IR_VERSION, type BlueprintIR, type BlueprintNode } from '../../contracts/karn.ts';
import { InputError } from '../../errors/index.ts';

/** What a catalog blueprint grows: depth after a layer (shape-preserving), or width of a hidden layer. */
export type CatalogRole = 'depth' | 'width';

/**
 * What a conv2d width interface does not say about conv block L: its kernel
 * size (Ψ's), and what reads its new channels after the host's 2×2 max-pool —
 * block L+1's conv (Ω a conv of that kernel size), or the first dense layer,
 * flattening the pooled `[height, width]` map (Ω a dense over
 * height·width·k features).
 */
export interface ConvWidthGeometry {
  readonly kernelSize: number;
  readonly next: { readonly kind: 'conv'; readonly kernelSize: number } | { readonly kind: 'flatten'; readonly height: number; readonly width: number };
}

/** The geometry a conv2d width blueprint is built for when none is given: the CNN host's default 3×3 blocks, one after another. */
export const DEFAULT_CONV_WIDTH_GEOMETRY: ConvWidthGeometry = Object.freeze({ kernelSize: 3, next: Object.freeze({ kind: 'conv', kernelSize: 3 }) });

/** What a width blueprint is built for: the widths around hidden layer L, and L's width at the run's start. */
export interface WidthBlueprintGeometry {
  /** Features (channels) entering layer L (`n_{L−1}`): the slot's input. */
  readonly inputs: number;
  /** Features (channels) of layer L+1's pre-activation (`n_{L+1}`): the slot's output. */
  readonly outputs: number;
  /** Layer L's width (channels) at the run's start; k scales with it. */
  readonly baseWidth: number;
  /** Conv blocks only: kernel sizes and what reads the new channels. */
  readonly conv?: ConvWidthGeometry | undefined;
}

interface CatalogEntryBase {
  /** Blueprint name (also the IR's `name`). */
  readonly name: string;
  /** One line for docs and `esper blueprint` output. */
  readonly summary: string;
  /** Slot kinds it can fill. */
  readonly kinds: readonly SlotKind[];
  /** Whether analysis must find it the identity at initialisation. */
  readonly startsAsIdentity: boolean;
  /** Whether analysis must find its output zero at initialisation. */
  readonly startsAsZero: boolean;
  readonly tags: readonly string[];
}

/** A depth blueprint: fills a shape-preserving slot after a layer. */
export interface DepthCatalogEntry extends CatalogEntryBase {
  readonly role: 'depth';
  /** The nodes for a slot whose last axis (features or channels) is `c`; the output node is `out`. */
  nodes(c: number, kind: SlotKind): BlueprintNode[];
}

/** A width blueprint: k new units of a hidden layer (see the module comment). */
export interface WidthCatalogEntry extends CatalogEntryBase {
  readonly role: 'width';
  /** k = max(1, factor × base width). */
  readonly factor: number;
  /** The nodes (Ψ first — dense units or conv filters k; the output node is `omega`). */
  nodes(geometry: WidthBlueprintGeometry): BlueprintNode[];
}

/** One catalog entry. */
export type CatalogEntry = DepthCatalogEntry | WidthCatalogEntry;

/** Tag of every width blueprint's IR (mutation keeps its structure: only k may change). */
export const WIDTH_ROLE_TAG = 'role:width';

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

/** k of a width blueprint: max(1, ⌊factor × base width⌋). */
export function widthUnits(factor: number, baseWidth: number): number {
  return Math.max(1, Math.floor(factor * baseWidth));
}

/** Width blueprint nodes: `psi` dense(k, he) → `act` relu → `omega` dense(outputs, zeros). */
function widen(factor: number): (g: WidthBlueprintGeometry) => BlueprintNode[] {
  return (g) => [
    { id: 'psi', op: 'dense', inputs: [x], params: { units: widthUnits(factor, g.baseWidth), useBias: true, init: 'he_normal' } },
    { id: 'act', op: 'activation', inputs: ['psi'], params: { fn: 'relu' } },
    { id: 'omega', op: 'dense', inputs: ['act'], params: { units: g.outputs, useBias: true, init: 'zeros' } },
  ];
}

/**
 * Conv width blueprint nodes: `psi` conv(k, the block's kernel size, same, he) → `act` relu →
 * `omega` conv(outputs, zeros, no bias): of block L+1's kernel size ('same'), or, for a block the
 * first dense layer flattens, a 'valid' window of the pooled map's size (that dense's weights).
 */
function widenConv(factor: number): (g: WidthBlueprintGeometry) => BlueprintNode[] {
  return (g) => {
    const conv = g.conv ?? DEFAULT_CONV_WIDTH_GEOMETRY;
    const next = conv.next;
    const window = next.kind === 'conv' ? { kernelSize: next.kernelSize, padding: 'same' as const } : { kernelSize: next.height, padding: 'valid' as const };
    return [
      { id: 'psi', op: 'conv', inputs: [x], params: { filters: widthUnits(factor, g.baseWidth), kernelSize: conv.kernelSize, stride: 1, padding: 'same', useBias: true, init: 'he_normal' } },
      { id: 'act', op: 'activation', inputs: ['psi'], params: { fn: 'relu' } },
      { id: 'omega', op: 'conv', inputs: ['act'], params: { filters: g.outputs, ...window, stride: 1, useBias: false, init: 'zeros' } },
    ];
  };
}

/** A width catalog entry growing factor × the base width, Ψ initialised by `init`. */
function widthEntry(name: string, factor: number, init: 'gradient' | 'random'): WidthCatalogEntry {
  const aim = init === 'gradient' ? 'Ψ aimed at the loss gradient at germination' : 'Ψ drawn he-normal at germination';
  return {
    name,
    role: 'width',
    summary: `Widens a hidden layer by k = ${factor} × its starting width: u = relu(Ψh + b), Ω·u added to the next layer, Ω zero at start; ${aim}.`,
    kinds: ['dense'],
    startsAsIdentity: false,
    startsAsZero: true,
    factor,
    tags: ['width', `init:${init}`],
    nodes: widen(factor),
  };
}

/** A conv width catalog entry growing factor × the block's starting channels, Ψ aimed at the loss gradient. */
function convWidthEntry(name: string, factor: number): WidthCatalogEntry {
  return {
    name,
    role: 'width',
    summary:
      `Widens a conv block by k = ${factor} × its starting channels: u = maxPool(relu(conv(h, Ψ) + b)), Ω·u added to the next layer ` +
      '(a conv of its kernel size, or a dense over the flattened map), Ω zero at start; Ψ chosen by the loss gradient at germination (best of random candidates). ' +
      "The IR has no pool: it applies Ω to the unpooled map (the seed's parameters, not its FLOPs).",
    kinds: ['conv2d'],
    startsAsIdentity: false,
    startsAsZero: true,
    factor,
    tags: ['width', 'cnn', 'init:gradient'],
    nodes: widenConv(factor),
  };
}

/** The catalog, in display order. */
export const BLUEPRINT_CATALOG: readonly CatalogEntry[] = [
  {
    name: 'norm',
    summary:
      'Normalisation added through a zero-initialised gate: x + g(norm(x)); layer norm + rank-1 gate (dense), batch norm + per-channel 1×1 depthwise gate (conv2d).',
    kinds: ['dense', 'conv2d'],
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
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
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
    tags: ['mlp'],
    nodes: (c) => mlp(c, 2),
  },
  {
    name: 'mlp_large',
    summary: 'Residual MLP, 4× expansion (as mlp_small).',
    kinds: ['dense', 'conv2d'],
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
    tags: ['mlp'],
    nodes: (c) => mlp(c, 4),
  },
  {
    name: 'mlp_deep',
    summary: 'Deep residual MLP, two hidden layers of 8× width: x + W₃·gelu(W₂·gelu(W₁x + b₁) + b₂) + b₃, W₃ zero at start (pointwise on conv2d).',
    kinds: ['dense', 'conv2d'],
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
    tags: ['mlp', 'deep'],
    nodes: (c) => deepMlp(c, 8),
  },
  {
    name: 'lora_r4',
    summary: 'Low-rank adapter, rank 4: x + x·A·B, B zero at start (pointwise on conv2d).',
    kinds: ['dense', 'conv2d'],
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
    tags: ['lora'],
    nodes: (c) => lora(c, 4),
  },
  {
    name: 'lora_r16',
    summary: 'Low-rank adapter, rank 16 (as lora_r4).',
    kinds: ['dense', 'conv2d'],
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
    tags: ['lora'],
    nodes: (c) => lora(c, 16),
  },
  {
    name: 'attention_se',
    summary: `Squeeze-excitation channel gating, reduction ${SE_REDUCTION}: x + x ⊙ σ(W₂·relu(W₁·pool(x))). NOT the identity at start (the gate is ≈ ½).`,
    kinds: ['dense', 'conv2d'],
    role: 'depth',
    startsAsIdentity: false,
    startsAsZero: false,
    tags: ['attention'],
    nodes: () =>
      residual([{ id: 'se', op: 'attention', inputs: [x], params: { kind: 'squeeze_excitation', reduction: SE_REDUCTION } }]),
  },
  {
    name: 'conv_light',
    summary: 'Light convolution: x + conv3×3(x), the conv zero at start.',
    kinds: ['conv2d'],
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
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
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
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
    role: 'depth',
    startsAsIdentity: true,
    startsAsZero: false,
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
  widthEntry('widen_x1', 1, 'gradient'),
  widthEntry('widen_x2', 2, 'gradient'),
  widthEntry('widen_x4', 4, 'gradient'),
  widthEntry('widen_x8', 8, 'gradient'),
  widthEntry('widen_random_x2', 2, 'random'),
  convWidthEntry('widen_conv_x1', 1),
  convWidthEntry('widen_conv_x2', 2),
  convWidthEntry('widen_conv_x4', 4),
  convWidthEntry('widen_conv_x8', 8),
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
    ? widthInterface(shape[0], shape[0])
    : { kind: 'conv2d', inputShape: [shape[0], shape[1], shape[2]], outputShape: [shape[0], shape[1], shape[2]], dtype: 'float32' };
}

/** The interface of a width slot on hidden layer L: `dense [n_{L−1}] → [n_{L+1}]`, float32. */
export function widthInterface(inputs: number, outputs: number): SlotInterface {
  return { kind: 'dense', inputShape: [inputs], outputShape: [outputs], dtype: 'float32' };
}

/** Largest pooled map a conv width blueprint can flatten: the vocabulary's largest kernel. */
export const MAX_FLATTEN_WINDOW = 15;

/**
 * The interface of a width slot on conv block L, whose input (the image or
 * block L−1's pooled output) is `input` = `[h_{L−1}, w_{L−1}, c_{L−1}]`, with
 * `outputs` channels (units) in the layer that reads it: `conv2d [h_{L−1},
 * w_{L−1}, c_{L−1}] → [h_{L−1}, w_{L−1}, outputs]` when block L+1 reads it,
 * `→ [h_{L−1} − height + 1, w_{L−1} − width + 1, outputs]` when the first
 * dense layer flattens the pooled `[height, width]` map (the valid window of
 * the pooled map's size, slid over the unpooled one: what the IR computes
 * without a pool). Throws a RangeError when the flattened map is not a square
 * of at most {@link MAX_FLATTEN_WINDOW} (no conv window can hold that dense).
 */
export function convWidthInterface(input: readonly [number, number, number], outputs: number, geometry: ConvWidthGeometry): SlotInterface {
  const [h, w, c] = input;
  const next = geometry.next;
  if (next.kind === 'flatten' && (next.height !== next.width || next.height > MAX_FLATTEN_WINDOW || next.height > h || next.width > w)) {
    throw new RangeError(
      `Error in convWidthInterface: a flattened ${next.height}×${next.width} map is not a square of at most ${MAX_FLATTEN_WINDOW} within the ${h}×${w} input; no conv window holds its dense`,
    );
  }
  const out: [number, number, number] = next.kind === 'conv' ? [h, w, outputs] : [h - next.height + 1, w - next.width + 1, outputs];
  return { kind: 'conv2d', inputShape: [h, w, c], outputShape: out, dtype: 'float32' };
}

function isShapePreserving(iface: SlotInterface): boolean {
  return iface.inputShape.length === iface.outputShape.length && iface.inputShape.every((d, i) => d === iface.outputShape[i]);
}

/**
 * Whether catalog `entry` can fill a slot of this role and interface: the
 * same role, a slot kind it lists, and for depth a shape-preserving interface
 * (a width interface maps layer L's input to layer L+1's pre-activation).
 */
export function catalogFits(entry: CatalogEntry, role: CatalogRole, iface: SlotInterface): boolean {
  return entry.role === role && entry.kinds.includes(iface.kind) && (role === 'width' || isShapePreserving(iface));
}

function entryOf(name: string, caller: string): CatalogEntry {
  const entry = BY_NAME.get(name);
  if (entry === undefined) throw new RangeError(`Error in ${caller}: no blueprint '${name}' (catalog: ${CATALOG_NAMES.join(', ')})`);
  return entry;
}

function catalogIr(entry: CatalogEntry, iface: SlotInterface, nodes: BlueprintNode[], output: string, tags: readonly string[]): BlueprintIR {
  return {
    irVersion: BLUEPRINT_IR_VERSION,
    name: entry.name,
    description: entry.summary,
    tags: [...entry.tags, ...tags, `slot:${iface.kind}`],
    interface: iface,
    nodes,
    output,
  };
}

/**
 * The IR of depth catalog blueprint `name` for a slot. Throws a RangeError
 * for an unknown name, a width blueprint (see {@link catalogWidthBlueprint})
 * or a slot kind the blueprint cannot fill; the IR is not analysed here (run
 * `analyzeBlueprint` on it).
 */
export function catalogBlueprint(name: string, iface: SlotInterface): BlueprintIR {
  const entry = entryOf(name, 'catalogBlueprint');
  if (entry.role !== 'depth') throw new RangeError(`Error in catalogBlueprint: '${name}' is a ${entry.role} blueprint; build it with catalogWidthBlueprint(name, iface, baseWidth)`);
  if (!entry.kinds.includes(iface.kind)) throw new RangeError(`Error in catalogBlueprint: '${name}' does not fit a ${iface.kind} slot`);
  const c = iface.inputShape[iface.inputShape.length - 1] ?? 1;
  return catalogIr(entry, iface, entry.nodes(c, iface.kind), 'out', []);
}

/**
 * The IR of width catalog blueprint `name` for a width slot
 * (`dense [n_{L−1}] → [n_{L+1}]`, see {@link widthInterface}; on a conv
 * block, see {@link convWidthInterface}) on a layer whose width at the run's
 * start is `baseWidth`: k = max(1, factor × baseWidth) units (channels). A
 * conv2d slot is built for `conv` (kernel sizes and what reads the new
 * channels; {@link DEFAULT_CONV_WIDTH_GEOMETRY} when omitted). Tagged
 * {@link WIDTH_ROLE_TAG} and `init:<mode>`. Throws a RangeError for an
 * unknown name, a depth blueprint, a slot kind it cannot fill, a conv
 * geometry for a dense slot or one no conv window holds, or a base width
 * that is not a positive integer.
 */
export function catalogWidthBlueprint(name: string, iface: SlotInterface, baseWidth: number, conv?: ConvWidthGeometry): BlueprintIR {
  const entry = entryOf(name, 'catalogWidthBlueprint');
  if (entry.role !== 'width') throw new RangeError(`Error in catalogWidthBlueprint: '${name}' is a ${entry.role} blueprint; build it with catalogBlueprint(name, iface)`);
  if (!entry.kinds.includes(iface.kind)) throw new RangeError(`Error in catalogWidthBlueprint: '${name}' does not fit a ${iface.kind} slot`);
  if (!Number.isSafeInteger(baseWidth) || baseWidth < 1) throw new RangeError(`Error in catalogWidthBlueprint: the base width must be a positive integer, got ${baseWidth}`);
  if (conv !== undefined && iface.kind !== 'conv2d') throw new RangeError(`Error in catalogWidthBlueprint: a conv geometry for a ${iface.kind} slot`);
  if (conv?.next.kind === 'flatten') convWidthInterface([iface.inputShape[0] ?? 1, iface.inputShape[1] ?? 1, iface.inputShape[2] ?? 1], 1, conv);
  const last = (shape: readonly number[]): number => shape[shape.length - 1] ?? 1;
  const geometry: WidthBlueprintGeometry = { inputs: last(iface.inputShape), outputs: last(iface.outputShape), baseWidth, ...(conv === undefined ? {} : { conv }) };
  return catalogIr(entry, iface, entry.nodes(geometry), 'omega', [WIDTH_ROLE_TAG]);
}

/** Every depth catalog blueprint that fits a (shape-preserving) slot of this interface. */
export function catalogFor(iface: SlotInterface): BlueprintIR[] {
  return BLUEPRINT_CATALOG.filter((e) => catalogFits(e, 'depth', iface)).map((e) => catalogBlueprint(e.name, iface));
}

/** Every width catalog blueprint for a width slot of this interface on a layer of `baseWidth` units (channels) at the start; `conv` as for {@link catalogWidthBlueprint}. */
export function catalogWidthFor(iface: SlotInterface, baseWidth: number, conv?: ConvWidthGeometry): BlueprintIR[] {
  return BLUEPRINT_CATALOG.filter((e) => catalogFits(e, 'width', iface)).map((e) => catalogWidthBlueprint(e.name, iface, baseWidth, conv));
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
