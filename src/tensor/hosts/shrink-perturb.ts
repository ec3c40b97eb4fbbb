/**
 * Shrink and perturb (Ash & Adams, "On Warm-Starting Neural Network
 * Training", NeurIPS 2020) after a width seed merges into its host.
 *
 * A grown network is a warm start: the wider model begins from the narrow
 * one's trained weights. Warm-started networks reach the training loss of a
 * network trained from scratch but generalise worse; the paper's remedy is to
 * scale every weight by λ < 1 and add a little noise from the initialiser
 * before training on. On Fashion-MNIST CNNs the grown model ended under its
 * static twin at the same training loss (docs/benchmarks.md, twenty-ninth and
 * thirtieth sessions); this is that remedy, applied at each merge.
 *
 * Scaled this way the network still predicts what it did. Layer l's kernel
 * is scaled by λ and its bias by λ^l (layers 1-based, the logits layer last):
 * ReLU and max-pooling are positively homogeneous, so layer l's output is
 * λ^l times what it was, and the logits λ^L times — the same argmax, softer
 * probabilities. A live width seed on hidden layer j is scaled to match (Ψ by
 * λ, b by λ^j, Ω by λ: its units are λ^j times what they were and its
 * contribution to layer j + 1 λ^(j+1) times, as that layer's own
 * pre-activation). Depth seeds are blueprint modules that need not be
 * homogeneous, so a host holding one is left alone ({@link shrinkProblem}).
 * Only the noise changes predictions: `noise` × He-normal values (the host's
 * initialiser at the layer's fan-in) added to each kernel after scaling.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { WidthSeed } from '../width/width-seed.ts';
import type { LayerParams } from './host-layers.ts';
import { heNormalValues } from './init.ts';

/** How much to shrink and perturb (both 0–1). */
export interface ShrinkPerturb {
  /** λ: each kernel is multiplied by it (layer l's bias by λ^l). 1 leaves the weights as they are. */
  factor: number;
  /** The noise added to each kernel, as a fraction of a He-normal draw at the layer's fan-in. */
  noise: number;
}

/** No shrink and no noise: the weights are left as they are. */
export const SHRINK_OFF: Readonly<ShrinkPerturb> = Object.freeze({ factor: 1, noise: 0 });

/**
 * What a CNN host gets when its spec says nothing. Grown CNNs generalise
 * worse than their static twins (they fit the training set as well); with
 * this at each merge the weakest data seed's resolution rose on four of the
 * five CNN specs measured and held on the fifth, and the grown models' mean
 * test accuracy rose on four and held on the fifth (the medians of
 * resolution moved both ways), while on the MLP goal specs, whose grown
 * models do not trail their twins, it was a wash or slightly worse
 * (docs/benchmarks.md, thirty-first and thirty-second sessions).
 */
export const CNN_SHRINK_AT_MERGE: Readonly<ShrinkPerturb> = Object.freeze({ factor: 0.6, noise: 0.1 });

/** The shrink a run applies at each merge: the spec's, else {@link CNN_SHRINK_AT_MERGE} on a CNN host and {@link SHRINK_OFF} on an MLP. */
export function shrinkAtMergeFor(training: { host: { kind: string }; optimizer: { shrinkAtMerge?: ShrinkPerturb | undefined } }): Readonly<ShrinkPerturb> {
  return training.optimizer.shrinkAtMerge ?? (training.host.kind === 'cnn' ? CNN_SHRINK_AT_MERGE : SHRINK_OFF);
}

/** A live width seed and the hidden layer (1-based) it widens. */
export interface LiveWidthSeed {
  layer: number;
  seed: WidthSeed;
}

/** Why a host with these depth seeds cannot be shrunk (see the file comment), or undefined when it can. */
export function shrinkProblem(depthSeeds: readonly string[]): string | undefined {
  return depthSeeds.length === 0 ? undefined : `depth slot${depthSeeds.length > 1 ? 's' : ''} ${depthSeeds.join(', ')} hold${depthSeeds.length > 1 ? '' : 's'} a seed (a blueprint module need not be homogeneous)`;
}

/**
 * Shrinks and perturbs the host's layers `params` (every layer, the logits
 * layer last) and the live width seeds in place. The noise comes from `rng`,
 * layer by layer in order; with `noise` 0 nothing is drawn.
 */
export function shrinkAndPerturb(params: readonly LayerParams[], seeds: readonly LiveWidthSeed[], options: ShrinkPerturb, rng: Rng): void {
  const { factor, noise } = options;
  if (!(factor > 0 && factor <= 1) || !(noise >= 0 && noise <= 1)) {
    throw new RangeError(`Error in shrinkAndPerturb: factor ${factor} must be in (0, 1] and noise ${noise} in [0, 1]`);
  }
  params.forEach(({ weight, bias }, i) => {
    const shape = weight.shape;
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const draw = noise > 0 ? heNormalValues(rng, shape, fanIn) : undefined;
    tf.tidy(() => {
      const scaled = tf.mul(weight, factor);
      weight.assign(draw === undefined ? scaled : tf.add(scaled, tf.mul(tf.tensor(draw, shape, 'float32'), noise)));
      bias.assign(tf.mul(bias, factor ** (i + 1)));
    });
  });
  for (const { layer, seed } of seeds) {
    const scales = [factor, factor ** layer, factor]; // Ψ, b, Ω
    tf.tidy(() => seed.params.forEach((p, i) => p.assign(tf.mul(p, scales[i] as number))));
  }
}
