/**
 * Urabrask's job loop: takes validation jobs from the work queue, runs the
 * validation pipeline in the worker pool, records the report (the kernel
 * becomes VALIDATED or REJECTED), then acks. A worker crash naks the job so it
 * is redelivered; a missing kernel terminates it. Reading the artifact rides
 * through a lost NATS server in place (retried with backoff for up to half
 * the ack wait): an object store read can keep timing out while a server of
 * its stream is down, and each failed delivery brings the job closer to its
 * dead letter.
 */
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import { ValidationJobSchema, type ValidationJob, type ValidationReport } from '../../contracts/urabrask.ts';
import type { Logger } from '../../infra/logger.ts';
import { handleJob, retryTransient, startJobService, type Bus, type Consumer, type DurableMessage, type JobKind } from '../oona/index.ts';
import type { ArtifactStore, UrzaLibrary } from '../urza/index.ts';
import type { KernelRecord } from '../../contracts/urza.ts';
import type { ValidateOptions } from './validator.ts';

/** What validates a kernel off the event loop (the kernel worker pool). */
export interface KernelValidator {
  validate(artifact: Uint8Array, options?: ValidateOptions): Promise<{ report: ValidationReport }>;
}

export interface ValidateServiceOptions {
  bus: Bus;
  subjects: SubjectBuilders;
  library: UrzaLibrary;
  artifacts: ArtifactStore;
  pool: KernelValidator;
  logger: Logger;
  /** @default 120000 */
  ackWaitMs?: number;
  /** @default 5 */
  maxDeliver?: number;
}

/** Unacked validation jobs are redelivered after this long, ms. */
const DEFAULT_ACK_WAIT_MS = 120_000;

function validationJobKind(options: ValidateServiceOptions): JobKind<ValidationJob, KernelRecord> {
  return {
    schema: ValidationJobSchema,
    describe: (job) => ({ jobId: job.jobId, kernelId: job.kernelId }),
    lookup: (job) => options.library.getKernel(job.kernelId),
    missing: (job) => `kernel ${job.kernelId} not found`,
    run: async (_job, kernel, log) => {
      const artifact = await retryTransient(() => options.artifacts.get(kernel.artifactRef.key, kernel.artifactRef.sha256), {
        what: `read kernel ${kernel.kernelId}`,
        logger: log,
        budgetMs: (options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 2,
      });
      const { report } = await options.pool.validate(artifact);
      await options.library.setKernelValidation(report);
      log.info({ status: report.status, riskScore: report.riskScore, reasons: report.reasons }, 'validation finished');
    },
    // A verdict is the report itself; any failure to produce one (a worker crash, storage) is retried.
    onFailure: () => 'retry',
  };
}

/** Handles one validation job; exported for tests. */
export function handleValidationJob(message: DurableMessage, options: ValidateServiceOptions): Promise<void> {
  return handleJob(message, validationJobKind(options), options.logger);
}

/** Starts consuming validation jobs (durable consumer `urabrask`). */
export function startValidateService(options: ValidateServiceOptions): Promise<Consumer> {
  const consumer = { durable: 'urabrask', filterSubject: options.subjects.jobValidate, ackWaitMs: options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS, maxDeliver: options.maxDeliver };
  return startJobService(options.bus, options.subjects, consumer, validationJobKind(options), options.logger);
}
