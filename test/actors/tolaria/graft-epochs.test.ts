/**
 * The epochs a graft drop is measured over (issue 11's "< 5 % degradation
 * during a graft"): those trained with a seed's output in the network before
 * its merge — BLENDING, HOLDING at α = 1 — and the first one trained after
 * such a seed was pruned, its output gone at that boundary, or merged.
 */
import { expect } from 'chai';
import { RunResultsSchema, type RunResults } from '../../../src/contracts/run.ts';
import { largestDropPct } from '../../../src/actors/tolaria/run-results.ts';
import { runTraining, type TamiyoDecide } from '../../../src/actors/tolaria/run-loop.ts';
import { seedCommand } from '../../../src/actors/tamiyo/index.ts';
import { quickSpiralsSpec } from '../../helpers/spirals-spec.ts';

describe('esper run: graft epochs', function () {
  this.timeout(90_000);

  it('count the epoch trained after a blending seed is pruned, and not the epochs after that', async () => {
    let prunedAt: number | undefined;
    // The spec's policy, except that the first seed seen BLENDING is pruned at that boundary, and nothing else grows afterwards.
    const decide: TamiyoDecide = (packet, memory, context, builtin) => {
      if (prunedAt !== undefined) return { commands: [], reason: 'test: no more growth', memory };
      const blending = packet.seeds.find((s) => s.stage === 'BLENDING');
      if (blending === undefined) return builtin(packet, memory, context);
      prunedAt = packet.epoch;
      const command = seedCommand(packet, blending.seedId, { op: 'PRUNE' }, { deadlineMs: 5_000, policy: 'test', reason: 'test: prune a grafting seed' });
      return { commands: [command], reason: 'test: prune a grafting seed', memory };
    };
    const results = await runTraining(quickSpiralsSpec(12), { runId: 'graft-epochs-prune', tamiyo: { decide } });
    expect(() => RunResultsSchema.parse(results)).to.not.throw();
    expect(prunedAt, 'a seed reached BLENDING').to.be.a('number');
    const at = prunedAt as number;
    const prune = results.seeds.flatMap((s) => s.history).find((h) => h.to === 'PRUNED');
    expect(prune).to.include({ epoch: at, from: 'BLENDING' });
    // The epoch at whose end it was pruned was trained with it blending; the next one without it, and counts; the rest do not.
    expect(results.graftEpochs).to.include(at);
    expect(results.graftEpochs).to.include(at + 1);
    expect(results.graftEpochs?.filter((e) => e > at + 1)).to.deep.equal([]);
    expect(results.maxGraftDropPct).to.equal(largestDropPct(results.epochs, results.graftEpochs ?? []));
  });

  it('count the epoch trained after a seed merged (the network the graft left), and not the epochs after that', async () => {
    const results = await runTraining(quickSpiralsSpec(20), { runId: 'graft-epochs-merge' });
    const story = JSON.stringify(results.seeds.map((s) => [s.slotId, s.history.map((h) => `${h.epoch}:${h.from}->${h.to}`)]));
    const merge = results.seeds.flatMap((s) => s.history).find((h) => h.to === 'FOSSILIZED');
    expect(merge, `a seed merged: ${story}`).to.not.equal(undefined);
    const at = merge?.epoch as number;
    expect(['BLENDING', 'HOLDING'], story).to.include(merge?.from);
    // Trained with nothing grafting (the snapshot at the end of the epoch before shows no seed BLENDING or HOLDING).
    const nothingGrafting = (epoch: number): boolean => results.epochs[epoch - 2]?.seeds.every((s) => s.stage !== 'BLENDING' && s.stage !== 'HOLDING') === true;
    expect(nothingGrafting(at + 1), `only the merge makes epoch ${at + 1} a graft epoch: ${story}`).to.equal(true);
    expect(results.graftEpochs).to.include(at + 1);
    // The next one, trained after nothing ended, counts only if a seed was grafting then.
    if (results.epochs.length >= at + 2 && nothingGrafting(at + 2) && !results.seeds.some((s) => s.history.some((h) => h.epoch === at + 1 && (h.to === 'PRUNED' || h.to === 'FOSSILIZED')))) {
      expect(results.graftEpochs).to.not.include(at + 2);
    }
    expect(results.maxGraftDropPct).to.equal(largestDropPct(results.epochs, results.graftEpochs ?? []));
  });
});

describe('esper run: the graft guard', function () {
  this.timeout(120_000);

  /** Epochs (1-based) trained with a seed BLENDING or HOLDING: the snapshot at the end of the epoch before shows it. */
  function seedGraftingEpochs(results: RunResults): number[] {
    return results.epochs.filter((e, i) => i > 0 && results.epochs[i - 1]!.seeds.some((s) => s.stage === 'BLENDING' || s.stage === 'HOLDING')).map((e) => e.epoch);
  }
  const accuracyAt = (results: RunResults, epoch: number): number => results.epochs[epoch - 1]!.validationAccuracy;

  it('rolls back a grafting epoch that falls past its bound (winning back at least half), prunes the seed and numbers every epoch; off, the same run keeps the fall', async () => {
    // Bound 0: any fall of a grafting epoch rolls back, so the test sees the guard act on the quick spirals run.
    // Data seed 1: its first seed's first blending epoch falls 2.5 points.
    const quick = quickSpiralsSpec(20);
    const strict = { ...quick, training: { ...quick.training, seed: 1 }, graftGuard: { enabled: true, minDropPct: 0, sigma: 0, noiseMultiple: 0, lossMustRise: false, retry: false } };
    const off = { ...strict, graftGuard: { ...strict.graftGuard, enabled: false } };
    const unguarded = await runTraining(off, { runId: 'graft-guard-off' });
    expect(unguarded.rollbacks).to.deep.equal([]);
    const fallsKept = seedGraftingEpochs(unguarded).filter((e) => accuracyAt(unguarded, e) < accuracyAt(unguarded, e - 1));
    expect(fallsKept, 'without the guard some grafting epoch falls (else this run shows nothing)').to.not.be.empty;

    const guarded = await runTraining(strict, { runId: 'graft-guard-on' });
    expect(() => RunResultsSchema.parse(guarded)).to.not.throw();
    const guardRollbacks = guarded.rollbacks.filter((r) => r.cause === 'graft_regression');
    expect(guardRollbacks).to.not.be.empty;
    expect(guardRollbacks.map((r) => r.epoch)[0]).to.equal(fallsKept[0]);
    for (const rollback of guardRollbacks) {
      const record = guarded.epochs[rollback.epoch - 1]!;
      // Restored to the boundary before the epoch, the grafting seed pruned; the epoch counts as a graft epoch.
      expect(rollback.toEpoch).to.equal(rollback.epoch - 1);
      expect(record.seeds.filter((s) => s.stage === 'BLENDING' || s.stage === 'HOLDING')).to.deep.equal([]);
      expect(guarded.seeds.flatMap((s) => s.history).some((h) => h.to === 'PRUNED' && (h.from === 'BLENDING' || h.from === 'HOLDING'))).to.equal(true);
      expect(guarded.graftEpochs).to.include(rollback.epoch);
    }
    // Up to the first fall both runs are the same run: the guard undid that fall, and the epoch records the restored model.
    const first = guardRollbacks[0]!.epoch;
    expect(guarded.epochs.slice(0, first - 1)).to.deep.equal(unguarded.epochs.slice(0, first - 1).map((e, i) => ({ ...e, durationMs: guarded.epochs[i]!.durationMs })));
    expect(accuracyAt(guarded, first)).to.be.greaterThan(accuracyAt(unguarded, first));
    expect(guarded.epochs.map((e) => e.epoch)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('retries, with the seed kept, a grafting epoch whose fall pruning would deepen (the seed carries the network)', async () => {
    // Data seed 1 again: at epoch 19 the seed, HOLDING at α = 1, carries the network; a fall there is retried on new batches.
    const quick = quickSpiralsSpec(20);
    const spec = { ...quick, training: { ...quick.training, seed: 1 }, graftGuard: { enabled: true, minDropPct: 0, sigma: 0, noiseMultiple: 0, lossMustRise: false, retry: true } };
    const results = await runTraining(spec, { runId: 'graft-guard-retry' });
    const retries = results.rollbacks.filter((r) => r.cause === 'graft_regression' && r.reason?.startsWith('retried, seeds kept'));
    expect(retries, 'a retry happened (else this run shows nothing)').to.not.be.empty;
    for (const retry of retries) {
      const before = results.epochs[retry.epoch - 2]!;
      const record = results.epochs[retry.epoch - 1]!;
      // Nothing pruned: the seeds stand as at the boundary before, and no seed's history has a prune at that epoch.
      expect(record.seeds.map((s) => [s.seedId, s.stage, s.alpha])).to.deep.equal(before.seeds.map((s) => [s.seedId, s.stage, s.alpha]));
      expect(results.seeds.flatMap((s) => s.history).filter((h) => h.epoch === retry.epoch && h.to === 'PRUNED')).to.deep.equal([]);
      expect(results.graftEpochs).to.include(retry.epoch);
      // Never twice in a row.
      expect(retries.some((r) => r.epoch === retry.epoch + 1)).to.equal(false);
    }
    expect(results.epochs.map((e) => e.epoch)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
