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
import { BLUEPRINT_CATALOG, catalogBlueprint, catalogEntry, catalogWidthBlueprint } from '../karn/index.ts';
import { slotInterfaceKey, type SlotInterface } from '../../contracts/common.ts';
import type { BlueprintIR } from '../../contracts/karn.ts';
import type { RunKernel, RunSpec } from '../../contracts/run.ts';
import { ConfigError } from '../../errors/index.ts';
import type { WidthSeedSource } from '../../tensor/training/training-session.ts';
import { roleInterfaceKey, type RunSlot, type SlotRole } from './run-slots.ts';
import type { PreparedKernel, KernelPreparationJob } from './worker/kernel-preparation.ts';

/** A compile-and-validate job of the run, with the role of the slots it serves. */
export interface RunKernelJob extends KernelPreparationJob {
  role: SlotRole;
}

/** A kernel of the run: the results row, its interface, role and artifact. */
export interface RunKernelEntry extends RunKernel {
  slotInterface: SlotInterface;
  role: SlotRole;
  /** Width kernels: what a germination builds (k units, and how Ψ is initialised). */
  width?: WidthSeedSource['width'];
  artifact: Uint8Array;
}

/**
 * What a width kernel grows: k = the units of its first node (a dense's
 * units, or a conv's filters on a conv block), Ψ's initialisation from its
 * `init:<mode>` tag (default `gradient`). The kernel fixes the structure and
 * k; the tensor layer draws the weights for the layer's geometry at
 * germination (it changes as neighbouring layers grow).
 */
export function widthSourceOf(ir: BlueprintIR): WidthSeedSource['width'] {
  const first = ir.nodes[0];
  const units = first?.op === 'dense' ? first.params.units : first?.op === 'conv' ? first.params.filters : undefined;
  if (units === undefined) throw new ConfigError('invalid width blueprint', [`${ir.name}: a width blueprint starts with a dense or conv node (its units or filters are k)`]);
  const tag = ir.tags.find((t) => t.startsWith('init:'))?.slice('init:'.length);
  const init = tag === 'random' || tag === 'select' || tag === 'gradient' ? tag : 'gradient';
  return { units, init };
}

/**
 * The blueprints a run may grow in slots of `kind` and `role`: `'catalog'`
 * means every catalog blueprint that fits; a list must name catalog
 * blueprints, each fitting a slot kind of the run (`runKinds`, default
 * `[kind]`; a name that fits only the other role or the run's other slot
 * kind — a CNN run has conv2d and dense slots — is simply not offered to
 * these slots). Exact kernel ids (`seedModules.kernels`) need a kernel
 * library, which an in-process run does not have: refused, not ignored.
 */
export function runBlueprints(spec: RunSpec, kind: SlotInterface['kind'], role: SlotRole = 'depth', runKinds: readonly SlotInterface['kind'][] = [kind]): string[] {
  const issues: string[] = [];
  if (spec.seedModules.kernels.length > 0) {
    issues.push(`seedModules.kernels: esper run compiles its kernels from catalog blueprints; exact kernel ids (${spec.seedModules.kernels.join(', ')}) cannot be resolved — name blueprints in seedModules.blueprints`);
  }
  const fits = (name: string): boolean => {
    const entry = catalogEntry(name);
    return entry !== undefined && entry.kinds.includes(kind) && entry.role === role;
  };
  const listed = spec.seedModules.blueprints === 'catalog' ? BLUEPRINT_CATALOG.map((e) => e.name) : spec.seedModules.blueprints;
  if (spec.seedModules.blueprints !== 'catalog') {
    listed.forEach((name, i) => {
      const entry = catalogEntry(name);
      if (entry === undefined) issues.push(`seedModules.blueprints[${i}]: '${name}' is not a catalog blueprint (catalog: ${BLUEPRINT_CATALOG.map((e) => e.name).join(', ')})`);
      else if (!runKinds.some((k) => entry.kinds.includes(k))) issues.push(`seedModules.blueprints[${i}]: '${name}' does not fit a ${runKinds.join(' or ')} slot`);
    });
  }
  if (issues.length > 0) throw new ConfigError('invalid run spec', issues);
  return [...new Set(listed.filter(fits))];
}

/** One compile-and-validate job per (role, slot interface, blueprint), de-duplicated. */
export function kernelJobs(spec: RunSpec, slots: Iterable<RunSlot>): RunKernelJob[] {
  const jobs: RunKernelJob[] = [];
  const seen = new Set<string>();
  const all = [...slots];
  const runKinds = [...new Set(all.map((s) => s.interface.kind))];
  for (const slot of all) {
    const conv = slot.conv === undefined ? '' : `#${JSON.stringify(slot.conv)}`;
    const key = `${roleInterfaceKey(slot.role, slotInterfaceKey(slot.interface))}@${slot.role === 'width' ? slot.baseWidth : 0}${conv}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const iface = slot.interface;
    for (const blueprintId of runBlueprints(spec, iface.kind, slot.role, runKinds)) {
      const ir = slot.role === 'width' ? catalogWidthBlueprint(blueprintId, iface, slot.baseWidth, slot.conv) : catalogBlueprint(blueprintId, iface);
      jobs.push({ ir, interface: iface, blueprintId, role: slot.role });
    }
  }
  return jobs;
}

/** The results row and artifact of a prepared kernel. */
export function runKernelEntry(job: RunKernelJob, prepared: PreparedKernel): RunKernelEntry {
  return {
    role: job.role,
    ...(job.role === 'width' ? { width: widthSourceOf(job.ir as BlueprintIR) } : {}),
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
  const { slotInterface: _slotInterface, artifact: _artifact, role: _role, width: _width, ...row } = entry;
  return row;
}
