/**
 * Tezzeret's messages: compile jobs (on `job.compile`), kernel metadata and the
 * compile outcome events. Kernels are immutable and content-addressed.
 */
import { z } from 'zod';
import { WireErrorSchema } from './reply.ts';
import {
  ArtifactRefSchema,
  BlueprintIdSchema,
  JobIdSchema,
  KernelIdSchema,
  Sha256Schema,
  SlotInterfaceSchema,
  TimestampSchema,
  count,
  label,
  nonNegative,
} from './common.ts';

/** Most delivery attempts a job may record (the work queue dead-letters before that). */
export const MAX_JOB_ATTEMPTS = 100;

/** Compilation tiers: `fast` (no optimisation passes) or `optimized`. */
export const COMPILE_TIERS = ['fast', 'optimized'] as const;
export const CompileTierSchema = z.enum(COMPILE_TIERS);
export type CompileTier = z.infer<typeof CompileTierSchema>;

/** Data of `tezzeret.compile.requested`: a job on the compile work queue. */
export const CompileJobSchema = z
  .object({
    jobId: JobIdSchema,
    blueprintId: BlueprintIdSchema,
    /** Hash of the IR to compile (the compiler re-checks it against Urza's copy). */
    irHash: Sha256Schema,
    tier: CompileTierSchema,
    /** Who asked: `karn`, `tamiyo`, `operator:<name>`, … */
    requestedBy: label(),
    /** 1 on first submission; incremented on each resubmission. */
    attempt: z.number().int().min(1).max(MAX_JOB_ATTEMPTS),
    requestedAt: TimestampSchema.optional(),
  })
  .strict();
export type CompileJob = z.infer<typeof CompileJobSchema>;

/** Kernel lifecycle: PENDING_VALIDATION → VALIDATED | REJECTED. */
export const KERNEL_STATUSES = ['PENDING_VALIDATION', 'VALIDATED', 'REJECTED'] as const;
export const KernelStatusSchema = z.enum(KERNEL_STATUSES);
export type KernelStatus = z.infer<typeof KernelStatusSchema>;

/** A compiled kernel: immutable, never deleted, so every decision traces to the exact kernel it used. */
export const KernelMetadataSchema = z
  .object({
    /** Content hash of IR hash + compiler version + backend. */
    kernelId: KernelIdSchema,
    blueprintId: BlueprintIdSchema,
    irHash: Sha256Schema,
    /** Version of the compiler that built it. */
    compilerVersion: label(64),
    /** tfjs backend it was built and checked for (`wasm`, `cpu`, `tensorflow`, …). */
    backend: label(64),
    tier: CompileTierSchema,
    /** The slot interface it matches. */
    interface: SlotInterfaceSchema,
    /** Trainable parameters. */
    paramCount: count(),
    /** Multiply-adds × 2 of one forward pass for one example. */
    flops: count(),
    /** Memory of weights + activations for one example. */
    memoryBytes: count(),
    /** Where the compiled model artifact lives. */
    artifactRef: ArtifactRefSchema,
    status: KernelStatusSchema,
    createdAt: TimestampSchema,
  })
  .strict();
export type KernelMetadata = z.infer<typeof KernelMetadataSchema>;

/** Data of `tezzeret.kernel.compiled`: a kernel was built (status PENDING_VALIDATION) and stored. */
export const KernelCompiledSchema = z
  .object({
    jobId: JobIdSchema,
    kernel: KernelMetadataSchema,
    /** Wall time of the compilation. */
    compileMs: nonNegative(),
  })
  .strict();
export type KernelCompiled = z.infer<typeof KernelCompiledSchema>;

/** Data of `tezzeret.compile.failed`: the job failed; a non-retryable error marks the blueprint INVALID. */
export const CompileFailedSchema = z
  .object({
    jobId: JobIdSchema,
    blueprintId: BlueprintIdSchema,
    irHash: Sha256Schema,
    attempt: z.number().int().min(1).max(MAX_JOB_ATTEMPTS),
    error: WireErrorSchema,
  })
  .strict();
export type CompileFailed = z.infer<typeof CompileFailedSchema>;
