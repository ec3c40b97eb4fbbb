/**
 * The compile and validate work queues (DESIGN §4) and the one skeleton every
 * job consumer follows: one durable work-queue stream holding
 * `<prefix>.job.compile` and `<prefix>.job.validate` (explicit ack,
 * redelivery after the ack wait, dead letters after max deliveries,
 * de-duplication by message id), and per job: decode → look up what it names
 * → run → ack; a malformed job or a missing subject is terminated (it would
 * never succeed), a failure is naked for redelivery when retryable and
 * terminated otherwise (a service may decide differently, see `onFailure`).
 */
import type { z } from 'zod';
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import { toEsperError, type EsperError } from '../../errors/index.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Bus, Consumer, DurableHandler, DurableMessage, PublishAck, StreamConfig } from './bus.ts';
import { publishEnsured } from './ensured-publish.ts';

/** Deliveries of a job before it is dead-lettered. */
export const JOB_MAX_DELIVER = 5;

/** Delay before a naked job is redelivered, ms. */
export const JOB_RETRY_DELAY_MS = 1000;

/** The jobs stream's name for a subject prefix. */
export function jobsStreamName(prefix: string): string {
  return `${prefix.replace(/\./g, '_')}_jobs`;
}

/** The jobs stream's configuration (the contract every writer and reader ensures). */
export function jobsStreamConfig(s: SubjectBuilders): StreamConfig {
  return { name: jobsStreamName(s.prefix), subjects: [s.jobCompile, s.jobValidate], workQueue: true, duplicateWindowMs: 10 * 60_000 };
}

/** Creates (or updates) the jobs stream. */
export async function ensureJobsStream(bus: Bus, s: SubjectBuilders): Promise<string> {
  const config = jobsStreamConfig(s);
  await bus.ensureStream(config);
  return config.name;
}

/**
 * Queues a job, ensuring the jobs stream first (whoever writes, ensures:
 * a node without a consuming role still has a stream to write to).
 */
export function publishJob(bus: Bus, s: SubjectBuilders, subject: string, job: unknown, msgId: string): Promise<PublishAck> {
  return publishEnsured(bus, jobsStreamConfig(s), subject, job, { msgId });
}

/** Where a job consumer reads: a durable consumer shared by every node of the role. */
export interface JobConsumerConfig {
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
  /** @default {@link JOB_MAX_DELIVER} */
  maxDeliver?: number | undefined;
}

/** Consumes one kind of job from the jobs stream. */
export async function consumeJobs(bus: Bus, s: SubjectBuilders, consumer: JobConsumerConfig, handler: DurableHandler): Promise<Consumer> {
  const stream = await ensureJobsStream(bus, s);
  return bus.consume({ stream, ...consumer, maxDeliver: consumer.maxDeliver ?? JOB_MAX_DELIVER }, handler);
}

/** What a failed job becomes: redelivered later, or given up (dead-lettered). */
export type JobFailureVerdict = 'retry' | 'give-up';

/** One kind of job: how to read it, find what it names, and run it. */
export interface JobKind<Job, Subject> {
  /** The job payload's schema. */
  schema: z.ZodType<Job>;
  /** Log fields naming a job (bound to every line about it). */
  describe(job: Job): Record<string, unknown>;
  /** The stored thing the job works on; `null` terminates the job with `missing(job)`. */
  lookup(job: Job): Promise<Subject | null>;
  /** Why a job whose subject is missing is given up. */
  missing(job: Job): string;
  /** Does the work; resolving acks the job. */
  run(job: Job, subject: Subject, log: Logger): Promise<void>;
  /** Decides a failure's fate (and may record it). @default retryable errors are retried, others given up */
  onFailure?(error: EsperError, job: Job, log: Logger): Promise<JobFailureVerdict> | JobFailureVerdict;
}

/** Handles one delivery of a job of `kind`: resolves once it is acked, naked or terminated. */
export async function handleJob<Job, Subject>(message: DurableMessage, kind: JobKind<Job, Subject>, logger: Logger): Promise<void> {
  const decoded = message.decode(kind.schema);
  if (!decoded.ok) {
    message.term(`${decoded.error.code}: ${decoded.error.message}`);
    return;
  }
  const job = decoded.value;
  const log = logger.child({ ...kind.describe(job), delivery: message.deliveryCount });
  const subject = await kind.lookup(job);
  if (subject === null) {
    message.term(kind.missing(job));
    return;
  }
  try {
    await kind.run(job, subject, log);
    await message.ack();
  } catch (error) {
    const esper = toEsperError(error);
    const verdict = kind.onFailure === undefined ? (esper.retryable ? 'retry' : 'give-up') : await kind.onFailure(esper, job, log);
    if (verdict === 'retry') {
      log.warn({ err: esper, code: esper.code }, 'job failed; it will be redelivered');
      message.nak(JOB_RETRY_DELAY_MS);
      return;
    }
    log.warn({ err: esper, code: esper.code }, 'job failed for good; dead-lettered');
    message.term(`${esper.code}: ${esper.message}`);
  }
}

/** Starts a job service: consumes jobs of `kind` and handles each with {@link handleJob}. */
export function startJobService<Job, Subject>(bus: Bus, s: SubjectBuilders, consumer: JobConsumerConfig, kind: JobKind<Job, Subject>, logger: Logger): Promise<Consumer> {
  return consumeJobs(bus, s, consumer, (message) => handleJob(message, kind, logger));
}
