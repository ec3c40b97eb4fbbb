/**
 * TrainingSession.evaluateTest (issue 11, item 5): the held-out test set,
 * read only when asked, in the spec's layout (flat for MLPs, image for
 * CNNs), evaluated in batches without leaking tensors; null for datasets
 * without one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import type { TrainingSpecInput } from '../../src/contracts/training-spec.ts';
import { TrainingSession } from '../../src/tensor/training/training-session.ts';

type HostSpecInput = TrainingSpecInput['host'];
import { writeFakeFashionMnist } from '../helpers/fake-fashion-mnist.ts';

describe('TrainingSession.evaluateTest', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'esper-test-set-'));
    // More test examples than one evaluation batch (512): the batches add up.
    writeFakeFashionMnist(dir, { train: 50, test: 600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: ['flat' | 'image', HostSpecInput][] = [
    ['flat', { kind: 'mlp', hidden: [8] }],
    ['image', { kind: 'cnn', convs: [{ filters: 2 }], dense: [] }],
  ];
  for (const [layout, host] of cases) {
    it(`evaluates the ${layout} test set of every example, in batches, leaking no tensor (${host.kind} host)`, async () => {
      const session = await TrainingSession.create({ seed: 3, dataset: { kind: 'fashion-mnist', dir, layout }, host, batchSize: 16 });
      try {
        session.runEpoch();
        const before = tf.memory().numTensors;
        const test = await session.evaluateTest();
        expect(tf.memory().numTensors).to.equal(before);
        expect(test?.size).to.equal(600);
        expect(test?.accuracy).to.be.within(0, 1);
        expect(Math.abs(test!.accuracy * 600 - Math.round(test!.accuracy * 600))).to.be.below(1e-6);
        expect(test?.loss).to.be.greaterThan(0);
        // The validation split is untouched by it.
        expect(session.evaluate()).to.deep.equal(session.evaluate());
      } finally {
        session.dispose();
      }
    });
  }

  it('is null for a dataset without a test set (spirals)', async () => {
    const session = await TrainingSession.create({ seed: 1, dataset: { kind: 'spirals', n: 100 }, host: { kind: 'mlp', hidden: [4] } });
    try {
      expect(await session.evaluateTest()).to.equal(null);
    } finally {
      session.dispose();
    }
  });
});
