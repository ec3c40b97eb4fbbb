import type { SlotInterface } from '../../../src/contracts/common.ts';
import type { BlueprintIRInput, BlueprintNode } from '../../../src/contracts/karn.ts';
import { shapePreservingInterface } from '../../../src/actors/karn/catalog.ts';

export const DENSE_64: SlotInterface = shapePreservingInterface([64]);
export const DENSE_128: SlotInterface = shapePreservingInterface([128]);
export const CONV_14: SlotInterface = shapePreservingInterface([14, 14, 16]);

/** A blueprint IR around `nodes` (output: the last node unless given). */
export function ir(iface: SlotInterface, nodes: BlueprintIRInput['nodes'], output?: string): BlueprintIRInput {
  const last = nodes[nodes.length - 1];
  return { irVersion: 1, name: 'test_bp', interface: iface, nodes, output: output ?? last?.id ?? 'out' };
}

/** One node of the given op applied to the slot input, with defaults filled the way the schema does. */
export const SAMPLE_NODES = {
  dense: { id: 'n', op: 'dense', inputs: ['input'], params: { units: 8, useBias: true, init: 'glorot_uniform' } },
  low_rank: { id: 'n', op: 'low_rank', inputs: ['input'], params: { rank: 2, units: 8, init: 'zeros' } },
  activation: { id: 'n', op: 'activation', inputs: ['input'], params: { fn: 'relu' } },
  norm: { id: 'n', op: 'norm', inputs: ['input'], params: { kind: 'layer', epsilon: 0.001 } },
  residual: { id: 'n', op: 'residual', inputs: ['input', 'input'], params: {} },
  attention: { id: 'n', op: 'attention', inputs: ['input'], params: { kind: 'squeeze_excitation', reduction: 4 } },
  conv: { id: 'n', op: 'conv', inputs: ['input'], params: { filters: 8, kernelSize: 3, stride: 1, padding: 'same', useBias: true, init: 'glorot_uniform' } },
  depthwise: { id: 'n', op: 'depthwise', inputs: ['input'], params: { kernelSize: 3, multiplier: 2, stride: 1, padding: 'same', init: 'glorot_uniform' } },
} as const satisfies Record<BlueprintNode['op'], BlueprintNode>;
