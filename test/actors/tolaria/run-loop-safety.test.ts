/**
 * `esper run`'s safety paths on the spirals example: Tamiyo behind a circuit
 * breaker with a deadline (an unreachable Tamiyo never stalls training), and
 * the governor's rollback of a NaN epoch (a seed's weights poisoned in the
 * training worker).
 */
import { expect } from 'chai';
import { RunResultsSchema } from '../../../src/contracts/run.ts';
import { runTraining, TAMIYO_FALLBACK_REASON, type EpochSummary, type TamiyoDecide } from '../../../src/actors/tolaria/run-loop.ts';
import { quickSpiralsSpec } from '../../helpers/spirals-spec.ts';

const spiralsSpec = quickSpiralsSpec;

const LIVE = new Set(['GERMINATED', 'TRAINING', 'BLENDING', 'HOLDING']);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('esper run: Tamiyo behind a circuit breaker with a deadline', function () {
  this.timeout(90_000);

  it('keeps training through an unreachable Tamiyo (no change those epochs), opens the breaker, and resumes decisions when Tamiyo is back', async () => {
    const RESET_MS = 1500;
    const asked: number[] = [];
    // Epochs 1–2: Tamiyo hangs past the deadline; epoch 3: it throws; from epoch 4 on it is back.
    const decide: TamiyoDecide = (packet, memory, context, builtin) => {
      asked.push(packet.epoch);
      if (packet.epoch <= 2) return new Promise(() => undefined);
      if (packet.epoch <= 6) throw new Error('tamiyo unreachable');
      return builtin(packet, memory, context);
    };
    const seen: EpochSummary[] = [];
    const results = await runTraining(spiralsSpec(14), {
      runId: 'run-safety-tamiyo',
      tamiyo: { decide, timeoutMs: 100, resetTimeoutMs: RESET_MS },
      onEpoch: async (summary) => {
        seen.push(summary);
        // Let the breaker's reset timeout pass once the outage is over, so epoch 7 is its trial decision.
        if (summary.epoch === 6) await sleep(RESET_MS + 200);
      },
    });
    expect(() => RunResultsSchema.parse(results)).to.not.throw();
    // Training went on every epoch.
    expect(results.epochs.map((e) => e.epoch)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(seen).to.have.length(14);
    // Epochs 1–6: the fallback answered, nothing changed.
    for (const summary of seen.slice(0, 6)) {
      expect(summary.tamiyo?.fallback, `epoch ${summary.epoch}`).to.equal(true);
      expect(summary.tamiyo?.reason).to.equal(TAMIYO_FALLBACK_REASON);
      for (const seed of summary.seeds) expect(seed.stage, `epoch ${summary.epoch}`).to.equal('DORMANT');
    }
    // Three consecutive failures (two deadlines, one error) opened the breaker: epochs 4–6 failed fast, Tamiyo was not asked.
    expect(seen[2]?.tamiyo?.breaker).to.equal('open');
    expect(seen.slice(3, 6).map((s) => s.tamiyo?.breaker)).to.deep.equal(['open', 'open', 'open']);
    expect(asked.filter((epoch) => epoch <= 6)).to.deep.equal([1, 2, 3]);
    // Epoch 7: the trial decision succeeded, the breaker closed, decisions resumed.
    expect(seen.slice(6).every((s) => s.tamiyo?.fallback === false && s.tamiyo.breaker === 'closed')).to.equal(true);
    expect(asked.filter((epoch) => epoch >= 7)).to.deep.equal([7, 8, 9, 10, 11, 12, 13, 14]);
    const transitions = results.seeds.flatMap((seed) => seed.history);
    for (const h of transitions) expect(h.epoch).to.be.at.least(7);
    expect(transitions.some((h) => h.to === 'GERMINATED')).to.equal(true);
  });
});

describe('esper run: a NaN epoch is rolled back', function () {
  this.timeout(90_000);

  it("rolls back the epoch whose seed went NaN: recorded with its cause, live seeds pruned, the host's weights bit-identical to the checkpoint", async () => {
    // Without faults the first seed germinates at epoch 5 and is TRAINING from epoch 6.
    const NAN_EPOCH = 7;
    const seen: EpochSummary[] = [];
    const results = await runTraining(spiralsSpec(9), { runId: 'run-safety-nan', faults: { nanAtEpoch: NAN_EPOCH }, onEpoch: (s) => void seen.push(s) });
    expect(() => RunResultsSchema.parse(results)).to.not.throw();
    expect(results.epochs).to.have.length(9);
    // A seed was live when the epoch started: the NaN came from its weights.
    const before = seen[NAN_EPOCH - 2];
    expect(before?.seeds.some((s) => LIVE.has(s.stage))).to.equal(true);

    expect(results.rollbacks).to.have.length(1);
    const [rollback] = results.rollbacks;
    expect(rollback?.epoch).to.equal(NAN_EPOCH);
    expect(rollback?.cause).to.equal('non_finite');
    expect(rollback?.toEpoch).to.equal(NAN_EPOCH - 1);
    expect(rollback?.checkpointId).to.equal(`run-safety-nan-ckpt-${NAN_EPOCH - 1}`);

    const rolled = seen[NAN_EPOCH - 1];
    expect(rolled?.rolledBack).to.equal(true);
    expect(rolled?.rollback?.cause).to.equal('non_finite');
    expect(rolled?.rollback?.prunedSlots.length).to.be.greaterThan(0);
    expect(rolled?.rollback?.restoredHostWeightsHash).to.equal(rolled?.rollback?.checkpointHostWeightsHash);
    // Live seeds were pruned (the lifecycle records it, with the rollback as the reason).
    for (const seed of rolled?.seeds ?? []) expect(LIVE.has(seed.stage), `${seed.slotId} ${seed.stage}`).to.equal(false);
    // (Kasmina stamps the prune with the restored epoch: the rolled-back epoch never ended for it.)
    const pruned = results.seeds.flatMap((seed) => seed.history).filter((h) => h.to === 'PRUNED');
    expect(pruned.map((h) => h.epoch)).to.deep.equal([NAN_EPOCH - 1]);
    expect(pruned[0]?.cause.reason).to.match(new RegExp(`rollback: epoch ${NAN_EPOCH}: .*non-finite`));
    // Training went on after the rollback, finite.
    for (const epoch of results.epochs) expect(Number.isFinite(epoch.validationLoss)).to.equal(true);
    expect(results.finalAccuracy).to.be.within(0, 1);
  });

  it('rolls back a forced NaN epoch even with no live seed to poison', async () => {
    const seen: EpochSummary[] = [];
    const results = await runTraining({ ...spiralsSpec(3), training: { ...spiralsSpec(3).training, slots: [] } }, {
      runId: 'run-safety-nan-host',
      faults: { nanAtEpoch: 2 },
      onEpoch: (s) => void seen.push(s),
    });
    expect(results.rollbacks.map((r) => [r.epoch, r.cause])).to.deep.equal([[2, 'non_finite']]);
    expect(seen[1]?.rollback?.restoredHostWeightsHash).to.equal(seen[1]?.rollback?.checkpointHostWeightsHash);
    expect(seen[1]?.rollback?.prunedSlots).to.deep.equal([]);
  });
});
