/**
 * The kernels a run may germinate (DESIGN §1, §2): at the run's start, every
 * allowed catalog blueprint is compiled by Tezzeret for each slot interface
 * and validated by Urabrask, in the training worker on the run's backend.
 * VALIDATED kernels become Tamiyo's candidates; a seed germinates by loading
 * its kernel's artifact. The table goes into results.json, REJECTED kernels
 * with Urabrask's reasons.
 *
 * The risk score is computed without its latency term (kernel-preparation.ts):
 * latency is the one input that changes from run to run, and the same spec
 * must make the same choices.
 */
import { BLUEPRINT_CATALOG, catalogBlueprint, catalogEntry } from '../karn/index.ts';
import { slotInterfaceKey, type SlotInterface } from '../../contracts/common.ts';
import type { RunKernel, RunSpec } from '../../contracts/run.ts';
import { ConfigError } from '../../errors/index.ts';
import type { PreparedKernel, KernelPreparationJob } from './worker/kernel-preparation.ts';

/** A kernel of the run: the results row, its interface and its artifact. */
export interface RunKernelEntry extends RunKernel {
  slotInterface: SlotInterface;
  artifact: Uint8Array;
}

/**
 * The blueprints a run may grow, for slots of `kind`: `'catalog'` means every
 * catalog blueprint that fits; a list must name catalog blueprints that fit.
 * Exact kernel ids (`seedModules.kernels`) need a kernel library, which an
 * in-process run does not have: refused, not ignored.
 */
export function runBlueprints(spec: RunSpec, kind: SlotInterface['kind']): string[] {
  const issues: string[] = [];
  if (spec.seedModules.kernels.length > 0) {
    issues.push(`seedModules.kernels: esper run compiles its kernels from catalog blueprints; exact kernel ids (${spec.seedModules.kernels.join(', ')}) cannot be resolved — name blueprints in seedModules.blueprints`);
  }
  const names = spec.seedModules.blueprints === 'catalog' ? BLUEPRINT_CATALOG.filter((e) => e.kinds.includes(kind)).map((e) => e.name) : spec.seedModules.blueprints;
  names.forEach((name, i) => {
    const entry = catalogEntry(name);
    if (entry === undefined) issues.push(`seedModules.blueprints[${i}]: '${name}' is not a catalog blueprint (catalog: ${BLUEPRINT_CATALOG.map((e) => e.name).join(', ')})`);
    else if (!entry.kinds.includes(kind)) issues.push(`seedModules.blueprints[${i}]: '${name}' does not fit a ${kind} slot`);
  });
  if (issues.length > 0) throw new ConfigError('invalid run spec', issues);
  return [...new Set(names)];
}

/** One compile-and-validate job per (slot interface, blueprint), interfaces de-duplicated. */
export function kernelJobs(spec: RunSpec, interfaces: Iterable<SlotInterface>): KernelPreparationJob[] {
  const jobs: KernelPreparationJob[] = [];
  const seen = new Set<string>();
  for (const iface of interfaces) {
    const key = slotInterfaceKey(iface);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const blueprintId of runBlueprints(spec, iface.kind)) jobs.push({ ir: catalogBlueprint(blueprintId, iface), interface: iface, blueprintId });
  }
  return jobs;
}

/** The results row and artifact of a prepared kernel. */
export function runKernelEntry(job: KernelPreparationJob, prepared: PreparedKernel): RunKernelEntry {
  return {
    kernelId: prepared.metadata.kernelId,
    blueprintId: job.blueprintId,
    interface: slotInterfaceKey(job.interface),
    status: prepared.report.status,
    riskScore: prepared.report.riskScore,
    latencyP50Ms: prepared.report.latencyMs.p50,
    paramCount: prepared.metadata.paramCount,
    reasons: [...prepared.report.reasons],
    slotInterface: job.interface,
    artifact: prepared.artifact,
  };
}

/** The results row of a kernel (no artifact, no parsed interface). */
export function runKernelRow(entry: RunKernelEntry): RunKernel {
  const { slotInterface: _slotInterface, artifact: _artifact, ...row } = entry;
  return row;
}
