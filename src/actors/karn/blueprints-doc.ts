/**
 * Renders docs/blueprints.md from the catalog and the analysis (`npm run
 * docs:blueprints` writes it; a test checks it is current).
 */
import type { SlotInterface } from '../../contracts/common.ts';
import { BLUEPRINT_OPS } from '../../contracts/karn.ts';
import { analyzeBlueprint, DEFAULT_BLUEPRINT_LIMITS, type BlueprintReport } from '../../blueprint/blueprint-analysis.ts';
import type { BlueprintIR } from '../../contracts/karn.ts';
import { BLUEPRINT_CATALOG, catalogBlueprint, catalogWidthBlueprint, shapePreservingInterface, widthInterface } from './catalog.ts';
import { groupDigits } from '../../blueprint/layer-specs.ts';

/** The interfaces the doc's depth table is computed at. */
export const DOC_INTERFACES: { readonly dense: SlotInterface; readonly conv2d: SlotInterface } = {
  dense: shapePreservingInterface([128]),
  conv2d: shapePreservingInterface([14, 14, 16]),
};

/** The width slot the doc's width table is computed at: a 16-unit layer between 128 features and 10 outputs. */
export const DOC_WIDTH: { readonly interface: SlotInterface; readonly baseWidth: number } = { interface: widthInterface(128, 10), baseWidth: 16 };

function analysed(ir: BlueprintIR): { ir: BlueprintIR; report: BlueprintReport } {
  const analysis = analyzeBlueprint(ir);
  if (!analysis.ok) {
    throw new RangeError(`Error in renderBlueprintsDoc: '${ir.name}' fails analysis: ${analysis.errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  }
  return analysis;
}

function cells(name: string, iface: SlotInterface, fits: boolean): [string, string] {
  if (!fits) return ['—', '—'];
  const { report } = analysed(catalogBlueprint(name, iface));
  return [groupDigits(report.paramCount), groupDigits(report.flops)];
}

/** The text of docs/blueprints.md. */
export function renderBlueprintsDoc(): string {
  const rows: string[] = [];
  const widthRows: string[] = [];
  for (const entry of BLUEPRINT_CATALOG) {
    if (entry.role === 'width') {
      const { ir, report } = analysed(catalogWidthBlueprint(entry.name, DOC_WIDTH.interface, DOC_WIDTH.baseWidth));
      const k = ir.nodes[0]?.op === 'dense' ? ir.nodes[0].params.units : 0;
      const init = entry.tags.find((t) => t.startsWith('init:'))?.slice('init:'.length) ?? '—';
      const zero = report.startsAsZero ? 'yes' : 'no';
      widthRows.push(`| \`${entry.name}\` | ${entry.factor}× | ${k} | ${init} | ${zero} | ${groupDigits(report.paramCount)} | ${groupDigits(report.flops)} | ${entry.summary} |`);
      continue;
    }
    const [denseParams, denseFlops] = cells(entry.name, DOC_INTERFACES.dense, entry.kinds.includes('dense'));
    const [convParams, convFlops] = cells(entry.name, DOC_INTERFACES.conv2d, entry.kinds.includes('conv2d'));
    rows.push(`| \`${entry.name}\` | ${entry.kinds.join(', ')} | ${entry.startsAsIdentity ? 'yes' : 'no'} | ${denseParams} | ${denseFlops} | ${convParams} | ${convFlops} | ${entry.summary} |`);
  }
  const limits = DEFAULT_BLUEPRINT_LIMITS;
  const [inputs = 0, outputs = 0] = [DOC_WIDTH.interface.inputShape[0], DOC_WIDTH.interface.outputShape[0]];
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
    'whether the blueprint starts as the identity or as zero. It reports every problem it finds, each',
    'with its code (see [errors.md](errors.md)). The layer math (output shape, weights, FLOPs, memory',
    'of every op) is one table, `src/blueprint/layer-specs.ts`, which the compiler reuses.',
    '',
    'This page is generated from `src/actors/karn/catalog.ts` by `npm run docs:blueprints`; a test fails when they differ.',
    '',
    '## Catalog',
    '',
    'The catalog has two families. **Depth** blueprints fill a shape-preserving slot after a hidden',
    'layer (they add computation at that point); **width** blueprints add units to a hidden layer',
    '(they add capacity to the layer itself, which is what a too-narrow layer needs: depth after a',
    '4-unit layer cannot recover what the projection to 4 units discarded). A run may grow both.',
    '',
    '### Depth',
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
    '### Width',
    '',
    'A width blueprint on hidden layer L adds k new units. They read the layer\'s input h (the',
    "n_{L−1} features entering layer L) and feed layer L+1's pre-activation:",
    '',
    '    u = relu(Ψ·h + b)          Ψ [n_{L−1} → k], he normal',
    '    contribution = Ω·u + c     Ω [k → n_{L+1}], Ω and c zero at start',
    '',
    'As IR that is `input [n_{L−1}] → dense(k, he_normal) → relu → dense(n_{L+1}, zeros) → output`, a',
    'dense blueprint whose slot interface is **not** shape-preserving: `dense [n_{L−1}] → [n_{L+1}]`.',
    'Its output is exactly zero at initialisation (`startsAsZero`), so the network computes the same',
    'function at germination; Urabrask checks it (max |f(x)| ≤ 1e-6) and counts it as',
    'function-preserving, like an identity start. k is a factor times the layer\'s width at the run\'s',
    'start (the base width): k = max(1, factor × base width), fixed when the kernel is compiled',
    '(`catalogWidthBlueprint(name, interface, baseWidth)`); Karn mutates k (×2 or ÷2) and nothing else',
    'of a width blueprint. The kernel fixes the structure and k; its own weights (he-normal Ψ, zero',
    'Ω) are what Tezzeret compiles and Urabrask validates. At germination the tensor layer re-draws',
    'the weights for the live geometry of the layer (which changes as neighbouring layers grow), Ω',
    'zero and Ψ as the `init:` tag says: `gradient` aims Ψ at the top left singular directions of',
    'HᵀG (H the layer\'s input, G the loss gradient at layer L+1, on a batch; at most n_{L+1} of them),',
    'completed by random orthogonal directions; `random` draws Ψ he-normal. In TRAINING the host',
    'gets no gradient through the new units; BLENDING ramps α on Ω·u; FOSSILIZED merges them into',
    'the host layer (its width becomes n_L + k); PRUNED removes them.',
    '',
    `Numbers are the analysis at a layer of ${DOC_WIDTH.baseWidth} units between ${inputs} input features and ${outputs} outputs`,
    `(interface \`dense [${inputs}] → [${outputs}]\`, base width ${DOC_WIDTH.baseWidth}).`,
    '',
    `| blueprint | factor | k | Ψ init | zero at init | params | FLOPs | what it is |`,
    '|---|--:|--:|---|---|--:|--:|---|',
    ...widthRows,
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
    'branch ends in a zero-initialised layer, which is how every depth catalog blueprint but',
    '`attention_se` is built.',
    '',
    "`startsAsZero` is true when the output node's value at init is `zero`: every width blueprint",
    'ends in a zero-initialised dense layer, and its output is added to the next layer rather than',
    'replacing anything.',
    '',
  ].join('\n');
}
