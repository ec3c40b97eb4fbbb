import { readFileSync } from 'node:fs';
import { RunSpecSchema, type RunSpec } from '../../src/contracts/run.ts';

/** The depth-seed spirals example cut to `epochs`, its policy's waits and gates loosened so a seed grows within a few epochs. */
export function quickSpiralsSpec(epochs: number): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return RunSpecSchema.parse({
    ...raw,
    epochs,
    policy: { ...(raw['policy'] as object), minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 },
    gates: { g2: { minTrainingEpochs: 1, minImprovementPp: -100 }, g5: { minContributionPp: -100 } },
  });
}
