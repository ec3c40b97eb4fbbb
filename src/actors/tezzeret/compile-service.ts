/**
 * Tezzeret's job loop: takes compile jobs from the work queue, compiles in
 * the worker pool (never on the event loop), stores the artifact and the
 * kernel (both idempotent: the kernel id is a content address), queues its
 * validation, then acks. A worker crash or a storage failure naks the job so
 * it is redelivered; a blueprint that fails analysis is marked INVALID and the
 * job is terminated (dead-lettered with the reason).
 */
import type { Bus, Consumer, DurableMessage } from '../oona/bus.ts';
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import { CompileJobSchema } from '../../contracts/tezzeret.ts';
import { toEsperError } from '../../errors/index.ts';
import type { Logger } from '../../infra/logger.ts';
import type { ArtifactStore } from '../urza/artifact-store.ts';
import type { UrzaLibrary } from '../urza/library.ts';
import type { KernelWorkerPool } from './worker-pool.ts';
import { consumeJobs, submitValidationJob } from './jobs.ts';

export interface CompileServiceOptions {
  bus: Bus;
  subjects: SubjectBuilders;
  library: UrzaLibrary;
  artifacts: ArtifactStore;
  pool: KernelWorkerPool;
  logger: Logger;
  /** Unacked jobs are redelivered after this long. @default 60000 */
  ackWaitMs?: number;
  /** Deliveries before a job is dead-lettered. @default 5 */
  maxDeliver?: number;
}

/** Handles one compile job; exported for tests. Resolves when the job is acked, naked or terminated. */
export async function handleCompileJob(message: DurableMessage, options: CompileServiceOptions): Promise<void> {
  const { library, artifacts, pool, logger, bus, subjects } = options;
  const decoded = message.decode(CompileJobSchema);
  if (!decoded.ok) {
    message.term(`${decoded.error.code}: ${decoded.error.message}`);
    return;
  }
  const job = decoded.value;
  const log = logger.child({ jobId: job.jobId, blueprintId: job.blueprintId, delivery: message.deliveryCount });
  const blueprint = await library.getBlueprint(job.blueprintId);
  if (blueprint?.ir === undefined) {
    message.term(`blueprint ${job.blueprintId} not found`);
    return;
  }
  log.info({ tier: job.tier }, 'compile started');
  try {
    await library.setBlueprintStatus(job.blueprintId, 'COMPILING').catch(() => undefined);
    const compiled = await pool.compile({ ir: blueprint.ir, interface: blueprint.interface, tier: job.tier, blueprintId: job.blueprintId, artifactStore: artifacts.kind });
    const ref = await artifacts.put(compiled.metadata.artifactRef.key, compiled.artifact);
    const { created } = await library.putKernel({ ...compiled.metadata, artifactRef: ref });
    await library.setBlueprintStatus(job.blueprintId, 'COMPILED').catch(() => undefined);
    await submitValidationJob(bus, subjects, compiled.metadata.kernelId);
    await message.ack();
    log.info({ kernelId: compiled.metadata.kernelId, created }, 'compile finished');
  } catch (error) {
    const esper = toEsperError(error);
    if (esper.retryable) {
      log.warn({ err: esper, code: esper.code }, 'compile failed; the job will be redelivered');
      message.nak(1000);
      return;
    }
    log.warn({ err: esper, code: esper.code }, 'compile rejected; blueprint marked INVALID');
    await library.setBlueprintStatus(job.blueprintId, 'INVALID', [`${esper.code}: ${esper.message}`]).catch(() => undefined);
    message.term(`${esper.code}: ${esper.message}`);
  }
}

/** Starts consuming compile jobs (durable consumer `tezzeret`, shared by every compiler node). */
export function startCompileService(options: CompileServiceOptions): Promise<Consumer> {
  const consumer = { durable: 'tezzeret', filterSubject: options.subjects.jobCompile, ackWaitMs: options.ackWaitMs ?? 60_000, maxDeliver: options.maxDeliver };
  return consumeJobs(options.bus, options.subjects, consumer, (message) => handleCompileJob(message, options));
}
