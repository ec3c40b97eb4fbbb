import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../src/errors/index.ts';
import { quietCpuBackend, selectBackend } from '../../src/tensor/backend.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import { evaluateBatch, Optimizer, softmaxCrossEntropy, trainStep, type OptimizerState } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';

const G1 = [0.5, -1, 2];
const G2 = [-0.25, 0.75, 1];

function stateBytes(state: OptimizerState): Buffer {
  return Buffer.concat(state.groups.flatMap((g) => g.params.flatMap((p) => p.buffers.map((b) => Buffer.from(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))))));
}

/** A variable that leaves no stray initial tensor behind. */
function variable(values: number[]): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor1d(values)));
}

function valuesOf(v: tf.Tensor): number[] {
  return Array.from(v.dataSync());
}

describe('Optimizer (issue 4, item 3)', () => {
  before(async () => {
    quietCpuBackend();
    await selectBackend('cpu');
  });

  it('Adam follows the bias-corrected update', () => {
    const p = variable([1, 2, 3]);
    const opt = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'host', params: [p] }]);
    const expected = [1, 2, 3];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    [G1, G2, G1].forEach((grad, step) => {
      tf.tidy(() => opt.step('host', [tf.tensor1d(grad)]));
      const t = step + 1;
      for (let i = 0; i < 3; i++) {
        const g = grad[i] as number;
        m[i] = 0.9 * (m[i] as number) + 0.1 * g;
        v[i] = 0.999 * (v[i] as number) + 0.001 * g * g;
        const mHat = (m[i] as number) / (1 - 0.9 ** t);
        const vHat = (v[i] as number) / (1 - 0.999 ** t);
        expected[i] = (expected[i] as number) - (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    });
    valuesOf(p).forEach((value, i) => expect(value).to.be.closeTo(expected[i] as number, 1e-5));
    expect(opt.exportState().groups[0]?.step).to.equal(3);
    opt.dispose();
    p.dispose();
  });

  it('SGD steps against the gradient, with and without momentum', () => {
    const p = variable([1, 2, 3]);
    const q = variable([1, 2, 3]);
    const plain = new Optimizer({ kind: 'sgd', learningRate: 0.5 }, [{ id: 'host', params: [p] }]);
    const heavy = new Optimizer({ kind: 'sgd', learningRate: 0.5, momentum: 0.5 }, [{ id: 'host', params: [q] }]);
    for (const grad of [G1, G2]) {
      tf.tidy(() => plain.step('host', [tf.tensor1d(grad)]));
      tf.tidy(() => heavy.step('host', [tf.tensor1d(grad)]));
    }
    valuesOf(p).forEach((value, i) => expect(value).to.be.closeTo(1 + i - 0.5 * ((G1[i] as number) + (G2[i] as number)), 1e-6));
    // velocity: g1, then 0.5·g1 + g2 → total step 0.5·(1.5·g1 + g2)
    valuesOf(q).forEach((value, i) => expect(value).to.be.closeTo(1 + i - 0.5 * (1.5 * (G1[i] as number) + (G2[i] as number)), 1e-6));
    expect(plain.exportState().groups[0]?.params[0]?.buffers).to.have.length(0);
    for (const t of [plain, heavy, p, q]) t.dispose();
  });

  it('export → restore continues bit-identically (moments and step count)', () => {
    const grads = [G1, G2, G1, G2, G2, G1];
    const p = variable([1, -2, 3]);
    const opt = new Optimizer({ kind: 'adam', learningRate: 0.05 }, [{ id: 'host', params: [p] }]);
    for (const g of grads.slice(0, 3)) tf.tidy(() => opt.step('host', [tf.tensor1d(g)]));
    const saved = opt.exportState();
    const q = tf.tidy(() => tf.variable(p.clone()));
    for (const g of grads.slice(3)) tf.tidy(() => opt.step('host', [tf.tensor1d(g)]));

    const resumed = new Optimizer({ kind: 'adam', learningRate: 0.5 }, [{ id: 'host', params: [q] }]);
    resumed.restoreState(saved); // config (learning rate) comes back too
    for (const g of grads.slice(3)) tf.tidy(() => resumed.step('host', [tf.tensor1d(g)]));
    expect(Buffer.from((q.dataSync() as Float32Array).buffer).equals(Buffer.from((p.dataSync() as Float32Array).buffer))).to.equal(true);
    expect(stateBytes(resumed.exportState()).equals(stateBytes(opt.exportState()))).to.equal(true);
    expect(resumed.exportState().groups[0]?.step).to.equal(6);
    expect(resumed.config.learningRate).to.equal(0.05);
    for (const t of [opt, resumed, p, q]) t.dispose();
  });

  it('keeps the host group state when a seed group is added and removed, and the host update never depends on it', () => {
    const host = variable([1, 2, 3]);
    const twin = variable([1, 2, 3]);
    const seed = variable([5, 5, 5]);
    const withSeed = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'host', params: [host] }]);
    const alone = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'host', params: [twin] }]);
    const step = (grad: number[], seedGrad?: number[]): void => {
      tf.tidy(() => {
        withSeed.step('host', [tf.tensor1d(grad)]);
        if (seedGrad !== undefined) withSeed.step('seed:s', [tf.tensor1d(seedGrad)]);
        alone.step('host', [tf.tensor1d(grad)]);
      });
    };
    step(G1);
    withSeed.setGroups([{ id: 'host', params: [host] }, { id: 'seed:s', params: [seed] }]);
    expect(withSeed.exportState().groups.map((g) => [g.id, g.step])).to.deep.equal([['host', 1], ['seed:s', 0]]);
    step(G2, [100, -100, 3]);
    withSeed.setGroups([{ id: 'host', params: [host] }]);
    step(G1);
    expect(valuesOf(host)).to.deep.equal(valuesOf(twin));
    expect(stateBytes(withSeed.exportState()).equals(stateBytes(alone.exportState()))).to.equal(true);
    expect(valuesOf(seed)).not.to.deep.equal([5, 5, 5]);
    // A new seed in the same slot (same id and shapes, other variables) starts from fresh state.
    const reborn = variable([5, 5, 5]);
    withSeed.setGroups([{ id: 'host', params: [host] }, { id: 'seed:s', params: [seed] }]);
    tf.tidy(() => withSeed.step('seed:s', [tf.tensor1d(G1)]));
    withSeed.setGroups([{ id: 'host', params: [host] }, { id: 'seed:s', params: [reborn] }]);
    expect(withSeed.exportState().groups.map((g) => [g.id, g.step])).to.deep.equal([['host', 3], ['seed:s', 0]]);
    reborn.dispose();
    for (const t of [withSeed, alone, host, twin, seed]) t.dispose();
  });

  it('leaves a parameter without a gradient (and its moments) untouched', () => {
    const a = variable([1, 1, 1]);
    const b = variable([2, 2, 2]);
    const opt = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'host', params: [a, b] }]);
    tf.tidy(() => opt.step('host', [tf.tensor1d(G1), undefined]));
    expect(valuesOf(b)).to.deep.equal([2, 2, 2]);
    expect(Array.from(opt.exportState().groups[0]?.params[1]?.buffers[0] ?? [])).to.deep.equal([0, 0, 0]);
    expect(() => opt.step('host', [undefined])).to.throw(RangeError, /2 parameters, got 1/);
    expect(() => opt.step('nope', [])).to.throw(EsperError, /no group/);
    for (const t of [opt, a, b]) t.dispose();
  });

  it('restartGroup starts one group afresh (zero moments, step 0) and leaves the others as they were', () => {
    const host = variable([1, 2, 3]);
    const seed = variable([5, 5, 5]);
    const twin = variable([5, 5, 5]);
    const opt = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'host', params: [host] }, { id: 'seed:s', params: [seed] }]);
    for (const g of [G1, G2]) tf.tidy(() => (opt.step('host', [tf.tensor1d(g)]), opt.step('seed:s', [tf.tensor1d(g.map((v) => v * 100))])));
    const hostBefore = opt.exportState().groups[0];
    opt.restartGroup('seed:s');
    opt.restartGroup('seed:none'); // a group it does not hold: nothing happens
    const after = opt.exportState().groups;
    expect(after.map((g) => [g.id, g.step])).to.deep.equal([['host', 2], ['seed:s', 0]]);
    expect(after[0]).to.deep.equal(hostBefore);
    expect(after[1]?.params[0]?.buffers.map((b) => Array.from(b))).to.deep.equal([[0, 0, 0], [0, 0, 0]]);
    // The next update is a fresh Adam's first step.
    twin.assign(seed);
    const fresh = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'seed:s', params: [twin] }]);
    tf.tidy(() => (opt.step('seed:s', [tf.tensor1d(G2)]), fresh.step('seed:s', [tf.tensor1d(G2)])));
    expect(valuesOf(seed)).to.deep.equal(valuesOf(twin));
    for (const t of [opt, fresh, host, seed, twin]) t.dispose();
  });

  it('a group starting fresh once training has begun ramps its learning rate over freshWarmupSteps; groups there from the start do not (issue 11)', () => {
    // Fresh Adam's t-th step on a constant gradient moves each weight by about lr: with the ramp, by lr · min(1, t / W).
    const lr = 0.1;
    const moved = (opt: Optimizer, id: string, p: tf.Variable): number => {
      const before = valuesOf(p)[0] ?? 0;
      tf.tidy(() => opt.step(id, [tf.tensor1d([1, 1, 1])]));
      return before - (valuesOf(p)[0] ?? 0);
    };
    const host = variable([0, 0, 0]);
    const opt = new Optimizer({ kind: 'adam', learningRate: lr }, [{ id: 'host', params: [host] }], { freshWarmupSteps: 4 });
    expect(moved(opt, 'host', host)).to.be.closeTo(lr, 1e-6); // there before the first step: no ramp
    const seed = variable([0, 0, 0]);
    opt.setGroups([{ id: 'host', params: [host] }, { id: 'seed:s', params: [seed] }]);
    expect([1, 2, 3, 4, 5].map(() => moved(opt, 'seed:s', seed))).to.satisfy((steps: number[]) =>
      steps.every((d, i) => Math.abs(d - lr * Math.min(1, (i + 1) / 4)) < 1e-6),
    );
    expect(opt.exportState().groups.find((g) => g.id === 'seed:s')).to.include({ step: 5, warmupSteps: 4 });
    // restartGroup ramps again; the state keeps the ramp through export → restore.
    opt.restartGroup('seed:s');
    expect(moved(opt, 'seed:s', seed)).to.be.closeTo(lr / 4, 1e-6);
    const state = opt.exportState();
    const twin = variable(valuesOf(seed));
    const twinHost = variable(valuesOf(host));
    const restored = new Optimizer({ kind: 'adam', learningRate: lr }, [{ id: 'host', params: [twinHost] }, { id: 'seed:s', params: [twin] }], { freshWarmupSteps: 4 });
    restored.restoreState(state);
    expect(moved(restored, 'seed:s', twin)).to.equal(moved(opt, 'seed:s', seed));
    expect(() => new Optimizer({ kind: 'adam', learningRate: lr }, [], { freshWarmupSteps: -1 })).to.throw(EsperError, /freshWarmupSteps/);
    for (const t of [opt, restored, host, seed, twin, twinHost]) t.dispose();
  });

  it('takes no step for a group none of whose parameters got a gradient: its step count stays that of its updates (issue 11)', () => {
    const p = variable([1, 2, 3]);
    const opt = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'seed:s', params: [p] }]);
    tf.tidy(() => opt.step('seed:s', [undefined]));
    expect(opt.exportState().groups[0]?.step).to.equal(0);
    expect(valuesOf(p)).to.deep.equal([1, 2, 3]);
    // The first real update is then a fresh Adam's first step (about lr per weight), not one inflated by bias correction.
    tf.tidy(() => opt.step('seed:s', [tf.tensor1d([1e-3, -1e-3, 1e-3])]));
    expect(valuesOf(p).map((v, i) => Math.abs(v - [1, 2, 3][i]!))).to.satisfy((d: number[]) => d.every((x) => Math.abs(x - 0.1) < 1e-4));
    opt.dispose();
    p.dispose();
  });

  it('trainStep leaves the frozen parameters of a group and their moments alone', () => {
    const model = mlpHost({ widths: [3, 4, 2], rng: new Rng(5) });
    const [kernel, bias] = model.hostParams;
    const frozenBefore = valuesOf(kernel as tf.Variable);
    const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.1 });
    // The host group with its first kernel frozen, as a width seed's Ψ is in TRAINING.
    const frozenModel = new Proxy(model, {
      get: (target, key) => {
        if (key === 'paramGroups') return () => target.paramGroups().map((g) => ({ ...g, frozen: [0] }));
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const x = tf.tensor2d([[1, 0, -1], [0.5, 0.5, 0.5]]);
    const y = tf.tensor1d([0, 1], 'int32');
    const biasBefore = valuesOf(bias as tf.Variable);
    trainStep(frozenModel, optimizer, x, y);
    expect(valuesOf(kernel as tf.Variable)).to.deep.equal(frozenBefore);
    expect(valuesOf(bias as tf.Variable)).not.to.deep.equal(biasBefore);
    const moments = optimizer.exportState().groups[0]?.params[0]?.buffers ?? [];
    expect(moments.every((b) => Array.from(b).every((v) => v === 0))).to.equal(true);
    for (const t of [optimizer, x, y]) t.dispose();
    model.dispose();
  });

  it('rejects optimizer state that does not fit, and frees every buffer on dispose', () => {
    const before = tf.memory().numTensors;
    const p = variable([1, 2, 3]);
    const adam = new Optimizer({ kind: 'adam', learningRate: 0.1 }, [{ id: 'host', params: [p] }]);
    const sgd = new Optimizer({ kind: 'sgd', learningRate: 0.1 }, [{ id: 'host', params: [p] }]);
    expect(() => sgd.restoreState(adam.exportState())).to.throw(EsperError).with.property('code', 'ESPER_CHECKPOINT_MISMATCH');
    const bad = adam.exportState();
    (bad.groups[0]?.params[0] as { shape: number[] }).shape = [4];
    expect(() => adam.restoreState(bad)).to.throw(EsperError, /host/).with.property('code', 'ESPER_CHECKPOINT_MISMATCH');
    expect(() => new Optimizer({ kind: 'adam', learningRate: 0 })).to.throw(EsperError).with.property('code', 'ESPER_CONFIG_INVALID');
    adam.dispose();
    sgd.dispose();
    p.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('trainStep and losses (issue 4, item 3)', () => {
  before(async () => {
    quietCpuBackend();
    await selectBackend('cpu');
  });

  it('softmaxCrossEntropy takes class ids or one-hot labels alike; uniform logits give ln(classes)', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
      const byId = softmaxCrossEntropy(logits, tf.tensor1d([0, 2], 'int32')).dataSync()[0];
      const byOneHot = softmaxCrossEntropy(logits, tf.tensor2d([[1, 0, 0], [0, 0, 1]])).dataSync()[0];
      expect(byId).to.equal(byOneHot);
      expect(softmaxCrossEntropy(tf.zeros<tf.Rank.R2>([4, 3]), tf.tensor1d([0, 1, 2, 0], 'int32')).dataSync()[0]).to.be.closeTo(Math.log(3), 1e-6);
      expect(() => softmaxCrossEntropy(logits, tf.zeros([2, 4]))).to.throw(RangeError, /do not fit/);
    });
  });

  it('trainStep lowers the loss on a fixed batch and evaluateBatch counts correct answers', () => {
    const model = mlpHost({ widths: [2, 8, 2], rng: new Rng(3) });
    const opt = new Optimizer({ kind: 'adam', learningRate: 0.05 });
    const x = tf.tensor2d([[1, 1], [-1, -1], [1, -1], [-1, 1]]);
    const y = tf.tensor1d([0, 0, 1, 1], 'int32');
    const losses = Array.from({ length: 40 }, () => trainStep(model, opt, x, y).loss);
    expect(losses[39]).to.be.lessThan((losses[0] as number) / 2);
    const evaluation = evaluateBatch(model, x, y);
    expect(evaluation).to.include({ correct: 4, count: 4 });
    expect(evaluation.loss).to.be.closeTo(losses[39] as number, 0.05);
    for (const t of [model, opt, x, y]) t.dispose();
  });
});
