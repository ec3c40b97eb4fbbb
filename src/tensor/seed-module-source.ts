/**
 * What a germinating seed is built from, and the builder. A built-in module
 * (`kind` + `config`) draws fresh weights from the seed's Rng; a compiled
 * kernel brings its structure and initial weights in its artifact, verified
 * on load (Tezzeret's loader), so the seed starts from exactly the bytes
 * Urabrask validated.
 */
import { loadKernelWithHeader } from './kernel-loader.ts';
import { EsperError } from '../errors/index.ts';
import type { Rng } from './rng.ts';
import { builtinSeedModule, type SeedModule, type SeedModuleConfig } from './seed-slot.ts';

export type SeedModuleSource = { kind: string; config: SeedModuleConfig } | { kernel: { kernelId: string; artifact: Uint8Array } };

/**
 * Builds the seed module of `source` for a slot of per-example `shape`.
 * Throws `ESPER_CONFIG_INVALID` for an unknown built-in kind,
 * `ESPER_KERNEL_CORRUPT` for an artifact that fails verification or is not
 * the kernel named, and `ESPER_CONFIG_INVALID` for a kernel built for
 * another shape.
 */
export function seedModuleFrom(source: SeedModuleSource, slotId: string, shape: readonly number[], rng: Rng): SeedModule {
  if ('kernel' in source) {
    const { header, module } = loadKernelWithHeader(source.kernel.artifact);
    const fits = (s: readonly number[]): boolean => s.length === shape.length && s.every((d, i) => d === shape[i]);
    if (header.kernelId !== source.kernel.kernelId || !fits(header.interface.inputShape) || !fits(header.interface.outputShape)) {
      module.dispose();
      if (header.kernelId !== source.kernel.kernelId) {
        throw new EsperError('ESPER_KERNEL_CORRUPT', `slot ${slotId}: the artifact is kernel ${header.kernelId}, the command names ${source.kernel.kernelId}`, { details: { slotId } });
      }
      throw new EsperError('ESPER_CONFIG_INVALID', `slot ${slotId} carries ${JSON.stringify(shape)}, kernel ${header.kernelId} maps ${JSON.stringify(header.interface.inputShape)} → ${JSON.stringify(header.interface.outputShape)}`, {
        details: { slotId, kernelId: header.kernelId },
      });
    }
    return module;
  }
  const module = builtinSeedModule(source.kind, { ...source.config, width: shape.at(-1) ?? 1 }, rng);
  if (module === undefined) throw new EsperError('ESPER_CONFIG_INVALID', `unknown seed module kind ${JSON.stringify(source.kind)}`, { details: { slotId } });
  return module;
}
