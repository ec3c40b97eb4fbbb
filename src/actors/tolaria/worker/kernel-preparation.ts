/**
 * Compiles and validates the kernels a run may germinate, inside the training
 * worker (tensor work never runs on the node's event loop): Tezzeret's
 * compiler (`fast` tier) turns a blueprint IR into a content-addressed kernel
 * artifact, then Urabrask's validator probes it on the run's own backend and
 * gives the verdict and the risk score (without its latency term, see
 * below). The artifact is what a seed loads
 * when it germinates, so a decision traces to the exact bytes it trained.
 */
import type { SlotInterface } from '../../../contracts/common.ts';
import type { KernelMetadata } from '../../../contracts/tezzeret.ts';
import type { ValidationReport } from '../../../contracts/urabrask.ts';
import { compileKernel } from '../../tezzeret/index.ts';
import { validateKernel } from '../../urabrask/index.ts';

/** One kernel to prepare. */
export interface KernelPreparationJob {
  /** The blueprint IR (data). */
  ir: unknown;
  /** The slot interface to compile for. */
  interface: SlotInterface;
  /** Catalog name, recorded in the metadata. */
  blueprintId: string;
  /** Risk at or above which Urabrask rejects. @default Urabrask's default (0.3) */
  maxRisk?: number;
}

/** A compiled kernel with its validation verdict. */
export interface PreparedKernel {
  metadata: KernelMetadata;
  /** The kernel artifact (see compiler.ts). */
  artifact: Uint8Array;
  report: ValidationReport;
}

/** Compiles `job.ir` for `job.interface` on the active backend, then validates the artifact against the same interface. */
export async function prepareKernel(job: KernelPreparationJob): Promise<PreparedKernel> {
  const compiled = await compileKernel({ ir: job.ir, interface: job.interface, tier: 'fast', blueprintId: job.blueprintId });
  const report = await validateKernel(compiled.artifact, {
    kernelId: compiled.metadata.kernelId,
    expectedInterface: job.interface,
    // No latency term: it is the one timing-dependent input of the risk score,
    // and a run must make the same choices every time (same spec, same
    // backend → same events). The latency is still measured (report.latencyMs).
    latencyBudgetMs: Number.POSITIVE_INFINITY,
    ...(job.maxRisk === undefined ? {} : { maxRisk: job.maxRisk }),
  });
  return { metadata: { ...compiled.metadata, status: report.status }, artifact: compiled.artifact, report };
}
