import { MAX_VALIDATION_CHECKS, MESSAGE_EXAMPLES, ValidationJobSchema, ValidationReportSchema } from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

describe('contracts/urabrask', () => {
  const report = MESSAGE_EXAMPLES['urabrask.kernel.validated'];

  it('validates validation jobs', () => {
    const job = MESSAGE_EXAMPLES['urabrask.validation.requested'];
    expectValid(ValidationJobSchema, job);
    expectIssueAt(ValidationJobSchema, patched(job, { kernelId: undefined }), 'kernelId');
    expectIssueAt(ValidationJobSchema, patched(job, { attempt: -1 }), 'attempt');
  });

  it('parses a VALIDATED report and a REJECTED one with reasons', () => {
    expectValid(ValidationReportSchema, report);
    expectValid(
      ValidationReportSchema,
      patched(report, {
        status: 'REJECTED',
        riskScore: 0.71,
        checks: [{ name: 'finite', passed: false, detail: 'NaN in output after 3 steps' }],
        reasons: ['non-finite output'],
      }),
    );
  });

  it('enforces verdict consistency', () => {
    expectIssueAt(ValidationReportSchema, patched(report, { status: 'REJECTED' }), 'reasons');
    expectIssueAt(ValidationReportSchema, patched(report, { checks: [{ name: 'finite', passed: false }] }), 'checks[0].passed');
  });

  it('rejects risk out of [0,1], p50 > p99, unknown statuses and too many checks', () => {
    expectIssueAt(ValidationReportSchema, patched(report, { riskScore: 1.2 }), 'riskScore');
    expectIssueAt(ValidationReportSchema, patched(report, { riskScore: Number.NaN }), 'riskScore');
    expectIssueAt(ValidationReportSchema, patched(report, { latencyMs: { p50: 2, p99: 1 } }), 'latencyMs.p99');
    expectIssueAt(ValidationReportSchema, patched(report, { status: 'PENDING_VALIDATION' }), 'status');
    const checks = Array.from({ length: MAX_VALIDATION_CHECKS + 1 }, () => ({ name: 'c', passed: true }));
    expectIssueAt(ValidationReportSchema, patched(report, { checks }), 'checks');
    expectIssueAt(ValidationReportSchema, patched(report, { checks: [] }), 'checks');
  });
});
