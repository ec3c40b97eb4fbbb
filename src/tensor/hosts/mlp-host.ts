/**
 * A multilayer perceptron host, e.g. 784-256-128-10 (Fashion-MNIST) or
 * 2-16-16-2 (spirals), with seed slots after chosen hidden layers. Dense
 * layers use {@link denseMatMul} (wasm-friendly gradient, DESIGN §8).
 */
import { EsperError } from '../../errors/index.ts';
import type { Rng } from '../rng.ts';
import type { LayerParams, LayerStructure } from './host-layers.ts';
import { glorotUniform, heNormal, zerosVariable } from './init.ts';
import type { HostModel, SlotSpec } from './model.ts';
import { SlottedHost } from './slotted-host.ts';

/** Options of {@link mlpHost}. */
export interface MlpHostOptions {
  /** Layer widths from input to logits, at least [in, out]; e.g. [784, 256, 128, 10]. */
  widths: readonly number[];
  /** Initialises the weights (He normal for ReLU layers, Glorot uniform for the logits layer; biases 0). */
  rng: Rng;
  /** Slots after (depth) or on (width) hidden layers: afterLayer 1 is the ReLU layer of width widths[1]. @default [] */
  slots?: readonly SlotSpec[];
}

/** Builds an MLP host: dense → ReLU for each hidden layer, then dense to logits. Its config is `{ widths }` (current widths, input to logits). */
export function mlpHost(options: MlpHostOptions): HostModel {
  const { widths, rng } = options;
  if (widths.length < 2 || widths.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new EsperError('ESPER_CONFIG_INVALID', `mlp host: widths ${JSON.stringify(widths)} must be at least two positive integers`, { details: { widths: [...widths] } });
  }
  const params: LayerParams[] = [];
  const layers: LayerStructure[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const fanIn = widths[i] as number;
    const fanOut = widths[i + 1] as number;
    const isLogits = i + 2 === widths.length;
    const weight = isLogits ? glorotUniform(rng, [fanIn, fanOut], fanIn, fanOut) : heNormal(rng, [fanIn, fanOut], fanIn);
    params.push({ weight, bias: zerosVariable([fanOut]) });
    layers.push({ kind: 'dense', logits: isLogits });
  }
  const inputs = widths[0] as number;
  const structure = {
    kind: 'mlp',
    inputShape: [inputs],
    layers,
    configFor: (layerWidths: readonly number[]) => ({ widths: [inputs, ...layerWidths] }),
    widthsIn: (config: Readonly<Record<string, unknown>>) => (Array.isArray(config['widths']) ? (config['widths'] as unknown[]).slice(1) : undefined),
  };
  return new SlottedHost(structure, widths.slice(1), params, options.slots ?? []);
}
