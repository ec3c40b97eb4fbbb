/**
 * A run whose hidden layers die is revived (Tamiyo's bottleneck policy, a
 * HOST REVIVE command Tolaria executes in the worker): spirals on a 2-2-2-2
 * MLP under plain SGD at a learning rate of 5, whose layers 2 and 3 die in
 * the first epoch.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { Envelope } from '../../../src/contracts/envelope.ts';
import { RunResultsSchema, RunSpecSchema, type RunSpec } from '../../../src/contracts/run.ts';
import { runTraining, type EpochBoundary } from '../../../src/actors/tolaria/run-loop.ts';
import { RunLoopStateSchema, type RunLoopState } from '../../../src/actors/tolaria/run-state.ts';
import { renderReport } from '../../../src/cli/report/report-html.ts';

function dyingSpec(): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals.json', import.meta.url), 'utf8')) as { training: Record<string, unknown> } & Record<string, unknown>;
  return RunSpecSchema.parse({
    ...raw,
    epochs: 3,
    training: { ...raw.training, dataset: { kind: 'spirals', n: 400, noise: 0.05, turns: 1.5 }, host: { kind: 'mlp', hidden: [2, 2, 2] }, optimizer: { kind: 'sgd', learningRate: 5 } },
  });
}

describe('esper run: dead hidden layers revived (issue 11)', function () {
  this.timeout(60_000);

  it('revives layers 2–3 at the first boundary, records it in the results and the event log, deterministically', async () => {
    const events: Envelope[] = [];
    const revivedAt: (number[] | undefined)[] = [];
    const results = await runTraining(dyingSpec(), { runId: 'run-revival-a', events: (e) => events.push(e), onEpoch: (s) => void revivedAt.push(s.tamiyo?.revived) });
    expect(revivedAt).to.deep.equal([[2, 3], undefined, undefined]);
    expect(RunResultsSchema.safeParse(results).success).to.equal(true);
    expect(results.revivals).to.deep.equal([{ epoch: 1, layers: [2, 3], units: 4 }]);
    const revived = events.filter((e) => e.type === 'tolaria.host.revived');
    expect(revived).to.have.length(1);
    expect(revived[0]?.data).to.include({ runId: 'run-revival-a', epoch: 1, units: 4 });
    const decision = events.find((e) => e.type === 'tamiyo.decision.made' && (e.data as { epoch: number }).epoch === 1);
    expect((decision?.data as { reason: string }).reason).to.match(/^revive L2–L3: every unit dead/);
    expect(revived[0]?.causationId).to.equal(decision?.id);
    // The layers are alive at the next boundary (the epoch-2 packet's signals).
    const packet2 = events.find((e) => e.type === 'tolaria.state.published' && (e.data as { epoch: number }).epoch === 2);
    const layers = (packet2?.data as { layers: { layer: number; deadFraction: number }[] }).layers;
    expect(layers.find((l) => l.layer === 2)?.deadFraction).to.be.below(1);
    expect(renderReport(results)).to.include('Dead layers revived').and.include('L2–L3 (4 units) after epoch 1');
    const again = await runTraining(dyingSpec(), { runId: 'run-revival-b' });
    expect(again.weightsHash).to.equal(results.weightsHash);
    expect(again.revivals).to.deep.equal(results.revivals);
  });

  it('a run resumed from the boundary after the revival (a crash) keeps the revival and ends with the same weights', async () => {
    let saved: { state: RunLoopState; checkpoint: Uint8Array } | undefined;
    const whole = await runTraining(dyingSpec(), {
      runId: 'run-revival-c',
      boundary: (b: EpochBoundary) => {
        if (b.state.iteration === 2) saved = { state: RunLoopStateSchema.parse(JSON.parse(JSON.stringify(b.state))), checkpoint: b.checkpoint.bytes.slice() };
        return Promise.resolve();
      },
    });
    expect(saved?.state.revivals).to.deep.equal([{ epoch: 1, layers: [2, 3], units: 4 }]);
    if (saved === undefined) return;
    const resumed = await runTraining(dyingSpec(), { runId: 'run-revival-c', resume: { state: saved.state, checkpoint: saved.checkpoint } });
    expect(resumed.revivals).to.deep.equal(whole.revivals);
    expect(resumed.weightsHash).to.equal(whole.weightsHash);
  });
});
