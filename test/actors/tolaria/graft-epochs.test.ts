/**
 * The epochs a graft drop is measured over (issue 11's "< 5 % degradation
 * during a graft"): those trained with a seed's output in the network before
 * its merge — BLENDING, HOLDING at α = 1 — and the first one trained after
 * such a seed was pruned, its output gone at that boundary.
 */
import { expect } from 'chai';
import { RunResultsSchema } from '../../../src/contracts/run.ts';
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
});
