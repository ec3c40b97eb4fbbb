import { expect } from 'chai';
import { BLEND_CURVES, BLEND_TEMPOS_EPOCHS, type BlendCurve, type BlendTempo } from '../../src/contracts/kasmina.ts';
import { alphaAt, curveProgress } from '../../src/tensor/alpha-schedule.ts';

describe('alphaAt (issue 4, item 6)', () => {
  it('ramps linearly: 0, 1/5, 2/5, … 1 over 5 epochs', () => {
    expect([0, 1, 2, 3, 4, 5].map((e) => alphaAt('linear', 5, e))).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('follows the cosine curve (1 − cos πt)/2', () => {
    expect(alphaAt('cosine', 8, 4)).to.be.closeTo(0.5, 1e-12);
    expect(alphaAt('cosine', 8, 2)).to.be.closeTo((1 - Math.cos(Math.PI / 4)) / 2, 1e-12);
    expect(alphaAt('cosine', 3, 1)).to.be.closeTo(0.25, 1e-12);
    expect(alphaAt('cosine', 3, 2)).to.be.closeTo(0.75, 1e-12);
  });

  it('follows a steepness-12 logistic rescaled to pass through 0 and 1', () => {
    const raw = (t: number): number => 1 / (1 + Math.exp(-12 * (t - 0.5)));
    const expected = (t: number): number => (raw(t) - raw(0)) / (raw(1) - raw(0));
    expect(alphaAt('sigmoid', 5, 1)).to.be.closeTo(expected(0.2), 1e-12);
    expect(alphaAt('sigmoid', 5, 1)).to.be.closeTo(0.02424, 1e-5);
    expect(alphaAt('sigmoid', 8, 4)).to.be.closeTo(0.5, 1e-12);
    expect(alphaAt('sigmoid', 3, 2)).to.be.closeTo(expected(2 / 3), 1e-12);
  });

  it('starts at exactly 0, reaches the target exactly at tempoEpochs and stays there', () => {
    for (const curve of BLEND_CURVES) {
      for (const tempo of BLEND_TEMPOS_EPOCHS) {
        expect(alphaAt(curve, tempo, 0)).to.equal(0);
        expect(alphaAt(curve, tempo, -1)).to.equal(0);
        expect(alphaAt(curve, tempo, tempo)).to.equal(1);
        expect(alphaAt(curve, tempo, tempo + 3)).to.equal(1);
        expect(alphaAt(curve, tempo, tempo, 0.6)).to.equal(0.6);
        expect(alphaAt(curve, tempo, tempo - 0.001)).to.be.lessThan(1);
      }
    }
  });

  it('is monotone and stays in [0, target] for every curve and tempo', () => {
    for (const curve of BLEND_CURVES as readonly BlendCurve[]) {
      for (const tempo of BLEND_TEMPOS_EPOCHS as readonly BlendTempo[]) {
        let previous = -1;
        for (let e = 0; e <= tempo; e += tempo / 200) {
          const alpha = alphaAt(curve, tempo, e, 0.7);
          expect(alpha, `${curve}/${tempo} at ${e}`).to.be.at.least(previous).and.within(0, 0.7);
          previous = alpha;
        }
      }
    }
  });

  it('ramps down from a start α (a scheduled prune from HOLDING)', () => {
    expect(alphaAt('linear', 5, 0, 0, 1)).to.equal(1);
    expect(alphaAt('linear', 5, 2, 0, 1)).to.be.closeTo(0.6, 1e-12);
    expect(alphaAt('linear', 5, 5, 0, 1)).to.equal(0);
  });

  it('rejects unknown curves and tempos, NaN epochs and targets outside [0, 1]', () => {
    expect(() => alphaAt('step' as BlendCurve, 5, 1)).to.throw(RangeError, /curve/);
    expect(() => alphaAt('linear', 4 as BlendTempo, 1)).to.throw(RangeError, /tempoEpochs/);
    expect(() => alphaAt('linear', 5, Number.NaN)).to.throw(RangeError, /NaN/);
    expect(() => alphaAt('linear', 5, 1, 1.5)).to.throw(RangeError, /target/);
  });

  it('curveProgress clamps t outside [0, 1]', () => {
    expect(curveProgress('sigmoid', -0.5)).to.equal(0);
    expect(curveProgress('cosine', 2)).to.equal(1);
  });
});
