/**
 * Karn's mutation operators (DESIGN §1 Karn: "proposes new blueprints —
 * mutations of successful ones"). Pure: the same IR and the same seeded
 * {@link Rng} state give the same child.
 *
 * Four kinds, each a small, shape-preserving edit of one place in the graph:
 * - **width** — a `dense` layer's `units` or a `conv`'s `filters` ×2 or ÷2,
 *   within `[minWidth, maxWidth]`;
 * - **rank** — a `low_rank` layer's `rank` ×2 or ÷2, within
 *   `[1, min(input features, units, 1024)]`;
 * - **activation** — an `activation` node's function swapped for another of
 *   {@link MUTATION_ACTIVATIONS} (relu, gelu, tanh: all map 0 to 0, so a
 *   zero branch stays zero);
 * - **depth** — a `dense → activation` pair inserted inside a residual branch
 *   (after a branch node, or in front of the node that opens a branch from the
 *   slot input), with as many units as the features at that point so every
 *   shape is kept; or such a pair (units equal to its input's features)
 *   removed.
 *
 * A width blueprint (tagged {@link WIDTH_ROLE_TAG}: dense Ψ → relu → dense Ω,
 * see catalog.ts) keeps its structure — the tensor layer grows exactly that —
 * so only its k (Ψ's units) may change: only the width kind applies to it,
 * and its default `maxWidth` is {@link DEFAULT_MAX_WIDTH_FACTOR} × the wider
 * of its input and output. (Ω, the output node, keeps its units: a width edit
 * of the output node never fits the slot, so it is not tried.)
 *
 * Every candidate edit is checked with {@link analyzeBlueprint} against the
 * parent's slot interface and limits; a child must pass it and, when the
 * parent starts as the identity (or as zero), start as the identity (or as
 * zero) too, so a function-preserving parent has function-preserving
 * children. Kinds are tried
 * in a random order and each kind's candidates in a random order; after
 * `maxAttempts` analyses without a valid child, {@link mutate} returns null.
 *
 * A child is named `<family>-<8 hex digits>`, the family being the parent's
 * name without such a suffix and the digits a hash of the child's graph, and
 * is tagged `mutant`; it has no description. Its IR therefore depends only on
 * the family, tags, interface and graph, so two mutation paths that reach the
 * same graph produce the same IR hash, which Karn's registry and the library
 * deduplicate. The parent's id (lineage) travels beside the IR, as
 * `parentId`.
 */
import { createHash } from 'node:crypto';
import { MAX_DIM, type SlotInterface } from '../../contracts/common.ts';
import { BLUEPRINT_INPUT, MAX_BLUEPRINT_NODES, type BlueprintIR, type BlueprintNode } from '../../contracts/karn.ts';
import type { Rng } from '../../tensor/rng.ts';
import { canonicalJson } from '../../infra/content-hash.ts';
import { analyzeBlueprint, type BlueprintLimitsInput, type BlueprintReport } from '../../blueprint/blueprint-analysis.ts';
import { WIDTH_ROLE_TAG } from './catalog.ts';

/** The mutation kinds. */
export const MUTATION_KINDS = ['width', 'rank', 'activation', 'depth'] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

/** Activation functions a mutation may choose (each maps 0 to 0). */
export const MUTATION_ACTIVATIONS = ['relu', 'gelu', 'tanh'] as const;
type MutationActivation = (typeof MUTATION_ACTIVATIONS)[number];

/** Analyses tried before {@link mutate} gives up. */
export const DEFAULT_MUTATION_ATTEMPTS = 24;
/** Default widest layer, as a multiple of the slot's features/channels. */
export const DEFAULT_MAX_WIDTH_FACTOR = 8;
/** Tag every mutant carries. */
export const MUTANT_TAG = 'mutant';

/** What one mutation changed. */
export interface Mutation {
  readonly kind: MutationKind;
  /** The node changed; for depth, the inserted or removed `dense` node. */
  readonly nodeId: string;
  /** Old value: units/filters (width), rank, activation function, node count (depth). */
  readonly from: number | string;
  /** New value, in the same unit as `from`. */
  readonly to: number | string;
  /** One line for logs, e.g. `width of 'up' 128 → 256`. */
  readonly summary: string;
}

/** Options of {@link mutate}. */
export interface MutationOptions {
  /** The slot interface the child must fit. @default the parent's */
  interface?: SlotInterface;
  /** Budgets the child must fit. @default DEFAULT_BLUEPRINT_LIMITS */
  limits?: BlueprintLimitsInput;
  /** Kinds allowed. @default all of {@link MUTATION_KINDS} */
  kinds?: readonly MutationKind[];
  /** Analyses tried before giving up. @default {@link DEFAULT_MUTATION_ATTEMPTS} */
  maxAttempts?: number;
  /** The parent's blueprint id, recorded as the child's `parentId`. */
  parentId?: string;
  /** Narrowest dense/conv layer. @default 1 */
  minWidth?: number;
  /** Widest dense/conv layer. @default {@link DEFAULT_MAX_WIDTH_FACTOR} × the slot's last dimension (a width blueprint's: of input and output, the wider), at most 65,536 */
  maxWidth?: number;
}

/** A child blueprint and how it was made. */
export interface MutationResult {
  /** The child, parsed (defaults filled in). */
  readonly ir: BlueprintIR;
  /** Its static analysis report. */
  readonly report: BlueprintReport;
  readonly mutation: Mutation;
  /** The parent's blueprint id (lineage), when given in the options. */
  readonly parentId?: string;
}

/** One possible edit: builds the child's nodes and output. */
interface Candidate {
  readonly kind: MutationKind;
  apply(): { nodes: BlueprintNode[]; output: string; mutation: Mutation };
}

interface Context {
  readonly ir: BlueprintIR;
  /** Output shape of every node, and of `input`. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Nodes that reach a residual node (so lie inside a residual branch). */
  readonly inBranch: ReadonlySet<string>;
  readonly minWidth: number;
  readonly maxWidth: number;
  readonly rng: Rng;
}

const lastDim = (shape: readonly number[] | undefined): number => shape?.[shape.length - 1] ?? 0;

/** A node with one input renamed (analysis re-checks the result). */
function rewire(node: BlueprintNode, from: string, to: string): BlueprintNode {
  if (!node.inputs.includes(from)) return node;
  return { ...node, inputs: node.inputs.map((i) => (i === from ? to : i)) } as BlueprintNode;
}

function replaceNode(nodes: readonly BlueprintNode[], next: BlueprintNode): BlueprintNode[] {
  return nodes.map((n) => (n.id === next.id ? next : n));
}

/** `<prefix><k>` for the smallest k ≥ 1 such that `<prefix><k>` and `<prefix><k>_act` are unused. */
function freshIds(ir: BlueprintIR, prefix: string): [string, string] {
  const used = new Set(ir.nodes.map((n) => n.id));
  for (let k = 1; ; k++) {
    const dense = `${prefix}${k}`;
    const act = `${dense}_act`;
    if (!used.has(dense) && !used.has(act)) return [dense, act];
  }
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[rng.int(items.length)];
  if (item === undefined) throw new RangeError('Error in mutation: pick from an empty list');
  return item;
}

function widthCandidates(c: Context): Candidate[] {
  const out: Candidate[] = [];
  for (const node of c.ir.nodes) {
    if ((node.op !== 'dense' && node.op !== 'conv') || node.id === c.ir.output) continue;
    const from = node.op === 'dense' ? node.params.units : node.params.filters;
    const targets = [from * 2, Math.floor(from / 2)].filter((to) => to !== from && to >= c.minWidth && to <= c.maxWidth && to >= 1);
    for (const to of targets) {
      out.push({
        kind: 'width',
        apply: () => {
          const next: BlueprintNode =
            node.op === 'dense' ? { ...node, params: { ...node.params, units: to } } : { ...node, params: { ...node.params, filters: to } };
          return {
            nodes: replaceNode(c.ir.nodes, next),
            output: c.ir.output,
            mutation: { kind: 'width', nodeId: node.id, from, to, summary: `width of '${node.id}' ${from} → ${to}` },
          };
        },
      });
    }
  }
  return out;
}

function rankCandidates(c: Context): Candidate[] {
  const out: Candidate[] = [];
  for (const node of c.ir.nodes) {
    if (node.op !== 'low_rank') continue;
    const from = node.params.rank;
    const inFeatures = lastDim(c.shapes.get(node.inputs[0]));
    const maxRank = Math.min(inFeatures, node.params.units, 1024);
    const targets = [from * 2, Math.floor(from / 2)].filter((to) => to !== from && to >= 1 && to <= maxRank);
    for (const to of targets) {
      out.push({
        kind: 'rank',
        apply: () => ({
          nodes: replaceNode(c.ir.nodes, { ...node, params: { ...node.params, rank: to } }),
          output: c.ir.output,
          mutation: { kind: 'rank', nodeId: node.id, from, to, summary: `rank of '${node.id}' ${from} → ${to}` },
        }),
      });
    }
  }
  return out;
}

function activationCandidates(c: Context): Candidate[] {
  const out: Candidate[] = [];
  for (const node of c.ir.nodes) {
    if (node.op !== 'activation') continue;
    const from = node.params.fn;
    for (const to of MUTATION_ACTIVATIONS.filter((fn) => fn !== from)) {
      out.push({
        kind: 'activation',
        apply: () => ({
          nodes: replaceNode(c.ir.nodes, { ...node, params: { fn: to } }),
          output: c.ir.output,
          mutation: { kind: 'activation', nodeId: node.id, from, to, summary: `activation of '${node.id}' ${from} → ${to}` },
        }),
      });
    }
  }
  return out;
}

function densePair(denseId: string, actId: string, input: string, units: number, fn: MutationActivation): [BlueprintNode, BlueprintNode] {
  return [
    { id: denseId, op: 'dense', inputs: [input], params: { units, useBias: true, init: fn === 'relu' ? 'he_normal' : 'glorot_uniform' } },
    { id: actId, op: 'activation', inputs: [denseId], params: { fn } },
  ];
}

function depthCandidates(c: Context): Candidate[] {
  const out: Candidate[] = [];
  const { ir } = c;
  const count = ir.nodes.length;
  if (count + 2 <= MAX_BLUEPRINT_NODES) {
    for (const [index, node] of ir.nodes.entries()) {
      if (node.op === 'residual' || !c.inBranch.has(node.id)) continue;
      const fn = pick(c.rng, MUTATION_ACTIVATIONS);
      // After the node: every reader of it reads the pair instead.
      out.push({
        kind: 'depth',
        apply: () => {
          const [denseId, actId] = freshIds(ir, 'grow');
          const units = lastDim(c.shapes.get(node.id));
          const pair = densePair(denseId, actId, node.id, units, fn);
          const rest = ir.nodes.slice(index + 1).map((n) => rewire(n, node.id, actId));
          return {
            nodes: [...ir.nodes.slice(0, index + 1), ...pair, ...rest],
            output: ir.output === node.id ? actId : ir.output,
            mutation: { kind: 'depth', nodeId: denseId, from: count, to: count + 2, summary: `insert dense(${units}) → ${fn} after '${node.id}'` },
          };
        },
      });
      // In front of a node that opens a branch from the slot input: only its edge is rerouted (the skip path keeps the input).
      if (node.inputs.length === 1 && node.inputs[0] === BLUEPRINT_INPUT) {
        const before = pick(c.rng, MUTATION_ACTIVATIONS);
        out.push({
          kind: 'depth',
          apply: () => {
            const [denseId, actId] = freshIds(ir, 'grow');
            const units = lastDim(c.shapes.get(BLUEPRINT_INPUT));
            const pair = densePair(denseId, actId, BLUEPRINT_INPUT, units, before);
            return {
              nodes: [...ir.nodes.slice(0, index), ...pair, rewire(node, BLUEPRINT_INPUT, actId), ...ir.nodes.slice(index + 1)],
              output: ir.output,
              mutation: { kind: 'depth', nodeId: denseId, from: count, to: count + 2, summary: `insert dense(${units}) → ${before} before '${node.id}'` },
            };
          },
        });
      }
    }
  }
  // Removal: dense D (as many units as its input has features) read only by activation A; A's readers read D's input.
  for (const dense of ir.nodes) {
    if (dense.op !== 'dense') continue;
    const source = dense.inputs[0];
    if (dense.params.units !== lastDim(c.shapes.get(source))) continue;
    const readers = ir.nodes.filter((n) => n.inputs.includes(dense.id));
    const act = readers[0];
    if (readers.length !== 1 || act === undefined || act.op !== 'activation' || ir.output === dense.id) continue;
    if (ir.output === act.id && source === BLUEPRINT_INPUT) continue;
    out.push({
      kind: 'depth',
      apply: () => ({
        nodes: ir.nodes.filter((n) => n.id !== dense.id && n.id !== act.id).map((n) => rewire(n, act.id, source)),
        output: ir.output === act.id ? source : ir.output,
        mutation: { kind: 'depth', nodeId: dense.id, from: count, to: count - 2, summary: `remove dense '${dense.id}' → ${act.params.fn} '${act.id}'` },
      }),
    });
  }
  return out;
}

const CANDIDATES: Readonly<Record<MutationKind, (c: Context) => Candidate[]>> = {
  width: widthCandidates,
  rank: rankCandidates,
  activation: activationCandidates,
  depth: depthCandidates,
};

/** Nodes from which some residual node can be reached. */
function branchNodes(ir: BlueprintIR): Set<string> {
  const readers = new Map<string, string[]>();
  for (const node of ir.nodes) for (const input of node.inputs) readers.set(input, [...(readers.get(input) ?? []), node.id]);
  const ops = new Map(ir.nodes.map((n) => [n.id, n.op]));
  const inBranch = new Set<string>();
  for (const node of [...ir.nodes].reverse()) {
    const next = readers.get(node.id) ?? [];
    if (next.some((id) => ops.get(id) === 'residual' || inBranch.has(id))) inBranch.add(node.id);
  }
  return inBranch;
}

/** The family of a blueprint name: without a trailing `-<8 hex>` mutant suffix, at most 55 characters. */
export function mutantFamily(name: string): string {
  return name.replace(/-[0-9a-f]{8}$/, '').slice(0, 55).replace(/[-_]+$/, '') || 'bp';
}

function childIr(parent: BlueprintIR, nodes: BlueprintNode[], output: string): Record<string, unknown> {
  const graph = createHash('sha256').update(canonicalJson({ nodes, output }), 'utf8').digest('hex');
  const tags = parent.tags.includes(MUTANT_TAG) || parent.tags.length >= 32 ? [...parent.tags] : [...parent.tags, MUTANT_TAG];
  return {
    irVersion: parent.irVersion,
    name: `${mutantFamily(parent.name)}-${graph.slice(0, 8)}`,
    tags,
    interface: parent.interface,
    nodes,
    output,
  };
}

/**
 * One random mutation of `parent` that passes static analysis for the same
 * slot interface (and keeps `startsAsIdentity` or `startsAsZero` when the
 * parent has it; a width blueprint changes only its k), or
 * null when none was found within `maxAttempts` analyses (or the parent
 * itself does not pass analysis).
 */
export function mutate(parent: BlueprintIR, rng: Rng, options: MutationOptions = {}): MutationResult | null {
  const iface = options.interface ?? parent.interface;
  const limits = options.limits ?? {};
  const base = analyzeBlueprint(parent, { interface: iface, limits });
  if (!base.ok) return null;
  const widthRole = base.ir.tags.includes(WIDTH_ROLE_TAG);
  const channels = widthRole ? Math.max(lastDim(iface.inputShape), lastDim(iface.outputShape)) : lastDim(iface.inputShape);
  const shapes = new Map<string, readonly number[]>([[BLUEPRINT_INPUT, iface.inputShape]]);
  for (const node of base.report.perNode) shapes.set(node.id, node.outputShape);
  const context: Context = {
    ir: base.ir,
    shapes,
    inBranch: branchNodes(base.ir),
    minWidth: Math.max(1, options.minWidth ?? 1),
    maxWidth: Math.min(MAX_DIM, options.maxWidth ?? DEFAULT_MAX_WIDTH_FACTOR * Math.max(1, channels)),
    rng,
  };
  const { startsAsIdentity: keepIdentity, startsAsZero: keepZero } = base.report;
  let attempts = Math.max(1, options.maxAttempts ?? DEFAULT_MUTATION_ATTEMPTS);
  const allowed = options.kinds ?? MUTATION_KINDS;
  const kinds = rng.shuffle([...new Set(widthRole ? allowed.filter((k) => k === 'width') : allowed)]);
  for (const kind of kinds) {
    const candidates = rng.shuffle(CANDIDATES[kind](context));
    for (const candidate of candidates) {
      if (attempts <= 0) return null;
      attempts--;
      const { nodes, output, mutation } = candidate.apply();
      const analysis = analyzeBlueprint(childIr(base.ir, nodes, output), { interface: iface, limits });
      if (!analysis.ok) continue;
      if ((keepIdentity && !analysis.report.startsAsIdentity) || (keepZero && !analysis.report.startsAsZero)) continue;
      if (analysis.report.irHash === base.report.irHash) continue;
      return {
        ir: analysis.ir,
        report: analysis.report,
        mutation,
        ...(options.parentId === undefined ? {} : { parentId: options.parentId }),
      };
    }
  }
  return null;
}
