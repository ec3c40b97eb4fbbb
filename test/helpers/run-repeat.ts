/** A `--repeats` row of a 784-4-10 run widened to 784-36-10 (what results.json's `repeats[]` holds), with `fields` over the defaults. */
import type { RunRepeat } from '../../src/contracts/run.ts';

export function repeatRow(fields: Partial<RunRepeat> & Pick<RunRepeat, 'seed' | 'hostAccuracy' | 'grownAccuracy' | 'staticAccuracy'>): RunRepeat {
  const { seed, hostAccuracy, grownAccuracy, staticAccuracy } = fields;
  return {
    runId: `run-${seed}`,
    bottleneckResolution: staticAccuracy === hostAccuracy ? null : (grownAccuracy - hostAccuracy) / (staticAccuracy - hostAccuracy),
    maxGraftDropPct: 0,
    hostParams: 3190,
    grownParams: 28_630,
    staticParams: 28_630,
    staticRule: 'final-topology',
    grownTopology: '784-36-10',
    staticTopology: '784-36-10',
    parameterEfficiency: 1,
    weightsHash: 'ab'.repeat(32),
    ...fields,
  };
}
