/**
 * A small convolutional host (NHWC): one or more blocks of conv ('same') →
 * ReLU → 2×2 max-pool, then optional hidden dense layers, then dense to
 * logits. Seed slots go after a block (interface [h, w, filters]) or after a
 * hidden dense layer (interface [width]).
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { denseMatMul } from '../ops/dense-matmul.ts';
import type { Rng } from '../rng.ts';
import { glorotUniform, heNormal, zerosVariable } from './init.ts';
import { SlottedHost, type HostLayer, type HostModel, type SlotSpec } from './model.ts';

/** One conv block. */
export interface ConvBlockSpec {
  filters: number;
  /** Square kernel size. @default 3 */
  kernelSize?: number;
}

/** Options of {@link cnnHost}. */
export interface CnnHostOptions {
  /** [height, width, channels], e.g. [28, 28, 1]. */
  inputShape: readonly [number, number, number];
  /** Conv blocks; each halves height and width (floor). */
  convs: readonly ConvBlockSpec[];
  /** Hidden dense widths after flattening. @default [] */
  dense?: readonly number[];
  classes: number;
  /** Initialises the weights (He normal for ReLU layers, Glorot uniform for logits; biases 0). */
  rng: Rng;
  /**
   * Slots: afterLayer 1..convs.length is after that block's pooling;
   * convs.length + j is after hidden dense layer j. @default []
   */
  slots?: readonly SlotSpec[];
}

function positiveInts(values: readonly number[]): boolean {
  return values.every((v) => Number.isInteger(v) && v >= 1);
}

/** Builds a CNN host. */
export function cnnHost(options: CnnHostOptions): HostModel {
  const { inputShape, convs, classes, rng } = options;
  const dense = options.dense ?? [];
  const kernels = convs.map((c) => c.kernelSize ?? 3);
  if (!positiveInts(inputShape) || convs.length < 1 || !positiveInts(convs.map((c) => c.filters)) || !positiveInts(kernels) || !positiveInts(dense) || !positiveInts([classes])) {
    throw new EsperError('ESPER_CONFIG_INVALID', 'cnn host: inputShape, filters, kernel sizes, dense widths and classes must be positive integers, with at least one conv block', {
      details: { inputShape: [...inputShape], convs: convs.map((c) => ({ ...c })), dense: [...dense], classes },
    });
  }
  const params: tf.Variable[] = [];
  const layers: HostLayer[] = [];
  let [h, w, c] = inputShape;
  convs.forEach((block, i) => {
    const k = kernels[i] as number;
    const kernel = heNormal(rng, [k, k, c, block.filters], k * k * c);
    const bias = zerosVariable([block.filters]);
    params.push(kernel, bias);
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
    c = block.filters;
    if (h < 1 || w < 1) throw new EsperError('ESPER_CONFIG_INVALID', `cnn host: block ${i + 1} pools ${JSON.stringify(inputShape)} down to nothing`);
    layers.push({
      outShape: [h, w, c],
      apply: (x) => tf.maxPool(tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'same'), bias)) as tf.Tensor4D, 2, 2, 'valid'),
    });
  });
  const widths = [h * w * c, ...dense, classes];
  for (let i = 0; i + 1 < widths.length; i++) {
    const fanIn = widths[i] as number;
    const fanOut = widths[i + 1] as number;
    const isLogits = i + 2 === widths.length;
    const weight = isLogits ? glorotUniform(rng, [fanIn, fanOut], fanIn, fanOut) : heNormal(rng, [fanIn, fanOut], fanIn);
    const bias = zerosVariable([fanOut]);
    params.push(weight, bias);
    layers.push({
      outShape: [fanOut],
      apply: (x) => {
        const flat = i === 0 ? tf.reshape(x, [x.shape[0] ?? -1, fanIn]) : x;
        const z = tf.add(denseMatMul(flat as tf.Tensor2D, weight as tf.Tensor2D), bias);
        return isLogits ? z : tf.relu(z);
      },
    });
  }
  const config = { inputShape: [...inputShape], convs: convs.map((b, i) => ({ filters: b.filters, kernelSize: kernels[i] })), dense: [...dense], classes };
  return new SlottedHost('cnn', config, inputShape, params, layers, options.slots ?? []);
}
