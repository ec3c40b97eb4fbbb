import { expect } from 'chai';
import {
  BLEND_TEMPOS_EPOCHS,
  BlendSpecSchema,
  MESSAGE_EXAMPLES,
  SEED_STAGES,
  SEED_STAGE_CODES,
  SeedStateSchema,
  SeedTelemetrySchema,
  SeedTransitionedSchema,
  seedStageFromCode,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

describe('contracts/kasmina', () => {
  describe('seed stages', () => {
    it('keeps the stable numeric codes of the reference implementation, 0 and 5 unused', () => {
      expect(SEED_STAGE_CODES).to.deep.equal({
        DORMANT: 1,
        GERMINATED: 2,
        TRAINING: 3,
        BLENDING: 4,
        HOLDING: 6,
        FOSSILIZED: 7,
        PRUNED: 8,
        EMBARGOED: 9,
        RESETTING: 10,
      });
      expect(SEED_STAGES).to.have.length(9);
      const codes = SEED_STAGES.map((stage) => SEED_STAGE_CODES[stage]);
      expect(new Set(codes).size).to.equal(codes.length);
      expect(codes).to.not.include(0).and.not.include(5);
    });

    it('maps codes back to stages and unknown/reserved codes to undefined', () => {
      for (const stage of SEED_STAGES) expect(seedStageFromCode(SEED_STAGE_CODES[stage])).to.equal(stage);
      expect(seedStageFromCode(0)).to.equal(undefined);
      expect(seedStageFromCode(5)).to.equal(undefined);
      expect(seedStageFromCode(11)).to.equal(undefined);
    });
  });

  describe('SeedState', () => {
    const seed = MESSAGE_EXAMPLES['tolaria.state.published'].seeds[0]!;

    it('parses a live seed and a bare dormant one', () => {
      expectValid(SeedStateSchema, seed);
      expectValid(SeedStateSchema, { seedId: 's1', slotId: 'r1c0', stage: 'DORMANT', epochsInStage: 0, alpha: 0 });
    });

    it('rejects an unknown stage, α outside [0,1], NaN gradients, negative epochs, missing and extra fields', () => {
      expectIssueAt(SeedStateSchema, patched(seed, { stage: 'SHADOWING' }), 'stage');
      expectIssueAt(SeedStateSchema, patched(seed, { alpha: 1.5 }), 'alpha');
      expectIssueAt(SeedStateSchema, patched(seed, { gradNorm: Number.NaN }), 'gradNorm');
      expectIssueAt(SeedStateSchema, patched(seed, { improvementPp: Infinity }), 'improvementPp');
      expectIssueAt(SeedStateSchema, patched(seed, { epochsInStage: -1 }), 'epochsInStage');
      expectIssueAt(SeedStateSchema, patched(seed, { epochsInStage: 1.5 }), 'epochsInStage');
      expectIssueAt(SeedStateSchema, patched(seed, { slotId: undefined }), 'slotId');
      expectIssueAt(SeedStateSchema, patched(seed, { temperature: 2 }), '(root)');
      expectIssueAt(SeedStateSchema, patched(seed, { kernelId: 'k.1' }), 'kernelId');
    });
  });

  describe('SeedTransitioned', () => {
    const event = MESSAGE_EXAMPLES['kasmina.seed.transitioned'];

    it('parses a gated transition and a timed one without command or gate', () => {
      expectValid(SeedTransitionedSchema, event);
      expectValid(SeedTransitionedSchema, { seedId: 's0', from: 'PRUNED', to: 'EMBARGOED', epoch: 20, cause: { reason: 'pruned by governor' } });
    });

    it('rejects a no-op transition, an unknown gate, an empty reason and a missing cause', () => {
      expectIssueAt(SeedTransitionedSchema, patched(event, { to: event.from }), 'to');
      expectIssueAt(SeedTransitionedSchema, patched(event, { cause: { ...event.cause, gate: 'G4' } }), 'cause.gate');
      expectIssueAt(SeedTransitionedSchema, patched(event, { cause: { reason: '' } }), 'cause.reason');
      expectIssueAt(SeedTransitionedSchema, patched(event, { cause: { reason: 'x'.repeat(501) } }), 'cause.reason');
      expectIssueAt(SeedTransitionedSchema, patched(event, { cause: undefined }), 'cause');
    });
  });

  describe('SeedTelemetry', () => {
    const telemetry = MESSAGE_EXAMPLES['kasmina.seed.telemetry'];

    it('parses one epoch of measurements', () => {
      expectValid(SeedTelemetrySchema, telemetry);
    });

    it('rejects non-finite and negative measurements', () => {
      expectIssueAt(SeedTelemetrySchema, patched(telemetry, { activationMean: Number.NaN }), 'activationMean');
      expectIssueAt(SeedTelemetrySchema, patched(telemetry, { activationStd: -0.1 }), 'activationStd');
      expectIssueAt(SeedTelemetrySchema, patched(telemetry, { gradRatio: -Infinity }), 'gradRatio');
      expectIssueAt(SeedTelemetrySchema, patched(telemetry, { gradNorm: undefined }), 'gradNorm');
    });
  });

  it('accepts the blend curves and tempos 1, 3, 5 and 8 only', () => {
    for (const tempoEpochs of BLEND_TEMPOS_EPOCHS) expectValid(BlendSpecSchema, { curve: 'sigmoid', tempoEpochs });
    expectIssueAt(BlendSpecSchema, { curve: 'sigmoid', tempoEpochs: 4 }, 'tempoEpochs');
    expectIssueAt(BlendSpecSchema, { curve: 'sigmoid', tempoEpochs: 0 }, 'tempoEpochs');
    expectIssueAt(BlendSpecSchema, { curve: 'sigmoid', tempoEpochs: 2 }, 'tempoEpochs');
    expectIssueAt(BlendSpecSchema, { curve: 'step', tempoEpochs: 3 }, 'curve');
  });
});
