/**
 * Urabrask's job loop: takes validation jobs from the work queue, runs the
 * validation pipeline in the worker pool, records the report (the kernel
 * becomes VALIDATED or REJECTED), then acks. A worker crash naks the job so it
 * is redelivered; a missing kernel terminates it.
 */
import type { Bus, Consumer, DurableMessage } from '../oona/bus.ts';
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import { ValidationJobSchema } from '../../contracts/urabrask.ts';
import { toEsperError } from '../../errors/index.ts';
import type { Logger } from '../../infra/logger.ts';
import type { ArtifactStore } from '../urza/artifact-store.ts';
import type { UrzaLibrary } from '../urza/library.ts';
import type { KernelWorkerPool } from '../tezzeret/worker-pool.ts';
import { consumeJobs } from '../tezzeret/jobs.ts';

export interface ValidateServiceOptions {
  bus: Bus;
  subjects: SubjectBuilders;
  library: UrzaLibrary;
  artifacts: ArtifactStore;
  pool: KernelWorkerPool;
  logger: Logger;
  /** @default 120000 */
  ackWaitMs?: number;
  /** @default 5 */
  maxDeliver?: number;
}

export async function handleValidationJob(message: DurableMessage, options: ValidateServiceOptions): Promise<void> {
  const decoded = message.decode(ValidationJobSchema);
  if (!decoded.ok) {
    message.term(`${decoded.error.code}: ${decoded.error.message}`);
    return;
  }
  const job = decoded.value;
  const log = options.logger.child({ jobId: job.jobId, kernelId: job.kernelId, delivery: message.deliveryCount });
  const kernel = await options.library.getKernel(job.kernelId);
  if (kernel === null) {
    message.term(`kernel ${job.kernelId} not found`);
    return;
  }
  try {
    const artifact = await options.artifacts.get(kernel.artifactRef.key, kernel.artifactRef.sha256);
    const { report } = await options.pool.validate(artifact);
    await options.library.setKernelValidation(report);
    await message.ack();
    log.info({ status: report.status, riskScore: report.riskScore, reasons: report.reasons }, 'validation finished');
  } catch (error) {
    const esper = toEsperError(error);
    log.warn({ err: esper, code: esper.code }, 'validation failed; the job will be redelivered');
    message.nak(1000);
  }
}

/** Starts consuming validation jobs (durable consumer `urabrask`). */
export function startValidateService(options: ValidateServiceOptions): Promise<Consumer> {
  const consumer = { durable: 'urabrask', filterSubject: options.subjects.jobValidate, ackWaitMs: options.ackWaitMs ?? 120_000, maxDeliver: options.maxDeliver };
  return consumeJobs(options.bus, options.subjects, consumer, (message) => handleValidationJob(message, options));
}
