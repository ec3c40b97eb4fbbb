/**
 * Renders docs/blueprints.md from the catalog and the analysis (`npm run
 * docs:blueprints` writes it; a test checks it is current).
 */
import type { SlotInterface } from '../../contracts/common.ts';
import { BLUEPRINT_OPS } from '../../contracts/karn.ts';
import { analyzeBlueprint, DEFAULT_BLUEPRINT_LIMITS, type BlueprintReport } from '../../blueprint/blueprint-analysis.ts';
import type { BlueprintIR } from '../../contracts/karn.ts';
import { BLUEPRINT_CATALOG, catalogBlueprint, catalogWidthBlueprint, convWidthInterface, shapePreservingInterface, widthInterface, type ConvWidthGeometry } from './catalog.ts';
import { groupDigits } from '../../blueprint/layer-specs.ts';

/** The interfaces the doc's depth table is computed at. */
export const DOC_INTERFACES: { readonly dense: SlotInterface; readonly conv2d: SlotInterface } = {
  dense: shapePreservingInterface([128]),
  conv2d: shapePreservingInterface([14, 14, 16]),
};

/** The width slot the doc's width table is computed at: a 16-unit layer between 128 features and 10 outputs. */
export const DOC_WIDTH: { readonly interface: SlotInterface; readonly baseWidth: number } = { interface: widthInterface(128, 10), baseWidth: 16 };

/**
 * The conv width slots the doc's conv width table is computed at: block 1 (3×3, 4 channels) of a
 * CNN on 28×28×1 images, followed by a 3×3 block of 8 channels, or flattened (14×14×4) into 10 logits.
 */
export const DOC_CONV_WIDTH: { readonly baseWidth: number; readonly toConv: ConvWidthGeometry; readonly toDense: ConvWidthGeometry } = {
  baseWidth: 4,
  toConv: { kernelSize: 3, next: { kind: 'conv', kernelSize: 3 } },
  toDense: { kernelSize: 3, next: { kind: 'flatten', height: 14, width: 14 } },
};
const DOC_CONV_INPUT: readonly [number, number, number] = [28, 28, 1];

function analysed(ir: BlueprintIR): { ir: BlueprintIR; report: BlueprintReport } {
  const analysis = analyzeBlueprint(ir);
  if (!analysis.ok) {
    throw new RangeError(`Error in renderBlueprintsDoc: '${ir.name}' fails analysis: ${analysis.errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  }
  return analysis;
}

function slotText(iface: SlotInterface): string {
  return `${iface.kind} [${iface.inputShape.join(', ')}] → [${iface.outputShape.join(', ')}]`;
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
  const convWidthRows: string[] = [];
  const toConv = convWidthInterface(DOC_CONV_INPUT, 8, DOC_CONV_WIDTH.toConv);
  const toDense = convWidthInterface(DOC_CONV_INPUT, 10, DOC_CONV_WIDTH.toDense);
  for (const entry of BLUEPRINT_CATALOG) {
    if (entry.role === 'width' && entry.kinds.includes('conv2d')) {
      const a = analysed(catalogWidthBlueprint(entry.name, toConv, DOC_CONV_WIDTH.baseWidth, DOC_CONV_WIDTH.toConv));
      const b = analysed(catalogWidthBlueprint(entry.name, toDense, DOC_CONV_WIDTH.baseWidth, DOC_CONV_WIDTH.toDense));
      const k = a.ir.nodes[0]?.op === 'conv' ? a.ir.nodes[0].params.filters : 0;
      const init = entry.tags.find((t) => t.startsWith('init:'))?.slice('init:'.length) ?? '—';
      const zero = a.report.startsAsZero && b.report.startsAsZero ? 'yes' : 'no';
      convWidthRows.push(
        `| \`${entry.name}\` | ${entry.factor}× | ${k} | ${init} | ${zero} | ${groupDigits(a.report.paramCount)} | ${groupDigits(a.report.flops)} | ${groupDigits(b.report.paramCount)} | ${groupDigits(b.report.flops)} | ${entry.summary} |`,
      );
      continue;
    }
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
    '### Width on conv blocks',
    '',
    'On a conv block L the k new units are channels (`widen_conv_*`; the dense family fits dense',
    'layers only, a CNN\'s hidden dense layers included). They read the block\'s input h',
    '(`[h_{L−1}, w_{L−1}, c_{L−1}]`: the image, or block L−1\'s pooled output) and are read the way',
    'the host reads the block, after its 2×2 max-pool:',
    '',
    '    u = maxPool(relu(conv(h, Ψ) + b))     Ψ [K_L, K_L, c_{L−1}, k], the block\'s kernel size',
    '    next conv block:  conv(u, Ω)          Ω [K_{L+1}, K_{L+1}, k, c_{L+1}], zero at start',
    '    first dense:      flatten(u)·Ω        Ω [h_L·w_L·k, n], zero at start',
    '',
    'The IR vocabulary has no pool op (and no flatten). A conv width blueprint is the seed\'s own',
    'ops without the pool: `input → conv(k, K_L, same, he_normal) → relu → conv(…, zeros, no bias)`,',
    'Ω applied to the unpooled map. Its parameters are exactly the seed\'s (Ω has no bias: the next',
    'layer has its own); the dense over the flattened pooled map is written as the conv whose',
    '`valid` window is the pooled map (kernel h_L, the same weights in NHWC order), so the flattened',
    'map must be square and at most 15 wide (Fashion-MNIST\'s 28×28 pools to 14, 7, 3, 1). The',
    'slot interface says where the seed reads: `conv2d [h_{L−1}, w_{L−1}, c_{L−1}] → [h_{L−1},',
    'w_{L−1}, c_{L+1}]` before a conv block, `→ [h_{L−1} − h_L + 1, w_{L−1} − w_L + 1, n]` before the',
    'flatten (what the window gives on the unpooled map; the seed\'s real contribution is',
    '`[h_L, w_L, c_{L+1}]` or `[n]`). Analysis, Tezzeret and Urabrask see that IR: the parameter',
    'count (what Tamiyo\'s budget uses) and the zero start are the seed\'s; the FLOPs are not — Ω',
    'runs at 4× the positions the seed computes it at, the flatten window at (h_{L−1} − h_L + 1)²',
    'positions instead of once. As for dense layers, the kernel fixes the structure and k, and the',
    'tensor layer draws Ψ for the block\'s live geometry at germination; `gradient` on a conv block',
    'is NORTH-Select (8 random candidates per channel, the k whose outgoing-weight gradient ∂L/∂Ω',
    'is largest on a batch are kept: an SVD over flattened patches would not fit). FOSSILIZED merges',
    'the channels into the block (its filters become c_L + k) and widens the next layer\'s kernel.',
    '',
    `Numbers are the analysis at block 1 of a CNN on ${DOC_CONV_INPUT.join('×')} images, ${DOC_CONV_WIDTH.baseWidth} channels of 3×3 (base width ${DOC_CONV_WIDTH.baseWidth}): followed`,
    `by a 3×3 block of 8 channels (\`${slotText(toConv)}\`), or flattened (14×14×${DOC_CONV_WIDTH.baseWidth}) into 10 logits (\`${slotText(toDense)}\`).`,
    '',
    '| blueprint | factor | k | Ψ init | zero at init | params → conv | FLOPs → conv | params → flatten | FLOPs → flatten | what it is |',
    '|---|--:|--:|---|---|--:|--:|--:|--:|---|',
    ...convWidthRows,
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
