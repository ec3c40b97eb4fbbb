/**
 * Merging a width seed into its host layers (fossilisation): layer L's kernel
 * and bias get the k new output columns / channels (Ψ, b), layer L+1's kernel
 * gets Ω as k new input rows / channels. Since the seed's units are computed
 * by the host layers' own ops and layer L+1 is linear in its input before
 * its activation, the merged host computes what host + seed (α = 1) did, up
 * to float summation order.
 *
 * Each new variable's {@link Lineage} is recorded, so the optimizer builds
 * its buffers (Adam m and v) by the same concatenation out of the host's and
 * the seed's buffers.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import type { LayerParams, LayerStructure } from '../hosts/host-layers.ts';
import { recordLineage, type Lineage } from '../param-lineage.ts';
import { widthSeedOf, type WidthGeometry, type WidthSeed } from './width-seed.ts';

/** The merged variables: layer L's kernel and bias, and layer L+1's kernel (layer L+1's bias is unchanged). */
export interface MergedLayers {
  layer: LayerParams;
  nextWeight: tf.Variable;
}

/** Appends along the last axis (new output units / channels) or axis 0 / 2 (new inputs). */
function concatAlong(axis: number): Lineage['combine'] {
  return (parts) => tf.concat([...parts], axis);
}

/**
 * New input rows of a dense layer that flattens [height, width, c] (NHWC):
 * the flat index is (y·width + x)·c + channel, so the k new channels of
 * every position go after that position's c old ones.
 */
function interleaveRows(positions: number): Lineage['combine'] {
  return (parts) => {
    const [old, added] = parts as [tf.Tensor, tf.Tensor];
    const outputs = old.shape[1] ?? 0;
    const grouped = tf.concat([tf.reshape(old, [positions, -1, outputs]), tf.reshape(added, [positions, -1, outputs])], 1);
    return tf.reshape(grouped, [(old.shape[0] ?? 0) + (added.shape[0] ?? 0), outputs]);
  };
}

function build(sources: [tf.Variable, tf.Variable], combine: Lineage['combine'], kind?: Lineage['kind']): tf.Variable {
  const v = tf.tidy(() => tf.variable(combine(sources)));
  recordLineage(v, { sources, combine, ...(kind === undefined ? {} : { kind }) });
  return v;
}

/** The inverse of {@link interleaveRows}: the old rows and the new ones. */
function deinterleaveRows(positions: number, oldChannels: number, newChannels: number): (wide: tf.Tensor) => tf.Tensor[] {
  return (wide) => {
    const outputs = wide.shape[1] ?? 0;
    const [old, added] = tf.split(tf.reshape(wide, [positions, oldChannels + newChannels, outputs]), [oldChannels, newChannels], 1) as [tf.Tensor, tf.Tensor];
    return [tf.reshape(old, [positions * oldChannels, outputs]), tf.reshape(added, [positions * newChannels, outputs])];
  };
}

/** How Ω enters layer L+1's kernel: the axis it is appended along, or the positions of an interleaved flatten. */
function outgoingJoin(next: LayerStructure, seed: WidthSeed): { axis: number } | { positions: number } {
  const layout = seed.geometry.layout;
  if (next.kind === 'conv' && layout === 'conv') return { axis: 2 };
  if (next.kind === 'dense' && next.flatten !== undefined && layout === 'conv-dense') return { positions: next.flatten.height * next.flatten.width };
  if (next.kind === 'dense' && next.flatten === undefined && layout === 'dense') return { axis: 0 };
  throw new EsperError('ESPER_INTERNAL', `Error in mergeWidthSeed: a ${seed.kind} seed cannot feed a ${next.kind} layer${next.kind === 'dense' && next.flatten ? ' that flattens' : ''}`);
}

/** How Ω enters layer L+1: the combine for its kernel. */
function outgoingCombine(next: LayerStructure, seed: WidthSeed): Lineage['combine'] {
  const join = outgoingJoin(next, seed);
  return 'axis' in join ? concatAlong(join.axis) : interleaveRows(join.positions);
}

/**
 * How a host variable and a seed's variable join into one wide variable and
 * split back (the seed resident in its host layers: `resident-fusion.ts`),
 * and the wide variable seen as [outer, columns, inner] with each column's
 * owner (0 the host, 1 the seed).
 */
export interface WidthJoin {
  join: (parts: readonly tf.Tensor[]) => tf.Tensor;
  split: (wide: tf.Tensor) => tf.Tensor[];
  layout: { outer: number; inner: number; owners: number[] };
}

function owners(host: number, seed: number): number[] {
  return [...Array.from({ length: host }, () => 0), ...Array.from({ length: seed }, () => 1)];
}

function alongAxis(axis: number, host: number, seed: number, outer: number, inner: number): WidthJoin {
  return { join: concatAlong(axis), split: (wide) => tf.split(wide, [host, seed], axis), layout: { outer, inner, owners: owners(host, seed) } };
}

/**
 * The joins of layer L's kernel and bias and layer L+1's kernel with `seed`'s
 * Ψ, b and Ω — what {@link mergeWidthSeed} builds, as reversible functions.
 */
export function widthJoins(layer: LayerStructure, params: LayerParams, next: LayerStructure, nextParams: LayerParams, seed: WidthSeed): [WidthJoin, WidthJoin, WidthJoin] {
  const n = params.bias.shape[0] ?? 0;
  const k = seed.units;
  const outputs = nextParams.bias.shape[0] ?? 0;
  const incoming = alongAxis(layer.kind === 'conv' ? 3 : 1, n, k, params.weight.size / n, 1);
  const bias = alongAxis(0, n, k, 1, 1);
  const join = outgoingJoin(next, seed);
  let outgoing: WidthJoin;
  if ('positions' in join) {
    outgoing = { join: interleaveRows(join.positions), split: deinterleaveRows(join.positions, n, k), layout: { outer: join.positions, inner: outputs, owners: owners(n, k) } };
  } else {
    outgoing = alongAxis(join.axis, n, k, join.axis === 0 ? 1 : nextParams.weight.size / ((n * outputs) || 1), outputs);
  }
  return [incoming, bias, outgoing];
}

/**
 * Builds the widened variables of layers L (`layer`, `params`) and L+1
 * (`next`, `nextParams`) with `seed`'s units merged in, recording their
 * lineage. Disposes nothing: the caller swaps the variables in and disposes
 * the old ones and the seed.
 */
export function mergeWidthSeed(layer: LayerStructure, params: LayerParams, next: LayerStructure, nextParams: LayerParams, seed: WidthSeed): MergedLayers {
  const [psi, bias, omega] = seed.params as [tf.Variable, tf.Variable, tf.Variable];
  const combineOut = outgoingCombine(next, seed);
  const combineIn = concatAlong(layer.kind === 'conv' ? 3 : 1);
  return {
    layer: { weight: build([params.weight, psi], combineIn), bias: build([params.bias, bias], concatAlong(0)) },
    nextWeight: build([nextParams.weight, omega], combineOut),
  };
}

/** How a layer next to a live width seed grew: the seed's layer reads it (`inputs`), or the seed feeds it (`outputs`). */
export type NeighbourGrowth =
  /** The layer below grew by `merged`'s units, joined into `next` (the seed's own layer) as the merge joined them. */
  | { side: 'inputs'; next: LayerStructure; merged: WidthSeed }
  /** The layer above grew by `added` units (new output columns / channels, last). */
  | { side: 'outputs'; added: number };

/**
 * The live width seed `seed` of a layer next to one that just grew, widened
 * to `geometry` with zero weights where the new units meet it: Ψ gets zero
 * weights from the new units of the layer below (in the order the merge put
 * them into the seed layer's own kernel), or Ω zero weights into the new
 * units of the layer above. The seed computes exactly what it did, the grown
 * units see nothing of it until it merges in turn. The widened variables'
 * lineage is a `pad`, so the optimizer carries the seed's state (zero for the
 * new entries); the replaced variables are disposed, b is kept.
 */
export function padWidthSeed(seed: WidthSeed, geometry: WidthGeometry, growth: NeighbourGrowth): WidthSeed {
  const [psi, bias, omega] = seed.params as [tf.Variable, tf.Variable, tf.Variable];
  const pad = (source: tf.Variable, zerosShape: number[], combine: Lineage['combine']): tf.Variable => {
    const zeros = tf.tidy(() => tf.variable(tf.zeros(zerosShape), false));
    const v = build([source, zeros], combine, 'pad');
    zeros.dispose();
    source.dispose();
    return v;
  };
  if (growth.side === 'inputs') {
    const mergedOmega = growth.merged.params[2] as tf.Variable;
    const zerosShape = [...mergedOmega.shape.slice(0, -1), seed.units];
    return widthSeedOf(geometry, seed.units, [pad(psi, zerosShape, outgoingCombine(growth.next, growth.merged)), bias, omega]);
  }
  return widthSeedOf(geometry, seed.units, [psi, bias, pad(omega, [...omega.shape.slice(0, -1), growth.added], concatAlong(omega.rank - 1))]);
}
