import { expect } from 'chai';
import {
  AdaptationCommandSchema,
  COMMAND_TYPES,
  FieldReportSchema,
  MAX_COMMANDS_PER_DECISION,
  MESSAGE_EXAMPLES,
  TamiyoDecisionSchema,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

describe('contracts/tamiyo', () => {
  const decision = MESSAGE_EXAMPLES['tamiyo.decision.made'];
  const germinate = decision.commands[0]!;

  describe('AdaptationCommand', () => {
    it('parses SEED commands and non-seed commands without an operation', () => {
      expectValid(AdaptationCommandSchema, germinate);
      expectValid(AdaptationCommandSchema, MESSAGE_EXAMPLES['tamiyo.command.issued']);
      for (const type of COMMAND_TYPES.filter((t) => t !== 'SEED' && t !== 'HOST')) {
        expectValid(AdaptationCommandSchema, patched(germinate, { type, targetSeedId: undefined, seedOperation: undefined }));
      }
    });

    it('requires a hostOperation on HOST commands (consecutive layers), and forbids it elsewhere', () => {
      const revive = patched(germinate, { type: 'HOST', targetSeedId: undefined, seedOperation: undefined, hostOperation: { op: 'REVIVE', layers: [1, 2] } });
      expectValid(AdaptationCommandSchema, revive);
      expectIssueAt(AdaptationCommandSchema, patched(revive, { hostOperation: undefined }), 'hostOperation');
      expectIssueAt(AdaptationCommandSchema, patched(revive, { hostOperation: { op: 'REVIVE', layers: [1, 3] } }), 'hostOperation.layers');
      expectIssueAt(AdaptationCommandSchema, patched(revive, { hostOperation: { op: 'REVIVE', layers: [] } }), 'hostOperation.layers');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { hostOperation: { op: 'REVIVE', layers: [1] } }), 'hostOperation');
    });

    it('requires a target and an operation on SEED commands, and forbids an operation elsewhere', () => {
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { targetSeedId: undefined }), 'targetSeedId');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { seedOperation: undefined }), 'seedOperation');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { type: 'ROLLBACK' }), 'seedOperation');
    });

    it('requires a blueprint or a kernel to GERMINATE', () => {
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { seedOperation: { op: 'GERMINATE' } }), 'seedOperation.blueprintId');
      expectValid(AdaptationCommandSchema, patched(germinate, { seedOperation: { op: 'GERMINATE', kernelId: 'k1' } }));
    });

    it('rejects unknown types and ops, bad deadlines, a bad blend and oversize annotations', () => {
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { type: 'REBOOT' }), 'type');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { seedOperation: { op: 'CULL' } }), 'seedOperation.op');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { deadlineMs: 0 }), 'deadlineMs');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { deadlineMs: Infinity }), 'deadlineMs');
      expectIssueAt(
        AdaptationCommandSchema,
        patched(germinate, { seedOperation: { ...germinate.seedOperation, blend: { curve: 'cosine', tempoEpochs: 7 } } }),
        'seedOperation.blend.tempoEpochs',
      );
      const annotations = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { annotations }), 'annotations');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { causationPacketId: undefined }), 'causationPacketId');
      expectIssueAt(AdaptationCommandSchema, patched(germinate, { priority: 1 }), '(root)');
    });
  });

  describe('TamiyoDecision', () => {
    it('parses a decision with commands and an empty fallback decision', () => {
      expectValid(TamiyoDecisionSchema, decision);
      expectValid(TamiyoDecisionSchema, patched(decision, { commands: [], fallback: true, reason: 'breaker open: no change' }));
    });

    it('bounds the number of commands and validates each', () => {
      const many = Array.from({ length: MAX_COMMANDS_PER_DECISION + 1 }, () => germinate);
      expectIssueAt(TamiyoDecisionSchema, patched(decision, { commands: many }), 'commands');
      expectIssueAt(TamiyoDecisionSchema, patched(decision, { commands: [{ ...germinate, type: 'X' }] }), 'commands[0].type');
      expect(TamiyoDecisionSchema.safeParse(patched(decision, { fallback: undefined })).success).to.equal(false);
    });
  });

  describe('FieldReport', () => {
    const report = MESSAGE_EXAMPLES['tamiyo.field_report'];

    it('parses a report', () => {
      expectValid(FieldReportSchema, report);
    });

    it('rejects an unknown outcome, an inverted window and NaN metrics', () => {
      expectIssueAt(FieldReportSchema, patched(report, { outcome: 'GREAT' }), 'outcome');
      expectIssueAt(FieldReportSchema, patched(report, { observationWindow: { fromEpoch: 5, toEpoch: 3 } }), 'observationWindow.toEpoch');
      expectIssueAt(FieldReportSchema, patched(report, { metrics: { improvementPp: Number.NaN } }), 'metrics.improvementPp');
      expectIssueAt(FieldReportSchema, patched(report, { blueprintId: undefined }), 'blueprintId');
    });
  });
});
