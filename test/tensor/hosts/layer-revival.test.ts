import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../../src/errors/index.ts';
import { mlpHost } from '../../../src/tensor/hosts/mlp-host.ts';
import type { HostModel } from '../../../src/tensor/hosts/model.ts';
import { Optimizer, trainStep } from '../../../src/tensor/optimizer.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { useTestBackend } from '../../helpers/test-backend.ts';
import { batchOf, bytesOf, germinate, grownHost, logits, maxAbsDiff, randomTensor } from '../width-helpers.ts';

/** A 6-3-3-4-3 MLP whose hidden layers `dead` (1-based) have every unit dead: biases far below anything the inputs reach. */
function hostWithDeadLayers(dead: readonly number[], seed = 3): HostModel {
  const model = mlpHost({ widths: [6, 3, 3, 4, 3], rng: new Rng(seed), slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }] });
  for (const layer of dead) {
    const bias = model.hostParams[2 * (layer - 1) + 1] as tf.Variable;
    tf.tidy(() => bias.assign(tf.fill(bias.shape, -1000)));
  }
  return model;
}

function deadFractions(model: HostModel, x: tf.Tensor): number[] {
  return tf.tidy(() =>
    model.hiddenActivations(x).map((h) => {
      const live = tf.sum(tf.cast(tf.greater(tf.max(h, 0), 0), 'float32')).dataSync()[0] as number;
      return 1 - live / (h.shape[1] as number);
    }),
  );
}

describe('host layer revival (dead hidden layers, issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  it('revives a dead chain: the model computes what it did, the units are alive, and the next layer reads them through zeros', () => {
    const x = randomTensor(new Rng(4), [32, 6]);
    const model = hostWithDeadLayers([2, 3]);
    expect(deadFractions(model, x)).to.deep.equal([0, 1, 1]);
    const before = logits(model, x);
    const variables = [...model.hostParams];
    const layer1 = bytesOf([variables[0] as tf.Variable, variables[1] as tf.Variable]);
    const units = model.reviveLayers([2, 3], new Rng(9));
    expect(units).to.equal(7);
    expect(maxAbsDiff(logits(model, x), before)).to.equal(0);
    expect(deadFractions(model, x)[1]).to.be.below(1);
    expect(deadFractions(model, x)[2]).to.be.below(1);
    // Same variables (the optimizer's groups and a checkpoint's layout hold); layer 1 untouched; the biases zero; the reader zero.
    expect(model.hostParams).to.deep.equal(variables);
    expect(bytesOf([variables[0] as tf.Variable, variables[1] as tf.Variable]).equals(layer1)).to.equal(true);
    expect([...(variables[3] as tf.Variable).dataSync(), ...(variables[5] as tf.Variable).dataSync()]).to.satisfy((v: number[]) => v.every((b) => b === 0));
    expect([...(variables[6] as tf.Variable).dataSync()]).to.satisfy((v: number[]) => v.every((w) => w === 0));
    model.dispose();
  });

  it('is deterministic in its Rng, and the revived layers learn (the dead host did not)', () => {
    // Layer 3 reads only the dead layer 2: its pre-activation is its bias, positive here (a ReLU at 0 would be dead too, and in the chain).
    const liveConstant = (model: HostModel): HostModel => {
      tf.tidy(() => (model.hostParams[5] as tf.Variable).assign(tf.fill([4], 0.5)));
      return model;
    };
    const a = liveConstant(hostWithDeadLayers([1, 2]));
    const b = liveConstant(hostWithDeadLayers([1, 2]));
    a.reviveLayers([1, 2], new Rng(9));
    b.reviveLayers([1, 2], new Rng(9));
    expect(bytesOf(a.hostParams).equals(bytesOf(b.hostParams))).to.equal(true);
    const dead = liveConstant(hostWithDeadLayers([1, 2]));
    const train = (model: HostModel): Buffer => {
      const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 }, model.paramGroups());
      const rng = new Rng(5);
      for (let i = 0; i < 10; i++) tf.tidy(() => void trainStep(model, optimizer, ...Object.values(batchOf(rng, 16, [6], 3)) as [tf.Tensor, tf.Tensor]));
      optimizer.dispose();
      return bytesOf(model.hostParams.slice(0, 4));
    };
    const deadBefore = bytesOf(dead.hostParams.slice(0, 4));
    expect(train(dead).equals(deadBefore), 'a dead chain gets no gradient').to.equal(true);
    const revivedBefore = bytesOf(a.hostParams.slice(0, 4));
    expect(train(a).equals(revivedBefore), 'the revived layers train').to.equal(false);
    for (const m of [a, b, dead]) m.dispose();
  });

  it('refuses layers that are not a chain of dense hidden layers, and any live seed', () => {
    const model = hostWithDeadLayers([1, 2]);
    const code = (layers: number[]): string | undefined => {
      try {
        model.reviveLayers(layers, new Rng(1));
        return undefined;
      } catch (error) {
        return error instanceof EsperError ? error.code : String(error);
      }
    };
    expect(code([1, 3])).to.equal('ESPER_CONFIG_INVALID');
    expect(code([4])).to.equal('ESPER_CONFIG_INVALID'); // the logits layer
    expect(code([])).to.equal('ESPER_CONFIG_INVALID');
    model.dispose();
    const cnn = grownHost('cnn');
    expect(() => cnn.reviveLayers([1, 2], new Rng(1))).to.throw(EsperError, /conv block/);
    const withSeed = grownHost('mlp');
    germinate(withSeed, 'w1', 2);
    withSeed.widthSlot('w1').setMode('TRAINING');
    expect(() => withSeed.reviveLayers([1, 2], new Rng(1))).to.throw(EsperError, /no seed is live \(live: w1\)/);
    cnn.dispose();
    withSeed.dispose();
  });
});
