import { expect } from 'chai';
import { ConfigError } from '../../../src/errors/index.ts';
import {
  DEFAULT_GATE_CONFIG,
  STRICT_GATE_CONFIG,
  evaluateG0,
  evaluateG1,
  evaluateG2,
  evaluateG3,
  evaluateG5,
  parseGateConfig,
} from '../../../src/actors/kasmina/index.ts';
import { HEALTHY, IFACE, kernel } from './support.ts';
import { throwsWith } from '../../helpers/rejects-with.ts';

describe('seed gates', () => {
  describe('config', () => {
    it('has the documented defaults', () => {
      expect(DEFAULT_GATE_CONFIG).to.deep.equal({
        g2: { minTrainingEpochs: 3, minImprovementPp: 0.5, minGradRatio: 0.1, maxGradNorm: 1000, requireBoth: false },
        g3: { minBlendingEpochs: 0 },
        g5: { minContributionPp: 0.5, minLossContributionPct: 2 },
        embargoEpochs: 5,
        resettingEpochs: 1,
        defaultBlend: { curve: 'linear', tempoEpochs: 5 },
      });
      expect(Object.isFrozen(DEFAULT_GATE_CONFIG.g2)).to.equal(true);
    });

    it('has the digest strict mode', () => {
      expect(STRICT_GATE_CONFIG.g2).to.include({ minTrainingEpochs: 10, requireBoth: true });
      expect(STRICT_GATE_CONFIG.g3.minBlendingEpochs).to.equal(10);
      expect(STRICT_GATE_CONFIG.g5.minContributionPp).to.equal(1);
    });

    it('fills defaults around a partial config', () => {
      const config = parseGateConfig({ g2: { minTrainingEpochs: 7 } });
      expect(config.g2).to.include({ minTrainingEpochs: 7, minImprovementPp: 0.5 });
      expect(config.embargoEpochs).to.equal(5);
    });

    it('lists every problem of an invalid config in one ESPER_CONFIG_INVALID', () => {
      const caught = throwsWith(() => parseGateConfig({ g2: { minTrainingEpochs: -1 }, embargoEpochs: 0, defaultBlend: { curve: 'cubic', tempoEpochs: 4 }, bogus: 1 }), ConfigError);
      const issues = caught.details?.['issues'] as string[];
      expect(issues.length).to.be.at.least(4);
      expect(issues.join('\n')).to.match(/g2\.minTrainingEpochs/).and.match(/embargoEpochs/).and.match(/defaultBlend\.curve/);
    });
  });

  it('every gate reports passed, its name, reasons and measured values', () => {
    const g0 = evaluateG0({ kernel: kernel(), slotInterface: IFACE, requested: { kernelId: 'k-1' } });
    expect(g0).to.deep.include({ passed: true, gate: 'G0' });
    expect(g0.measured).to.deep.equal({ kernelId: 'k-1', kernelStatus: 'VALIDATED', kernelInterface: 'dense:64->64:float32', slotInterface: 'dense:64->64:float32' });
    expect(evaluateG1(HEALTHY)).to.deep.include({ passed: true, gate: 'G1' });
    const g2 = evaluateG2({ epochsInTraining: 3, measured: HEALTHY });
    expect(g2).to.deep.include({ passed: true, gate: 'G2' });
    expect(g2.reasons).to.deep.equal(['3 epochs in TRAINING', '+0.8pp', 'grad ratio 0.3']);
    expect(evaluateG3({ alpha: 1, alphaTarget: 1, epochsInBlending: 5 })).to.deep.include({ passed: true, gate: 'G3' });
    expect(evaluateG5({ alpha: 1, measured: HEALTHY })).to.deep.include({ passed: true, gate: 'G5', reasons: ['contribution 1.2pp'] });
  });

  it('G2 fails without measured gradients', () => {
    const { gradNorm: _omitted, ...noGrad } = HEALTHY;
    const g2 = evaluateG2({ epochsInTraining: 5, measured: noGrad });
    expect(g2.passed).to.equal(false);
    expect(g2.reasons).to.deep.equal(['seed gradients not measured']);
    expect(g2.measured['gradNorm']).to.equal(null);
  });

  it('G3 in strict mode also needs epochs in BLENDING', () => {
    const g3 = evaluateG3({ alpha: 1, alphaTarget: 1, epochsInBlending: 5 }, STRICT_GATE_CONFIG);
    expect(g3.passed).to.equal(false);
    expect(g3.reasons).to.deep.equal(['5 epochs in BLENDING < 10']);
  });

  it('G5 passes a seed that lowers the validation loss enough when its accuracy contribution is not negative', () => {
    const byLoss = evaluateG5({ alpha: 1, measured: { ...HEALTHY, contributionPp: 0, lossContributionPct: 3 } });
    expect(byLoss).to.deep.include({ passed: true, reasons: ['contribution 0pp, loss 3%'] });
    expect(byLoss.measured['lossContributionPct']).to.equal(3);
    const tooLittle = evaluateG5({ alpha: 1, measured: { ...HEALTHY, contributionPp: 0.2, lossContributionPct: 1.5 } });
    expect(tooLittle.passed).to.equal(false);
    expect(tooLittle.reasons).to.deep.equal(['contribution 0.2pp < 0.5pp; loss 1.5% < 2%']);
    const negative = evaluateG5({ alpha: 1, measured: { ...HEALTHY, contributionPp: -1, lossContributionPct: 8 } });
    expect(negative.passed).to.equal(false);
    expect(negative.reasons).to.deep.equal(['contribution -1pp < 0.5pp; loss 8% but the accuracy contribution is negative']);
  });

  it('G5 fails an unhealthy seed whatever its contribution', () => {
    const g5 = evaluateG5({ alpha: 1, measured: { ...HEALTHY, paramsFinite: false } });
    expect(g5.passed).to.equal(false);
    expect(g5.reasons).to.deep.equal(['seed parameters contain NaN or Infinity']);
  });
});
