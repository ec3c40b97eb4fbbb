import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/tensor/backend.ts';
import { sharedTranspose, withSharedTransposes } from '../../../src/tensor/ops/shared-transpose.ts';

describe('sharedTranspose (one transpose of a layer input per backward pass)', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('inside a scope, transposes one x once, even from inner tidies, and frees it when the scope ends', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const before = tf.memory().numTensors;
    const values = withSharedTransposes(() => {
      const first = tf.tidy(() => sharedTranspose(x).clone());
      let again: tf.Tensor | undefined;
      let same = false;
      tf.tidy(() => {
        const a = sharedTranspose(x);
        const b = sharedTranspose(x);
        same = a === b;
        again = a;
      });
      expect(same).to.equal(true);
      expect((again as tf.Tensor).isDisposed).to.equal(false); // kept past the inner tidy
      const out = [first.arraySync(), (again as tf.Tensor).arraySync()];
      first.dispose();
      return out;
    });
    expect(values[0]).to.deep.equal([[1, 4], [2, 5], [3, 6]]);
    expect(values[1]).to.deep.equal(values[0]);
    expect(tf.memory().numTensors).to.equal(before);
    x.dispose();
  });

  it('a reshape of the same data (another shape) gets its own transpose', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const view = tf.reshape<tf.Rank.R2>(x, [3, 2]);
    withSharedTransposes(() => {
      tf.tidy(() => {
        expect(sharedTranspose(x).shape).to.deep.equal([3, 2]);
        expect(sharedTranspose(view).shape).to.deep.equal([2, 3]);
        expect(sharedTranspose(view).arraySync()).to.deep.equal([[1, 3, 5], [2, 4, 6]]);
      });
    });
    tf.dispose([x, view]);
  });

  it('outside a scope it is a plain transpose (nothing kept)', () => {
    const x = tf.tensor2d([1, 2], [1, 2]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      expect(sharedTranspose(x) === sharedTranspose(x)).to.equal(false);
    });
    expect(tf.memory().numTensors).to.equal(before);
    x.dispose();
  });
});
