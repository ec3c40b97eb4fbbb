/**
 * Renders docs/blueprints.md from the catalog and the analysis (`npm run
 * docs:blueprints` writes it; a test checks it is current).
 */
import type { SlotInterface } from '../../contracts/common.ts';
import { BLUEPRINT_OPS } from '../../contracts/karn.ts';
import { analyzeBlueprint, DEFAULT_BLUEPRINT_LIMITS } from '../../blueprint/blueprint-analysis.ts';
import { BLUEPRINT_CATALOG, catalogBlueprint, shapePreservingInterface } from './catalog.ts';
import { groupDigits } from '../../blueprint/layer-specs.ts';

/** The interfaces the doc's table is computed at. */
export const DOC_INTERFACES: { readonly dense: SlotInterface; readonly conv2d: SlotInterface } = {
  dense: shapePreservingInterface([128]),
  conv2d: shapePreservingInterface([14, 14, 16]),
};

function cells(name: string, iface: SlotInterface, fits: boolean): [string, string] {
  if (!fits) return ['—', '—'];
  const analysis = analyzeBlueprint(catalogBlueprint(name, iface));
  if (!analysis.ok) {
    throw new RangeError(`Error in renderBlueprintsDoc: '${name}' fails analysis: ${analysis.errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  }
  return [groupDigits(analysis.report.paramCount), groupDigits(analysis.report.flops)];
}

/** The text of docs/blueprints.md. */
export function renderBlueprintsDoc(): string {
  const rows = BLUEPRINT_CATALOG.map((entry) => {
    const [denseParams, denseFlops] = cells(entry.name, DOC_INTERFACES.dense, entry.kinds.includes('dense'));
    const [convParams, convFlops] = cells(entry.name, DOC_INTERFACES.conv2d, entry.kinds.includes('conv2d'));
    return `| \`${entry.name}\` | ${entry.kinds.join(', ')} | ${entry.startsAsIdentity ? 'yes' : 'no'} | ${denseParams} | ${denseFlops} | ${convParams} | ${convFlops} | ${entry.summary} |`;
  });
  const limits = DEFAULT_BLUEPRINT_LIMITS;
  return [
    '# Blueprints',
    '',
    'A blueprint is data, never code: a small graph of layers from a fixed vocabulary',
    `(${BLUEPRINT_OPS.map((op) => `\`${op}\``).join(', ')}), listed in topological order, with the`,
    'slot interface it fills (`src/contracts/karn.ts`). Before anything is compiled, the static',
    'analysis in `src/blueprint/blueprint-analysis.ts` checks it, in order: the schema; the graph',
    '(duplicate ids, unknown inputs, cycles, nodes that do not feed the output); shapes, node by node',
    "from the slot's input (a residual needs equal shapes, the output must be the slot's output",
    'shape); parameters, FLOPs, activation and parameter memory per example, depth; the budgets; and',
    'whether the blueprint starts as the identity. It reports every problem it finds, each with its',
    'code (see [errors.md](errors.md)). The layer math (output shape, weights, FLOPs, memory of every',
    'op) is one table, `src/blueprint/layer-specs.ts`, which the compiler reuses.',
    '',
    'This page is generated from `src/actors/karn/catalog.ts` by `npm run docs:blueprints`; a test fails when they differ.',
    '',
    '## Catalog',
    '',
    'Numbers are the analysis of each blueprint at a dense slot of 128 features and a conv2d slot of',
    '14×14×16 (height × width × channels, channels last). Parameters count every weight, batch-norm',
    'moving statistics included; FLOPs are one forward pass for one example, a multiply-add counting 2.',
    'Blueprints for dense slots act on the last axis, so on a conv2d slot they are pointwise (1×1).',
    '',
    '| blueprint | slots | identity at init | params dense:128 | FLOPs dense:128 | params conv2d:14x14x16 | FLOPs conv2d:14x14x16 | what it is |',
    '|---|---|---|--:|--:|--:|--:|---|',
    ...rows,
    '',
    '## Checking a blueprint',
    '',
    '```sh',
    'esper blueprint check examples/blueprints/residual-adapter.json                 # exit 0, prints the report',
    'esper blueprint check examples/blueprints/residual-adapter.json --interface dense:64 --json',
    'esper blueprint check examples/blueprints/param-bomb.json                       # exit 1: ESPER_BLUEPRINT_LIMIT',
    '```',
    '',
    'It runs offline (no bus, no database). `--interface dense:N` or `--interface conv2d:HxWxC`',
    "overrides the IR's own interface (the IR may then omit it); `--max-params`, `--max-memory-bytes`,",
    '`--max-flops` and `--max-depth` override the budgets. Exit 0: the report (a table, or JSON with',
    '`--json`); exit 1: the blueprint is rejected, every problem printed with its code; exit 2: the file',
    'cannot be read, is not JSON, or a flag is invalid.',
    '',
    '`examples/blueprints/residual-adapter.json` is a pre-norm residual adapter for a 128-feature slot',
    '(16,832 parameters, starts as the identity). `examples/blueprints/param-bomb.json` is well-formed',
    'but has a 65,536-unit hidden layer (about 16.8M parameters): it is rejected before compilation',
    'with `ESPER_BLUEPRINT_LIMIT` (`{limit, value, max}` in the details).',
    '',
    '## Budgets',
    '',
    '| limit | default | bounds |',
    '|---|--:|---|',
    `| \`maxParams\` | ${groupDigits(limits.maxParams)} | every weight |`,
    `| \`maxMemoryBytes\` | ${groupDigits(limits.maxMemoryBytes)} | weights + activations of one example, float32 |`,
    `| \`maxFlops\` | ${groupDigits(limits.maxFlops)} | one forward pass, one example |`,
    `| \`maxDepth\` | ${groupDigits(limits.maxDepth)} | nodes on the longest input→output path |`,
    '',
    '## Starting as the identity',
    '',
    "`startsAsIdentity` is true when the blueprint's output equals its input, exactly, at",
    "initialisation. The analysis tracks each node's value at init as `identity` (the slot input),",
    '`zero` or `other`: a `dense`, `low_rank` (its B), `conv` or `depthwise` with initializer `zeros`',
    'gives `zero` (biases always start at zero); those ops, `norm` and `attention` map `zero` to `zero`;',
    '`relu`, `gelu`, `tanh` and `identity` keep `zero` (sigmoid does not), `identity` also keeps',
    '`identity`; a `residual` of `zero` and v is v. Anything else is `other`: a bare `norm` normalises,',
    'and squeeze-excitation scales by a gate of about ½. So the identity blueprint is a residual whose',
    'branch ends in a zero-initialised layer, which is how every catalog blueprint but `attention_se`',
    'is built.',
    '',
  ].join('\n');
}
