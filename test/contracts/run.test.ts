import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  RunResultsSchema,
  RunSpecSchema,
  bottleneckResolution,
  type RunResultsInput,
  type RunSpec,
} from '../../src/contracts/index.ts';
import { catalogEntry } from '../../src/actors/karn/catalog.ts';
import { expectIssueAt, expectValid, issuePaths, patched } from './issues.ts';

const exampleSpec = (name: string): unknown =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../examples/${name}`, import.meta.url)), 'utf8')) as unknown;

const MINIMAL = {
  name: 'xor',
  epochs: 5,
  training: { dataset: { kind: 'xor' }, host: { kind: 'mlp', hidden: [4] } },
};

function results(spec: RunSpec): RunResultsInput {
  return {
    runId: 'run-1',
    spec,
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:01:00.000Z',
    backend: 'wasm',
    epochs: [
      { epoch: 1, trainLoss: 0.7, validationLoss: 0.69, validationAccuracy: 0.5, durationMs: 12, seeds: [{ seedId: 'seed-h1', slotId: 'h1', stage: 'DORMANT', alpha: 0 }] },
      { epoch: 2, trainLoss: 0.5, validationLoss: 0.52, validationAccuracy: 0.75, durationMs: 11.5, seeds: [{ seedId: 'seed-h1', slotId: 'h1', stage: 'GERMINATED', alpha: 0 }] },
    ],
    seeds: [
      {
        seedId: 'seed-h1',
        slotId: 'h1',
        blueprintId: 'mlp_small',
        history: [{ epoch: 2, from: 'DORMANT', to: 'GERMINATED', cause: { gate: 'G0', reason: 'plateau 3 epochs' }, blueprintId: 'mlp_small' }],
        paramsAdded: 0,
      },
    ],
    finalAccuracy: 0.75,
    parameterCount: { host: 100, seeds: 0, total: 100 },
    weightsHash: 'a'.repeat(64),
    rollbacks: [{ epoch: 2, cause: 'divergence', checkpointId: 'ckpt-1' }],
    maxGraftDropPct: 0,
    compare: { hostAccuracy: 0.7, grownAccuracy: 0.75, staticAccuracy: 0.8, staticParams: 160, bottleneckResolution: 0.5 },
  };
}

describe('contracts/run', () => {
  describe('RunSpec', () => {
    for (const file of ['spirals.json', 'fashion-mnist.json', 'spirals-depth.json', 'fashion-mnist-depth.json']) {
      it(`parses examples/${file}, whose blueprints are all in the catalog`, () => {
        const spec = RunSpecSchema.parse(exampleSpec(file));
        // The README's main command must stay well under a minute (a spirals epoch is ~0.1 s, a 10k-image Fashion-MNIST one ~1 s).
        expect(spec.epochs).to.be.within(1, spec.training.dataset.kind === 'spirals' ? 150 : 60);
        expect(spec.training.slots).to.not.be.empty;
        const blueprints = spec.seedModules.blueprints;
        if (blueprints !== 'catalog') for (const name of blueprints) expect(catalogEntry(name), name).to.not.equal(undefined);
      });
    }

    it('parses every growth spec of examples/growth/ as the issue-11 protocol has them: no policy section, catalog blueprints, slots on the host', () => {
      const files = readdirSync(new URL('../../examples/growth/', import.meta.url)).filter((name) => name.endsWith('.json'));
      expect(files.length).to.be.at.least(10);
      for (const file of files) {
        const raw = exampleSpec(`growth/${file}`) as Record<string, unknown>;
        expect(raw, file).to.not.have.property('policy');
        const spec = RunSpecSchema.parse(raw);
        expect(spec.policy.kind, file).to.equal('bottleneck');
        expect(spec.seedModules.blueprints, file).to.equal('catalog');
        const host = spec.training.host;
        const layers = host.kind === 'mlp' ? host.hidden.length : host.kind === 'cnn' ? host.convs.length + host.dense.length : 0;
        expect(spec.training.slots, file).to.not.be.empty;
        for (const slot of spec.training.slots) expect(slot.afterLayer, `${file} ${slot.id}`).to.be.within(1, layers);
      }
    });

    it('keeps the example hosts deliberately small and fashion-mnist limited', () => {
      const spirals = RunSpecSchema.parse(exampleSpec('spirals.json'));
      const fashion = RunSpecSchema.parse(exampleSpec('fashion-mnist.json'));
      expect(spirals.training.dataset.kind).to.equal('spirals');
      expect(fashion.training.dataset).to.include({ kind: 'fashion-mnist', limit: 10_000 });
      // The two main examples grow as a new user's spec would: the default policy and the whole catalog.
      for (const file of ['spirals.json', 'fashion-mnist.json']) {
        expect(exampleSpec(file), file).to.not.have.property('policy');
        expect(RunSpecSchema.parse(exampleSpec(file)).seedModules.blueprints, file).to.equal('catalog');
      }
      for (const spec of [spirals, fashion]) {
        const host = spec.training.host;
        expect(host.kind).to.equal('mlp');
        if (host.kind === 'mlp') {
          expect(Math.max(...host.hidden)).to.be.at.most(16);
          for (const slot of spec.training.slots) expect(slot.afterLayer).to.be.at.most(host.hidden.length);
        }
      }
    });

    it('fills every default of a minimal spec', () => {
      const spec = RunSpecSchema.parse(MINIMAL);
      // Issue 11: the bottleneck policy is the default (the heuristic stays selectable with kind: 'heuristic').
      expect(spec.policy).to.deep.equal({
        kind: 'bottleneck',
        plateauEpochs: 3,
        plateauDeltaPp: 0.1,
        minEpochBeforeGerminate: 3,
        germinateCooldownEpochs: 5,
        fossilizeContributionPp: 0.5,
        pruneRegressionPp: 1,
        maxLiveSeeds: 1,
        growFromEpoch: 1,
        growUntilFraction: 0.5,
        mergeByFraction: 0.6,
        maxLiveWidthSeeds: 1,
        maxLiveConvWidthSeeds: 2,
        germinateTogether: false,
        denseGrowsWithConv: true,
        deferPruneAfterMerge: true,
        saturation: 0.45,
        growthFactor: 8,
        patientUntilFraction: 0.25,
        holdingPatienceEpochs: 3,
      });
      expect(spec.budgets).to.deep.equal({ maxSeeds: 4 });
      expect(spec.blend).to.deep.equal({ curve: 'linear', tempoEpochs: 3 });
      expect(spec.seedModules).to.deep.equal({ blueprints: 'catalog', kernels: [] });
      expect(spec.gates).to.equal(undefined);
      expect(spec.training).to.include({ backend: 'auto', batchSize: 64 });
      // A new seed's learning rate ramps over an epoch; the host's after a merge does not (docs/growth.md, "Fresh state, ramped learning rate").
      expect(spec.training.optimizer).to.include({ afterGrowth: 'restart', growthWarmupEpochs: 1, mergeWarmupEpochs: 0, sgdSharpnessBound: 2, sgdOutgoingPairs: true });
      // The parsed spec (as results.json carries it) parses again unchanged.
      expect(RunSpecSchema.parse(spec)).to.deep.equal(spec);
    });

    it('accepts gate overrides, budgets, blends and allow-lists', () => {
      expectValid(RunSpecSchema, {
        ...MINIMAL,
        gates: { G2: { minTrainingEpochs: 2 } },
        budgets: { maxSeeds: 0, maxParamsAdded: 5000 },
        blend: { curve: 'sigmoid', tempoEpochs: 8 },
        seedModules: { blueprints: ['lora_r4'], kernels: ['k1'] },
      });
      for (const widthTempoEpochs of [1, 3, 5, 8]) expect(RunSpecSchema.parse({ ...MINIMAL, policy: { widthTempoEpochs } }).policy.widthTempoEpochs).to.equal(widthTempoEpochs);
      expect(RunSpecSchema.parse(MINIMAL).policy.widthTempoEpochs).to.equal(undefined);
    });

    it('reports problems at the right paths', () => {
      expectIssueAt(RunSpecSchema, { ...MINIMAL, epochs: 0 }, 'epochs');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, epochs: 10_001 }, 'epochs');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, epochs: 2.5 }, 'epochs');
      expectIssueAt(RunSpecSchema, patched(MINIMAL, { name: undefined }), 'name');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, name: '' }, 'name');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { kind: 'reinforcement' } }, 'policy.kind');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { plateauEpochs: 0 } }, 'policy.plateauEpochs');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { maxLiveSeeds: 0 } }, 'policy.maxLiveSeeds');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { maxLiveWidthSeeds: 0 } }, 'policy.maxLiveWidthSeeds');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { maxLiveWidthSeeds: 1.5 } }, 'policy.maxLiveWidthSeeds');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, blend: { tempoEpochs: 4 } }, 'blend.tempoEpochs');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { widthTempoEpochs: 2 } }, 'policy.widthTempoEpochs');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { widthTempoEpochs: 0 } }, 'policy.widthTempoEpochs');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, blend: { curve: 'step' } }, 'blend.curve');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, budgets: { maxSeeds: -1 } }, 'budgets.maxSeeds');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, budgets: { maxParamsAdded: 1.5 } }, 'budgets.maxParamsAdded');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, seedModules: { blueprints: [] } }, 'seedModules.blueprints');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, seedModules: { blueprints: ['has space'] } }, 'seedModules.blueprints[0]');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, gates: [] }, 'gates');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, training: { ...MINIMAL.training, host: { kind: 'mlp', hidden: [] } } }, 'training.host.hidden');
      for (const bound of [-1, 101, Number.NaN]) {
        expectIssueAt(RunSpecSchema, { ...MINIMAL, training: { ...MINIMAL.training, optimizer: { kind: 'sgd', sgdSharpnessBound: bound } } }, 'training.optimizer.sgdSharpnessBound');
      }
      expectIssueAt(RunSpecSchema, { ...MINIMAL, training: { ...MINIMAL.training, optimizer: { kind: 'sgd', sgdOutgoingPairs: 'yes' } } }, 'training.optimizer.sgdOutgoingPairs');
    });

    it('rejects unknown keys at every level', () => {
      expectIssueAt(RunSpecSchema, { ...MINIMAL, extra: true }, '(root)');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, policy: { kind: 'heuristic', patience: 3 } }, 'policy');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, budgets: { maxSeed: 3 } }, 'budgets');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, blend: { tempo: 3 } }, 'blend');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, seedModules: { kernel: [] } }, 'seedModules');
      expectIssueAt(RunSpecSchema, { ...MINIMAL, training: { ...MINIMAL.training, epochs: 3 } }, 'training');
    });

    it('lists every problem of a spec at once', () => {
      const paths = issuePaths(RunSpecSchema, { ...MINIMAL, epochs: 0, blend: { tempoEpochs: 4 }, policy: { kind: 'rl' }, extra: 1 });
      expect(paths).to.include.members(['epochs', 'blend.tempoEpochs', 'policy.kind', '(root)']);
    });
  });

  describe('RunResults', () => {
    const spec = RunSpecSchema.parse(MINIMAL);
    const valid = results(spec);

    it('parses complete results, with and without the optional parts', () => {
      expectValid(RunResultsSchema, valid);
      expectValid(RunResultsSchema, patched(valid, { compare: undefined, testAccuracy: 0.71 }));
      expectValid(RunResultsSchema, patched(valid, { compare: { ...valid.compare, bottleneckResolution: null } }));
    });

    it('reports problems at the right paths', () => {
      expectIssueAt(RunResultsSchema, patched(valid, { parameterCount: { host: 100, seeds: 10, total: 100 } }), 'parameterCount.total');
      expectIssueAt(RunResultsSchema, patched(valid, { finishedAt: '2024-12-31T23:59:59.000Z' }), 'finishedAt');
      expectIssueAt(RunResultsSchema, patched(valid, { finalAccuracy: 1.2 }), 'finalAccuracy');
      expectIssueAt(RunResultsSchema, patched(valid, { weightsHash: 'nothex' }), 'weightsHash');
      expectIssueAt(RunResultsSchema, patched(valid, { maxGraftDropPct: -1 }), 'maxGraftDropPct');
      expectIssueAt(RunResultsSchema, patched(valid, { spec: { ...spec, epochs: 0 } }), 'spec.epochs');
      const epochs = structuredClone(valid.epochs);
      epochs[1]!.seeds[0]!.stage = 'SHADOWING' as never;
      expectIssueAt(RunResultsSchema, patched(valid, { epochs }), 'epochs[1].seeds[0].stage');
      const seeds = structuredClone(valid.seeds);
      seeds[0]!.history[0]!.to = 'DORMANT';
      expectIssueAt(RunResultsSchema, patched(valid, { seeds }), 'seeds[0].history[0].to');
      expectIssueAt(RunResultsSchema, patched(valid, { rollbacks: [{ epoch: 1, cause: 'boredom', checkpointId: 'c' }] }), 'rollbacks[0].cause');
      expectIssueAt(RunResultsSchema, patched(valid, { compare: { ...valid.compare, staticParams: undefined } }), 'compare.staticParams');
      expectIssueAt(RunResultsSchema, patched(valid, { extra: 1 }), '(root)');
    });
  });

  describe('bottleneckResolution', () => {
    it('is (grown − host) / (static − host), null when static equals host', () => {
      expect(bottleneckResolution(0.7, 0.85, 0.9)).to.be.closeTo(0.75, 1e-12);
      expect(bottleneckResolution(0.7, 0.7, 0.9)).to.equal(0);
      expect(bottleneckResolution(0.7, 0.95, 0.9)).to.be.closeTo(1.25, 1e-12);
      expect(bottleneckResolution(0.7, 0.8, 0.7)).to.equal(null);
    });
  });
});
