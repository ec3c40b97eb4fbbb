/**
 * The layer math of the blueprint vocabulary, in one table: for every op, the
 * output shape, the weights it allocates (so the parameter count), the FLOPs
 * and the activation memory of one forward pass for ONE example, and its value
 * at initialisation. Static analysis (Karn/Tezzeret) and the compiler read the
 * same table, so a kernel's reported numbers are the ones it was checked with.
 *
 * Conventions (shapes never include the batch dimension):
 * - A dense slot carries `[features]`; a conv2d slot `[height, width, channels]`
 *   (channels last). "c" below is the last axis, "P" the number of positions
 *   (product of the other axes: 1 for dense, h·w for conv2d), "E" = P·c.
 * - `dense`, `low_rank`, `norm` and `attention` act on the last axis at every
 *   position (on a conv2d input `dense` is a 1×1 convolution).
 * - FLOPs count a multiply-add as 2, a bias add, residual add or elementwise
 *   product as 1 per element, and elementwise functions by the cost table
 *   {@link ACTIVATION_FLOPS}; normalisation costs {@link NORM_FLOPS_PER_ELEMENT}
 *   per element. All counts are integers.
 * - Activation memory counts, in elements, every node's output plus the
 *   intermediates a backward pass keeps (the low-rank hidden vector, the
 *   squeeze-excitation vectors, attention's Q/K/V, scores and context).
 *   The slot's input is not counted (the host owns it).
 * - Weights are float32. Biases always start at zero (tfjs' default), so a
 *   layer whose kernel initializer is `zeros` outputs exactly zero at init.
 *   Batch normalisation also stores its moving mean/variance (non-trainable
 *   weights); they count in the parameter count and memory, as in tfjs'
 *   `countParams()`, but not in the trainable count.
 * - `depthwise` always has a bias (the schema has no `useBias`; tfjs' default).
 */
import type { ACTIVATION_FNS, BlueprintNode, BlueprintNodeOf, BlueprintOp } from '../contracts/karn.ts';

/** A per-example tensor shape. */
export type Shape = readonly number[];

/** Bytes of one float32 element. */
export const BYTES_PER_ELEMENT = 4;

/**
 * What a node's value is at initialisation, as far as identity analysis cares:
 * exactly the slot's input, exactly zero, or anything else.
 */
export type InitValue = 'identity' | 'zero' | 'other';

/** How a weight starts. */
export type WeightInit = 'glorot_uniform' | 'he_normal' | 'lecun_normal' | 'zeros' | 'ones';

/** One weight tensor a layer allocates, in the order the compiler creates them. */
export interface WeightSpec {
  /** Name inside the layer: `kernel`, `bias`, `gamma`, `A`, `wq`, … */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: WeightInit;
  /** False for state that is not trained by gradient (batch-norm moving statistics). */
  readonly trainable: boolean;
}

/** The static facts of one node given its input shapes. */
export interface LayerFacts {
  readonly outputShape: readonly number[];
  readonly weights: readonly WeightSpec[];
  /** FLOPs of one forward pass for one example. */
  readonly flops: number;
  /** Elements kept per example (output plus intermediates). */
  readonly activationElements: number;
}

/** Why a node's shape cannot be inferred. */
export interface ShapeProblem {
  readonly message: string;
  /** What the node needs (a shape, or a description such as `[h, w, c]`). */
  readonly expected: readonly number[] | string;
  /** What it got. */
  readonly actual: readonly number[] | string;
}

/** Outcome of {@link inferLayer}. */
export type LayerResult = { ok: true; facts: LayerFacts } | { ok: false; problem: ShapeProblem };

/** The static semantics of one op. */
export interface LayerSpec<O extends BlueprintOp> {
  readonly op: O;
  /** Number of inputs. */
  readonly arity: 1 | 2;
  /** Output shape, weights, FLOPs and activation memory, or why the inputs do not fit. */
  infer(params: BlueprintNodeOf<O>['params'], inputs: readonly Shape[]): LayerResult;
  /** The node's value at initialisation from its inputs' (see the module comment of blueprint-analysis.ts). */
  atInit(params: BlueprintNodeOf<O>['params'], inputs: readonly InitValue[]): InitValue;
}

/** FLOPs per element of each activation function. */
export const ACTIVATION_FLOPS: Readonly<Record<(typeof ACTIVATION_FNS)[number], number>> = {
  identity: 0,
  relu: 1,
  sigmoid: 4,
  tanh: 4,
  gelu: 8,
};

/** FLOPs per element of a normalisation (mean, centre, square, variance, rsqrt-scale, γ, β). */
export const NORM_FLOPS_PER_ELEMENT = 7;

/** FLOPs per score of a softmax (max, subtract, exp, sum, divide). */
export const SOFTMAX_FLOPS_PER_ELEMENT = 5;

/** Number of elements of a shape. */
export function shapeSize(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Number of scalars of a weight list. */
export function weightCount(weights: readonly WeightSpec[], trainableOnly = false): number {
  return weights.filter((w) => !trainableOnly || w.trainable).reduce((sum, w) => sum + shapeSize(w.shape), 0);
}

/** `[1, 2, 3]` → `[1, 2, 3]` as text, for messages. */
export function formatShape(shape: Shape | string): string {
  return typeof shape === 'string' ? shape : `[${shape.join(', ')}]`;
}

/** `1234567` → `1,234,567` (locale-independent). */
export function groupDigits(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function ok(outputShape: readonly number[], weights: readonly WeightSpec[], flops: number, activationElements: number): LayerResult {
  return { ok: true, facts: { outputShape, weights, flops, activationElements } };
}

function problem(message: string, expected: readonly number[] | string, actual: readonly number[] | string): LayerResult {
  return { ok: false, problem: { message, expected, actual } };
}

/** Splits a shape into its positions (all but the last axis) and its last axis. */
function lastAxis(shape: Shape): { positions: number; channels: number; lead: readonly number[] } {
  const lead = shape.slice(0, -1);
  return { positions: shapeSize(lead), channels: shape[shape.length - 1] ?? 0, lead };
}

/** The one input of a unary op (the table checks arity before calling). */
function single(inputs: readonly Shape[]): Shape {
  const [x] = inputs;
  if (x === undefined) throw new RangeError('Error in layer-specs: a unary op got no input shape');
  return x;
}

/** Zero in, zero out: true of every op here whose biases start at zero and that has no constant term. */
function zeroPreserving(inputs: readonly InitValue[], zeroInit: boolean): InitValue {
  if (zeroInit) return 'zero';
  return inputs.every((v) => v === 'zero') ? 'zero' : 'other';
}

/** Output size of one spatial axis of a convolution (tfjs rules); 0 when the kernel does not fit. */
export function convOutputSize(size: number, kernel: number, stride: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(size / stride) : size >= kernel ? Math.floor((size - kernel) / stride) + 1 : 0;
}

/** Squeeze-excitation bottleneck width: `max(1, floor(channels / reduction))`. */
export function seHidden(channels: number, reduction: number): number {
  return Math.max(1, Math.floor(channels / reduction));
}

const SPATIAL = '[height, width, channels]';

function spatialOutput(
  op: string,
  x: Shape,
  kernelSize: number,
  stride: number,
  padding: 'same' | 'valid',
  outChannels: number,
): { ok: true; h: number; w: number; out: number[] } | { ok: false; result: LayerResult } {
  if (x.length !== 3) return { ok: false, result: problem(`${op} needs a conv2d input ${SPATIAL}`, SPATIAL, x) };
  const [h = 0, w = 0] = x;
  const oh = convOutputSize(h, kernelSize, stride, padding);
  const ow = convOutputSize(w, kernelSize, stride, padding);
  if (oh < 1 || ow < 1) {
    return {
      ok: false,
      result: problem(`${op}: a ${kernelSize}×${kernelSize} 'valid' kernel does not fit the input`, `height and width ≥ ${kernelSize}`, x),
    };
  }
  return { ok: true, h: oh, w: ow, out: [oh, ow, outChannels] };
}

/**
 * The table: one {@link LayerSpec} per op of the vocabulary. Add an op to
 * `BLUEPRINT_OPS` and TypeScript requires its entry here.
 */
export const LAYER_SPECS: { readonly [O in BlueprintOp]: LayerSpec<O> } = {
  dense: {
    op: 'dense',
    arity: 1,
    infer: (p, inputs) => {
      const x = single(inputs);
      const { positions, channels, lead } = lastAxis(x);
      const weights: WeightSpec[] = [{ name: 'kernel', shape: [channels, p.units], init: p.init, trainable: true }];
      if (p.useBias) weights.push({ name: 'bias', shape: [p.units], init: 'zeros', trainable: true });
      const flops = 2 * positions * channels * p.units + (p.useBias ? positions * p.units : 0);
      return ok([...lead, p.units], weights, flops, positions * p.units);
    },
    atInit: (p, inputs) => zeroPreserving(inputs, p.init === 'zeros'),
  },
  low_rank: {
    op: 'low_rank',
    arity: 1,
    infer: (p, inputs) => {
      const x = single(inputs);
      const { positions, channels, lead } = lastAxis(x);
      const weights: WeightSpec[] = [
        { name: 'A', shape: [channels, p.rank], init: 'glorot_uniform', trainable: true },
        { name: 'B', shape: [p.rank, p.units], init: p.init, trainable: true },
      ];
      const flops = 2 * positions * (channels * p.rank + p.rank * p.units);
      return ok([...lead, p.units], weights, flops, positions * (p.rank + p.units));
    },
    atInit: (p, inputs) => zeroPreserving(inputs, p.init === 'zeros'),
  },
  activation: {
    op: 'activation',
    arity: 1,
    infer: (p, inputs) => {
      const x = single(inputs);
      const size = shapeSize(x);
      // The identity function is a no-op: it allocates nothing.
      return ok([...x], [], size * ACTIVATION_FLOPS[p.fn], p.fn === 'identity' ? 0 : size);
    },
    atInit: (p, inputs) => {
      const [x = 'other'] = inputs;
      if (p.fn === 'identity') return x;
      // relu(0) = gelu(0) = tanh(0) = 0; sigmoid(0) = 0.5.
      return x === 'zero' && p.fn !== 'sigmoid' ? 'zero' : 'other';
    },
  },
  norm: {
    op: 'norm',
    arity: 1,
    infer: (p, inputs) => {
      const x = single(inputs);
      const { channels } = lastAxis(x);
      const weights: WeightSpec[] = [
        { name: 'gamma', shape: [channels], init: 'ones', trainable: true },
        { name: 'beta', shape: [channels], init: 'zeros', trainable: true },
      ];
      if (p.kind === 'batch') {
        weights.push({ name: 'movingMean', shape: [channels], init: 'zeros', trainable: false });
        weights.push({ name: 'movingVariance', shape: [channels], init: 'ones', trainable: false });
      }
      const size = shapeSize(x);
      return ok([...x], weights, size * NORM_FLOPS_PER_ELEMENT, size);
    },
    // γ = 1, β = 0 normalise: the identity only for a zero input (0 stays 0).
    atInit: (_p, inputs) => zeroPreserving(inputs, false),
  },
  residual: {
    op: 'residual',
    arity: 2,
    infer: (_p, inputs) => {
      const [a = [], b = []] = inputs;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        return problem('residual inputs must have the same shape', a, b);
      }
      const size = shapeSize(a);
      return ok([...a], [], size, size);
    },
    atInit: (_p, inputs) => {
      const [a = 'other', b = 'other'] = inputs;
      if (a === 'zero') return b;
      if (b === 'zero') return a;
      return 'other';
    },
  },
  attention: {
    op: 'attention',
    arity: 1,
    infer: (p, inputs) => {
      const x = single(inputs);
      const { positions, channels } = lastAxis(x);
      const size = shapeSize(x);
      if (p.kind === 'squeeze_excitation') {
        const m = seHidden(channels, p.reduction);
        const weights: WeightSpec[] = [
          { name: 'squeezeKernel', shape: [channels, m], init: 'he_normal', trainable: true },
          { name: 'squeezeBias', shape: [m], init: 'zeros', trainable: true },
          { name: 'exciteKernel', shape: [m, channels], init: 'glorot_uniform', trainable: true },
          { name: 'exciteBias', shape: [channels], init: 'zeros', trainable: true },
        ];
        // Squeeze (global average over positions), two dense layers (relu, sigmoid), then scale x.
        const pool = positions > 1 ? size : 0;
        const flops = pool + (2 * channels * m + m + m) + (2 * m * channels + channels + channels * ACTIVATION_FLOPS.sigmoid) + size;
        const activations = (positions > 1 ? channels : 0) + m + channels + size;
        return ok([...x], weights, flops, activations);
      }
      const heads = p.heads;
      const keyDim = p.keyDim ?? Math.floor(channels / heads);
      if (keyDim < 1) {
        return problem(`self-attention with ${heads} heads needs at least ${heads} features (or an explicit keyDim)`, `last axis ≥ ${heads}`, x);
      }
      const inner = heads * keyDim;
      const t = positions; // tokens: one per position (h·w for conv2d, 1 for dense)
      const weights: WeightSpec[] = [];
      for (const name of ['q', 'k', 'v'] as const) {
        weights.push({ name: `w${name}`, shape: [channels, inner], init: 'glorot_uniform', trainable: true });
        weights.push({ name: `b${name}`, shape: [inner], init: 'zeros', trainable: true });
      }
      weights.push({ name: 'wo', shape: [inner, channels], init: 'glorot_uniform', trainable: true });
      weights.push({ name: 'bo', shape: [channels], init: 'zeros', trainable: true });
      const flops =
        3 * (2 * t * channels * inner + t * inner) + // Q, K, V projections
        2 * t * t * inner + // scores
        SOFTMAX_FLOPS_PER_ELEMENT * t * t * heads + // softmax
        2 * t * t * inner + // context
        2 * t * inner * channels +
        t * channels; // output projection
      const activations = 3 * t * inner + t * t * heads + t * inner + size;
      return ok([...x], weights, flops, activations);
    },
    // SE scales x by a gate (0·g = 0); self-attention of zeros is V = 0, so the output is bias = 0.
    atInit: (_p, inputs) => zeroPreserving(inputs, false),
  },
  conv: {
    op: 'conv',
    arity: 1,
    infer: (p, inputs) => {
      const x = single(inputs);
      const out = spatialOutput('conv', x, p.kernelSize, p.stride, p.padding, p.filters);
      if (!out.ok) return out.result;
      const channels = x[2] ?? 0;
      const weights: WeightSpec[] = [{ name: 'kernel', shape: [p.kernelSize, p.kernelSize, channels, p.filters], init: p.init, trainable: true }];
      if (p.useBias) weights.push({ name: 'bias', shape: [p.filters], init: 'zeros', trainable: true });
      const positions = out.h * out.w;
      const flops = 2 * positions * p.kernelSize * p.kernelSize * channels * p.filters + (p.useBias ? positions * p.filters : 0);
      return ok(out.out, weights, flops, positions * p.filters);
    },
    atInit: (p, inputs) => zeroPreserving(inputs, p.init === 'zeros'),
  },
  depthwise: {
    op: 'depthwise',
    arity: 1,
    infer: (p, inputs) => {
      const x = single(inputs);
      const channels = x[2] ?? 0;
      const outChannels = channels * p.multiplier;
      const out = spatialOutput('depthwise', x, p.kernelSize, p.stride, p.padding, outChannels);
      if (!out.ok) return out.result;
      const weights: WeightSpec[] = [
        { name: 'depthwiseKernel', shape: [p.kernelSize, p.kernelSize, channels, p.multiplier], init: p.init, trainable: true },
        { name: 'bias', shape: [outChannels], init: 'zeros', trainable: true },
      ];
      const positions = out.h * out.w;
      const flops = 2 * positions * p.kernelSize * p.kernelSize * outChannels + positions * outChannels;
      return ok(out.out, weights, flops, positions * outChannels);
    },
    atInit: (p, inputs) => zeroPreserving(inputs, p.init === 'zeros'),
  },
};

// Called with a node's own op and params, so the pair always matches.
function inferOp<O extends BlueprintOp>(op: O, params: BlueprintNodeOf<O>['params'], inputs: readonly Shape[]): LayerResult {
  return LAYER_SPECS[op].infer(params, inputs);
}

function atInitOp<O extends BlueprintOp>(op: O, params: BlueprintNodeOf<O>['params'], inputs: readonly InitValue[]): InitValue {
  return LAYER_SPECS[op].atInit(params, inputs);
}

/** Static facts of one node from its input shapes (in the order of `node.inputs`). */
export function inferLayer(node: BlueprintNode, inputs: readonly Shape[]): LayerResult {
  const { arity } = LAYER_SPECS[node.op];
  if (inputs.length !== arity) {
    return problem(`${node.op} takes ${arity} input(s)`, `${arity} input(s)`, `${inputs.length} input(s)`);
  }
  return inferOp(node.op, node.params, inputs);
}

/** A node's value at initialisation from its inputs' values. */
export function layerAtInit(node: BlueprintNode, inputs: readonly InitValue[]): InitValue {
  return atInitOp(node.op, node.params, inputs);
}
