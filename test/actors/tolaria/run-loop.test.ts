/**
 * `esper run`'s loop end to end on the spirals example: a worker-thread
 * session, Kasmina's seed actors and Tamiyo's heuristic together. Epochs
 * are cut and the policy's thresholds lowered so a seed germinates early.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { Envelope } from '../../../src/contracts/envelope.ts';
import { RunResultsSchema, RunSpecSchema, type RunResults, type RunSpec } from '../../../src/contracts/run.ts';
import { runTraining, type EpochSummary } from '../../../src/actors/tolaria/run-loop.ts';
import { largestDropPct } from '../../../src/actors/tolaria/run-results.ts';
import { WIDTH_TRAINING_EPOCHS } from '../../../src/actors/tolaria/tamiyo-adviser.ts';
import { widthEpochsToMerge } from '../../../src/actors/tamiyo/index.ts';
import { renderReport } from '../../../src/cli/report/report-html.ts';
import { runRunCommand } from '../../../src/cli/run.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function spiralsSpec(): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return RunSpecSchema.parse({
    ...raw,
    epochs: 10,
    policy: { ...(raw['policy'] as object), minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 },
    // Permissive gates: this test is about the loop; the gates are tested on their own.
    gates: { g2: { minTrainingEpochs: 2, minImprovementPp: -100 }, g5: { minContributionPp: -100 } },
  });
}

const transitionsOf = (results: RunResults): string[] =>
  results.seeds.flatMap((seed) => seed.history.map((h) => `${seed.slotId}@${h.epoch}:${h.from}->${h.to}:${h.cause.reason}`));

describe('esper run: the training loop (Tolaria × Kasmina × Tamiyo)', function () {
  this.timeout(60_000);
  let first: RunResults;

  it('runs the spirals example to the end: a seed leaves DORMANT with caused transitions, results validate, the report renders', async () => {
    const seen: EpochSummary[] = [];
    first = await runTraining(spiralsSpec(), { runId: 'run-loop-a', onEpoch: (s) => seen.push(s) });
    expect(() => RunResultsSchema.parse(first)).to.not.throw();
    expect(first.epochs).to.have.length(10);
    expect(seen.map((s) => s.epoch)).to.deep.equal(first.epochs.map((e) => e.epoch));
    const grown = first.seeds.filter((seed) => seed.history.length > 0);
    expect(grown.length).to.be.greaterThan(0);
    for (const seed of grown) {
      expect(seed.history[0]?.from).to.equal('DORMANT');
      expect(seed.history[0]?.blueprintId).to.be.a('string');
      for (const h of seed.history) expect(h.cause.reason).to.be.a('string').and.not.equal('');
    }
    expect(first.finalAccuracy).to.be.within(0, 1);
    expect(first.parameterCount.total).to.equal(first.parameterCount.host + first.parameterCount.seeds);
    expect(first.maxGraftDropPct).to.be.at.least(0);
    // The graft epochs are those trained with a seed BLENDING or HOLDING (it was at the previous boundary) or right after its merge or prune, and the graft drop is measured
    // over them; the epoch at whose end a seed began to blend was trained with it in TRAINING (the host alone) and is not one.
    const trainedIn = (stage: string) => first.epochs.filter((_, i) => first.epochs[i - 1]?.seeds.some((s) => s.stage === stage) === true).map((e) => e.epoch);
    // The first epoch trained after a seed merged (or was pruned) from a grafting stage counts too: the network the graft left.
    const graftEnded = first.seeds.flatMap((seed) => seed.history.filter((h) => (h.to === 'FOSSILIZED' || h.to === 'PRUNED') && (h.from === 'BLENDING' || h.from === 'HOLDING')).map((h) => h.epoch + 1));
    const grafting = [...new Set([...trainedIn('BLENDING'), ...trainedIn('HOLDING'), ...graftEnded])].filter((e) => e <= first.epochs.length).sort((a, b) => a - b);
    const blendingBegan = first.epochs.filter((e, i) => e.seeds.some((s) => s.stage === 'BLENDING') && first.epochs[i - 1]?.seeds.every((s) => s.stage !== 'BLENDING') !== false).map((e) => e.epoch);
    expect(trainedIn('BLENDING').length).to.be.greaterThan(0);
    expect(blendingBegan.length).to.be.greaterThan(0);
    expect(first.graftEpochs).to.deep.equal(grafting);
    for (const epoch of blendingBegan) expect(first.graftEpochs).to.not.include(epoch);
    expect(first.maxGraftDropPct).to.equal(largestDropPct(first.epochs, first.graftEpochs ?? []));
    const html = renderReport(first);
    expect(html).to.include('<html');
  });

  it('is deterministic: the same spec twice gives the same transitions and the same final weights', async () => {
    const second = await runTraining(spiralsSpec(), { runId: 'run-loop-b' });
    expect(transitionsOf(second)).to.deep.equal(transitionsOf(first));
    expect(second.weightsHash).to.equal(first.weightsHash);
    expect(second.epochs.map((e) => e.validationAccuracy)).to.deep.equal(first.epochs.map((e) => e.validationAccuracy));
  });

  it('files a FieldReport for each seed Tamiyo saw end: in the results, and as an event caused by the decision that saw it', async () => {
    const events: Envelope[] = [];
    const results = await runTraining({ ...spiralsSpec(), epochs: 14 }, { runId: 'run-loop-fr', events: (e) => events.push(e) });
    const fossilized = results.seeds.filter((seed) => seed.history.some((h) => h.to === 'FOSSILIZED'));
    expect(fossilized, 'this spec fossilizes a seed').to.not.be.empty;
    const reports = results.fieldReports ?? [];
    expect(reports.map((r) => [r.seedId, r.outcome])).to.deep.equal(fossilized.map((seed) => [seed.seedId, 'SUCCESS']));
    for (const report of reports) {
      const seed = results.seeds.find((s) => s.seedId === report.seedId)!;
      expect(report).to.deep.include({ runId: 'run-loop-fr', blueprintId: seed.blueprintId, kernelId: seed.kernelId });
      expect(report.metrics['paramsAdded']).to.equal(seed.paramsAdded);
      expect(report.observationWindow.fromEpoch).to.equal(seed.history.find((h) => h.to === 'GERMINATED')!.epoch);
    }
    const reportEvents = events.filter((e) => e.type === 'tamiyo.field_report');
    expect(reportEvents.map((e) => e.data)).to.deep.equal(reports);
    const decisions = new Set(events.filter((e) => e.type === 'tamiyo.decision.made').map((e) => e.id));
    for (const event of reportEvents) expect(decisions.has(event.causationId ?? ''), 'caused by a decision').to.equal(true);
  });

  it('trains the host alone when growth is off (the --compare baseline)', async () => {
    const spec = spiralsSpec();
    const host = await runTraining({ ...spec, epochs: 3 }, { runId: 'run-loop-host', growth: false });
    expect(host.seeds).to.deep.equal([]);
    expect(host.parameterCount.seeds).to.equal(0);
  });

  it('esper run rejects a bad spec with exit 2, listing every issue', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-run-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ name: '', epochs: 0, training: { dataset: { kind: 'spirals' }, host: { kind: 'mlp', hidden: [] } } }));
    const err: string[] = [];
    const output = { out: (): void => undefined, err: (text: string): void => void err.push(text) };
    expect(await runRunCommand(file, {}, output)).to.equal(2);
    expect(err.filter((line) => line.startsWith('  - ')).length).to.be.at.least(3);
    expect(await runRunCommand(join(dir, 'missing.json'), {}, output)).to.equal(2);
    writeFileSync(file, '{ not json');
    expect(await runRunCommand(file, {}, output)).to.equal(2);
  });

  it('esper run refuses blueprints outside the catalog, or unfit for the slots, with exit 2 before training', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-run-'));
    const file = join(dir, 'bad-blueprints.json');
    writeFileSync(file, JSON.stringify({ ...spiralsSpec(), seedModules: { blueprints: ['mlp_huge', 'conv_light'], kernels: ['k1'] } }));
    const err: string[] = [];
    const out: string[] = [];
    const output = { out: (text: string): void => void out.push(text), err: (text: string): void => void err.push(text) };
    expect(await runRunCommand(file, { out: join(dir, 'out') }, output)).to.equal(2);
    expect(err.filter((line) => line.startsWith('  - '))).to.have.length(3);
    expect(err.join('\n')).to.include('ESPER_CONFIG_INVALID').and.include("'mlp_huge' is not a catalog blueprint").and.include("'conv_light' does not fit a dense slot");
    expect(out, 'nothing trained').to.deep.equal([]);
  });
});

describe('esper run: the spirals example as shipped (issue 6)', function () {
  this.timeout(120_000);

  it('grows at least one seed to FOSSILIZED with the default gates and beats the host trained alone', async () => {
    const spec = RunSpecSchema.parse(JSON.parse(readFileSync(new URL('../../../examples/spirals-depth.json', import.meta.url), 'utf8')));
    const grown = await runTraining(spec, { runId: 'spirals-grown' });
    const host = await runTraining(spec, { runId: 'spirals-host', growth: false });
    const fossils = grown.seeds.filter((seed) => seed.history.some((h) => h.to === 'FOSSILIZED'));
    expect(fossils.length).to.be.at.least(1);
    expect(grown.finalAccuracy).to.be.greaterThan(host.finalAccuracy);
    expect(grown.parameterCount.seeds).to.be.greaterThan(0);
  });
});

describe('esper run: the spirals example as shipped (issue 11: default policy, catalog blueprints)', function () {
  this.timeout(180_000);

  it('widens a bottlenecked layer through the whole lifecycle: the width seed merges, the topology is wider, and the model beats the host trained alone', async () => {
    const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const spec = RunSpecSchema.parse({ ...raw, epochs: 40 });
    expect(spec.policy.kind).to.equal('bottleneck');
    const events: Envelope[] = [];
    const grown = await runTraining(spec, { runId: 'spirals-width', events: (e) => events.push(e) });
    const host = await runTraining(spec, { runId: 'spirals-width-host', growth: false });
    const widened = grown.seeds.filter((seed) => seed.slotId.includes('-w') && seed.history.some((h) => h.to === 'FOSSILIZED'));
    expect(widened.length).to.be.at.least(1);
    const hidden = grown.topology?.host.kind === 'mlp' ? grown.topology.host.hidden : [];
    expect(hidden.reduce((a, b) => a + b, 0)).to.be.greaterThan(6);
    expect(grown.parameterCount.host).to.be.greaterThan(host.parameterCount.host);
    expect(grown.finalAccuracy).to.be.greaterThan(host.finalAccuracy);
    // Training starts at the boundary the seed germinated at (G1 checked when the kernel attached): no idle GERMINATED epoch.
    for (const seed of widened) {
      const [germinated, training] = seed.history;
      expect(germinated?.to).to.equal('GERMINATED');
      expect(training).to.include({ from: 'GERMINATED', to: 'TRAINING', epoch: germinated?.epoch });
      expect(training?.cause.reason).to.match(/gate G1 passed/);
    }
    expect(grown.epochs.flatMap((e) => e.seeds.filter((s) => s.stage === 'GERMINATED').map((s) => `${s.slotId}@${e.epoch}`))).to.deep.equal([]);
    // The merge window's estimate is the lifecycle's real fastest path: no width seed merged sooner, and one merged exactly that many epochs after it germinated.
    const fastest = widthEpochsToMerge(WIDTH_TRAINING_EPOCHS, spec.blend.tempoEpochs);
    const lifetimes = widened.map((seed) => (seed.history.find((h) => h.to === 'FOSSILIZED')?.epoch ?? 0) - (seed.history[0]?.epoch ?? 0));
    expect(Math.min(...lifetimes)).to.equal(fastest);
    // A merged seed spent an epoch HOLDING at α = 1: that epoch is a graft epoch too, and the graft drop is measured over it.
    const holdingAt = grown.epochs.filter((_, i) => grown.epochs[i - 1]?.seeds.some((s) => s.stage === 'HOLDING') === true).map((e) => e.epoch);
    expect(holdingAt.length).to.be.greaterThan(0);
    for (const epoch of holdingAt) expect(grown.graftEpochs).to.include(epoch);
    expect(grown.maxGraftDropPct).to.equal(largestDropPct(grown.epochs, grown.graftEpochs ?? []));
    // Why a layer was widened is in the event log: the decision names the layer and its signals.
    const decision = events.find((e) => e.type === 'tamiyo.decision.made' && String((e.data as { reason: string }).reason).includes('widen L'));
    expect(String((decision?.data as { reason: string } | undefined)?.reason)).to.match(/widen L\d \(w3, saturation [\d.]+ ≥ 0\.45, gradient score/);
  });
});

describe('esper run: width seeds blending at full strength (policy.widthTempoEpochs 1)', function () {
  this.timeout(180_000);

  it('blends every width seed at α = 1 from its first BLENDING epoch and merges it three epochs after the decision, as the window assumes', async () => {
    const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const spec = RunSpecSchema.parse({ ...raw, epochs: 16, policy: { widthTempoEpochs: 1 } });
    const grown = await runTraining(spec, { runId: 'spirals-width-at-once' });
    const widened = grown.seeds.filter((seed) => seed.slotId.includes('-w') && seed.history.some((h) => h.to === 'FOSSILIZED'));
    expect(widened.length).to.be.at.least(1);
    const blending = grown.epochs.flatMap((e) => e.seeds.filter((s) => s.slotId.includes('-w') && s.stage === 'BLENDING').map((s) => s.alpha));
    expect(blending.length).to.be.at.least(1);
    expect(blending.every((alpha) => alpha === 1)).to.equal(true);
    const lifetimes = widened.map((seed) => (seed.history.find((h) => h.to === 'FOSSILIZED')?.epoch ?? 0) - (seed.history[0]?.epoch ?? 0));
    expect(Math.min(...lifetimes)).to.equal(widthEpochsToMerge(WIDTH_TRAINING_EPOCHS, 1));
    expect(Math.min(...lifetimes)).to.equal(3);
  });
});

describe('esper run: determinism with width seeds (issue 11)', function () {
  this.timeout(180_000);

  it('the same spec twice gives the same widenings, transitions, topology and final weights hash', async () => {
    const raw = JSON.parse(readFileSync(new URL('../../../examples/spirals.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const spec = RunSpecSchema.parse({ ...raw, epochs: 16 });
    const a = await runTraining(spec, { runId: 'width-det-a' });
    const b = await runTraining(spec, { runId: 'width-det-b' });
    const transitions = (r: RunResults): string[] => r.seeds.flatMap((s) => s.history.map((h) => `${s.slotId}@${h.epoch}:${h.from}->${h.to}`));
    expect(transitions(a).some((t) => t.includes('-w') && t.endsWith('->FOSSILIZED'))).to.equal(true);
    expect(transitions(b)).to.deep.equal(transitions(a));
    expect(b.topology).to.deep.equal(a.topology);
    expect(b.weightsHash).to.equal(a.weightsHash);
  });
});
