/**
 * The compile and validate work queues (DESIGN §4): one durable work-queue
 * stream holding `<prefix>.job.compile` and `<prefix>.job.validate`, explicit
 * ack, redelivery after the ack wait, dead letters after max deliveries, and
 * de-duplication by message id — so the same blueprint/tier submitted twice,
 * or a job redelivered after a crash, produces one kernel.
 */
import type { Bus, Consumer, DurableHandler, PublishAck } from '../oona/bus.ts';
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import type { CompileJob, CompileTier } from '../../contracts/tezzeret.ts';
import type { ValidationJob } from '../../contracts/urabrask.ts';

/** The jobs stream's name for a subject prefix. */
export function jobsStreamName(prefix: string): string {
  return `${prefix.replace(/\./g, '_')}_jobs`;
}

/** Creates (or updates) the jobs stream. */
export async function ensureJobsStream(bus: Bus, s: SubjectBuilders): Promise<string> {
  const name = jobsStreamName(s.prefix);
  await bus.ensureStream({ name, subjects: [s.jobCompile, s.jobValidate], workQueue: true, duplicateWindowMs: 10 * 60_000 });
  return name;
}

/** A compile job for a stored blueprint. */
export function compileJobFor(blueprintId: string, irHash: string, tier: CompileTier, requestedBy: string): CompileJob {
  return { jobId: `compile-${irHash.slice(0, 16)}-${tier}`, blueprintId, irHash, tier, requestedBy, attempt: 1, requestedAt: new Date().toISOString() };
}

/** Queues a compile job; a repeat of the same IR and tier within the window is stored once. */
export function submitCompileJob(bus: Bus, s: SubjectBuilders, job: CompileJob): Promise<PublishAck> {
  return bus.publishDurable(s.jobCompile, job, { msgId: `compile-${job.irHash}-${job.tier}` });
}

/** Queues the validation of a kernel (once per kernel within the window). */
export function submitValidationJob(bus: Bus, s: SubjectBuilders, kernelId: string): Promise<PublishAck> {
  const job: ValidationJob = { jobId: `validate-${kernelId.slice(0, 24)}`, kernelId, attempt: 1, requestedAt: new Date().toISOString() };
  return bus.publishDurable(s.jobValidate, job, { msgId: `validate-${kernelId}` });
}

/** Deliveries of a job before it is dead-lettered. */
export const JOB_MAX_DELIVER = 5;

/** Consumes one kind of job from the jobs stream with a durable consumer shared by every node of the role. */
export async function consumeJobs(
  bus: Bus,
  s: SubjectBuilders,
  consumer: { durable: string; filterSubject: string; ackWaitMs: number; maxDeliver?: number | undefined },
  handler: DurableHandler,
): Promise<Consumer> {
  const stream = await ensureJobsStream(bus, s);
  return bus.consume({ stream, ...consumer, maxDeliver: consumer.maxDeliver ?? JOB_MAX_DELIVER }, handler);
}
