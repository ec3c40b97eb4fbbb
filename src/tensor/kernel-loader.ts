/**
 * Loads a kernel artifact (src/blueprint/kernel-artifact.ts) as a tensor
 * module: verifies the bytes, re-analyses the IR and checks the header
 * against that analysis, then builds the module with the artifact's weights.
 */
import { canonicalJson } from '../infra/content-hash.ts';
import { corruptKernel, decodeKernelArtifact, kernelIdFor, type KernelHeader } from '../blueprint/kernel-artifact.ts';
import { moduleFromPlan, planBlueprint, type BlueprintModule, type BlueprintPlan } from './blueprint-module.ts';

/**
 * A loaded kernel: its verified header and its module. Throws
 * `ESPER_KERNEL_CORRUPT` when the artifact fails verification or its header
 * disagrees with a fresh analysis of its IR (IR hash, kernel id, weight
 * layout).
 */
export function loadKernelWithHeader(artifact: Uint8Array): { header: KernelHeader; module: BlueprintModule; sha256: string } {
  const { header, weights, sha256 } = decodeKernelArtifact(artifact);
  let plan: BlueprintPlan;
  try {
    plan = planBlueprint(header.ir, header.interface);
  } catch (error) {
    throw corruptKernel(`its IR fails analysis: ${error instanceof Error ? error.message : String(error)}`, {}, error);
  }
  if (plan.report.irHash !== header.irHash) throw corruptKernel('the IR hash does not match the IR', { header: header.irHash, actual: plan.report.irHash });
  const id = kernelIdFor(header.irHash, header.compilerVersion, header.backend, header.tier);
  if (id !== header.kernelId) throw corruptKernel('the kernel id does not match its content', { header: header.kernelId, actual: id });
  const layoutOk =
    plan.weights.length === header.weights.length &&
    plan.weights.every((w, i) => {
      const h = header.weights[i];
      return h !== undefined && h.nodeId === w.nodeId && h.name === w.name && h.trainable === w.trainable && canonicalJson(h.shape) === canonicalJson(w.shape);
    });
  if (!layoutOk) throw corruptKernel('the weight layout does not match the IR');
  return { header, module: moduleFromPlan(plan, weights), sha256 };
}

/** Loads a kernel artifact as a seed module (verifying it; see {@link loadKernelWithHeader}). */
export function loadKernel(artifact: Uint8Array): BlueprintModule {
  return loadKernelWithHeader(artifact).module;
}

/** Reads a kernel artifact's verified header without building the module. */
export function readKernelHeader(artifact: Uint8Array): KernelHeader {
  return decodeKernelArtifact(artifact).header;
}

