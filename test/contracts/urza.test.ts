import { expect } from 'chai';
import {
  BlueprintQueryReplySchema,
  BlueprintQuerySchema,
  DEFAULT_QUERY_LIMIT,
  KernelQueryReplySchema,
  KernelQuerySchema,
  LIBRARY_CONTROL_EXAMPLES,
  MAX_QUERY_LIMIT,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid } from './issues.ts';

describe('contracts/urza', () => {
  it('accepts {} and defaults the limit to 100', () => {
    expect(KernelQuerySchema.parse({})).to.deep.equal({ limit: DEFAULT_QUERY_LIMIT });
    expect(BlueprintQuerySchema.parse({})).to.deep.equal({ includeIr: false, limit: DEFAULT_QUERY_LIMIT });
  });

  it('parses the example queries and replies', () => {
    const { urzaBlueprints, urzaKernels } = LIBRARY_CONTROL_EXAMPLES;
    expectValid(BlueprintQuerySchema, urzaBlueprints.request);
    expectValid(BlueprintQueryReplySchema, urzaBlueprints.reply);
    expectValid(KernelQuerySchema, urzaKernels.request);
    expectValid(KernelQueryReplySchema, urzaKernels.reply);
  });

  it('bounds the limit and validates filters', () => {
    expectValid(KernelQuerySchema, { limit: MAX_QUERY_LIMIT });
    expectIssueAt(KernelQuerySchema, { limit: MAX_QUERY_LIMIT + 1 }, 'limit');
    expectIssueAt(KernelQuerySchema, { limit: 0 }, 'limit');
    expectIssueAt(KernelQuerySchema, { maxRisk: 2 }, 'maxRisk');
    expectIssueAt(KernelQuerySchema, { maxLatencyMs: -1 }, 'maxLatencyMs');
    expectIssueAt(KernelQuerySchema, { maxParams: Infinity }, 'maxParams');
    expectIssueAt(KernelQuerySchema, { status: 'READY' }, 'status');
    expectIssueAt(KernelQuerySchema, { tags: ['UPPER'] }, 'tags[0]');
    expectIssueAt(KernelQuerySchema, { interface: { kind: 'dense', inputShape: [8] } }, 'interface.outputShape');
    expectIssueAt(KernelQuerySchema, { gpuArch: 'sm90' }, '(root)');
    expectIssueAt(BlueprintQuerySchema, { status: 'VALIDATED' }, 'status');
  });

  it('bounds reply sizes', () => {
    const kernel = LIBRARY_CONTROL_EXAMPLES.urzaKernels.reply.kernels[0];
    expectIssueAt(KernelQueryReplySchema, { kernels: Array.from({ length: MAX_QUERY_LIMIT + 1 }, () => kernel) }, 'kernels');
    expectIssueAt(KernelQueryReplySchema, { kernels: [{ ...kernel, validation: { riskScore: 0.1 } }] }, 'kernels[0].validation.latencyP50Ms');
  });
});
