/**
 * Width seeds on neighbouring layers (issue 11): merging one widens the live
 * seed next to it with zero weights where the new units meet it, so the
 * network computes exactly what it did through both merges, in either order;
 * the widened seed keeps its optimizer state (zero for the new entries),
 * whatever `afterMerge` says; a checkpoint restores across it.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useTestBackend } from '../helpers/test-backend.ts';
import { Optimizer } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { capture, restore } from '../../src/tensor/checkpoint.ts';
import type { HostModel } from '../../src/tensor/hosts/model.ts';
import type { WidthSeed } from '../../src/tensor/width/width-seed.ts';
import { bytesOf, germinate, grownHost, INPUT, logits, loudOmega, maxAbsDiff, randomTensor, train, type HostName } from './width-helpers.ts';

const ADAM = { kind: 'adam', learningRate: 0.01 } as const;

/** Germinates seeds of `units` in `slots` with non-zero Ω, all at α = 1. */
function blendingAll(model: HostModel, slots: readonly string[], units: number): void {
  slots.forEach((id, i) => {
    loudOmega(germinate(model, id, units, 7 + i), new Rng(20 + i));
    model.widthSlot(id).setMode('TRAINING');
    model.widthSlot(id).setMode('BLENDING', 1);
  });
}

const seedOf = (model: HostModel, id: string): WidthSeed => model.widthSlot(id).seed as WidthSeed;

describe('width seeds on neighbouring layers (issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  const cases: { host: HostName; slots: string[]; what: string }[] = [
    { host: 'mlp', slots: ['w1', 'w2'], what: 'dense → dense' },
    { host: 'cnn', slots: ['w1', 'w2'], what: 'conv → conv' },
    { host: 'cnn', slots: ['w2', 'w3'], what: 'conv → the dense layer that flattens it' },
  ];
  for (const { host, slots, what } of cases) {
    for (const order of [slots, [...slots].reverse()]) {
      it(`${host} (${what}): merging ${order.join(' then ')} computes what the unmerged model did (≤ 1e-5), widening the live neighbour`, () => {
        const model = grownHost(host);
        blendingAll(model, slots, 2);
        const x = randomTensor(new Rng(5), [4, ...INPUT[host]]);
        const before = logits(model, x);
        const [first, second] = order as [string, string];
        const neighbourBefore = seedOf(model, second).paramCount;
        model.widthSlot(first).setMode('FOSSILIZED');
        // The live neighbour grew by zero weights for (or from) the merged units and computes exactly what it did.
        expect(seedOf(model, second).paramCount).to.be.greaterThan(neighbourBefore);
        expect(seedOf(model, second).geometry).to.deep.equal(model.widthSlot(second).geometry);
        expect(maxAbsDiff(logits(model, x), before)).to.be.at.most(1e-5);
        model.widthSlot(second).setMode('FOSSILIZED');
        expect(maxAbsDiff(logits(model, x), before)).to.be.at.most(1e-5);
        x.dispose();
        model.dispose();
      });
    }
  }

  it('the widened seed keeps its Adam state bit for bit (zero for the new entries) while the host restarts, and trains on', () => {
    const model = grownHost('mlp');
    blendingAll(model, ['w1', 'w2'], 2);
    const optimizer = new Optimizer(ADAM, model.paramGroups(), { afterMerge: 'restart' });
    train(model, optimizer, 'mlp', 4, new Rng(3));
    const groupOf = (id: string) => optimizer.exportState().groups.find((g) => g.id === id);
    const seedGroup = 'seed:w2';
    const before = groupOf(seedGroup);
    expect(before?.step).to.equal(4);
    model.widthSlot('w1').setMode('FOSSILIZED'); // layer 1: 4 + 2 units; w2's Ψ reads 6 inputs now
    const losses = train(model, optimizer, 'mlp', 1, new Rng(9));
    expect(losses.every(Number.isFinite)).to.equal(true);
    const host = groupOf('host');
    const after = groupOf(seedGroup);
    expect(host?.step).to.equal(1); // the merge restarted the host
    expect(after?.step).to.equal(5); // the padded seed carried on
    model.dispose();
    optimizer.dispose();
  });

  it("the padded Ψ's moments are the old ones with zero rows for the new inputs", () => {
    const model = grownHost('mlp');
    blendingAll(model, ['w1', 'w2'], 2);
    const optimizer = new Optimizer(ADAM, model.paramGroups());
    train(model, optimizer, 'mlp', 3, new Rng(3));
    const psiMoments = (): number[][] => {
      const group = optimizer.exportState().groups.find((g) => g.id === 'seed:w2');
      return (group?.params[0]?.buffers ?? []).map((b) => Array.from(b));
    };
    const [m, v] = psiMoments() as [number[], number[]];
    model.widthSlot('w1').setMode('FOSSILIZED');
    optimizer.setGroups(model.paramGroups());
    const [m2, v2] = psiMoments() as [number[], number[]];
    // Ψ was [4 inputs, 2 units] and is [6, 2]: the first 8 values are the old ones, the last 4 zero.
    expect(m2.slice(0, 8)).to.deep.equal(m);
    expect(v2.slice(0, 8)).to.deep.equal(v);
    expect(m2.slice(8)).to.deep.equal([0, 0, 0, 0]);
    expect(v2.slice(8)).to.deep.equal([0, 0, 0, 0]);
    model.dispose();
    optimizer.dispose();
  });

  it('a checkpoint taken with the widened seed restores bit-exactly, and one taken before the merge restores the narrower model', () => {
    const model = grownHost('cnn');
    blendingAll(model, ['w2', 'w3'], 2);
    const optimizer = new Optimizer(ADAM, model.paramGroups());
    train(model, optimizer, 'cnn', 2, new Rng(3));
    const x = randomTensor(new Rng(5), [3, ...INPUT.cnn]);
    const early = capture(model, optimizer);
    const earlyLogits = logits(model, x);
    model.widthSlot('w2').setMode('FOSSILIZED');
    train(model, optimizer, 'cnn', 2, new Rng(4));
    const late = capture(model, optimizer);
    const lateBytes = bytesOf(seedOf(model, 'w3').params);
    restore(early, { model, optimizer });
    expect(model.widthSlot('w2').mode).to.equal('BLENDING');
    expect(Buffer.compare(Buffer.from(logits(model, x).buffer), Buffer.from(earlyLogits.buffer))).to.equal(0);
    restore(late, { model, optimizer });
    expect(model.widthSlot('w2').mode).to.equal('FOSSILIZED');
    expect(bytesOf(seedOf(model, 'w3').params).equals(lateBytes)).to.equal(true);
    x.dispose();
    model.dispose();
    optimizer.dispose();
  });

  it('memory: a merge that widens a neighbour leaves no tensor behind', () => {
    const model = grownHost('cnn');
    blendingAll(model, ['w1', 'w2'], 2);
    const optimizer = new Optimizer(ADAM, model.paramGroups());
    train(model, optimizer, 'cnn', 1, new Rng(3));
    const before = tf.memory().numTensors;
    model.widthSlot('w2').setMode('FOSSILIZED');
    train(model, optimizer, 'cnn', 1, new Rng(4));
    model.widthSlot('w1').setMode('FOSSILIZED');
    train(model, optimizer, 'cnn', 1, new Rng(5));
    // Two seeds merged: their 2 × 3 variables and Adam's 2 × 2 × 3 moments are gone, nothing else changed in count.
    expect(tf.memory().numTensors).to.equal(before - 18);
    model.dispose();
    optimizer.dispose();
  });
});
