/**
 * Compile jobs on the work queue (`<prefix>.job.compile`): a repeat of the
 * same IR and tier within the stream's duplicate window is stored once.
 */
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import type { CompileJob, CompileTier } from '../../contracts/tezzeret.ts';
import { publishJob, type Bus, type PublishAck } from '../oona/index.ts';

/** A compile job for a stored blueprint. */
export function compileJobFor(blueprintId: string, irHash: string, tier: CompileTier, requestedBy: string): CompileJob {
  return { jobId: `compile-${irHash.slice(0, 16)}-${tier}`, blueprintId, irHash, tier, requestedBy, attempt: 1, requestedAt: new Date().toISOString() };
}

/** Queues a compile job (ensuring the jobs stream); a repeat of the same IR and tier within the window is stored once. */
export function submitCompileJob(bus: Bus, s: SubjectBuilders, job: CompileJob): Promise<PublishAck> {
  return publishJob(bus, s, s.jobCompile, job, `compile-${job.irHash}-${job.tier}`);
}
