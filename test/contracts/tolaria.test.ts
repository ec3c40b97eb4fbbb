import { expect } from 'chai';
import {
  CheckpointMetadataSchema,
  EpochCompletedSchema,
  MAX_SEEDS_PER_RUN,
  MESSAGE_EXAMPLES,
  RUN_CONTROL_EXAMPLES,
  RunRolledBackSchema,
  RunStateChangedSchema,
  RunStatusSchema,
  SystemStatePacketSchema,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

describe('contracts/tolaria', () => {
  describe('SystemStatePacket', () => {
    const packet = MESSAGE_EXAMPLES['tolaria.state.published'];

    it('parses an epoch-boundary packet with its seeds', () => {
      expectValid(SystemStatePacketSchema, packet);
    });

    it('pins the packet version to 1', () => {
      expectIssueAt(SystemStatePacketSchema, patched(packet, { v: 2 }), 'v');
    });

    it('rejects accuracy out of [0,1], NaN losses, a bad seed and non-finite metrics', () => {
      expectIssueAt(SystemStatePacketSchema, patched(packet, { validationAccuracy: 87.4 }), 'validationAccuracy');
      expectIssueAt(SystemStatePacketSchema, patched(packet, { trainingLoss: Number.NaN }), 'trainingLoss');
      expectIssueAt(SystemStatePacketSchema, patched(packet, { seeds: [{ ...packet.seeds[0], alpha: 2 }] }), 'seeds[0].alpha');
      expectIssueAt(SystemStatePacketSchema, patched(packet, { metrics: { trainingAccuracy: Infinity } }), 'metrics.trainingAccuracy');
      expectIssueAt(SystemStatePacketSchema, patched(packet, { hardware: { backend: 'wasm', gpu: true } }), 'hardware');
      expectIssueAt(SystemStatePacketSchema, patched(packet, { runId: undefined }), 'runId');
    });

    it('rejects more seeds than a run may have', () => {
      const dormant = { seedId: 's', slotId: 'x', stage: 'DORMANT', epochsInStage: 0, alpha: 0 };
      expectIssueAt(SystemStatePacketSchema, patched(packet, { seeds: Array.from({ length: MAX_SEEDS_PER_RUN + 1 }, () => dormant) }), 'seeds');
    });
  });

  it('validates EpochCompleted', () => {
    const event = MESSAGE_EXAMPLES['tolaria.epoch.completed'];
    expectValid(EpochCompletedSchema, event);
    expectIssueAt(EpochCompletedSchema, patched(event, { paramCount: -5 }), 'paramCount');
    expectIssueAt(EpochCompletedSchema, patched(event, { epochMs: Infinity }), 'epochMs');
  });

  it('validates checkpoint metadata', () => {
    const checkpoint = MESSAGE_EXAMPLES['tolaria.checkpoint.saved'];
    expectValid(CheckpointMetadataSchema, checkpoint);
    expectIssueAt(CheckpointMetadataSchema, patched(checkpoint, { reason: 'whim' }), 'reason');
    expectIssueAt(CheckpointMetadataSchema, patched(checkpoint, { hash: 'abc' }), 'hash');
    expectIssueAt(CheckpointMetadataSchema, patched(checkpoint, { createdAt: 'yesterday' }), 'createdAt');
  });

  describe('RunRolledBack', () => {
    const event = MESSAGE_EXAMPLES['tolaria.run.rolled_back'];

    it('parses a governor rollback', () => {
      expectValid(RunRolledBackSchema, event);
    });

    it('rejects a rollback into the future, an unknown trigger and a missing reason', () => {
      expectIssueAt(RunRolledBackSchema, patched(event, { toEpoch: 20 }), 'toEpoch');
      expectIssueAt(RunRolledBackSchema, patched(event, { cause: { ...event.cause, trigger: 'boredom' } }), 'cause.trigger');
      expectIssueAt(RunRolledBackSchema, patched(event, { cause: { trigger: 'divergence' } }), 'cause.reason');
    });
  });

  it('validates RunStatus and RunStateChanged', () => {
    const status = RUN_CONTROL_EXAMPLES.status.reply;
    expectValid(RunStatusSchema, status);
    expectValid(RunStatusSchema, { runId: 'r2', state: 'pending', epoch: 0, updatedAt: '2025-06-01T12:00:00.000Z' });
    expectIssueAt(RunStatusSchema, patched(status, { state: 'rolled back' }), 'state');
    expectIssueAt(RunStatusSchema, patched(status, { seedStages: { SPROUTING: 1 } }), 'seedStages');
    expect(RunStatusSchema.safeParse(patched(status, { error: { code: 'ESPER_INTERNAL', message: 'x', retryable: false } })).success).to.equal(true);
    const change = MESSAGE_EXAMPLES['tolaria.run.state_changed'];
    expectValid(RunStateChangedSchema, change);
    expectIssueAt(RunStateChangedSchema, patched(change, { to: 'running' }), 'to');
  });
});
