/**
 * Reviving a chain of hidden layers whose units are all dead (ReDo, Sokar et
 * al. 2023, in the case where nothing of the chain is alive): every unit of
 * each chained layer gets new incoming weights (He normal, as the host was
 * initialised) and a zero bias, and the layer after the chain gets a zero
 * kernel where it reads the chain's last layer. The network computes what it
 * did on every input on which the chain was dead — its last layer's output
 * was zero there, and it now enters the next layer through zero weights —
 * while the revived units are alive and pass a gradient again, so the zero
 * weights learn and the layers train.
 *
 * Why a chain and not one layer: a width seed can give a dead layer live units
 * of its own, but only where its neighbours pass a gradient and read
 * something. Two dead layers in a row block each other (the first's new
 * units feed a layer that passes no gradient, the second's read only zeros):
 * a Fashion-MNIST 784-2-2-10 host whose four ReLUs died in its first epoch
 * stayed at chance for 30 epochs, and so did 784-6-4-2-10 (layers 2 and 3)
 * and 784-2-2-6-10 (layers 2 and 3) hosts on other data seeds.
 *
 * The optimizer's state is left as it is: the revived weights' moments hold
 * what their gradient left before the units died, decayed since.
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import type { Rng } from '../rng.ts';
import type { LayerParams, LayerStructure } from './host-layers.ts';
import { heNormalValues } from './init.ts';

/** Why `chain` (hidden layers, 1-based) cannot be revived in a host of these layers, or undefined when it can. */
export function revivalProblem(layers: readonly LayerStructure[], chain: readonly number[]): string | undefined {
  if (chain.length === 0) return 'no layer named';
  const hidden = layers.length - 1;
  for (const [i, layer] of chain.entries()) {
    if (!Number.isInteger(layer) || layer < 1 || layer > hidden) return `layer ${layer} is not a hidden layer (1..${hidden})`;
    if (i > 0 && layer !== (chain[i - 1] as number) + 1) return `layers ${chain.join(', ')} are not consecutive`;
    if (layers[layer - 1]?.kind !== 'dense') return `layer ${layer} is a conv block (only dense layers are revived)`;
  }
  return undefined;
}

/**
 * Revives the hidden layers `chain` (1-based, consecutive, dense) in place:
 * new incoming weights drawn from `rng`, zero biases, and a zero kernel for
 * the layer reading the chain's last layer. The variables keep their identity
 * (the optimizer's groups and a checkpoint's layout do not change). Returns
 * the number of units revived.
 */
export function reviveLayers(layers: readonly LayerStructure[], params: readonly LayerParams[], chain: readonly number[], rng: Rng): number {
  const problem = revivalProblem(layers, chain);
  if (problem !== undefined) throw new EsperError('ESPER_CONFIG_INVALID', `revive layers ${JSON.stringify(chain)}: ${problem}`, { details: { layers: [...chain] } });
  let units = 0;
  for (const layer of chain) {
    const own = params[layer - 1] as LayerParams;
    const shape = own.weight.shape;
    const values = heNormalValues(rng, shape, shape[0]);
    tf.tidy(() => own.weight.assign(tf.tensor(values, shape, 'float32')));
    tf.tidy(() => own.bias.assign(tf.zerosLike(own.bias)));
    units += own.bias.size;
  }
  const reader = params[chain[chain.length - 1] as number] as LayerParams;
  tf.tidy(() => reader.weight.assign(tf.zerosLike(reader.weight)));
  return units;
}
