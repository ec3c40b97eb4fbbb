/**
 * Width seeds: k new units (dense) or channels (conv) of a hidden layer L,
 * built beside the layer until they are merged into it (DESIGN §8,
 * growth-notes §3). They read layer L's input h_{L−1} and feed layer L+1's
 * pre-activation:
 *
 * - `dense`:      u = relu(h·Ψ + b), Ψ [inputs, k];        contribution u·Ω, Ω [k, outputs]
 * - `conv`:       u = maxPool(relu(conv(h, Ψ) + b)), Ψ [kh, kw, channels, k];
 *                 contribution conv(u, Ω), Ω [kh′, kw′, k, outputs] (layer L+1 is a conv block)
 * - `conv-dense`: u as for `conv`; contribution flatten(u)·Ω, Ω [height·width·k, outputs]
 *                 (layer L+1 is the first dense layer; NHWC flatten order)
 *
 * Ω starts at zero, so the network computes exactly the same function at
 * germination, and Ψ is non-zero (tf.relu's gradient at 0 is 0: a Ψ = 0 unit
 * would never learn). The unit computations are the host layers' own ops, so
 * a merge reproduces them exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { countParams, zerosVariable } from '../hosts/init.ts';
import { denseMatMul, detachedInputMatMul } from '../ops/dense-matmul.ts';
import { stopGradient } from '../ops/stop-gradient.ts';
import type { Rng } from '../rng.ts';

/** Where a width seed sits: the sizes of layer L's input and of layer L+1, by layout (see the file comment). */
export type WidthGeometry =
  | { layout: 'dense'; inputs: number; outputs: number }
  | { layout: 'conv'; channels: number; kernelSize: number; nextKernelSize: number; outputs: number }
  | { layout: 'conv-dense'; channels: number; kernelSize: number; height: number; width: number; outputs: number };

/** The seed `kind` of each layout (what checkpoints record). */
export const WIDTH_SEED_KINDS = { dense: 'width-dense', conv: 'width-conv', 'conv-dense': 'width-conv-dense' } as const;
/** A width seed's kind. */
export type WidthSeedKind = (typeof WIDTH_SEED_KINDS)[keyof typeof WIDTH_SEED_KINDS];

/** The incoming weights of a width seed (Ω always starts at zero). */
export interface WidthSeedWeights {
  /** Ψ, row-major in {@link psiShape}. */
  psi: Float32Array;
  /** b, one per new unit. */
  bias: Float32Array;
}

/** k new units of a hidden layer, with their incoming (Ψ, b) and outgoing (Ω) weights. */
export interface WidthSeed {
  readonly kind: WidthSeedKind;
  /** Geometry fields and `units`: with `kind`, enough to rebuild it (a checkpoint then fills the weights). */
  readonly config: Readonly<Record<string, number>>;
  readonly geometry: WidthGeometry;
  /** k, the number of new units or channels. */
  readonly units: number;
  /** [Ψ, b, Ω], in this order (checkpoints, optimizer state and the merge rely on it). */
  readonly params: tf.Variable[];
  readonly paramCount: number;
  /**
   * The new units for layer L's (flattened, for a dense layer after convs)
   * input x; with `detachInput`, x gets no gradient through them. Call
   * inside `tf.tidy`.
   */
  activate(x: tf.Tensor, options?: { detachInput?: boolean }): tf.Tensor;
  /** Their contribution to layer L+1's pre-activation; call inside `tf.tidy`. */
  project(u: tf.Tensor): tf.Tensor;
  dispose(): void;
}

/** Ψ's shape for `units` new units. */
export function psiShape(g: WidthGeometry, units: number): number[] {
  return g.layout === 'dense' ? [g.inputs, units] : [g.kernelSize, g.kernelSize, g.channels, units];
}

/** Ω's shape for `units` new units. */
export function omegaShape(g: WidthGeometry, units: number): number[] {
  if (g.layout === 'dense') return [units, g.outputs];
  if (g.layout === 'conv') return [g.nextKernelSize, g.nextKernelSize, units, g.outputs];
  return [g.height * g.width * units, g.outputs];
}

/** Inputs feeding one new unit (the He fan-in). */
export function psiFanIn(g: WidthGeometry): number {
  return g.layout === 'dense' ? g.inputs : g.kernelSize * g.kernelSize * g.channels;
}

function positive(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new EsperError('ESPER_CONFIG_INVALID', `width seed: ${name} ${value} is not a positive integer`, { details: { [name]: value } });
}

/** The bias new units start with: small and positive, so about half of them are active at once. */
export const WIDTH_BIAS_INIT = 0.01;

/** Random incoming weights: He-normal Ψ (drawn from `rng`), b = {@link WIDTH_BIAS_INIT}. */
export function randomWidthWeights(g: WidthGeometry, units: number, rng: Rng): WidthSeedWeights {
  const size = psiShape(g, units).reduce((a, b) => a * b, 1);
  const std = Math.sqrt(2 / psiFanIn(g));
  return { psi: Float32Array.from({ length: size }, () => rng.normal() * std), bias: new Float32Array(units).fill(WIDTH_BIAS_INIT) };
}

/** A width seed with incoming weights `weights` and Ω = 0. */
export function widthSeed(geometry: WidthGeometry, units: number, weights: WidthSeedWeights): WidthSeed {
  positive('units', units);
  for (const [key, value] of Object.entries(geometry)) if (key !== 'layout') positive(key, value as number);
  const shape = psiShape(geometry, units);
  if (weights.psi.length !== shape.reduce((a, b) => a * b, 1) || weights.bias.length !== units) {
    throw new RangeError(`Error in widthSeed: Ψ of ${weights.psi.length} values or b of ${weights.bias.length} do not fit ${JSON.stringify(shape)} and ${units} units`);
  }
  const psi = tf.tidy(() => tf.variable(tf.tensor(weights.psi, shape, 'float32')));
  const bias = tf.tidy(() => tf.variable(tf.tensor1d(weights.bias, 'float32')));
  return widthSeedOf(geometry, units, [psi, bias, zerosVariable(omegaShape(geometry, units))]);
}

/**
 * A width seed over existing variables [Ψ, b, Ω] (it owns them from now on):
 * what {@link widthSeed} builds at germination, and what a seed becomes when
 * a neighbouring layer's growth widens its geometry ({@link padWidthSeed}).
 */
export function widthSeedOf(geometry: WidthGeometry, units: number, params: [tf.Variable, tf.Variable, tf.Variable]): WidthSeed {
  const [psi, bias, omega] = params;
  for (const [name, variable, shape] of [['Ψ', psi, psiShape(geometry, units)], ['b', bias, [units]], ['Ω', omega, omegaShape(geometry, units)]] as const) {
    if (variable.shape.length !== shape.length || variable.shape.some((d, i) => d !== shape[i])) {
      throw new RangeError(`Error in widthSeedOf: ${name} ${JSON.stringify(variable.shape)} does not fit ${JSON.stringify(shape)}`);
    }
  }
  const { layout, ...sizes } = geometry;
  const activate = (x: tf.Tensor, options: { detachInput?: boolean } = {}): tf.Tensor => {
    const detach = options.detachInput === true;
    if (layout === 'dense') return tf.relu(tf.add((detach ? detachedInputMatMul : denseMatMul)(x as tf.Tensor2D, psi as tf.Tensor2D), bias));
    const input = (detach ? stopGradient(x) : x) as tf.Tensor4D;
    return tf.maxPool(tf.relu(tf.add(tf.conv2d(input, psi as tf.Tensor4D, 1, 'same'), bias)) as tf.Tensor4D, 2, 2, 'valid');
  };
  const project = (u: tf.Tensor): tf.Tensor => {
    if (layout === 'conv') return tf.conv2d(u as tf.Tensor4D, omega as tf.Tensor4D, 1, 'same');
    const flat = layout === 'dense' ? u : tf.reshape(u, [u.shape[0] ?? -1, u.size / (u.shape[0] ?? 1)]);
    return denseMatMul(flat as tf.Tensor2D, omega as tf.Tensor2D);
  };
  return {
    kind: WIDTH_SEED_KINDS[layout],
    config: Object.freeze({ ...sizes, units }),
    geometry: Object.freeze({ ...geometry }),
    units,
    params,
    paramCount: countParams(params),
    activate,
    project,
    dispose: () => params.forEach((p) => p.dispose()),
  };
}

/** The geometry and unit count a width seed's `kind` and `config` describe; undefined for other kinds. */
export function widthGeometryOf(kind: string, config: Readonly<Record<string, number>>): { geometry: WidthGeometry; units: number } | undefined {
  const n = (key: string): number => config[key] ?? Number.NaN;
  const units = n('units');
  switch (kind) {
    case WIDTH_SEED_KINDS.dense:
      return { geometry: { layout: 'dense', inputs: n('inputs'), outputs: n('outputs') }, units };
    case WIDTH_SEED_KINDS.conv:
      return { geometry: { layout: 'conv', channels: n('channels'), kernelSize: n('kernelSize'), nextKernelSize: n('nextKernelSize'), outputs: n('outputs') }, units };
    case WIDTH_SEED_KINDS['conv-dense']:
      return { geometry: { layout: 'conv-dense', channels: n('channels'), kernelSize: n('kernelSize'), height: n('height'), width: n('width'), outputs: n('outputs') }, units };
    default:
      return undefined;
  }
}

/** Rebuilds a width seed from its `kind` and `config` (random weights; a checkpoint restore overwrites them). Undefined for other kinds. */
export function widthSeedFromConfig(kind: string, config: Readonly<Record<string, number>>, rng: Rng): WidthSeed | undefined {
  const described = widthGeometryOf(kind, config);
  if (described === undefined) return undefined;
  return widthSeed(described.geometry, described.units, randomWidthWeights(described.geometry, described.units, rng));
}

/** True when two geometries are the same. */
export function sameGeometry(a: WidthGeometry, b: WidthGeometry): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}
