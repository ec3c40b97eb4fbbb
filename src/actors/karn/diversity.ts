/**
 * Keeping Karn's blueprints distinct (DESIGN §1 Karn: "keeps diversity").
 * Pure, apart from the registry's own map.
 *
 * **No duplicates.** Blueprints are content-addressed by their IR hash; the
 * {@link BlueprintRegistry} refuses a second blueprint with a hash it holds
 * (`ESPER_BLUEPRINT_DUPLICATE`, details `{irHash, existingId}`).
 *
 * **Diversity.** Each blueprint is described by a feature vector taken from
 * its static analysis report ({@link blueprintFeatures}):
 * - `ops` — the op histogram: the fraction of its nodes of each op;
 * - `logParams` — log10(1 + parameter count);
 * - `logDepth` — log10(1 + depth), depth being the longest input→output path;
 * - `identity` — 1 when it starts as the identity, else 0.
 *
 * The distance of two blueprints ({@link featureDistance}) is a weighted sum
 * of per-feature distances, each in [0, 1]:
 *
 *     d(a, b) = 0.4 · ½ Σ_op |ops_a − ops_b|                (total variation of the histograms)
 *             + 0.3 · min(1, |logParams_a − logParams_b| / log10(1 + maxParams))
 *             + 0.15 · min(1, |logDepth_a − logDepth_b| / log10(1 + maxDepth))
 *             + 0.15 · |identity_a − identity_b|
 *
 * with `maxParams` and `maxDepth` the blueprint limits (defaults 5,000,000 and
 * 32), so d ∈ [0, 1], d(a, a) = 0, and it is symmetric.
 *
 * The **diversity** of a set ({@link diversity}) is the mean, over its
 * members, of the distance to the nearest other member:
 *
 *     D(S) = (1/n) Σ_i min_{j≠i} d(i, j)        (0 when n < 2)
 *
 * in [0, 1]: 0 for a set of clones, high when no two members are alike. It
 * is the measure that matters for Karn, which must not fill the library with
 * near-copies: adding a clone of a member always lowers it (the member and
 * the clone both get a nearest distance of 0, no other member's nearest
 * distance grows, and n grows), unless it was 0 already. The catalog scores
 * about 0.10 (dense slots) to 0.13 (conv2d slots): it holds near-twins
 * (lora_r4/lora_r16, mlp_small/mlp_large differ only in size).
 *
 * The **spread** ({@link spread}) is the mean pairwise distance — about 0.33
 * for the catalog. It says how far apart the set reaches, but it is not a
 * redundancy measure: cloning an outlier of a tight set raises it. The
 * **novelty** of a candidate ({@link novelty}) is its distance to the nearest
 * member of a set (0 for a clone, 1 for an empty set). Karn reports all three
 * with every proposal.
 */
import { EsperError } from '../../errors/index.ts';
import { BLUEPRINT_OPS, type BlueprintOp } from '../../contracts/karn.ts';
import { DEFAULT_BLUEPRINT_LIMITS, type BlueprintReport } from '../../blueprint/blueprint-analysis.ts';

/** Weights of the feature distances (they sum to 1). */
export const DIVERSITY_WEIGHTS = Object.freeze({ ops: 0.4, params: 0.3, depth: 0.15, identity: 0.15 });

/** What the distance is measured on. */
export interface BlueprintFeatures {
  /** Fraction of the nodes of each op (sums to 1). */
  readonly ops: Readonly<Record<BlueprintOp, number>>;
  /** log10(1 + paramCount). */
  readonly logParams: number;
  /** log10(1 + depth). */
  readonly logDepth: number;
  /** 1 when it starts as the identity, else 0. */
  readonly identity: 0 | 1;
}

/** The scales that bring parameter counts and depths into [0, 1]. */
export interface DiversityScale {
  /** @default DEFAULT_BLUEPRINT_LIMITS.maxParams */
  readonly maxParams: number;
  /** @default DEFAULT_BLUEPRINT_LIMITS.maxDepth */
  readonly maxDepth: number;
}

/** The default scale: the default blueprint limits. */
export const DEFAULT_DIVERSITY_SCALE: DiversityScale = Object.freeze({
  maxParams: DEFAULT_BLUEPRINT_LIMITS.maxParams,
  maxDepth: DEFAULT_BLUEPRINT_LIMITS.maxDepth,
});

/** The features of an analysed blueprint. */
export function blueprintFeatures(report: Pick<BlueprintReport, 'perNode' | 'paramCount' | 'depth' | 'startsAsIdentity'>): BlueprintFeatures {
  const ops = Object.fromEntries(BLUEPRINT_OPS.map((op) => [op, 0])) as Record<BlueprintOp, number>;
  const total = report.perNode.length;
  for (const node of report.perNode) ops[node.op] += 1 / total;
  return {
    ops,
    logParams: Math.log10(1 + report.paramCount),
    logDepth: Math.log10(1 + report.depth),
    identity: report.startsAsIdentity ? 1 : 0,
  };
}

/** The distance of two blueprints' features, in [0, 1] (see the module comment). */
export function featureDistance(a: BlueprintFeatures, b: BlueprintFeatures, scale: DiversityScale = DEFAULT_DIVERSITY_SCALE): number {
  let tv = 0;
  for (const op of BLUEPRINT_OPS) tv += Math.abs(a.ops[op] - b.ops[op]);
  const ops = Math.min(1, tv / 2);
  const params = Math.min(1, Math.abs(a.logParams - b.logParams) / Math.log10(1 + Math.max(1, scale.maxParams)));
  const depth = Math.min(1, Math.abs(a.logDepth - b.logDepth) / Math.log10(1 + Math.max(1, scale.maxDepth)));
  const identity = Math.abs(a.identity - b.identity);
  const d = DIVERSITY_WEIGHTS.ops * ops + DIVERSITY_WEIGHTS.params * params + DIVERSITY_WEIGHTS.depth * depth + DIVERSITY_WEIGHTS.identity * identity;
  return Math.min(1, Math.max(0, d));
}

/** Mean distance from each member to its nearest other member, in [0, 1]; 0 for fewer than two blueprints. */
export function diversity(features: readonly BlueprintFeatures[], scale: DiversityScale = DEFAULT_DIVERSITY_SCALE): number {
  if (features.length < 2) return 0;
  const nearest = features.map(() => 1);
  for (let i = 0; i < features.length; i++) {
    for (let j = i + 1; j < features.length; j++) {
      const d = featureDistance(features[i] as BlueprintFeatures, features[j] as BlueprintFeatures, scale);
      if (d < (nearest[i] as number)) nearest[i] = d;
      if (d < (nearest[j] as number)) nearest[j] = d;
    }
  }
  return nearest.reduce((sum, d) => sum + d, 0) / features.length;
}

/** Mean pairwise distance of a set, in [0, 1]; 0 for fewer than two blueprints. */
export function spread(features: readonly BlueprintFeatures[], scale: DiversityScale = DEFAULT_DIVERSITY_SCALE): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < features.length; i++) {
    for (let j = i + 1; j < features.length; j++) {
      sum += featureDistance(features[i] as BlueprintFeatures, features[j] as BlueprintFeatures, scale);
      pairs++;
    }
  }
  return pairs === 0 ? 0 : sum / pairs;
}

/** Distance from `candidate` to the nearest member of `set`; 1 for an empty set. */
export function novelty(candidate: BlueprintFeatures, set: readonly BlueprintFeatures[], scale: DiversityScale = DEFAULT_DIVERSITY_SCALE): number {
  let nearest = 1;
  for (const member of set) nearest = Math.min(nearest, featureDistance(candidate, member, scale));
  return nearest;
}

/** A blueprint as the registry holds it. */
export interface RegisteredBlueprint {
  readonly blueprintId: string;
  readonly irHash: string;
  /** `slotInterfaceKey` of its interface: diversity is measured among blueprints of one interface. */
  readonly interfaceKey: string;
  readonly features: BlueprintFeatures;
  readonly parentBlueprintId?: string;
}

/** Blueprints by IR hash: at most one per hash. */
export class BlueprintRegistry {
  readonly #byHash = new Map<string, RegisteredBlueprint>();
  readonly #byId = new Map<string, RegisteredBlueprint>();

  /** Number of blueprints held. */
  get size(): number {
    return this.#byHash.size;
  }

  /** True when a blueprint with this IR hash is held. */
  has(irHash: string): boolean {
    return this.#byHash.has(irHash);
  }

  /** The blueprint with this IR hash. */
  get(irHash: string): RegisteredBlueprint | undefined {
    return this.#byHash.get(irHash);
  }

  /** The blueprint with this id. */
  byId(blueprintId: string): RegisteredBlueprint | undefined {
    return this.#byId.get(blueprintId);
  }

  /**
   * Adds a blueprint. Throws `ESPER_BLUEPRINT_DUPLICATE` (details `{irHash,
   * existingId}`) when its IR hash is held, `ESPER_CONFLICT` when its id is
   * held by another IR.
   */
  add(entry: RegisteredBlueprint): void {
    const existing = this.#byHash.get(entry.irHash);
    if (existing !== undefined) {
      throw new EsperError('ESPER_BLUEPRINT_DUPLICATE', `blueprint ${entry.blueprintId} duplicates ${existing.blueprintId} (same IR hash ${entry.irHash})`, {
        details: { irHash: entry.irHash, existingId: existing.blueprintId },
      });
    }
    const sameId = this.#byId.get(entry.blueprintId);
    if (sameId !== undefined) {
      throw new EsperError('ESPER_CONFLICT', `blueprint id ${entry.blueprintId} is held by another IR (${sameId.irHash})`, {
        details: { blueprintId: entry.blueprintId, irHash: entry.irHash, existingIrHash: sameId.irHash },
      });
    }
    this.#byHash.set(entry.irHash, entry);
    this.#byId.set(entry.blueprintId, entry);
  }

  /** Every blueprint, in the order added; only those of one interface when `interfaceKey` is given. */
  list(interfaceKey?: string): RegisteredBlueprint[] {
    const all = [...this.#byHash.values()];
    return interfaceKey === undefined ? all : all.filter((e) => e.interfaceKey === interfaceKey);
  }

  /** The {@link diversity} of the blueprints of one interface. */
  diversity(interfaceKey: string, scale: DiversityScale = DEFAULT_DIVERSITY_SCALE): number {
    return diversity(
      this.list(interfaceKey).map((e) => e.features),
      scale,
    );
  }

  /** The {@link spread} of the blueprints of one interface. */
  spread(interfaceKey: string, scale: DiversityScale = DEFAULT_DIVERSITY_SCALE): number {
    return spread(
      this.list(interfaceKey).map((e) => e.features),
      scale,
    );
  }
}
