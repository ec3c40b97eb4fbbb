import { AuditRecordSchema, EXAMPLE_ENVELOPE, MESSAGE_EXAMPLES, TelemetryPacketSchema } from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

describe('contracts/nissa', () => {
  const packet = MESSAGE_EXAMPLES['nissa.telemetry.reported'];

  it('validates telemetry packets', () => {
    expectValid(TelemetryPacketSchema, packet);
    expectValid(TelemetryPacketSchema, patched(packet, { kind: 'seed', seedId: 's0', metrics: { gradNorm: 0.04 } }));
    expectIssueAt(TelemetryPacketSchema, patched(packet, { kind: 'seed' }), 'seedId');
    expectIssueAt(TelemetryPacketSchema, patched(packet, { kind: 'gpu' }), 'kind');
    expectIssueAt(TelemetryPacketSchema, patched(packet, { metrics: { loss: Number.NaN } }), 'metrics.loss');
    expectIssueAt(TelemetryPacketSchema, patched(packet, { metrics: { loss: -Infinity } }), 'metrics.loss');
    expectIssueAt(TelemetryPacketSchema, patched(packet, { metrics: { loss: '0.3' } }), 'metrics.loss');
    expectIssueAt(TelemetryPacketSchema, patched(packet, { ts: 1717243200000 }), 'ts');
  });

  it('validates audit records around a full envelope', () => {
    const record = { seq: 1, runId: 'r1', seedId: 's0', type: EXAMPLE_ENVELOPE.type, envelope: EXAMPLE_ENVELOPE, recordedAt: EXAMPLE_ENVELOPE.ts };
    expectValid(AuditRecordSchema, record);
    expectIssueAt(AuditRecordSchema, patched(record, { seq: 0 }), 'seq');
    expectIssueAt(AuditRecordSchema, patched(record, { envelope: { ...EXAMPLE_ENVELOPE, type: 'flat' } }), 'envelope.type');
  });
});
