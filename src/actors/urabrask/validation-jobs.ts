/** Validation jobs on the work queue (`<prefix>.job.validate`): one per kernel within the duplicate window. */
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import type { ValidationJob } from '../../contracts/urabrask.ts';
import { publishJob, type Bus, type PublishAck } from '../oona/index.ts';

/** Queues the validation of a kernel (ensuring the jobs stream; once per kernel within the window). */
export function submitValidationJob(bus: Bus, s: SubjectBuilders, kernelId: string): Promise<PublishAck> {
  const job: ValidationJob = { jobId: `validate-${kernelId.slice(0, 24)}`, kernelId, attempt: 1, requestedAt: new Date().toISOString() };
  return publishJob(bus, s, s.jobValidate, job, `validate-${kernelId}`);
}
