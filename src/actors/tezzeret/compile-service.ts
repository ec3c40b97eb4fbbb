/**
 * Tezzeret's job loop: takes compile jobs from the work queue, compiles in
 * the worker pool (never on the event loop), stores the artifact and the
 * kernel (both idempotent: the kernel id is a content address), queues its
 * validation, then acks. A worker crash or a storage failure naks the job so
 * it is redelivered; a blueprint that fails analysis is marked INVALID and the
 * job is terminated (dead-lettered with the reason).
 */
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import { CompileJobSchema, type CompileJob } from '../../contracts/tezzeret.ts';
import type { Logger } from '../../infra/logger.ts';
import { handleJob, startJobService, type Bus, type Consumer, type DurableMessage, type JobKind } from '../oona/index.ts';
import { submitValidationJob } from '../urabrask/index.ts';
import type { ArtifactStore, UrzaLibrary } from '../urza/index.ts';
import type { BlueprintRecord } from '../../contracts/karn.ts';
import type { CompiledKernel, KernelCompileJob } from './compiler.ts';

/** What compiles a kernel off the event loop (the kernel worker pool). */
export interface KernelCompiler {
  compile(job: KernelCompileJob): Promise<CompiledKernel>;
}

export interface CompileServiceOptions {
  bus: Bus;
  subjects: SubjectBuilders;
  library: UrzaLibrary;
  artifacts: ArtifactStore;
  pool: KernelCompiler;
  logger: Logger;
  /** Unacked jobs are redelivered after this long. @default 60000 */
  ackWaitMs?: number;
  /** Deliveries before a job is dead-lettered. @default 5 */
  maxDeliver?: number;
}

function compileJobKind(options: CompileServiceOptions): JobKind<CompileJob, BlueprintRecord> {
  const { library, artifacts, pool, bus, subjects } = options;
  return {
    schema: CompileJobSchema,
    describe: (job) => ({ jobId: job.jobId, blueprintId: job.blueprintId }),
    lookup: async (job) => {
      const blueprint = await library.getBlueprint(job.blueprintId);
      return blueprint?.ir === undefined ? null : blueprint;
    },
    missing: (job) => `blueprint ${job.blueprintId} not found`,
    run: async (job, blueprint, log) => {
      log.info({ tier: job.tier }, 'compile started');
      // A job redelivered after its compile finished (its ack lost with a server) finds the blueprint COMPILED: it stays so
      // while the same content-addressed kernel is compiled again, rather than showing COMPILING for a compiled blueprint.
      if (blueprint.status !== 'COMPILED') await library.setBlueprintStatus(job.blueprintId, 'COMPILING').catch(() => undefined);
      const compiled = await pool.compile({ ir: blueprint.ir, interface: blueprint.interface, tier: job.tier, blueprintId: job.blueprintId, artifactStore: artifacts.kind });
      const ref = await artifacts.put(compiled.metadata.artifactRef.key, compiled.artifact);
      const { created } = await library.putKernel({ ...compiled.metadata, artifactRef: ref });
      await library.setBlueprintStatus(job.blueprintId, 'COMPILED').catch(() => undefined);
      await submitValidationJob(bus, subjects, compiled.metadata.kernelId);
      log.info({ kernelId: compiled.metadata.kernelId, created }, 'compile finished');
    },
    // A worker crash or a storage failure is retried; a blueprint that fails analysis never compiles.
    onFailure: async (error, job) => {
      if (error.retryable) return 'retry';
      await library.setBlueprintStatus(job.blueprintId, 'INVALID', [`${error.code}: ${error.message}`]).catch(() => undefined);
      return 'give-up';
    },
  };
}

/** Handles one compile job; exported for tests. Resolves when the job is acked, naked or terminated. */
export function handleCompileJob(message: DurableMessage, options: CompileServiceOptions): Promise<void> {
  return handleJob(message, compileJobKind(options), options.logger);
}

/** Starts consuming compile jobs (durable consumer `tezzeret`, shared by every compiler node). */
export function startCompileService(options: CompileServiceOptions): Promise<Consumer> {
  const consumer = { durable: 'tezzeret', filterSubject: options.subjects.jobCompile, ackWaitMs: options.ackWaitMs ?? 60_000, maxDeliver: options.maxDeliver };
  return startJobService(options.bus, options.subjects, consumer, compileJobKind(options), options.logger);
}
