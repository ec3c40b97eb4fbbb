import { expect } from 'chai';
import { RollbackTriggerSchema } from '../../../src/contracts/index.ts';
import { ConfigError } from '../../../src/errors/index.ts';
import {
  DEFAULT_GOVERNOR_CONFIG,
  GOVERNOR_CAUSE_TRIGGER,
  divergenceCeiling,
  initialGovernorState,
  observe,
  parseGovernorConfig,
  type GovernorConfig,
  type GovernorResult,
  type GovernorState,
  type GovernorVerdict,
  type RollbackVerdict,
} from '../../../src/actors/tolaria/index.ts';

const C = 10;
const LN_C = Math.log(C);

/** Feeds validation losses (train loss equal) from epoch `from`; returns every result. */
function feed(state: GovernorState, losses: readonly number[], from = 0, config: GovernorConfig = DEFAULT_GOVERNOR_CONFIG, numClasses = C): { state: GovernorState; results: GovernorResult[] } {
  let current = state;
  const results: GovernorResult[] = [];
  losses.forEach((loss, i) => {
    const result = observe(current, { epoch: from + i, trainLoss: loss, validationLoss: loss, numClasses, nonFinite: false }, config);
    results.push(result);
    current = result.state;
  });
  return { state: current, results };
}

const rollback = (verdict: GovernorVerdict): RollbackVerdict => {
  if (verdict === 'ok') throw new Error('expected a rollback');
  return verdict;
};

/** 10 healthy epochs around 0.5 (a little noise). */
function healthy(): GovernorState {
  return feed(initialGovernorState(), [0.52, 0.5, 0.49, 0.51, 0.5, 0.48, 0.5, 0.49, 0.51, 0.5]).state;
}

describe('Tolaria stability governor', () => {
  it('has sensible defaults, scaled to the task', () => {
    expect(DEFAULT_GOVERNOR_CONFIG).to.include({ window: 20, minSamples: 5, sigmaK: 6, meanMultiple: 3, consecutive: 3, signal: 'validation' });
    expect(divergenceCeiling(10)).to.be.closeTo(3 * Math.log(10), 1e-12);
    expect(divergenceCeiling(2)).to.be.closeTo(3 * Math.log(2), 1e-12);
    expect(divergenceCeiling(1)).to.equal(12);
    expect(divergenceCeiling(10, parseGovernorConfig({ ceiling: { absolute: 12 } }))).to.equal(12);
    expect(() => parseGovernorConfig({ window: 1, sigmaK: -1 })).to.throw(ConfigError);
    for (const trigger of Object.values(GOVERNOR_CAUSE_TRIGGER)) expect(RollbackTriggerSchema.safeParse(trigger).success).to.equal(true);
  });

  it('rolls back at once on NaN or Infinity, even on the first epoch', () => {
    const nan = observe(initialGovernorState(), { epoch: 0, trainLoss: Number.NaN, validationLoss: 2.3, numClasses: C, nonFinite: false });
    expect(rollback(nan.verdict).cause).to.equal('non_finite');
    expect(rollback(nan.verdict).measured['trainLoss']).to.equal(null);
    const inf = observe(healthy(), { epoch: 10, trainLoss: 0.5, validationLoss: Number.POSITIVE_INFINITY, numClasses: C, nonFinite: false });
    expect(rollback(inf.verdict).cause).to.equal('non_finite');
    const flagged = observe(healthy(), { epoch: 10, trainLoss: 0.5, validationLoss: 0.5, numClasses: C, nonFinite: true });
    expect(rollback(flagged.verdict).cause).to.equal('non_finite');
    expect(GOVERNOR_CAUSE_TRIGGER[rollback(flagged.verdict).cause]).to.equal('non_finite');
  });

  it('rolls back after a spike meets every divergence condition 3 times in a row', () => {
    const { results } = feed(healthy(), [20, 25, 30], 10);
    expect(results.map((r) => r.anomalous)).to.deep.equal([true, true, true]);
    expect(results[0]!.verdict).to.equal('ok');
    expect(results[1]!.verdict).to.equal('ok');
    const verdict = rollback(results[2]!.verdict);
    expect(verdict.cause).to.equal('divergence');
    expect(verdict.reason).to.match(/diverged 3 epochs in a row/);
    expect(verdict.measured['consecutive']).to.equal(3);
    // Spikes never enter the window; a rollback clears the count.
    expect(results[2]!.state.window).to.deep.equal(healthy().window);
    expect(results[2]!.state.consecutive).to.equal(0);
  });

  it('does not roll back on two spikes followed by a healthy epoch (the count restarts)', () => {
    const { results } = feed(healthy(), [20, 25, 0.5, 20, 25, 0.49], 10);
    expect(results.every((r) => r.verdict === 'ok')).to.equal(true);
    expect(results.map((r) => r.state.consecutive)).to.deep.equal([1, 2, 0, 1, 2, 0]);
  });

  it('needs every condition: a jump that stays under the ceiling, or under mean + 6σ, is not divergence', () => {
    // 0.5 → 5: 10× the mean and far beyond 6σ, but under 3·ln 10 ≈ 6.9.
    expect(feed(healthy(), [5, 5, 5, 5], 10).results.every((r) => !r.anomalous && r.verdict === 'ok')).to.equal(true);
    // A noisy window (mean 4, σ 3): 12.5 is over the ceiling and 3× the mean, but under mean + 6σ = 22.
    const noisy = feed(initialGovernorState(), [1, 7, 1, 7, 1, 7, 1, 7]).state;
    expect(feed(noisy, [12.5, 12.5, 12.5], 8).results.every((r) => !r.anomalous)).to.equal(true);
    // A fixed ceiling of 12 (the digest's) also ignores 10.
    expect(feed(healthy(), [10, 10, 10], 10, parseGovernorConfig({ ceiling: { absolute: 12 } })).results.every((r) => r.verdict === 'ok')).to.equal(true);
  });

  it('never rolls back a slow healthy decline', () => {
    const losses = Array.from({ length: 300 }, (_, epoch) => 0.05 + (LN_C - 0.05) * Math.exp(-epoch / 40) + 0.01 * Math.sin(epoch));
    const { results } = feed(initialGovernorState(), losses);
    expect(results.filter((r) => r.verdict !== 'ok' || r.anomalous)).to.deep.equal([]);
  });

  it('rolls back when the loss is back at chance after averaging below 0.6 × ln C', () => {
    const learned = feed(initialGovernorState(), [2.2, 1.6, 1.2, 1.0, 0.9, 0.85, 0.8]).state;
    const result = observe(learned, { epoch: 7, trainLoss: LN_C + 0.05, validationLoss: LN_C + 0.05, numClasses: C, nonFinite: false });
    const verdict = rollback(result.verdict);
    expect(verdict.cause).to.equal('loss_at_chance');
    expect(GOVERNOR_CAUSE_TRIGGER[verdict.cause]).to.equal('chance_collapse');
    expect(verdict.reason).to.contain('back at chance');
  });

  it('does not call chance a collapse before the model has learned (early training sits at ln C)', () => {
    const { results } = feed(initialGovernorState(), [LN_C, LN_C - 0.01, LN_C - 0.02, LN_C, LN_C - 0.05, LN_C - 0.03, LN_C, LN_C - 0.1]);
    expect(results.every((r) => r.verdict === 'ok')).to.equal(true);
    // Learned only to 0.7 × ln C: not below 0.6 × ln C, so ln C is no collapse.
    const halfway = feed(initialGovernorState(), Array.from({ length: 6 }, () => 0.7 * LN_C)).state;
    expect(observe(halfway, { epoch: 6, trainLoss: LN_C, validationLoss: LN_C, numClasses: C, nonFinite: false }).verdict).to.equal('ok');
  });

  it('watches the training loss when configured to', () => {
    const config = parseGovernorConfig({ signal: 'training' });
    let state = feed(initialGovernorState(), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 0, config).state;
    const spikes = [20, 20, 20].map((trainLoss, i) => {
      const result = observe(state, { epoch: 6 + i, trainLoss, validationLoss: 0.5, numClasses: C, nonFinite: false }, config);
      state = result.state;
      return result.verdict;
    });
    expect(spikes[2]).to.not.equal('ok');
    // The default (validation) ignores the same training spikes.
    let other = healthy();
    for (let i = 0; i < 3; i++) {
      const result = observe(other, { epoch: 10 + i, trainLoss: 20, validationLoss: 0.5, numClasses: C, nonFinite: false });
      expect(result.verdict).to.equal('ok');
      other = result.state;
    }
  });
});
