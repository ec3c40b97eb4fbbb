/**
 * Static analysis of a blueprint (DESIGN §1 Karn/Tezzeret, §9 `esper blueprint
 * check`): pure, offline, and run before anything is compiled. Stages, each
 * reporting every problem it finds (never only the first):
 *
 * 1. **schema** — the IR's structure (zod): `ESPER_SCHEMA_VIOLATION`, every
 *    issue in `details.issues`.
 * 2. **graph** — run on the raw JSON too, so a graph the schema would refuse
 *    still gets precise codes: duplicate or reserved ids, inputs naming no
 *    node, nodes listed after a node that uses them, an unknown output, nodes
 *    that do not feed the output (`ESPER_BLUEPRINT_GRAPH`), and cycles
 *    (`ESPER_BLUEPRINT_CYCLE`, with the cycle's node ids).
 * 3. **shapes** — node by node from the slot's input shape with the layer
 *    table ({@link LAYER_SPECS}); a residual needs equal shapes and the output
 *    must equal the slot's output shape (`ESPER_BLUEPRINT_SHAPE_MISMATCH`,
 *    details `{nodeId, op, expected, actual}`).
 * 4. **cost** — parameters, FLOPs, activation and parameter memory per
 *    example, depth.
 * 5. **limits** — {@link BlueprintLimits}; a violation is `ESPER_BLUEPRINT_LIMIT`
 *    with details `{limit, value, max}`. When shapes failed, the partial sums
 *    are lower bounds and are still checked.
 * 6. **identity (or zero) at initialisation** — see below.
 *
 * ## `startsAsIdentity`
 *
 * The blueprint's output equals its input at initialisation, for every input,
 * exactly (not approximately). It is decided by abstract interpretation: each
 * node's value at init is `identity` (exactly the slot input), `zero` (exactly
 * 0) or `other`, computed by each op's `atInit` rule in the layer table:
 * - the slot input is `identity`;
 * - `dense`, `low_rank`, `conv`, `depthwise` whose (last) kernel initializer is
 *   `zeros` give `zero` (biases always start at 0); so does any of them, and
 *   `norm` and `attention`, applied to `zero` (they have no constant term at
 *   init: β = 0, biases 0, SE scales its input);
 * - `activation` `identity` passes its input's value; `relu`, `gelu`, `tanh`
 *   of `zero` are `zero` (sigmoid(0) = ½ is not);
 * - `residual(a, b)` is `b` when `a` is `zero`, `a` when `b` is `zero`, else
 *   `other` (so `x + x` is not the identity);
 * - everything else is `other`. In particular a bare `norm` is NOT the
 *   identity (γ = 1, β = 0 normalise their input), and squeeze-excitation is
 *   not (x ⊙ σ(·) ≈ x/2).
 * `startsAsIdentity` is true when the output node's value is `identity` (and
 * the slot's input and output shapes are equal). The canonical identity
 * blueprint is a residual whose branch ends in a zero-initialised layer.
 *
 * ## `startsAsZero`
 *
 * The output node's value at init is `zero`: the blueprint outputs exactly 0
 * for every input. That is how a width blueprint preserves the host's
 * function (its output is added to the next layer's pre-activation, through
 * outgoing weights Ω = 0), as the identity start preserves it for a depth
 * blueprint. The two are exclusive; either makes the blueprint
 * function-preserving at germination.
 */
import { z } from 'zod';
import { slotInterfaceKey, type SlotInterface } from '../contracts/common.ts';
import { BLUEPRINT_INPUT, BlueprintIRSchema, type BlueprintIR, type BlueprintOp } from '../contracts/karn.ts';
import { formatZodIssues } from '../contracts/registry.ts';
import { EsperError } from '../errors/index.ts';
import { canonicalJson, sha256Hex } from '../infra/content-hash.ts';
import { checkGraph, isRecord } from './blueprint-graph.ts';
import {
  BYTES_PER_ELEMENT,
  formatShape,
  groupDigits,
  inferLayer,
  layerAtInit,
  weightCount,
  type InitValue,
  type Shape,
} from './layer-specs.ts';

/** Budgets a blueprint must fit (defaults suit the small hosts Esper trains). */
export const BlueprintLimitsSchema = z
  .object({
    /** Most parameters (all weights, batch-norm statistics included). @default 5_000_000 */
    maxParams: z.number().int().min(1).default(5_000_000),
    /** Most bytes of weights plus activations for one example. @default 67_108_864 (64 MiB) */
    maxMemoryBytes: z.number().int().min(1).default(64 * 1024 * 1024),
    /** Longest chain of nodes from the input to the output. @default 32 */
    maxDepth: z.number().int().min(1).default(32),
    /** Most FLOPs of one forward pass for one example. @default 1_000_000_000 */
    maxFlops: z.number().int().min(1).default(1_000_000_000),
  })
  .strict();
/** Resolved limits. */
export type BlueprintLimits = z.infer<typeof BlueprintLimitsSchema>;
/** Limits as configured (any may be omitted). */
export type BlueprintLimitsInput = z.input<typeof BlueprintLimitsSchema>;

/** The default limits. */
export const DEFAULT_BLUEPRINT_LIMITS: BlueprintLimits = Object.freeze(BlueprintLimitsSchema.parse({}));

/** Options of {@link analyzeBlueprint}. */
export interface AnalyzeOptions {
  /** Replaces the IR's own `interface` (the IR may then omit it). */
  interface?: SlotInterface;
  /** Budgets; omitted ones take {@link DEFAULT_BLUEPRINT_LIMITS}. */
  limits?: BlueprintLimitsInput;
}

/** What analysis found about one node. */
export interface NodeReport {
  readonly id: string;
  readonly op: BlueprintOp;
  readonly inputs: readonly string[];
  readonly outputShape: readonly number[];
  /** All weights (trainable and not). */
  readonly paramCount: number;
  readonly trainableParamCount: number;
  /** FLOPs of one forward pass for one example. */
  readonly flops: number;
  /** Bytes of the node's output and kept intermediates, per example. */
  readonly activationBytes: number;
  /** Nodes on the longest path from the input to this node, itself included. */
  readonly depth: number;
  /** Its value at initialisation. */
  readonly atInit: InitValue;
}

/** The static report of a blueprint that passed analysis. */
export interface BlueprintReport {
  readonly name: string;
  /** sha256 (hex) of the canonical JSON of the parsed IR; kernels are content-addressed from it. */
  readonly irHash: string;
  readonly interface: SlotInterface;
  /** {@link slotInterfaceKey} of the interface. */
  readonly interfaceKey: string;
  /** All weights, batch-norm moving statistics included (tfjs `countParams()`). */
  readonly paramCount: number;
  readonly trainableParamCount: number;
  /** `paramCount` × 4 (float32). */
  readonly paramBytes: number;
  /** FLOPs of one forward pass for one example. */
  readonly flops: number;
  /** Bytes of activations kept for one example. */
  readonly activationBytes: number;
  /** `paramBytes + activationBytes`: the figure `maxMemoryBytes` bounds. */
  readonly memoryBytes: number;
  /** Nodes on the longest path from the input to the output. */
  readonly depth: number;
  /** The output equals the input at initialisation (see the module comment). */
  readonly startsAsIdentity: boolean;
  /** The output is exactly zero at initialisation (see the module comment): a width blueprint's start. */
  readonly startsAsZero: boolean;
  readonly outputShape: readonly number[];
  /** The limits it was checked against. */
  readonly limits: BlueprintLimits;
  /** One entry per node, in IR order. */
  readonly perNode: readonly NodeReport[];
}

/** Outcome of {@link analyzeBlueprint}. */
export type BlueprintAnalysis = { ok: true; ir: BlueprintIR; report: BlueprintReport } | { ok: false; errors: EsperError[] };


/** sha256 (hex) of the canonical JSON of a parsed IR. */
export function blueprintIrHash(ir: BlueprintIR): string {
  return sha256Hex(canonicalJson(ir));
}

// The IR's structure without the graph refinements, which stage 2 reports with precise codes.
const BlueprintStructureSchema = z.strictObject(BlueprintIRSchema.shape);

// --- stages 3–6 ---------------------------------------------------------------

function shapeError(nodeId: string, op: string, message: string, expected: Shape | string, actual: Shape | string): EsperError {
  return new EsperError('ESPER_BLUEPRINT_SHAPE_MISMATCH', `node '${nodeId}' (${op}): ${message}: expected ${formatShape(expected)}, got ${formatShape(actual)}`, {
    details: { nodeId, op, expected, actual },
  });
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const LIMIT_NAMES = {
  maxParams: 'paramCount',
  maxMemoryBytes: 'memoryBytes',
  maxDepth: 'depth',
  maxFlops: 'flops',
} as const satisfies Record<keyof BlueprintLimits, string>;

function limitErrors(values: Record<keyof BlueprintLimits, number | undefined>, limits: BlueprintLimits, partial: boolean): EsperError[] {
  const errors: EsperError[] = [];
  for (const limit of Object.keys(LIMIT_NAMES) as (keyof BlueprintLimits)[]) {
    const value = values[limit];
    const max = limits[limit];
    if (value === undefined || value <= max) continue;
    const what = LIMIT_NAMES[limit];
    errors.push(
      new EsperError(
        'ESPER_BLUEPRINT_LIMIT',
        `${what} ${partial ? 'of at least ' : ''}${groupDigits(value)} exceeds ${limit} ${groupDigits(max)}`,
        { details: { limit, value, max, ...(partial ? { lowerBound: true } : {}) } },
      ),
    );
  }
  return errors;
}

/**
 * Analyses a blueprint given as raw JSON (or an IR object) against its slot
 * interface. Never throws; returns the report, or every problem found.
 */
export function analyzeBlueprint(raw: unknown, options: AnalyzeOptions = {}): BlueprintAnalysis {
  const errors: EsperError[] = [];
  const limitsParse = BlueprintLimitsSchema.safeParse(options.limits ?? {});
  if (!limitsParse.success) {
    const issues = formatZodIssues(limitsParse.error, ['limits']);
    errors.push(new EsperError('ESPER_CONFIG_INVALID', `invalid blueprint limits: ${issues.join('; ')}`, { details: { issues } }));
  }
  const limits = limitsParse.success ? limitsParse.data : DEFAULT_BLUEPRINT_LIMITS;
  const input = options.interface !== undefined && isRecord(raw) ? { ...raw, interface: options.interface } : raw;

  // 1. schema
  const parsed = BlueprintStructureSchema.safeParse(input);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error);
    errors.push(new EsperError('ESPER_SCHEMA_VIOLATION', `invalid blueprint IR: ${issues.join('; ')}`, { details: { issues } }));
  }
  // 2. graph (on the raw value, so it runs even when the schema failed)
  const graphErrors = checkGraph(input);
  errors.push(...graphErrors);
  if (!parsed.success) return { ok: false, errors };
  const ir: BlueprintIR = parsed.data;
  const iface = ir.interface;

  // 3–4. shapes and costs, node by node; nodes whose inputs are unknown are skipped (their cause is reported).
  const shapes = new Map<string, Shape>([[BLUEPRINT_INPUT, iface.inputShape]]);
  const depths = new Map<string, number>([[BLUEPRINT_INPUT, 0]]);
  const values = new Map<string, InitValue>([[BLUEPRINT_INPUT, 'identity']]);
  const perNode: NodeReport[] = [];
  let complete = graphErrors.length === 0;
  const seen = new Set<string>();
  for (const node of ir.nodes) {
    if (seen.has(node.id) || node.id === BLUEPRINT_INPUT) continue;
    seen.add(node.id);
    const inputShapes = node.inputs.map((i) => shapes.get(i));
    if (inputShapes.some((s) => s === undefined)) {
      complete = false;
      continue;
    }
    const result = inferLayer(node, inputShapes as Shape[]);
    if (!result.ok) {
      errors.push(shapeError(node.id, node.op, result.problem.message, result.problem.expected, result.problem.actual));
      complete = false;
      continue;
    }
    const { facts } = result;
    const depth = 1 + Math.max(...node.inputs.map((i) => depths.get(i) ?? 0));
    const atInit = layerAtInit(
      node,
      node.inputs.map((i) => values.get(i) ?? 'other'),
    );
    shapes.set(node.id, facts.outputShape);
    depths.set(node.id, depth);
    values.set(node.id, atInit);
    perNode.push({
      id: node.id,
      op: node.op,
      inputs: [...node.inputs],
      outputShape: [...facts.outputShape],
      paramCount: weightCount(facts.weights),
      trainableParamCount: weightCount(facts.weights, true),
      flops: facts.flops,
      activationBytes: facts.activationElements * BYTES_PER_ELEMENT,
      depth,
      atInit,
    });
  }
  const outputShape = shapes.get(ir.output);
  if (outputShape !== undefined && !sameShape(outputShape, iface.outputShape)) {
    const outputNode = ir.nodes.find((n) => n.id === ir.output);
    errors.push(shapeError(ir.output, outputNode?.op ?? 'output', "the output does not match the slot's output shape", iface.outputShape, outputShape));
    complete = false;
  }

  // 5. limits (partial sums are lower bounds: still checked)
  const sum = (pick: (n: NodeReport) => number): number => perNode.reduce((total, n) => total + pick(n), 0);
  const paramCount = sum((n) => n.paramCount);
  const paramBytes = paramCount * BYTES_PER_ELEMENT;
  const activationBytes = sum((n) => n.activationBytes);
  const flops = sum((n) => n.flops);
  const depth = depths.get(ir.output);
  errors.push(
    ...limitErrors(
      {
        maxParams: paramCount,
        maxMemoryBytes: paramBytes + activationBytes,
        maxFlops: flops,
        maxDepth: graphErrors.length === 0 ? depth : undefined,
      },
      limits,
      !complete,
    ),
  );
  if (errors.length > 0 || outputShape === undefined || depth === undefined) {
    if (errors.length === 0) {
      errors.push(new EsperError('ESPER_INTERNAL', `blueprint analysis: output '${ir.output}' has no inferred shape, yet no problem was found`));
    }
    return { ok: false, errors };
  }
  // Belt and braces: a blueprint that passed every stage must satisfy the full contract schema.
  const full = BlueprintIRSchema.safeParse(ir);
  if (!full.success) {
    const issues = formatZodIssues(full.error);
    return { ok: false, errors: [new EsperError('ESPER_SCHEMA_VIOLATION', `invalid blueprint IR: ${issues.join('; ')}`, { details: { issues } })] };
  }

  // 6. identity (or zero) at initialisation
  const startsAsIdentity = values.get(ir.output) === 'identity' && sameShape(iface.inputShape, iface.outputShape);
  const startsAsZero = values.get(ir.output) === 'zero';
  return {
    ok: true,
    ir,
    report: {
      name: ir.name,
      irHash: blueprintIrHash(ir),
      interface: iface,
      interfaceKey: slotInterfaceKey(iface),
      paramCount,
      trainableParamCount: sum((n) => n.trainableParamCount),
      paramBytes,
      flops,
      activationBytes,
      memoryBytes: paramBytes + activationBytes,
      depth,
      startsAsIdentity,
      startsAsZero,
      outputShape: [...outputShape],
      limits,
      perNode,
    },
  };
}
