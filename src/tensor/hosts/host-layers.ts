/**
 * The layers a host is made of, as data: a conv block (conv 'same' → ReLU →
 * 2×2 max-pool, NHWC) or a dense layer (optionally flattening a conv block's
 * output first; ReLU unless it produces the logits). A layer's variables are
 * held apart from its structure so that a width seed can be merged into the
 * layer (wider kernel, more units) and a checkpoint can resize it. Every
 * layer's forward is split at its pre-activation, where width seeds add
 * their contribution.
 */
import * as tf from '@tensorflow/tfjs';
import { denseMatMul } from '../ops/dense-matmul.ts';

/** A layer's fixed structure (what does not change when it grows wider). */
export type LayerStructure =
  | {
      kind: 'conv';
      /** Square kernel size. */
      kernelSize: number;
      /** Spatial size of its output (after pooling). */
      height: number;
      width: number;
    }
  | {
      kind: 'dense';
      /** Set on the first dense layer after conv blocks: it flattens an input of this spatial size. */
      flatten?: { height: number; width: number };
      /** The last layer: no ReLU. */
      logits: boolean;
    };

/** A layer's variables: kernel ([k, k, in, out] or [in, out]) and bias ([out]). */
export interface LayerParams {
  weight: tf.Variable;
  bias: tf.Variable;
}

/** Features a layer reads per example, given the previous layer's (or the input's) channel count. */
export function layerFanIn(layer: LayerStructure, inChannels: number): number {
  if (layer.kind === 'conv') return layer.kernelSize * layer.kernelSize * inChannels;
  return layer.flatten === undefined ? inChannels : layer.flatten.height * layer.flatten.width * inChannels;
}

/** The kernel shape of a layer with `inChannels` input and `outChannels` output channels (units). */
export function kernelShape(layer: LayerStructure, inChannels: number, outChannels: number): number[] {
  if (layer.kind === 'conv') return [layer.kernelSize, layer.kernelSize, inChannels, outChannels];
  return [layerFanIn(layer, inChannels), outChannels];
}

/** A layer's output shape without the batch dimension. */
export function outputShape(layer: LayerStructure, outChannels: number): number[] {
  return layer.kind === 'conv' ? [layer.height, layer.width, outChannels] : [outChannels];
}

/** What the layer multiplies: its input, flattened when the layer flattens. */
export function layerInput(layer: LayerStructure, x: tf.Tensor): tf.Tensor {
  if (layer.kind !== 'dense' || layer.flatten === undefined) return x;
  return tf.reshape(x, [x.shape[0] ?? -1, x.size / (x.shape[0] ?? 1)]);
}

/** The pre-activation: conv(x, K) + b or x·W + b, for the (flattened) input `x`. */
export function preActivation(layer: LayerStructure, params: { weight: tf.Tensor; bias: tf.Tensor }, x: tf.Tensor): tf.Tensor {
  if (layer.kind === 'conv') return tf.add(tf.conv2d(x as tf.Tensor4D, params.weight as tf.Tensor4D, 1, 'same'), params.bias);
  return tf.add(denseMatMul(x as tf.Tensor2D, params.weight as tf.Tensor2D), params.bias);
}

/** From pre-activation to output: ReLU then 2×2 max-pool (conv), ReLU (hidden dense), nothing (logits). */
export function activation(layer: LayerStructure, z: tf.Tensor): tf.Tensor {
  if (layer.kind === 'conv') return tf.maxPool(tf.relu(z) as tf.Tensor4D, 2, 2, 'valid');
  return layer.logits ? z : tf.relu(z);
}
