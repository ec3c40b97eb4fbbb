/**
 * `esper run --compare --repeats 2` end to end on a small spirals run
 * (issue 11, item 5), the usage errors of the new flags, and the held-out
 * test accuracy a run fills in through its training worker (a fake
 * Fashion-MNIST directory with train and t10k files).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { RunResultsSchema, RunSpecSchema } from '../../src/contracts/run.ts';
import { runTraining } from '../../src/actors/tolaria/index.ts';
import { runRunCommand } from '../../src/cli/run.ts';
import { writeFakeFashionMnist } from '../helpers/fake-fashion-mnist.ts';

function capture(): { out: string[]; err: string[]; output: { out: (t: string) => void; err: (t: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (t) => void out.push(t), err: (t) => void err.push(t) } };
}

/** The spirals example cut to a few epochs on fewer points, with the policy's waits shortened so a seed grows. */
function smallSpirals(): unknown {
  const raw = JSON.parse(readFileSync(new URL('../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
  return {
    ...raw,
    epochs: 8,
    training: { ...raw['training'], dataset: { kind: 'spirals', n: 300 } },
    policy: { ...raw['policy'], minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 },
    gates: { g2: { minTrainingEpochs: 1, minImprovementPp: -100 }, g5: { minContributionPp: -100 } },
  };
}

describe('esper run --compare --repeats (issue 11)', function () {
  this.timeout(120_000);

  it('trains grown, host and static on two data seeds and writes the comparison, the repeats and their summary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-compare-'));
    const file = join(dir, 'spec.json');
    writeFileSync(file, JSON.stringify(smallSpirals()));
    const { out, err, output } = capture();
    const code = await runRunCommand(file, { compare: true, repeats: '2', audit: false, out: join(dir, 'out'), progress: 'lines' }, output);
    expect(code, err.join('\n')).to.equal(0);
    const results = RunResultsSchema.parse(JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')));
    const c = results.compare!;
    expect(c.grownAccuracy).to.equal(results.finalAccuracy);
    expect(c.staticRule).to.be.oneOf(['final-topology', 'parameter-matched']);
    expect(c.hostTopology).to.equal('2-3-3-2');
    expect(c.staticTopology).to.match(/^2-\d+-\d+-2$/);
    expect(c.hostParams).to.equal(29);
    expect(c.grownParams).to.equal(results.parameterCount.total);
    expect(c.parameterEfficiency?.note).to.be.a('string');
    // Spirals has no test set: test accuracies are absent, not 0.
    expect(results).to.not.have.property('testAccuracy');
    expect(c).to.not.have.property('hostTestAccuracy');
    expect(results.repeats?.map((r) => r.seed)).to.deep.equal([7, 8]);
    expect(results.repeats?.[0]).to.deep.include({ runId: results.runId, grownAccuracy: results.finalAccuracy, weightsHash: results.weightsHash, maxGraftDropPct: results.maxGraftDropPct });
    const summary = results.repeatSummary!;
    expect(summary.repeats).to.equal(2);
    expect(summary.grownAccuracy.n).to.equal(2);
    expect(summary.grownAccuracy.min).to.equal(Math.min(...results.repeats!.map((r) => r.grownAccuracy)));
    expect((summary.bottleneckResolution?.n ?? 0) + summary.undefinedResolutions).to.equal(2);
    const gains = results.repeats!.map((r) => (r.staticAccuracy - r.hostAccuracy) * 100);
    expect(summary.staticGainPts?.min).to.be.closeTo(Math.min(...gains), 1e-9);
    const html = readFileSync(join(dir, 'out', 'report.html'), 'utf8');
    expect(html).to.include('params-chart').and.include('Repeats over data seeds').and.include('<h2>Growth goals</h2>');
    const printed = out.join('\n');
    expect(printed).to.match(/compare {2}seed 8 {2}host/).and.match(/\nmedian +\d/).and.match(/\nmin +\d/);
    // The verdict over both data seeds closes the output: every goal, each met or not.
    expect(printed).to.match(/growth goals \(2 data seeds; docs\/growth\.md "Goals"\)\n {2}median resolution .*\n {2}minimum resolution .*\n {2}largest graft drop .*\n {2}static − host .*(met|n\/a)/);
  });

  it('refuses --repeats or --sweep without --compare, and a bad count, with exit 2 before training', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-compare-'));
    const file = join(dir, 'spec.json');
    writeFileSync(file, JSON.stringify(smallSpirals()));
    for (const flags of [{ repeats: '2' }, { sweep: true }, { compare: true, repeats: '0' }]) {
      const { out, err, output } = capture();
      expect(await runRunCommand(file, { ...flags, audit: false, out: join(dir, 'out') }, output)).to.equal(2);
      expect(err.join('\n')).to.include('ESPER_CONFIG_INVALID').and.include('--');
      expect(out).to.deep.equal([]);
    }
  });

  it('fills testAccuracy at the end of a run whose dataset has a test set (Fashion-MNIST t10k, read through the worker)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-fmnist-'));
    writeFakeFashionMnist(dir, { train: 60, test: 25 });
    const spec = RunSpecSchema.parse({
      name: 'fake fashion',
      epochs: 1,
      training: { dataset: { kind: 'fashion-mnist', dir, layout: 'flat' }, host: { kind: 'mlp', hidden: [4] }, batchSize: 16 },
    });
    const results = await runTraining(spec, { runId: 'fmnist-test', growth: false });
    expect(results.testAccuracy).to.be.within(0, 1);
    // 25 test images: the accuracy is a multiple of 1/25.
    expect(Math.abs(results.testAccuracy! * 25 - Math.round(results.testAccuracy! * 25))).to.be.below(1e-9);
  });
});
