import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useTestBackend } from '../helpers/test-backend.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import { Optimizer } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { EsperError } from '../../src/errors/index.ts';
import { initWidthSeed, layerGradients, omegaGradient, type WidthInit } from '../../src/tensor/width/width-init.ts';
import type { WidthSeed } from '../../src/tensor/width/width-seed.ts';
import { batchOf, germinate, grownHost, logits, maxAbsDiff, randomTensor, train } from './width-helpers.ts';

const ADAM = { kind: 'adam', learningRate: 0.01 } as const;

describe('width seeds: optimizer state across the merge, initialisation, memory (issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  it('after the merge, training continues as the unmerged α = 1 branch would (≤ 1e-5 over 5 Adam steps); fresh optimizer state would not', () => {
    const x = randomTensor(new Rng(8), [6, 6]);
    const setUp = (): { model: ReturnType<typeof grownHost>; optimizer: Optimizer } => {
      const model = grownHost('mlp', 1, false); // the seed reads h1 without a gradient stop, as merged units do
      germinate(model, 'w2', 3);
      model.widthSlot('w2').setMode('BLENDING', 1);
      const optimizer = new Optimizer(ADAM, model.paramGroups());
      train(model, optimizer, 'mlp', 5, new Rng(4)); // host and seed groups both at step 5
      return { model, optimizer };
    };
    const unmerged = setUp();
    const merged = setUp();
    const fresh = setUp();
    merged.model.widthSlot('w2').setMode('FOSSILIZED');
    fresh.model.widthSlot('w2').setMode('FOSSILIZED');
    fresh.optimizer.dispose();
    fresh.optimizer = new Optimizer(ADAM, fresh.model.paramGroups());
    for (const run of [unmerged, merged, fresh]) train(run.model, run.optimizer, 'mlp', 5, new Rng(10));
    expect(merged.optimizer.groupIds()).to.deep.equal(['host']);
    expect(merged.optimizer.exportState().groups[0]?.step).to.equal(10);
    const reference = logits(unmerged.model, x);
    expect(maxAbsDiff(logits(merged.model, x), reference)).to.be.at.most(1e-5);
    expect(maxAbsDiff(logits(fresh.model, x), reference)).to.be.greaterThan(1e-4);
    // Merged layer 2 = [W2 | Ψ] of the unmerged run, layer 3 = [W3; Ω].
    const seed = unmerged.model.widthSlot('w2').seed as WidthSeed;
    const [w2, , w3] = [2, 3, 4].map((i) => merged.model.hostParams[i] as tf.Variable);
    const expected2 = tf.concat([unmerged.model.hostParams[2] as tf.Variable, seed.params[0] as tf.Variable], 1);
    const expected3 = tf.concat([unmerged.model.hostParams[4] as tf.Variable, seed.params[2] as tf.Variable], 0);
    expect(maxAbsDiff((w2 as tf.Variable).dataSync(), expected2.dataSync())).to.be.at.most(1e-5);
    expect(maxAbsDiff((w3 as tf.Variable).dataSync(), expected3.dataSync())).to.be.at.most(1e-5);
    for (const t of [expected2, expected3, x]) t.dispose();
    for (const run of [unmerged, merged, fresh]) {
      run.optimizer.dispose();
      run.model.dispose();
    }
  });

  it("with afterMerge: 'restart' the merge starts the host's optimizer state afresh (step 0, zero moments) and training goes on from there", () => {
    const model = grownHost('mlp', 1, false);
    germinate(model, 'w2', 3);
    model.widthSlot('w2').setMode('BLENDING', 1);
    const optimizer = new Optimizer(ADAM, model.paramGroups(), { afterMerge: 'restart' });
    train(model, optimizer, 'mlp', 5, new Rng(4));
    expect(optimizer.exportState().groups.map((g) => [g.id, g.step])).to.deep.equal([
      ['host', 5],
      ['seed:w2', 5],
    ]);
    model.widthSlot('w2').setMode('FOSSILIZED');
    optimizer.setGroups(model.paramGroups());
    const [host] = optimizer.exportState().groups;
    expect(host?.step).to.equal(0);
    expect(host?.params.every((p) => p.buffers.every((b) => b.every((v) => v === 0)))).to.equal(true);
    const losses = train(model, optimizer, 'mlp', 3, new Rng(10));
    expect(losses.every((l) => Number.isFinite(l))).to.equal(true);
    expect(optimizer.exportState().groups[0]?.step).to.equal(3);
    optimizer.dispose();
    model.dispose();
  });

  it('ramps the learning rate of a host restarted by a merge over mergeWarmupSteps (default freshWarmupSteps; 0: none), a new seed still over freshWarmupSteps', () => {
    const warmupsAfterMerge = (options: { freshWarmupSteps: number; mergeWarmupSteps?: number }): Record<string, number | undefined> => {
      const model = grownHost('mlp', 1, false);
      const optimizer = new Optimizer(ADAM, model.paramGroups(), { afterMerge: 'restart', ...options });
      train(model, optimizer, 'mlp', 2, new Rng(4));
      germinate(model, 'w2', 3);
      optimizer.setGroups(model.paramGroups());
      model.widthSlot('w2').setMode('BLENDING', 1);
      train(model, optimizer, 'mlp', 2, new Rng(5));
      const seedWarmup = optimizer.exportState().groups.find((g) => g.id === 'seed:w2')?.warmupSteps;
      model.widthSlot('w2').setMode('FOSSILIZED');
      optimizer.setGroups(model.paramGroups());
      const host = optimizer.exportState().groups.find((g) => g.id === 'host');
      optimizer.dispose();
      model.dispose();
      return { seed: seedWarmup, host: host?.step === 0 ? (host.warmupSteps ?? 0) : undefined };
    };
    expect(warmupsAfterMerge({ freshWarmupSteps: 7 })).to.deep.equal({ seed: 7, host: 7 });
    expect(warmupsAfterMerge({ freshWarmupSteps: 7, mergeWarmupSteps: 0 })).to.deep.equal({ seed: 7, host: 0 });
    expect(warmupsAfterMerge({ freshWarmupSteps: 0, mergeWarmupSteps: 3 })).to.deep.equal({ seed: undefined, host: 3 });
    expect(() => new Optimizer(ADAM, [], { mergeWarmupSteps: 1.5 })).to.throw(EsperError, /mergeWarmupSteps/);
  });

  it("moves the seed's Adam moments into the host's buffers, rescaled to keep their bias-corrected values under the host's step count", () => {
    const model = grownHost('mlp');
    const optimizer = new Optimizer(ADAM, model.paramGroups());
    train(model, optimizer, 'mlp', 6, new Rng(4));
    germinate(model, 'w1', 2);
    model.widthSlot('w1').setMode('BLENDING', 0.5);
    train(model, optimizer, 'mlp', 2, new Rng(5)); // host at step 8, seed at step 2
    const before = optimizer.exportState();
    const host = before.groups.find((g) => g.id === 'host');
    const seed = before.groups.find((g) => g.id === 'seed:w1');
    model.widthSlot('w1').setMode('FOSSILIZED');
    optimizer.setGroups(model.paramGroups());
    const after = optimizer.exportState().groups;
    expect(after.map((g) => [g.id, g.step])).to.deep.equal([['host', 8]]);
    const b1 = 0.9;
    const b2 = 0.999;
    const factor = [(1 - b1 ** 8) / (1 - b1 ** 2), (1 - b2 ** 8) / (1 - b2 ** 2)];
    // Layer 1's bias [4 + 2]: the host's 4 moments, then the seed's b moments rescaled.
    const merged = after[0]?.params[1]?.buffers ?? [];
    [0, 1].forEach((k) => {
      const old = Array.from(host?.params[1]?.buffers[k] ?? []);
      const fromSeed = Array.from(seed?.params[1]?.buffers[k] ?? []).map((v) => v * (factor[k] as number));
      expect(maxAbsDiff(merged[k] ?? [], [...old, ...fromSeed])).to.be.at.most(1e-7 * Math.max(1, ...old.map(Math.abs)));
    });
    // Unchanged host parameters keep their buffers bit for bit (layer 3's bias).
    expect(Array.from(after[0]?.params[5]?.buffers[0] ?? [])).to.deep.equal(Array.from(host?.params[5]?.buffers[0] ?? []));
    optimizer.dispose();
    model.dispose();
  });

  it('an epoch of training with TRAINING and BLENDING width seeds, and one after a merge, leaves tf.memory().numTensors unchanged', () => {
    const model = grownHost('cnn');
    germinate(model, 'w1', 2);
    model.widthSlot('w1').setMode('TRAINING');
    germinate(model, 'w3', 3);
    model.widthSlot('w3').setMode('BLENDING', 0.5);
    const optimizer = new Optimizer(ADAM, model.paramGroups());
    train(model, optimizer, 'cnn', 1, new Rng(4)); // creates the optimizer buffers
    let before = tf.memory().numTensors;
    train(model, optimizer, 'cnn', 8, new Rng(5));
    expect(tf.memory().numTensors).to.equal(before);
    model.widthSlot('w3').setMode('FOSSILIZED');
    train(model, optimizer, 'cnn', 1, new Rng(6));
    before = tf.memory().numTensors;
    train(model, optimizer, 'cnn', 8, new Rng(7));
    expect(tf.memory().numTensors).to.equal(before);
    optimizer.dispose();
    model.dispose();
  });

  it('gradient init: on a linear toy problem the SVD-aimed Ψ gets a larger ‖∂L/∂Ω‖ than random Ψ, at the scale of the layer', () => {
    const model = mlpHost({ widths: [8, 2, 3], rng: new Rng(1), slots: [{ id: 'w', afterLayer: 1, kind: 'width' }] });
    const data = new Rng(2);
    const weights = Float32Array.from({ length: 24 }, () => data.normal());
    const xs = randomTensor(data, [128, 8]);
    const ys = tf.tidy(() => tf.argMax(tf.matMul(xs, tf.tensor2d(weights, [8, 3])), 1));
    const batch = { x: xs, y: ys };
    const slot = model.widthSlot('w');
    const score = (init: WidthInit, seed: number): number => {
      const widthSeed = initWidthSeed(model, 1, slot.geometry, { units: 2, init }, new Rng(seed), batch);
      const { input, gradient } = layerGradients(model, 1, batch);
      const norm = tf.tidy(() => tf.norm(omegaGradient(widthSeed, input, gradient)).dataSync()[0] ?? 0);
      if (init === 'gradient') {
        const columns = tf.tidy(() => Array.from(tf.norm(widthSeed.params[0] as tf.Variable, 'euclidean', 0).dataSync()));
        const layer = tf.tidy(() => tf.mean(tf.norm(model.hostParams[0] as tf.Variable, 'euclidean', 0)).dataSync()[0] ?? 0);
        columns.forEach((c) => expect(c).to.be.closeTo(layer, 1e-4));
      }
      for (const t of [input, gradient]) t.dispose();
      widthSeed.dispose();
      return norm;
    };
    const aimed = score('gradient', 3);
    const random = [4, 5, 6, 7, 8].map((seed) => score('random', seed));
    expect(aimed).to.be.greaterThan(Math.max(...random));
    expect(score('gradient', 3)).to.equal(aimed); // deterministic given the Rng and the batch
    expect(xs.isDisposed).to.equal(false); // the caller's batch is left alone
    for (const t of [xs, ys]) t.dispose();
    model.dispose();
  });

  it('gradient init of conv channels selects the best of N random candidates by ‖∂L/∂Ω‖', () => {
    const model = grownHost('cnn');
    const { xs, ys } = batchOf(new Rng(3), 32, [8, 8, 1], 3);
    const batch = { x: xs, y: ys };
    const slot = model.widthSlot('w1');
    const { input, gradient } = layerGradients(model, 1, batch);
    const norm = (init: WidthInit, seed: number): number => {
      const s = initWidthSeed(model, 1, slot.geometry, { units: 2, init, candidates: 8 }, new Rng(seed), batch);
      const value = tf.tidy(() => tf.norm(omegaGradient(s, input, gradient)).dataSync()[0] ?? 0);
      s.dispose();
      return value;
    };
    const randoms = [4, 5, 6, 7].map((seed) => norm('random', seed));
    expect(norm('gradient', 3)).to.be.greaterThan(Math.max(...randoms));
    for (const t of [input, gradient, xs, ys]) t.dispose();
    model.dispose();
  });
});
