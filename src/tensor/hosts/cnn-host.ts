/**
 * A small convolutional host (NHWC): one or more blocks of conv ('same') →
 * ReLU → 2×2 max-pool, then optional hidden dense layers, then dense to
 * logits. Seed slots go after a block (interface [h, w, filters]) or after a
 * hidden dense layer (interface [width]); width slots add channels to a block
 * or units to a hidden dense layer.
 */
import { EsperError } from '../../errors/index.ts';
import type { Rng } from '../rng.ts';
import type { LayerParams, LayerStructure } from './host-layers.ts';
import { glorotUniform, heNormal, zerosVariable } from './init.ts';
import type { HostModel, SlotSpec } from './model.ts';
import { SlottedHost } from './slotted-host.ts';

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
   * Slots: afterLayer 1..convs.length is after (depth) or on (width) that
   * block; convs.length + j is hidden dense layer j. @default []
   */
  slots?: readonly SlotSpec[];
}

function positiveInts(values: readonly number[]): boolean {
  return values.every((v) => Number.isInteger(v) && v >= 1);
}

/** Builds a CNN host. Its config is `{ inputShape, convs: [{ filters, kernelSize }], dense, classes }` (current filters and widths). */
export function cnnHost(options: CnnHostOptions): HostModel {
  const { inputShape, convs, classes, rng } = options;
  const dense = options.dense ?? [];
  const kernels = convs.map((c) => c.kernelSize ?? 3);
  if (!positiveInts(inputShape) || convs.length < 1 || !positiveInts(convs.map((c) => c.filters)) || !positiveInts(kernels) || !positiveInts(dense) || !positiveInts([classes])) {
    throw new EsperError('ESPER_CONFIG_INVALID', 'cnn host: inputShape, filters, kernel sizes, dense widths and classes must be positive integers, with at least one conv block', {
      details: { inputShape: [...inputShape], convs: convs.map((c) => ({ ...c })), dense: [...dense], classes },
    });
  }
  const params: LayerParams[] = [];
  const layers: LayerStructure[] = [];
  let [h, w, c] = inputShape;
  convs.forEach((block, i) => {
    const k = kernels[i] as number;
    params.push({ weight: heNormal(rng, [k, k, c, block.filters], k * k * c), bias: zerosVariable([block.filters]) });
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
    c = block.filters;
    if (h < 1 || w < 1) throw new EsperError('ESPER_CONFIG_INVALID', `cnn host: block ${i + 1} pools ${JSON.stringify(inputShape)} down to nothing`);
    layers.push({ kind: 'conv', kernelSize: k, height: h, width: w });
  });
  const widths = [h * w * c, ...dense, classes];
  for (let i = 0; i + 1 < widths.length; i++) {
    const fanIn = widths[i] as number;
    const fanOut = widths[i + 1] as number;
    const isLogits = i + 2 === widths.length;
    const weight = isLogits ? glorotUniform(rng, [fanIn, fanOut], fanIn, fanOut) : heNormal(rng, [fanIn, fanOut], fanIn);
    params.push({ weight, bias: zerosVariable([fanOut]) });
    layers.push({ kind: 'dense', logits: isLogits, ...(i === 0 ? { flatten: { height: h, width: w } } : {}) });
  }
  const structure = {
    kind: 'cnn',
    inputShape,
    layers,
    configFor: (layerWidths: readonly number[]) => ({
      inputShape: [...inputShape],
      convs: convs.map((_, i) => ({ filters: layerWidths[i], kernelSize: kernels[i] })),
      dense: layerWidths.slice(convs.length, -1),
      classes,
    }),
    widthsIn: (config: Readonly<Record<string, unknown>>) => {
      const { convs: cs, dense: ds, classes: n } = config as { convs?: unknown; dense?: unknown; classes?: unknown };
      if (!Array.isArray(cs) || !Array.isArray(ds)) return undefined;
      return [...cs.map((b) => (b as { filters?: unknown } | null)?.filters), ...(ds as unknown[]), n];
    },
  };
  return new SlottedHost(structure, [...convs.map((b) => b.filters), ...dense, classes], params, options.slots ?? []);
}
