/**
 * Issue 4 end to end: a Kasmina seed actor drives a real tensor slot through
 * its whole life — germinate, train in isolation, blend, hold, fossilize —
 * on the training session's telemetry, and every move is an event with its cause.
 */
import { expect } from 'chai';
import type { SeedState, SlotInterface } from '../../../src/contracts/index.ts';
import { NO_BACKOFF } from '../../../src/supervision/index.ts';
import {
  MemorySeedStateStore,
  observationFrom,
  parseGateConfig,
  slotCommandFor,
  startKasmina,
  type SeedTransitionedEnvelope,
} from '../../../src/actors/kasmina/index.ts';
import { TrainingSession } from '../../../src/tensor/training/training-session.ts';
import { seedCommand } from './support.ts';

const IFACE16: SlotInterface = { kind: 'dense', inputShape: [16], outputShape: [16], dtype: 'float32' };

describe('Kasmina driving a tensor slot (end to end)', function () {
  this.timeout(60_000);

  it('takes a seed from DORMANT to FOSSILIZED through the gates, the tensor slot following each stage', async () => {
    const session = await TrainingSession.create({
      backend: 'wasm',
      seed: 11,
      dataset: { kind: 'spirals', n: 400 },
      host: { kind: 'mlp', hidden: [16, 16] },
      slots: [{ id: 's1', afterLayer: 1 }],
      optimizer: { kind: 'adam', learningRate: 0.02 },
      batchSize: 32,
    });
    const events: SeedTransitionedEnvelope[] = [];
    const kasmina = await startKasmina({
      runId: 'run-e2e',
      slots: [{ slotId: 's1', interface: IFACE16 }],
      store: new MemorySeedStateStore(),
      publish: (envelope) => events.push(envelope),
      kernels: { resolve: () => Promise.resolve({ kernelId: 'k-res', blueprintId: 'residual-small', status: 'VALIDATED', interface: IFACE16 }) },
      // Permissive thresholds: this test is about the plumbing; the gates' own thresholds are tested on their own.
      gates: parseGateConfig({ g2: { minTrainingEpochs: 2, minImprovementPp: -100 }, g5: { minContributionPp: -100 } }),
      backoff: NO_BACKOFF,
    });
    const seedRef = kasmina.seed('s1');
    const seedId = kasmina.slotIds.length === 1 ? (await kasmina.states())[0]?.seedId ?? '' : '';
    let state: SeedState | undefined = (await kasmina.states())[0];
    const baseline: { accuracy?: number } = {};

    const apply = (next: SeedState): void => {
      const command = slotCommandFor(state, next, () => ({ kind: 'residual-dense', config: { hidden: 8 } }));
      if (command !== undefined) session.applySlot(command);
      state = next;
    };
    const send = async (op: 'GERMINATE' | 'ADVANCE' | 'FOSSILIZE'): Promise<void> => {
      const operation = op === 'GERMINATE' ? { op, blueprintId: 'residual-small' } : { op };
      apply(await seedRef.query<SeedState>({ type: 'command', command: seedCommand(seedId, operation) }, 5000));
    };
    const epoch = async (): Promise<void> => {
      const report = session.runEpoch();
      const slot = report.slots[0];
      if (slot === undefined) throw new Error('no slot telemetry');
      const [next] = await kasmina.epochEnded(report.epoch, { s1: observationFrom(slot, report.validationAccuracy, baseline.accuracy) });
      if (next !== undefined) apply(next);
    };

    await epoch();
    await send('GERMINATE');
    expect(state?.stage).to.equal('GERMINATED');
    expect(session.model.slot('s1').seed).to.not.equal(undefined);
    baseline.accuracy = session.evaluate().accuracy;
    await epoch(); // G1 reads kernelLoaded from this epoch's telemetry
    await send('ADVANCE');
    expect(state?.stage).to.equal('TRAINING');
    expect(session.model.slot('s1').mode).to.equal('TRAINING');
    await epoch();
    await epoch();
    await send('ADVANCE'); // G2: 2 epochs in TRAINING, gradients measured and healthy
    expect(state?.stage).to.equal('BLENDING');
    for (let i = 0; i < 5 && state?.alpha !== 1; i++) await epoch(); // α ramps along the curve
    expect(state?.alpha).to.equal(1);
    expect(session.model.slot('s1').alpha).to.equal(1);
    await send('ADVANCE'); // G3: α reached its target
    expect(state?.stage).to.equal('HOLDING');
    await epoch(); // the counterfactual contribution is measured in HOLDING
    await send('FOSSILIZE');
    expect(state?.stage).to.equal('FOSSILIZED');
    expect(session.model.slot('s1').mode).to.equal('FOSSILIZED');

    const stages = events.map((event) => `${event.data.from}->${event.data.to}`);
    expect(stages).to.deep.equal(['DORMANT->GERMINATED', 'GERMINATED->TRAINING', 'TRAINING->BLENDING', 'BLENDING->HOLDING', 'HOLDING->FOSSILIZED']);
    for (const event of events) expect(event.causationId).to.be.a('string');
    await kasmina.stop();
    session.dispose();
  });
});
