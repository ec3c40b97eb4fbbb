/**
 * A multilayer perceptron host, e.g. 784-256-128-10 (Fashion-MNIST) or
 * 2-16-16-2 (spirals), with seed slots after chosen hidden layers. Dense
 * layers use {@link denseMatMul} (wasm-friendly gradient, DESIGN §8).
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { denseMatMul } from '../ops/dense-matmul.ts';
import type { Rng } from '../rng.ts';
import { glorotUniform, heNormal, zerosVariable } from './init.ts';
import { SlottedHost, type HostLayer, type HostModel, type SlotSpec } from './model.ts';

/** Options of {@link mlpHost}. */
export interface MlpHostOptions {
  /** Layer widths from input to logits, at least [in, out]; e.g. [784, 256, 128, 10]. */
  widths: readonly number[];
  /** Initialises the weights (He normal for ReLU layers, Glorot uniform for the logits layer; biases 0). */
  rng: Rng;
  /** Slots after hidden layers: afterLayer 1 is the ReLU output of width widths[1]. @default [] */
  slots?: readonly SlotSpec[];
}

/** Builds an MLP host: dense → ReLU for each hidden layer, then dense to logits. */
export function mlpHost(options: MlpHostOptions): HostModel {
  const { widths, rng } = options;
  if (widths.length < 2 || widths.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new EsperError('ESPER_CONFIG_INVALID', `mlp host: widths ${JSON.stringify(widths)} must be at least two positive integers`, { details: { widths: [...widths] } });
  }
  const params: tf.Variable[] = [];
  const layers: HostLayer[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const fanIn = widths[i] as number;
    const fanOut = widths[i + 1] as number;
    const isLogits = i + 2 === widths.length;
    const w = isLogits ? glorotUniform(rng, [fanIn, fanOut], fanIn, fanOut) : heNormal(rng, [fanIn, fanOut], fanIn);
    const b = zerosVariable([fanOut]);
    params.push(w, b);
    layers.push({
      outShape: [fanOut],
      apply: (x) => {
        const z = tf.add(denseMatMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
        return isLogits ? z : tf.relu(z);
      },
    });
  }
  return new SlottedHost('mlp', { widths: [...widths] }, [widths[0] as number], params, layers, options.slots ?? []);
}
