import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { writeFakeFashionMnist } from '../helpers/fake-fashion-mnist.ts';
import { testBackend, useTestBackend } from '../helpers/test-backend.ts';
import type { TrainingSpecInput } from '../../src/contracts/training-spec.ts';
import { EsperError } from '../../src/errors/index.ts';
import { BLEND_AMPLITUDES, TrainingSession } from '../../src/tensor/training/training-session.ts';
import { outgoingSharpness } from '../../src/tensor/width/width-scale.ts';
import type { WidthSeed } from '../../src/tensor/width/width-seed.ts';

const SPEC: TrainingSpecInput = {
  backend: testBackend('wasm'),
  seed: 7,
  dataset: { kind: 'spirals', n: 400 },
  host: { kind: 'mlp', hidden: [4, 4] },
  slots: [
    { id: 'w1', afterLayer: 1, kind: 'width' },
    { id: 's2', afterLayer: 2 },
  ],
  optimizer: { kind: 'adam', learningRate: 0.02 },
  batchSize: 32,
};

describe('TrainingSession with width slots (issue 11)', function () {
  before(async function () {
    await useTestBackend(this, 'wasm');
  });

  this.timeout(60_000);

  it('germinates a gradient-aimed width seed without touching the host trajectory, merges it and reports the wider topology', async () => {
    const plain = await TrainingSession.create(SPEC);
    const session = await TrainingSession.create(SPEC);
    for (const s of [plain, session]) s.runEpoch();
    session.applySlot({ slotId: 'w1', germinate: { width: { units: 4, init: 'gradient' } }, mode: 'TRAINING' });
    expect(session.summary().seedParams).to.equal(2 * 4 + 4 + 4 * 4); // Ψ [2, 4], b [4], Ω [4, 4]
    const reports = [plain.runEpoch(), session.runEpoch()];
    expect(session.summary().hostWeightsHash).to.equal(plain.summary().hostWeightsHash); // isolation, same data order
    expect(reports[1]?.trainLoss).to.equal(reports[0]?.trainLoss);
    expect(reports[1]?.slots.map((s) => [s.slotId, s.mode, s.seedKind])).to.deep.equal([
      ['w1', 'TRAINING', 'width-dense'],
      ['s2', 'DORMANT', null],
    ]);
    expect(reports[1]?.slots[0]?.gradNorm).to.be.greaterThan(0);
    session.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 1 });
    session.runEpoch();
    const hostParams = session.summary().hostParams;
    session.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' });
    const summary = session.summary();
    expect(summary.topology).to.deep.equal({ widths: [2, 8, 4, 2] });
    expect(summary.hostParams).to.equal(hostParams + 2 * 4 + 4 + 4 * 4);
    expect(summary.seedParams).to.equal(0);
    const saved = session.checkpoint();
    const next = session.runEpoch();
    expect(next.nonFinite).to.equal(false);
    // A depth seed after the widened layer is sized for it.
    session.applySlot({ slotId: 's2', germinate: { kind: 'residual-dense', config: { hidden: 3 } }, mode: 'TRAINING' });
    session.runEpoch();
    session.restore(saved.bytes, 'exact');
    expect(session.summary().weightsHash).to.equal(summary.weightsHash);
    expect(session.runEpoch().trainLoss).to.equal(next.trainLoss);
    for (const s of [plain, session]) s.dispose();
  });

  it('shrinks and perturbs at a merge (optimizer.shrinkAtMerge): the same predictions without noise, the same weights on a rerun with it, skipped and said while a depth seed is in the host', async () => {
    /** A session whose w1 seed blended for an epoch, ready to merge; `depth` also germinates a depth seed in s2. */
    const readyToMerge = async (shrinkAtMerge: { factor: number; noise: number } | undefined, depth = false): Promise<TrainingSession> => {
      const session = await TrainingSession.create({ ...SPEC, optimizer: { ...SPEC.optimizer, ...(shrinkAtMerge === undefined ? {} : { shrinkAtMerge }) } });
      session.runEpoch();
      session.applySlot({ slotId: 'w1', germinate: { width: { units: 4 } }, mode: 'TRAINING' });
      if (depth) session.applySlot({ slotId: 's2', germinate: { kind: 'residual-dense', config: { hidden: 3 } }, mode: 'TRAINING' });
      session.runEpoch();
      session.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 1 });
      session.runEpoch();
      return session;
    };
    const plain = await readyToMerge(undefined);
    expect(plain.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' })).to.deep.equal({});
    const exact = await readyToMerge({ factor: 0.5, noise: 0 });
    expect(exact.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' })).to.deep.equal({});
    expect(exact.evaluate().accuracy).to.equal(plain.evaluate().accuracy);
    expect(exact.evaluate().loss).to.be.above(plain.evaluate().loss); // logits ×0.5³: softer, not the same weights
    const noisy = await Promise.all([readyToMerge({ factor: 0.5, noise: 0.1 }), readyToMerge({ factor: 0.5, noise: 0.1 })]);
    for (const s of noisy) s.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' });
    const hashes = noisy.map((s) => s.summary().weightsHash);
    expect(hashes[0]).to.equal(hashes[1]);
    expect(hashes[0]).to.not.equal(exact.summary().weightsHash);
    const [withDepth, plainWithDepth] = await Promise.all([readyToMerge({ factor: 0.5, noise: 0.1 }, true), readyToMerge(undefined, true)]);
    expect(withDepth.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' }).shrinkSkipped).to.match(/depth slot s2 holds a seed/);
    plainWithDepth.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' });
    expect(withDepth.summary().weightsHash).to.equal(plainWithDepth.summary().weightsHash);
    for (const s of [plain, exact, ...noisy, withDepth, plainWithDepth]) s.dispose();
  });

  it('shrinks and perturbs once per growth phase: at the merge that leaves no width seed live, not at each merge; not when the last is pruned', async () => {
    const spec: TrainingSpecInput = {
      ...SPEC,
      slots: [
        { id: 'w1', afterLayer: 1, kind: 'width' },
        { id: 'w2', afterLayer: 2, kind: 'width' },
        { id: 'w3', afterLayer: 1, kind: 'width' },
        { id: 'w4', afterLayer: 2, kind: 'width' },
        { id: 'w5', afterLayer: 1, kind: 'width' },
        { id: 'w6', afterLayer: 2, kind: 'width' },
      ],
      optimizer: { ...SPEC.optimizer, shrinkAtMerge: { factor: 0.5, noise: 0 } },
    };
    const session = await TrainingSession.create(spec);
    const logitsBias = (): number[] => Array.from(session.model.hostParams.at(-1)?.dataSync() ?? []);
    // The logits layer is the third: a shrink scales its bias by λ³ (0.125).
    const shrunk = (bias: number[]): number[] => bias.map((b) => Math.fround(b * 0.125));
    const growSideBySide = (slotIds: string[]): void => {
      for (const slotId of slotIds) session.applySlot({ slotId, germinate: { width: { units: 4 } }, mode: 'TRAINING' });
      session.runEpoch();
      for (const slotId of slotIds) session.applySlot({ slotId, mode: 'BLENDING', alpha: 1 });
      session.runEpoch();
    };
    session.runEpoch();
    // Merged on two boundaries, one epoch apart: the first merge leaves w2 blending and does not shrink; w2's merge does, once.
    growSideBySide(['w1', 'w2']);
    let before = logitsBias();
    expect(session.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' })).to.deep.equal({});
    expect(logitsBias()).to.deep.equal(before);
    session.runEpoch();
    const betweenMerges = session.checkpoint();
    before = logitsBias();
    const accuracy = session.evaluate().accuracy;
    expect(session.applySlot({ slotId: 'w2', mode: 'FOSSILIZED' })).to.deep.equal({});
    expect(session.summary().topology).to.deep.equal({ widths: [2, 8, 8, 2] });
    expect(logitsBias()).to.deep.equal(shrunk(before));
    expect(session.evaluate().accuracy).to.equal(accuracy);
    // A run resumed from a checkpoint taken between the two merges decides the same (the rule reads the slots, nothing else).
    const merged = session.summary().weightsHash;
    session.restore(betweenMerges.bytes, 'exact');
    session.applySlot({ slotId: 'w2', mode: 'FOSSILIZED' });
    expect(session.summary().weightsHash).to.equal(merged);
    // Merged at one boundary: one shrink (λ³), not two (λ⁶).
    growSideBySide(['w3', 'w4']);
    before = logitsBias();
    for (const slotId of ['w3', 'w4']) session.applySlot({ slotId, mode: 'FOSSILIZED' });
    expect(logitsBias()).to.deep.equal(shrunk(before));
    // The phase's last live seed pruned: no shrink at w5's merge (w6 live) nor at w6's prune.
    growSideBySide(['w5', 'w6']);
    before = logitsBias();
    session.applySlot({ slotId: 'w5', mode: 'FOSSILIZED' });
    session.applySlot({ slotId: 'w6', mode: 'PRUNED' });
    expect(session.summary().topology).to.deep.equal({ widths: [2, 16, 12, 2] });
    expect(logitsBias()).to.deep.equal(before);
    session.dispose();
  });

  it('shrinks and perturbs at a merge by default on a CNN host ({ 0.6, 0.1 }), not on an MLP; a spec that says so turns it off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-shrink-default-'));
    try {
      writeFakeFashionMnist(dir, { train: 300, test: 10 });
      const cnn: TrainingSpecInput = {
        backend: testBackend('wasm'),
        seed: 3,
        dataset: { kind: 'fashion-mnist', dir, layout: 'image' },
        host: { kind: 'cnn', convs: [{ filters: 2 }], dense: [] },
        slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }],
        optimizer: { kind: 'adam', learningRate: 0.01 },
        batchSize: 32,
      };
      /** The weights hash after w1 merged, under `spec` with `shrinkAtMerge` (absent: the default). */
      const mergedHash = async (spec: TrainingSpecInput, shrinkAtMerge?: { factor: number; noise: number }): Promise<string> => {
        const session = await TrainingSession.create({ ...spec, optimizer: { ...spec.optimizer, ...(shrinkAtMerge === undefined ? {} : { shrinkAtMerge }) } });
        session.runEpoch();
        session.applySlot({ slotId: 'w1', germinate: { width: { units: 4 } }, mode: 'TRAINING' });
        session.runEpoch();
        session.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 1 });
        session.runEpoch();
        expect(session.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' })).to.deep.equal({});
        const hash = session.summary().weightsHash;
        session.dispose();
        return hash;
      };
      const cnnDefault = await mergedHash(cnn);
      expect(cnnDefault).to.equal(await mergedHash(cnn, { factor: 0.6, noise: 0.1 }));
      expect(cnnDefault).to.not.equal(await mergedHash(cnn, { factor: 1, noise: 0 }));
      const mlpDefault = await mergedHash(SPEC);
      expect(mlpDefault).to.equal(await mergedHash(SPEC, { factor: 1, noise: 0 }));
      expect(mlpDefault).to.not.equal(await mergedHash(SPEC, { factor: 0.6, noise: 0.1 }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shrinks and perturbs the same way after a restore from a checkpoint taken before the merge (a resumed run)', async () => {
    const session = await TrainingSession.create({ ...SPEC, optimizer: { ...SPEC.optimizer, shrinkAtMerge: { factor: 0.5, noise: 0.1 } } });
    session.runEpoch();
    session.applySlot({ slotId: 'w1', germinate: { width: { units: 4 } }, mode: 'TRAINING' });
    session.runEpoch();
    session.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 1 });
    session.runEpoch();
    const beforeMerge = session.checkpoint();
    session.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' });
    const merged = session.summary().weightsHash;
    const next = session.runEpoch().trainLoss;
    session.restore(beforeMerge.bytes, 'exact');
    session.applySlot({ slotId: 'w1', mode: 'FOSSILIZED' });
    expect(session.summary().weightsHash).to.equal(merged);
    expect(session.runEpoch().trainLoss).to.equal(next);
    session.dispose();
  });

  for (const forward of ['live', 'straight-through'] as const) {
    const learns = forward === 'live' ? 'Ψ, b and Ω' : 'only Ω';
    it(`${forward}: trains ${learns} in TRAINING and starts the seed's optimizer state afresh when it starts blending`, async () => {
      const session = await TrainingSession.create({ ...SPEC, slots: [{ id: 'w1', afterLayer: 1, kind: 'width', trainingForward: forward }] });
      session.runEpoch();
      session.applySlot({ slotId: 'w1', germinate: { width: { units: 4, init: 'gradient' } }, mode: 'TRAINING' });
      const bytes = (i: number): string => Buffer.from((session.model.anySlot('w1').seed?.params[i]?.dataSync() as Float32Array).buffer).toString('hex');
      const before = [0, 1, 2].map(bytes);
      session.runEpoch();
      // Live: the seed pass trains all three; straight-through: Ψ and b wait, Ω learnt.
      expect([0, 1, 2].map((i) => bytes(i) === before[i])).to.deep.equal(forward === 'live' ? [false, false, false] : [true, true, false]);
      const seedGroup = (): { step: number } | undefined => session.optimizer.exportState().groups.find((g) => g.id === 'seed:w1');
      expect(seedGroup()?.step).to.be.greaterThan(0);
      session.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 0.5 });
      expect(seedGroup()?.step).to.equal(0);
      const blending = [0, 1].map(bytes);
      session.runEpoch();
      expect([0, 1].map((i) => bytes(i) === blending[i])).to.deep.equal([false, false]); // blended, Ψ and b learn
      session.dispose();
    });
  }

  for (const init of ['random', 'gradient'] as const) {
    it(`${init} init under plain SGD: a new width seed's Ψ and b are the unscaled ones times one c < 1 (sgdSharpnessBound); 0 turns it off, Adam ignores it`, async () => {
      const incoming = async (optimizer: TrainingSpecInput['optimizer']): Promise<Float32Array[]> => {
        const session = await TrainingSession.create({ ...SPEC, optimizer });
        session.runEpoch();
        session.applySlot({ slotId: 'w1', germinate: { width: { units: 16, init } }, mode: 'TRAINING' });
        const seed = session.model.widthSlot('w1').seed;
        const values = (seed?.params ?? []).slice(0, 2).map((p) => p.dataSync() as Float32Array);
        session.dispose();
        return values;
      };
      const sgd = { kind: 'sgd', learningRate: 0.1, sgdSharpnessBound: 0.01 } as const; // a bound 16 full-strength units are far above here
      const [scaled, off] = [await incoming(sgd), await incoming({ ...sgd, sgdSharpnessBound: 0 })];
      const c = (scaled[0]?.[0] as number) / (off[0]?.[0] as number);
      expect(c).to.be.greaterThan(0).and.lessThan(1);
      for (const i of [0, 1]) {
        const expected = Float32Array.from(off[i] ?? [], (v) => v * c);
        (scaled[i] ?? []).forEach((v, j) => expect(v).to.be.closeTo(expected[j] as number, 1e-5 * (1 + Math.abs(expected[j] as number))));
      }
      const adam = { kind: 'adam', learningRate: 0.02 } as const;
      expect(await incoming({ ...adam, sgdSharpnessBound: 0.01 })).to.deep.equal(await incoming(adam));
    });
  }

  it('under plain SGD a conv width seed is not scaled, though its lr·λ is over the bound (dense seeds only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esper-sgd-conv-'));
    try {
      writeFakeFashionMnist(dir, { train: 300, test: 10 });
      const incoming = async (bound: number): Promise<{ values: Float32Array[]; lrLambda: number }> => {
        const session = await TrainingSession.create({
          backend: testBackend('wasm'),
          seed: 3,
          dataset: { kind: 'fashion-mnist', dir, layout: 'image' },
          host: { kind: 'cnn', convs: [{ filters: 2 }], dense: [] },
          slots: [{ id: 'w1', afterLayer: 1, kind: 'width' }],
          optimizer: { kind: 'sgd', learningRate: 0.5, sgdSharpnessBound: bound },
          batchSize: 32,
        });
        session.runEpoch();
        session.applySlot({ slotId: 'w1', germinate: { width: { units: 8, init: 'select' } }, mode: 'TRAINING' });
        const seed = session.model.widthSlot('w1').seed as WidthSeed;
        const x = tf.randomUniform([64, ...session.model.inputShape], 0, 1, 'float32', 5);
        const lrLambda = 0.5 * outgoingSharpness(session.model, 1, seed, x); // TRAINING: the forward is the host's, as the probe needs
        x.dispose();
        const values = seed.params.slice(0, 2).map((p) => p.dataSync() as Float32Array);
        session.dispose();
        return { values, lrLambda };
      };
      const [on, off] = [await incoming(2), await incoming(0)];
      expect(on.lrLambda, 'a dense seed this sharp would be scaled').to.be.greaterThan(2);
      expect(on.values).to.deep.equal(off.values);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('under plain SGD a width seed blended in at amplitude 0 starts as cancelling pairs (sgdOutgoingPairs): the function unchanged, the same on a rerun; off, or under Adam, Ω stays zero', async () => {
    const x = tf.tensor2d([0.1, -0.4, 0.8, 0.3, -0.6, -0.2, 0.5, 0.9], [4, 2]);
    const blendLoud = async (optimizer: TrainingSpecInput['optimizer']): Promise<{ psi: number[][]; omega: number[][]; moved: number }> => {
      const session = await TrainingSession.create({ ...SPEC, optimizer });
      session.runEpoch();
      session.applySlot({ slotId: 'w1', germinate: { width: { units: 6 } }, mode: 'TRAINING' });
      const seed = session.model.widthSlot('w1').seed as WidthSeed;
      const w = seed.params[2] as tf.Variable;
      w.assign(tf.fill(w.shape, 1000)); // a TRAINING that taught Ω nothing usable: the amplitude search picks 0
      const before = tf.tidy(() => session.model.forward(x).dataSync() as Float32Array);
      session.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 1 / 3 });
      const after = tf.tidy(() => session.model.forward(x).dataSync() as Float32Array);
      const out = {
        psi: (seed.params[0] as tf.Variable).arraySync() as number[][],
        omega: w.arraySync() as number[][],
        moved: Math.max(...Array.from(after, (v, i) => Math.abs(v - (before[i] as number)))),
      };
      session.dispose();
      return out;
    };
    const sgd = { kind: 'sgd', learningRate: 0.1 } as const;
    const paired = await blendLoud(sgd);
    for (const row of paired.psi) expect(row.slice(3)).to.deep.equal(row.slice(0, 3));
    for (let j = 0; j < 3; j++) {
      expect(paired.omega[j]?.some((v) => v !== 0)).to.equal(true);
      expect(paired.omega[j + 3]).to.deep.equal(paired.omega[j]?.map((v) => -v));
    }
    expect(paired.moved).to.be.at.most(1e-6);
    expect(await blendLoud(sgd)).to.deep.equal(paired);
    for (const optimizer of [{ ...sgd, sgdOutgoingPairs: false }, { kind: 'adam', learningRate: 0.02 }] as const) {
      const zero = await blendLoud(optimizer);
      expect(zero.omega.flat().every((v) => v === 0)).to.equal(true);
      expect(zero.moved).to.equal(0);
    }
    x.dispose();
  });

  it('rejects a depth seed in a width slot and a width seed in a depth slot', async () => {
    const session = await TrainingSession.create(SPEC);
    expect(() => session.applySlot({ slotId: 'w1', germinate: { kind: 'low-rank', config: { rank: 2 } } })).to.throw(EsperError, /width slot/);
    expect(() => session.applySlot({ slotId: 's2', germinate: { width: { units: 2 } } })).to.throw(EsperError, /depth slot/);
    session.dispose();
  });

  it('starts blending a width seed with the amplitude of Ω that fits best: 0 for an overshooting Ω, one of the candidates otherwise', async () => {
    const session = await TrainingSession.create(SPEC);
    session.runEpoch();
    session.applySlot({ slotId: 'w1', germinate: { width: { units: 4, init: 'gradient' } }, mode: 'TRAINING' });
    session.runEpoch();
    const omega = session.model.widthSlot('w1').seed!.params[2]!;
    const learnt = Array.from(omega.dataSync());
    expect(learnt.some((v) => v !== 0)).to.equal(true);
    session.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 1 / 3 });
    const after = Array.from(omega.dataSync());
    const amplitude = BLEND_AMPLITUDES.find((s) => after.every((v, i) => Math.abs(v - s * (learnt[i] ?? 0)) <= 1e-6 * (1 + Math.abs(v))));
    expect(amplitude, 'Ω became s·Ω for a candidate s').to.not.equal(undefined);
    expect(session.model.widthSlot('w1').alpha).to.be.closeTo(1 / 3, 1e-12);
    session.dispose();

    // An Ω a thousand times too loud is blended in at amplitude 0.
    const loud = await TrainingSession.create(SPEC);
    loud.runEpoch();
    loud.applySlot({ slotId: 'w1', germinate: { width: { units: 4, init: 'gradient' } }, mode: 'TRAINING' });
    const w = loud.model.widthSlot('w1').seed!.params[2]!;
    w.assign(tf.fill(w.shape, 1000));
    loud.applySlot({ slotId: 'w1', mode: 'BLENDING', alpha: 1 / 3 });
    expect(Array.from(w.dataSync()).every((v) => v === 0)).to.equal(true);
    loud.dispose();
  });
});
