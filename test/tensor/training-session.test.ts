import { expect } from 'chai';
import { testBackend, useTestBackend } from '../helpers/test-backend.ts';
import * as tf from '@tensorflow/tfjs';
import { TrainingSession, type EpochReport } from '../../src/tensor/training/training-session.ts';
import type { TrainingSpecInput } from '../../src/contracts/training-spec.ts';

const SPEC: TrainingSpecInput = {
  backend: testBackend('wasm'),
  seed: 7,
  dataset: { kind: 'spirals', n: 400 },
  host: { kind: 'mlp', hidden: [16, 16] },
  slots: [{ id: 's1', afterLayer: 1 }],
  optimizer: { kind: 'adam', learningRate: 0.02 },
  batchSize: 32,
};

describe('TrainingSession', function () {
  before(async function () {
    await useTestBackend(this, 'wasm');
  });

  this.timeout(60_000);

  it('trains epochs, reports metrics and per-seed telemetry, and leaks no tensors', async () => {
    const session = await TrainingSession.create(SPEC);
    const first = session.runEpoch();
    const before = tf.memory().numTensors;
    const second = session.runEpoch();
    expect(tf.memory().numTensors).to.equal(before);
    expect(second.epoch).to.equal(2);
    expect(first.steps).to.equal(10); // 320 training examples / 32
    expect(second.trainLoss).to.be.lessThan(first.trainLoss);
    expect(second.validationAccuracy).to.be.within(0, 1);
    expect(second.slots).to.have.length(1);
    expect(second.slots[0]).to.include({ slotId: 's1', mode: 'DORMANT', seedKind: null, gradNorm: 0, contributionPp: null });
    expect(second.hostGradNorm).to.be.greaterThan(0);
    session.dispose();
  });

  it('trains a germinated seed in isolation, then measures its contribution while blending', async () => {
    const session = await TrainingSession.create(SPEC);
    session.runEpoch();
    const hostBefore = session.summary().hostWeightsHash;
    session.applySlot({ slotId: 's1', germinate: { kind: 'residual-dense', config: { hidden: 8 } }, mode: 'TRAINING' });
    const training = session.runEpoch();
    const slot = training.slots[0];
    expect(slot?.mode).to.equal('TRAINING');
    expect(slot?.gradNorm).to.be.greaterThan(0);
    expect(slot?.gradRatio).to.be.greaterThan(0);
    // In TRAINING the seed's output is cancelled (straight-through): switching it off changes nothing.
    expect(slot?.contributionPp).to.equal(0);
    expect(slot?.lossContributionPct).to.equal(0);
    expect(session.summary().hostWeightsHash).to.not.equal(hostBefore); // the host keeps training
    session.applySlot({ slotId: 's1', mode: 'BLENDING', alpha: 1 });
    const blending = session.runEpoch();
    expect(blending.slots[0]?.alpha).to.equal(1);
    expect(blending.slots[0]?.contributionPp).to.be.a('number');
    // The loss counterfactual: the same validation pass with the seed switched off.
    const withoutSeed = session.model.slot('s1').ablate(() => session.evaluate());
    expect(blending.slots[0]?.lossContributionPct).to.be.closeTo(((withoutSeed.loss - blending.validationLoss) / withoutSeed.loss) * 100, 1e-9);
    expect(session.summary().seedParams).to.be.greaterThan(0);
    session.dispose();
  });

  it('reports a seed as attached before it trains (what G1 checks at the germinating boundary): its kind, and NaN parameters', async () => {
    const session = await TrainingSession.create(SPEC);
    expect(session.inspectSlot('s1')).to.deep.equal({ slotId: 's1', seedKind: null, paramsFinite: true });
    session.applySlot({ slotId: 's1', germinate: { kind: 'residual-dense', config: { hidden: 8 } }, mode: 'DORMANT' });
    expect(session.inspectSlot('s1')).to.deep.equal({ slotId: 's1', seedKind: 'residual-dense', paramsFinite: true });
    expect(session.poisonSeed('s1')).to.equal(true);
    expect(session.inspectSlot('s1')).to.deep.equal({ slotId: 's1', seedKind: 'residual-dense', paramsFinite: false });
    session.dispose();
  });

  it('freezes a FOSSILIZED seed by default and keeps training it with the slot option trainFossil', async () => {
    const seedBytes = (session: TrainingSession): string =>
      (session.model.slot('s1').seed?.params ?? []).map((p) => Buffer.from((p.dataSync() as Float32Array).buffer).toString('hex')).join('|');
    const changed: boolean[] = [];
    for (const trainFossil of [undefined, true]) {
      const session = await TrainingSession.create({ ...SPEC, slots: [{ id: 's1', afterLayer: 1, ...(trainFossil === undefined ? {} : { trainFossil }) }] });
      session.applySlot({ slotId: 's1', germinate: { kind: 'residual-dense', config: { hidden: 8 } }, mode: 'TRAINING' });
      session.runEpoch();
      session.applySlot({ slotId: 's1', mode: 'FOSSILIZED' });
      const before = seedBytes(session);
      session.runEpoch();
      changed.push(seedBytes(session) !== before);
      session.dispose();
    }
    expect(changed).to.deep.equal([false, true]);
  });

  it('rolls back to a checkpoint: host bit-identical, live seed pruned; the data and the epoch count move on (no replay), deterministically', async () => {
    const rollBackOnce = async (): Promise<{ next: EpochReport; again: EpochReport; restored: { prunedSlots: string[]; epoch: number }; hashes: [string, string] }> => {
      const session = await TrainingSession.create(SPEC);
      session.runEpoch();
      const saved = session.checkpoint({ reason: 'test' });
      const atCheckpoint = session.summary().hostWeightsHash;
      const next = session.runEpoch();
      session.applySlot({ slotId: 's1', germinate: { kind: 'low-rank', config: { rank: 2 } }, mode: 'TRAINING' });
      session.runEpoch();
      const restored = session.restore(saved.bytes, 'rollback');
      const hashes: [string, string] = [atCheckpoint, session.summary().hostWeightsHash];
      const again = session.runEpoch();
      session.dispose();
      return { next, again, restored, hashes };
    };
    const first = await rollBackOnce();
    expect(first.restored.prunedSlots).to.deep.equal(['s1']);
    expect(first.restored.epoch).to.equal(1);
    expect(first.hashes[1]).to.equal(first.hashes[0]);
    // The same weights as before epoch 2, trained on the batches of epoch 4: not epoch 2 again.
    expect(first.again.epoch).to.equal(4);
    expect(first.again.trainLoss).to.not.equal(first.next.trainLoss);
    const second = await rollBackOnce();
    expect(second.again.trainLoss).to.equal(first.again.trainLoss);
  });
});
