import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../src/errors/index.ts';
import { useTestBackend } from '../helpers/test-backend.ts';
import { capture, decodeCheckpoint, encodeCheckpoint, restore, weightsHash, type Checkpoint } from '../../src/tensor/checkpoint.ts';
import type { HostModel } from '../../src/tensor/hosts/model.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import { Optimizer, type OptimizerState } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { germinate, grownHost, train, type HostName } from './width-helpers.ts';

const ADAM = { kind: 'adam', learningRate: 0.01 } as const;

function stateBytes(state: OptimizerState): string {
  return JSON.stringify(state.groups.map((g) => [g.id, g.step, g.params.map((p) => [p.shape, p.buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'))])]));
}

interface Run {
  model: HostModel;
  optimizer: Optimizer;
  dispose(): void;
}

/** A host trained 4 steps with a width seed in w1 trained 3 more steps while BLENDING (α 0.6), and (CNN) a TRAINING one in w3. */
function grownRun(name: HostName): Run {
  const model = grownHost(name);
  const optimizer = new Optimizer(ADAM, model.paramGroups());
  train(model, optimizer, name, 4, new Rng(3));
  germinate(model, 'w1', 3);
  model.widthSlot('w1').setMode('BLENDING', 0.6);
  if (name === 'cnn') {
    germinate(model, 'w3', 2);
    model.widthSlot('w3').setMode('TRAINING');
  }
  train(model, optimizer, name, 3, new Rng(4));
  return { model, optimizer, dispose: () => (optimizer.dispose(), model.dispose()) };
}

/** Hash of weights, optimizer state and topology. */
function snapshot(run: Run): { weights: string; optimizer: string; config: string } {
  run.optimizer.setGroups(run.model.paramGroups());
  return { weights: weightsHash(run.model), optimizer: stateBytes(run.optimizer.exportState()), config: JSON.stringify(run.model.config) };
}

describe('width seeds: checkpoints across a topology change (issue 11)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  for (const name of ['mlp', 'cnn'] as const) {
    it(`${name}: capture → merge → train → restore gives back the pre-merge model bit-exactly, and training resumes identically`, () => {
      const run = grownRun(name);
      const checkpoint = capture(run.model, run.optimizer, { meta: { epoch: 1 } });
      const before = snapshot(run);
      run.model.widthSlot('w1').setMode('FOSSILIZED');
      train(run.model, run.optimizer, name, 3, new Rng(5));
      expect(snapshot(run).config).to.not.equal(before.config);
      restore(checkpoint, { model: run.model, optimizer: run.optimizer });
      expect(snapshot(run)).to.deep.equal(before);
      expect(run.model.widthSlot('w1').mode).to.equal('BLENDING');
      expect(run.model.widthSlot('w1').alpha).to.equal(0.6);
      train(run.model, run.optimizer, name, 3, new Rng(6));
      const resumed = snapshot(run);
      // The same 3 steps from the checkpoint, with no merge in between.
      restore(checkpoint, { model: run.model, optimizer: run.optimizer });
      train(run.model, run.optimizer, name, 3, new Rng(6));
      expect(snapshot(run)).to.deep.equal(resumed);
      run.dispose();
    });

    it(`${name}: a post-merge checkpoint restores into a fresh pre-merge host, through bytes, bit-exactly`, () => {
      const run = grownRun(name);
      run.model.widthSlot('w1').setMode('FOSSILIZED');
      train(run.model, run.optimizer, name, 2, new Rng(5));
      const checkpoint: Checkpoint = decodeCheckpoint(encodeCheckpoint(capture(run.model, run.optimizer)));
      expect(checkpoint.manifest.slots.find((s) => s.id === 'w1')).to.deep.include({ mode: 'FOSSILIZED', seed: null, merged: run.model.widthSlot('w1').merged });
      const fresh = grownHost(name, 99);
      const optimizer = new Optimizer(ADAM, fresh.paramGroups());
      const tensors = tf.memory().numTensors;
      const variables = (): number => fresh.paramGroups().reduce((n, g) => n + g.params.length, 0);
      const boundBefore = variables();
      restore(checkpoint, { model: fresh, optimizer });
      // No leak: only the restored seeds' variables and their two Adam buffers each were added.
      expect(tf.memory().numTensors - tensors).to.equal(3 * (variables() - boundBefore));
      const other = { model: fresh, optimizer, dispose: () => (optimizer.dispose(), fresh.dispose()) };
      expect(snapshot(other)).to.deep.equal(snapshot(run));
      expect(fresh.widthSlot('w1').merged).to.deep.equal(run.model.widthSlot('w1').merged);
      expect(fresh.slot('d1').shape).to.deep.equal(run.model.slot('d1').shape);
      train(run.model, run.optimizer, name, 2, new Rng(6));
      train(fresh, optimizer, name, 2, new Rng(6));
      expect(snapshot(other)).to.deep.equal(snapshot(run));
      other.dispose();
      run.dispose();
    });
  }

  it('a rollback to a checkpoint from before germination undoes a merge and prunes the live seeds', () => {
    const model = grownHost('cnn');
    const optimizer = new Optimizer(ADAM, model.paramGroups());
    train(model, optimizer, 'cnn', 2, new Rng(3));
    const checkpoint = capture(model, optimizer);
    const before = weightsHash(model, 'host');
    const config = JSON.stringify(model.config);
    germinate(model, 'w2', 2);
    model.widthSlot('w2').setMode('BLENDING', 1);
    model.widthSlot('w2').setMode('FOSSILIZED');
    germinate(model, 'w1', 2);
    model.widthSlot('w1').setMode('TRAINING');
    train(model, optimizer, 'cnn', 2, new Rng(4));
    const result = restore(checkpoint, { model, optimizer, liveSeeds: 'prune' });
    expect(result.prunedSlots).to.deep.equal(['w1']);
    expect(JSON.stringify(model.config)).to.equal(config);
    expect(weightsHash(model, 'host')).to.equal(before);
    expect(model.widthSlot('w2').mode).to.equal('DORMANT');
    expect(model.widthSlot('w2').merged).to.deep.equal({ units: 0, params: 0 });
    expect(model.widthSlot('w1').mode).to.equal('PRUNED');
    optimizer.dispose();
    model.dispose();
  });

  it('a host without width slots still refuses a checkpoint of other widths; a width host refuses one of another depth', () => {
    const wide = mlpHost({ widths: [6, 7, 5, 3], rng: new Rng(1), slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }, { id: 'w2', afterLayer: 2, kind: 'width' }, { id: 'd1', afterLayer: 1 }] });
    const checkpoint = capture(wide, undefined);
    const plain = mlpHost({ widths: [6, 4, 5, 3], rng: new Rng(1), slots: [{ id: 'w1', afterLayer: 1 }, { id: 'w2', afterLayer: 2 }, { id: 'd1', afterLayer: 1 }] });
    expect(() => restore(checkpoint, { model: plain })).to.throw(EsperError).with.property('code', 'ESPER_CHECKPOINT_MISMATCH');
    const deeper = mlpHost({ widths: [6, 4, 5, 5, 3], rng: new Rng(1), slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }, { id: 'w2', afterLayer: 2, kind: 'width' }, { id: 'd1', afterLayer: 1 }] });
    const hash = weightsHash(deeper);
    expect(() => restore(checkpoint, { model: deeper })).to.throw(EsperError).with.property('code', 'ESPER_CHECKPOINT_MISMATCH');
    expect(weightsHash(deeper)).to.equal(hash);
    for (const m of [wide, plain, deeper]) m.dispose();
  });
});
