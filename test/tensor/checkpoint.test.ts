import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../src/errors/index.ts';
import { useTestBackend } from '../helpers/test-backend.ts';
import {
  capture,
  decodeCheckpoint,
  encodeCheckpoint,
  restore,
  weightsHash,
  type Checkpoint,
} from '../../src/tensor/checkpoint.ts';
import { canonicalJson } from '../../src/infra/content-hash.ts';
import { BatchCursor, toTensors, twoSpirals, type BatchCursorState, type Dataset } from '../../src/tensor/datasets/index.ts';
import { mlpHost } from '../../src/tensor/hosts/mlp-host.ts';
import type { HostModel } from '../../src/tensor/hosts/model.ts';
import { Optimizer, trainStep, type OptimizerState } from '../../src/tensor/optimizer.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { forkSeedRng, lowRankAdapter, residualDenseAdapter } from '../../src/tensor/seed-slot.ts';
import { blueprintModule } from '../../src/tensor/blueprint-module.ts';
import { catalogBlueprint, shapePreservingInterface } from '../../src/actors/karn/catalog.ts';

interface Run {
  model: HostModel;
  optimizer: Optimizer;
  rng: Rng;
  data: Dataset;
  cursor: BatchCursor;
  dispose(): void;
}

/** A 2-16-16-2 MLP with a TRAINING seed in s1 and a BLENDING one (α 0.4) in s2, an Adam optimizer and a spirals cursor. */
function setUp(): Run {
  const rng = new Rng(17);
  const model = mlpHost({ widths: [2, 16, 16, 2], rng, slots: [{ id: 's1', afterLayer: 1 }, { id: 's2', afterLayer: 2 }] });
  model.slot('s1').attach(residualDenseAdapter(16, 6, forkSeedRng(rng, 's1')));
  model.slot('s1').setMode('TRAINING');
  model.slot('s2').attach(lowRankAdapter(16, 3, forkSeedRng(rng, 's2')));
  model.slot('s2').setMode('BLENDING', 0.4);
  const data = twoSpirals(new Rng(5), { n: 64 });
  const cursor = new BatchCursor(data, { batchSize: 16, rng: rng.fork(99) });
  const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.02 }, model.paramGroups());
  return {
    model,
    optimizer,
    rng,
    data,
    cursor,
    dispose: () => {
      optimizer.dispose();
      model.dispose();
    },
  };
}

function train(run: Run, steps: number): void {
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const { xs, ys } = toTensors(run.cursor.next());
      trainStep(run.model, run.optimizer, xs, ys);
    });
    run.rng.next(); // something else in the run consumes the Rng too
  }
}

function stateBytes(state: OptimizerState): Buffer {
  return Buffer.concat(state.groups.flatMap((g) => g.params.flatMap((p) => p.buffers.map((b) => Buffer.from(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))))));
}

function snap(run: Run): { all: string; host: string; optimizer: Buffer; steps: string } {
  const state = run.optimizer.exportState();
  return { all: weightsHash(run.model), host: weightsHash(run.model, 'host'), optimizer: stateBytes(state), steps: canonicalJson(state.groups.map((g) => [g.id, g.step])) };
}

function take(run: Run): Checkpoint {
  return capture(run.model, run.optimizer, { rng: run.rng, cursor: run.cursor.state(), meta: { epoch: 1 } });
}

describe('checkpoint (issue 4, item 3)', () => {
  before(async function () {
    await useTestBackend(this, 'cpu');
  });

  it('checkpoint → train → restore is bit-exact for weights, seeds, optimizer state, Rng and cursor, and training resumes identically', () => {
    const run = setUp();
    train(run, 3);
    const checkpoint = take(run);
    const atCheckpoint = snap(run);
    const rngAtCheckpoint = run.rng.state().map((w) => w >>> 0);
    train(run, 3);
    const continued = snap(run);
    expect(continued.all).not.to.equal(atCheckpoint.all);

    run.model.slot('s2').setMode('HOLDING', 0.9);
    const result = restore(checkpoint, { model: run.model, optimizer: run.optimizer, rng: run.rng });
    expect(snap(run)).to.deep.equal(atCheckpoint);
    expect(run.model.slot('s2').mode).to.equal('BLENDING');
    expect(run.model.slot('s2').alpha).to.equal(0.4);
    expect(run.rng.state().map((w) => w >>> 0)).to.deep.equal(rngAtCheckpoint);
    expect(result.meta).to.deep.equal({ epoch: 1 });
    expect(result.prunedSlots).to.deep.equal([]);

    run.cursor = BatchCursor.restore(run.data, result.cursor as unknown as BatchCursorState);
    train(run, 3);
    expect(snap(run)).to.deep.equal(continued);
    run.dispose();
  });

  it('survives encoding to bytes and decoding, and rebuilds a seed that was pruned since', () => {
    const run = setUp();
    train(run, 2);
    const bytes = encodeCheckpoint(take(run));
    const atCheckpoint = snap(run);
    train(run, 2);
    run.model.slot('s1').prune();
    const decoded = decodeCheckpoint(bytes);
    restore(decoded, { model: run.model, optimizer: run.optimizer, rng: run.rng });
    expect(run.model.slot('s1').mode).to.equal('TRAINING');
    expect(snap(run)).to.deep.equal(atCheckpoint);
    run.dispose();
  });

  it('rebuilds a blueprint seed from the IR stored in the checkpoint, after it was pruned since', () => {
    const run = setUp();
    run.model.slot('s1').prune();
    run.model.slot('s1').reset();
    run.model.slot('s1').attach(blueprintModule(catalogBlueprint('mlp_deep', shapePreservingInterface([16])), undefined, forkSeedRng(run.rng, 's1', 2)));
    run.model.slot('s1').setMode('TRAINING');
    run.optimizer.dispose();
    run.optimizer = new Optimizer({ kind: 'adam', learningRate: 0.02 }, run.model.paramGroups());
    train(run, 2);
    const bytes = encodeCheckpoint(take(run));
    expect(decodeCheckpoint(bytes).manifest.slots.find((s) => s.id === 's1')?.seed?.ir).to.deep.include({ name: 'mlp_deep' });
    const atCheckpoint = snap(run);
    train(run, 2);
    run.model.slot('s1').prune();
    restore(decodeCheckpoint(bytes), { model: run.model, optimizer: run.optimizer, rng: run.rng });
    expect(run.model.slot('s1').seed?.kind).to.equal('blueprint');
    expect(snap(run)).to.deep.equal(atCheckpoint);
    run.dispose();
  });

  it('rejects a corrupted checkpoint with ESPER_CHECKPOINT_CORRUPT and leaves the model alone', () => {
    const run = setUp();
    train(run, 1);
    const checkpoint = take(run);
    train(run, 1);
    const before = snap(run);

    const bytes = encodeCheckpoint(checkpoint);
    const flipped = bytes.slice();
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01; // one bit of one weight
    expect(() => decodeCheckpoint(flipped)).to.throw(EsperError, /hash/).with.property('code', 'ESPER_CHECKPOINT_CORRUPT');
    expect(() => decodeCheckpoint(bytes.slice(0, 20))).to.throw(EsperError).with.property('code', 'ESPER_CHECKPOINT_CORRUPT');
    expect(() => decodeCheckpoint(new TextEncoder().encode('not a checkpoint at all'))).to.throw(EsperError, /magic/).with.property('code', 'ESPER_CHECKPOINT_CORRUPT');

    const weights = checkpoint.weights.slice();
    weights[0] = (weights[0] as number) ^ 0x80;
    expect(() => restore({ ...checkpoint, weights }, { model: run.model, optimizer: run.optimizer })).to.throw(EsperError).with.property('code', 'ESPER_CHECKPOINT_CORRUPT');
    const tampered = { ...checkpoint, manifest: { ...checkpoint.manifest, slots: checkpoint.manifest.slots.map((s) => ({ ...s, alpha: s.id === 's2' ? 1 : s.alpha })) } };
    expect(() => restore(tampered, { model: run.model })).to.throw(EsperError, /hash/).with.property('code', 'ESPER_CHECKPOINT_CORRUPT');
    expect(snap(run)).to.deep.equal(before);
    run.dispose();
  });

  it('prune + rollback restores the host bit-identically, keeps fossils and prunes live seeds', () => {
    const rng = new Rng(23);
    const model = mlpHost({ widths: [2, 16, 16, 2], rng, slots: [{ id: 's1', afterLayer: 1 }, { id: 'f', afterLayer: 2 }, { id: 'late', afterLayer: 1 }] });
    model.slot('f').attach(residualDenseAdapter(16, 4, forkSeedRng(rng, 'f')));
    model.slot('f').setMode('FOSSILIZED');
    model.slot('s1').attach(residualDenseAdapter(16, 4, forkSeedRng(rng, 's1')));
    model.slot('s1').setMode('TRAINING');
    const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.02 }, model.paramGroups());
    const cursor = new BatchCursor(twoSpirals(new Rng(5), { n: 64 }), { batchSize: 16, rng: new Rng(8) });
    const step = (): void => {
      tf.tidy(() => {
        const { xs, ys } = toTensors(cursor.next());
        trainStep(model, optimizer, xs, ys);
      });
    };
    step();
    const checkpoint = capture(model, optimizer);
    const hostAtCheckpoint = weightsHash(model, 'host');
    const hostOptimizer = stateBytes({ ...optimizer.exportState(), groups: optimizer.exportState().groups.filter((g) => g.id === 'host') });
    const fossil = model.slot('f').seed?.params.map((p) => Array.from(p.dataSync()));

    // Training goes on: s1 blends into the host, a new seed germinates in `late`, then s1 is pruned.
    model.slot('s1').setMode('BLENDING', 0.5);
    model.slot('late').attach(residualDenseAdapter(16, 4, forkSeedRng(rng, 'late')));
    model.slot('late').setMode('TRAINING');
    step();
    step();
    const s1Seed = model.slot('s1').seed;
    model.slot('s1').prune();
    step();
    expect(weightsHash(model, 'host')).not.to.equal(hostAtCheckpoint);

    const lateSeed = model.slot('late').seed;
    const result = restore(checkpoint, { model, optimizer, liveSeeds: 'prune' });
    expect(weightsHash(model, 'host')).to.equal(hostAtCheckpoint);
    expect(result.prunedSlots).to.deep.equal(['s1', 'late']);
    expect(model.slots.map((s) => [s.id, s.mode, s.alpha])).to.deep.equal([['s1', 'PRUNED', 0], ['f', 'FOSSILIZED', 1], ['late', 'PRUNED', 0]]);
    expect(s1Seed?.params.every((p) => p.isDisposed)).to.equal(true);
    expect(lateSeed?.params.every((p) => p.isDisposed)).to.equal(true);
    expect(model.slot('f').seed?.params.map((p) => Array.from(p.dataSync()))).to.deep.equal(fossil);
    expect(optimizer.groupIds()).to.deep.equal(['host']);
    expect(stateBytes(optimizer.exportState()).equals(hostOptimizer)).to.equal(true);
    optimizer.dispose();
    model.dispose();
  });

  it('rejects a checkpoint of another architecture with ESPER_CHECKPOINT_MISMATCH before changing anything', () => {
    const run = setUp();
    const checkpoint = take(run);
    const other = mlpHost({ widths: [2, 8, 2], rng: new Rng(1), slots: [{ id: 's1', afterLayer: 1 }] });
    const before = weightsHash(other);
    expect(() => restore(checkpoint, { model: other })).to.throw(EsperError).with.property('code', 'ESPER_CHECKPOINT_MISMATCH');
    expect(weightsHash(other)).to.equal(before);
    const fewerSlots = mlpHost({ widths: [2, 16, 16, 2], rng: new Rng(1), slots: [{ id: 's1', afterLayer: 1 }] });
    expect(() => restore(checkpoint, { model: fewerSlots })).to.throw(EsperError, /slot ids/).with.property('code', 'ESPER_CHECKPOINT_MISMATCH');
    const unknownKind = mlpHost({ widths: [2, 16, 16, 2], rng: new Rng(1), slots: [{ id: 's1', afterLayer: 1 }, { id: 's2', afterLayer: 2 }] });
    expect(() => restore(checkpoint, { model: unknownKind, seedFactory: () => undefined })).to.throw(EsperError, /cannot rebuild seed/);
    expect(unknownKind.slots.every((s) => s.seed === undefined && s.mode === 'DORMANT')).to.equal(true);
    for (const m of [other, fewerSlots, unknownKind]) m.dispose();
    run.dispose();
  });

  it('weightsHash tracks host and seeds separately; capture and restore leak no tensors', () => {
    const run = setUp();
    const host = weightsHash(run.model, 'host');
    const all = weightsHash(run.model);
    run.model.slot('s2').setAlpha(0.5);
    expect(weightsHash(run.model, 'host')).to.equal(host);
    expect(weightsHash(run.model)).not.to.equal(all);
    const before = tf.memory().numTensors;
    const checkpoint = take(run);
    restore(checkpoint, { model: run.model, optimizer: run.optimizer });
    expect(tf.memory().numTensors).to.equal(before);
    expect(canonicalJson({ b: [1, { d: 2, c: null }], a: 'x' })).to.equal('{"a":"x","b":[1,{"c":null,"d":2}]}');
    expect(() => capture(run.model, run.optimizer, { cursor: { at: Number.NaN } })).to.throw(RangeError);
    run.dispose();
  });
});
