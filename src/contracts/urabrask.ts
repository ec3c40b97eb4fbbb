/**
 * Urabrask's messages: validation jobs (on `job.validate`) and the report that
 * marks a kernel VALIDATED or REJECTED.
 */
import { z } from 'zod';
import {
  JobIdSchema,
  KernelIdSchema,
  MetricsSchema,
  TimestampSchema,
  count,
  label,
  nonNegative,
  text,
  unitInterval,
} from './common.ts';
import { MAX_JOB_ATTEMPTS } from './tezzeret.ts';

/** Most checks in one report. */
export const MAX_VALIDATION_CHECKS = 64;

/** Risk score at or above which a kernel is rejected by default (digest §3). */
export const DEFAULT_MAX_RISK = 0.3;

/** Data of `urabrask.validation.requested`: a job on the validation work queue. */
export const ValidationJobSchema = z
  .object({
    jobId: JobIdSchema,
    kernelId: KernelIdSchema,
    /** 1 on first submission; incremented on each resubmission. */
    attempt: z.number().int().min(1).max(MAX_JOB_ATTEMPTS),
    requestedAt: TimestampSchema.optional(),
  })
  .strict();
export type ValidationJob = z.infer<typeof ValidationJobSchema>;

/** Verdicts of validation (a kernel's final statuses). */
export const VALIDATION_VERDICTS = ['VALIDATED', 'REJECTED'] as const;
export const ValidationVerdictSchema = z.enum(VALIDATION_VERDICTS);
export type ValidationVerdict = z.infer<typeof ValidationVerdictSchema>;

/** One check of the pipeline (`static`, `load`, `shapes`, `finite`, `identity_at_init`, `gradient`, `benchmark`, …). */
export const ValidationCheckSchema = z
  .object({
    name: label(64),
    passed: z.boolean(),
    detail: text(1000).optional(),
    metrics: MetricsSchema.optional(),
  })
  .strict();
export type ValidationCheck = z.infer<typeof ValidationCheckSchema>;

/**
 * Data of `urabrask.kernel.validated`, emitted when validation finishes
 * whatever the verdict. A REJECTED report gives at least one reason; a
 * VALIDATED one has every check passed.
 */
export const ValidationReportSchema = z
  .object({
    kernelId: KernelIdSchema,
    jobId: JobIdSchema.optional(),
    status: ValidationVerdictSchema,
    /** 0 (safe) … 1 (dangerous). */
    riskScore: unitInterval(),
    checks: z.array(ValidationCheckSchema).min(1).max(MAX_VALIDATION_CHECKS),
    /** Why it was rejected (empty when VALIDATED). */
    reasons: z.array(text(500)).max(MAX_VALIDATION_CHECKS),
    /** Forward-pass latency for one batch of the benchmark, milliseconds. */
    latencyMs: z
      .object({ p50: nonNegative(), p99: nonNegative() })
      .strict()
      .refine((l) => l.p50 <= l.p99, { message: 'p50 must be ≤ p99', path: ['p99'] }),
    /** Peak memory of the benchmark (weights + activations). */
    memoryBytes: count(),
    validatorVersion: label(64),
    createdAt: TimestampSchema,
  })
  .strict()
  .superRefine((report, ctx) => {
    if (report.status === 'REJECTED' && report.reasons.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'a REJECTED report needs at least one reason', path: ['reasons'] });
    }
    if (report.status === 'VALIDATED') {
      report.checks.forEach((check, i) => {
        if (!check.passed) ctx.addIssue({ code: 'custom', message: `VALIDATED with failed check '${check.name}'`, path: ['checks', i, 'passed'] });
      });
    }
  });
export type ValidationReport = z.infer<typeof ValidationReportSchema>;
