import {
  CompileFailedSchema,
  CompileJobSchema,
  KernelCompiledSchema,
  KernelMetadataSchema,
  MESSAGE_EXAMPLES,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

describe('contracts/tezzeret', () => {
  const job = MESSAGE_EXAMPLES['tezzeret.compile.requested'];
  const kernel = MESSAGE_EXAMPLES['tezzeret.kernel.compiled'].kernel;

  it('validates compile jobs', () => {
    expectValid(CompileJobSchema, job);
    expectIssueAt(CompileJobSchema, patched(job, { tier: 'aggressive' }), 'tier');
    expectIssueAt(CompileJobSchema, patched(job, { attempt: 0 }), 'attempt');
    expectIssueAt(CompileJobSchema, patched(job, { attempt: 101 }), 'attempt');
    expectIssueAt(CompileJobSchema, patched(job, { irHash: undefined }), 'irHash');
    expectIssueAt(CompileJobSchema, patched(job, { jobId: 'job 1' }), 'jobId');
  });

  it('validates kernel metadata', () => {
    expectValid(KernelMetadataSchema, kernel);
    expectIssueAt(KernelMetadataSchema, patched(kernel, { status: 'PENDING_BENCHMARKING' }), 'status');
    expectIssueAt(KernelMetadataSchema, patched(kernel, { paramCount: 1.5 }), 'paramCount');
    expectIssueAt(KernelMetadataSchema, patched(kernel, { flops: Infinity }), 'flops');
    expectIssueAt(KernelMetadataSchema, patched(kernel, { artifactRef: { ...kernel.artifactRef, store: 'ftp' } }), 'artifactRef.store');
    expectIssueAt(KernelMetadataSchema, patched(kernel, { interface: { ...kernel.interface, dtype: 'int8' } }), 'interface.dtype');
    expectIssueAt(KernelMetadataSchema, patched(kernel, { weights: [1, 2] }), '(root)');
  });

  it('validates compile outcomes', () => {
    expectValid(KernelCompiledSchema, MESSAGE_EXAMPLES['tezzeret.kernel.compiled']);
    expectIssueAt(KernelCompiledSchema, { ...MESSAGE_EXAMPLES['tezzeret.kernel.compiled'], compileMs: -1 }, 'compileMs');
    const failed = MESSAGE_EXAMPLES['tezzeret.compile.failed'];
    expectValid(CompileFailedSchema, failed);
    expectIssueAt(CompileFailedSchema, patched(failed, { error: { code: 'X', message: 'm' } }), 'error.retryable');
  });
});
