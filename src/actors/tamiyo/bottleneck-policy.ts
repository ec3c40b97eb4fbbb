/**
 * Tamiyo's bottleneck policy (issue 11): it finds the layer that limits the
 * network and widens it early, instead of waiting for a plateau. Pure and
 * deterministic, built on the heuristic (whose rules carry every live seed
 * through its lifecycle, and whose plateau rule still adds depth).
 *
 * **Signals** (the packet's `layers`, measured by the training worker on a
 * fixed probe batch): per hidden layer its width, the effective rank of its
 * activations, the fraction of dead units, and GradMax's gradient score (how
 * fast the loss would fall along the best new unit there).
 *
 * **Width rule**, checked first at every packet. Grow when:
 * - the epoch is past `growFromEpoch` and within the first
 *   `growUntilFraction` of the run (late growth does not pay back);
 * - the seed, on the lifecycle's fastest path (`epochsToMerge` epochs from
 *   the decision to the merge: TRAINING, the α ramp, one epoch at α = 1),
 *   would be merged within the first `mergeByFraction` of the run, so the
 *   grown layer trains at its final width for the rest (40 %, by default).
 *   The window on the start alone let a 15-epoch CNN conv 2 → conv 4 widen
 *   its first block at epoch 7, merged at epoch 12: its static twin c18-c36
 *   reached 89.98 % where the grown model reached 88.72 % (resolution 0.77 /
 *   0.66 over data seeds 0–4, against 1.06 / 0.80 with the second block
 *   widened alone). A third of the run at the final width is not enough
 *   either: with ⅔ (`bottleneck@7`) that CNN widened its first block at
 *   epoch 6, merged at 10 of 15, and resolved 0.81 / 0.67; a 10-epoch
 *   784-4-10 merged at 5 (half the run at its final width) resolves 1.01 /
 *   0.97;
 * - fewer than `maxLiveWidthSeeds` width seeds on dense layers are live
 *   when the layer to widen is dense (default 1: one growth step at a
 *   time), fewer than `maxLiveConvWidthSeeds` on conv blocks when it is a
 *   conv block (default 2, `bottleneck@15`: nothing after a conv block sees
 *   more than it passes on, so a narrow CNN's blocks are bottlenecks
 *   together; one at a time, sweep 7's conv 3 → conv 8 widened its first
 *   block on two data seeds of five, too late to pay back, 0.988 / 0.746;
 *   side by side on all five, 0.921 / 0.763 and grown models 0.4–1.5
 *   points better) — the two kinds apart (`bottleneck@16`: a CNN's dense
 *   layer grows beside its conv blocks; one kind at a time, whichever went
 *   first, the other often never grew: sweep 5's conv 2 → conv 3 → dense 16
 *   widened the dense layer first on two data seeds and neither block
 *   grew, 87.45 and 86.30 % where both kinds side by side reach 90.02 and
 *   90.12 %) —, none on the layer to widen, and fewer than
 *   `maxLiveSeeds` depth seeds are; a merge widens a live width seed on a
 *   neighbouring layer with zero weights where the new units meet it;
 * - the seed budget is not spent;
 * - some layer that could grow is *saturated*: effective rank ≥
 *   `saturation` × its live units (its units all carry their own direction:
 *   no room left), or every unit of it is dead (no capacity at all).
 * A layer could grow when it has a free width slot and a width kernel within
 * the budget, carries no depth seed, no width seed of it is in its
 * embargo (a layer whose last growth was pruned leaves the next try to the
 * others), and neither hidden layer beside it has all its units dead (its
 * seed could not learn: {@link deadNeighbour}). Saturation says *when*;
 * *where* is the layer that could grow with the largest gradient score
 * ({@link comparableScore}: a dense layer's as it is, a conv block's per
 * pixel of the coarsest conv block) — of the conv blocks only the narrowest
 * competes ({@link narrowestConvBlock}), and no dense layer while a
 * narrower saturated dense layer, before or after it, could grow ({@link narrowerSaturatedDense}) — saturated or still at its first
 * width — a layer that grew must be saturated again to
 * grow again (right after a merge its new units carry little: a 784-8-8-10
 * layer widened to 72 read 0.17, scored above the saturated first layer,
 * was widened again and pruned, and the first layer grew 7 epochs late).
 * How much: the width kernel whose k is closest to `growthFactor` × the
 * layer's width now (ties to the larger). The decision's reason names every
 * layer's signals, so `esper audit` shows why a layer was widened.
 * One growth per decision by default; with `germinateTogether` (opt-in)
 * every further layer that may grow beside it and qualifies once it is
 * counted live starts in the same decision ({@link widthGrowthsFor}) — it
 * changed a decision only where two layers were saturated at once (three
 * data seeds of five of a 15-epoch conv 1 → conv 8, none of the first four
 * of conv 2 → conv 16 or two of conv 2 → dense 16), and was no clear gain
 * there (docs/benchmarks.md, thirty-third session).
 *
 * **A CNN's dense layer grows with its conv block** (`denseGrowsWithConv`,
 * `bottleneck@18`): a decision that widens a conv block also widens the
 * dense hidden layer behind it, if that layer has never grown and is at
 * least half saturated (a wide dense layer has room for what the wider
 * block passes on). Behind a narrow block the dense layer reads little: on
 * conv 2 → dense 16 it crossed the threshold only once the block had
 * merged, four epochs later, and 72–83 % of its 144 units were then dead
 * (15–26 % grown with the block; docs/growth.md rule 13).
 *
 * **Early width seeds get patience.** A width seed germinated within the
 * first `patientUntilFraction` of the run that is *inconclusive* at HOLDING
 * (the validation loss lower with it and its accuracy contribution within
 * −0.5 pp, −0.5 included, but short of G5) keeps holding up to `holdingPatienceEpochs`,
 * measured again each epoch, before the heuristic's prune. New units earn
 * their keep over epochs, and early growth is the growth that pays back (a
 * 784-12-10 host's 96-unit seed measured −0.08 pp one epoch after its blend
 * and +1.28 pp the next). A later seed must prove itself at once: a marginal
 * late growth is kept at the price of a larger static baseline it cannot match.
 * On 200 spirals validation examples −0.5 pp is one example: a 2-3-3-2 seed
 * that lowered the loss by 7.7 % at exactly −0.5 pp was pruned at once.
 *
 * **A layer whose width seed was pruned is left to width** while the width
 * window is open (a seed germinated now would still merge in time): its
 * depth slot stays closed through the embargo, so the layer can grow again
 * after it. A plateau used to put a depth seed there first (spirals data
 * seed 9: a norm seed after a 3-unit layer, 90.5 % where widening it again
 * reached 99.5 %), and a layer with a depth seed never widens.
 *
 * **Otherwise** the heuristic decides, with only depth kernels to choose
 * from: live seeds advance, fossilize or are pruned by its rules, and a
 * plateau germinates a depth seed.
 *
 * **No prune judged in the epoch after a width merge** (`deferPruneAfterMerge`):
 * the merge restarted the host's optimizer state (and on a CNN shrank its
 * weights), so a live seed's prune that rests on that epoch's measurement
 * (a HOLDING verdict, a regression) waits an epoch and is judged again
 * ({@link widthMergesSeen}). Fossilizing is not deferred.
 *
 * **Training starts at germination.** Every GERMINATE (width or depth) is
 * followed in the same decision by an ADVANCE of the same seed: the trainer
 * checks G1 (kernel loaded, parameters finite) when it attaches the kernel,
 * so the seed starts TRAINING at the boundary it germinated at instead of
 * idling an epoch in GERMINATED (a width seed reached α = 1 five epochs after
 * the decision, three now: the α ramp's first tick applies on entering
 * BLENDING). Where the check fails, Kasmina refuses the
 * ADVANCE and the heuristic's rule asks again at the next packet.
 */
import type { AdaptationCommand, BlendSpec, BlendTempo, LayerSignals, SeedState, SystemStatePacket } from '../../contracts/index.ts';
import { LIVE_SEED_STAGES, MAX_COMMANDS_PER_DECISION } from '../../contracts/index.ts';
import { DEFAULT_GATE_CONFIG } from '../kasmina/index.ts';
import {
  DEFAULT_HEURISTIC_CONFIG,
  decideHeuristic,
  epochsToDecision,
  fieldReportsFor,
  parseHeuristicConfig,
  type HeuristicConfig,
  type HeuristicConfigInput,
} from './heuristic-policy.ts';
import {
  clip,
  initialPolicyMemory,
  seedCommand,
  trackGermination,
  type KernelChoice,
  type PolicyContext,
  type PolicyDecision,
  type PolicyMemory,
  type TamiyoPolicy,
  type TrackedSeed,
} from './policy.ts';
import { allDead, liveUnits, revivalFor, revivalsIssued, reviveCommand } from './dead-layer-revival.ts';

/** Name of the bottleneck policy. */
export const BOTTLENECK_POLICY_NAME = 'bottleneck';
/** Version of its rules (bump when a rule changes). */
export const BOTTLENECK_POLICY_VERSION = 18;
const LABEL = `${BOTTLENECK_POLICY_NAME}@${BOTTLENECK_POLICY_VERSION}`;

/** The width rule's thresholds (see the module comment). */
export interface WidthRuleConfig {
  readonly growFromEpoch: number;
  readonly growUntilFraction: number;
  /** A width seed must be expected to merge within this fraction of the run. */
  readonly mergeByFraction: number;
  /** Epochs from a width germination to its merge on the lifecycle's fastest path. */
  readonly epochsToMerge: number;
  readonly saturation: number;
  readonly growthFactor: number;
  /** Width seeds germinated within this fraction of the run get HOLDING patience. */
  readonly patientUntilFraction: number;
  /** Epochs of HOLDING patience for an early, inconclusive width seed. */
  readonly holdingPatienceEpochs: number;
  /** Width seeds live at once on dense layers, each on its own layer (a merge widens a live neighbour: `padWidthSeed`). */
  readonly maxLiveWidthSeeds: number;
  /** Width seeds live at once on a CNN's conv blocks (at least `maxLiveWidthSeeds`; its dense layers count apart, against `maxLiveWidthSeeds`). */
  readonly maxLiveConvWidthSeeds: number;
  /**
   * Every layer that may grow beside another starts in the same decision
   * ({@link widthGrowthsFor}); false: one growth per decision, the next a
   * decision later.
   */
  readonly germinateTogether: boolean;
  /**
   * A decision that widens a CNN's conv block also widens its dense hidden
   * layer, if that layer has never grown, could grow and is at least half
   * saturated (`saturation` / 2) ({@link widthGrowthsFor}); false: the dense
   * layer waits until it is saturated on its own.
   */
  readonly denseGrowsWithConv: boolean;
  /**
   * In the epoch after a width seed merged (the host's optimizer state
   * restarted, a CNN's weights shrunk), a live seed's prune judged on that
   * epoch's measurement waits an epoch and is judged again
   * ({@link widthMergesSeen}); false: judged at once.
   */
  readonly deferPruneAfterMerge: boolean;
  /**
   * Epochs a width seed trains before the policy advances it to BLENDING
   * (the width slots' G2 minimum); depth seeds wait the heuristic's
   * `advanceTrainingEpochs` (theirs).
   */
  readonly trainingEpochs: number;
  /**
   * Epochs of a width seed's α ramp (1: none, α = 1 from its first BLENDING
   * epoch); undefined: the heuristic's `blend`, as for depth seeds.
   */
  readonly tempoEpochs?: BlendTempo | undefined;
}

/**
 * Epochs from a width seed's germination to its merge on the fastest path:
 * `trainingEpochs` in TRAINING, the α ramp's `tempoEpochs` ticks — the first
 * applied on entering BLENDING, so `tempoEpochs` − 1 epochs blending, at
 * least one (with no ramp it blends at α = 1) — and one epoch at α = 1 in
 * HOLDING (G5 measures it there).
 */
export function widthEpochsToMerge(trainingEpochs: number, tempoEpochs: number): number {
  return epochsToDecision(trainingEpochs, tempoEpochs);
}

/** Defaults of the width rule. */
export const DEFAULT_WIDTH_RULE: WidthRuleConfig = Object.freeze({
  growFromEpoch: 1,
  growUntilFraction: 0.5,
  // The grown layer trains at its final width for the last 40 % of the run (see the module comment).
  mergeByFraction: 0.6,
  // One epoch in TRAINING (the width G2 minimum), the default α ramp of 3.
  epochsToMerge: widthEpochsToMerge(1, 3),
  saturation: 0.45,
  growthFactor: 8,
  patientUntilFraction: 0.25,
  holdingPatienceEpochs: 3,
  maxLiveWidthSeeds: 1,
  // A CNN's conv blocks grow side by side (bottleneck@15): nothing after a block sees more than it passes on.
  maxLiveConvWidthSeeds: 2,
  germinateTogether: false,
  denseGrowsWithConv: true,
  deferPruneAfterMerge: true,
  trainingEpochs: 1,
});

/** A width growth chosen for a packet. */
export interface WidthGrowth {
  readonly seed: SeedState;
  readonly kernel: KernelChoice;
  readonly layer: LayerSignals;
  readonly saturation: number;
  /** The saturated layer that called for growth, when it is not the one widened. */
  readonly triggeredBy?: LayerSignals;
  /** The conv block widened in the same decision that this dense layer grows with (`denseGrowsWithConv`). */
  readonly withConv?: LayerSignals;
}

const LIVE: ReadonlySet<string> = new Set(LIVE_SEED_STAGES);
/** Stages of a pruned seed until its slot is free again (its embargo). */
const COOLING: ReadonlySet<string> = new Set(['PRUNED', 'EMBARGOED', 'RESETTING']);
/** Stages of a width seed whose layer has grown or is growing. */
const WIDENED: ReadonlySet<string> = new Set([...LIVE_SEED_STAGES, 'FOSSILIZED']);

const fmt = (v: number, digits = 2): string => (Number.isInteger(v) ? String(v) : v.toFixed(digits));

/** True for a conv block (more than one output position per channel). */
function isConvBlock(layer: LayerSignals): boolean {
  return (layer.positions ?? 1) > 1;
}

/** Which width limit a layer's growth counts against: a conv block's (`maxLiveConvWidthSeeds`) or a dense layer's (`maxLiveWidthSeeds`). */
function layerKind(layer: LayerSignals): 'conv' | 'dense' {
  return isConvBlock(layer) ? 'conv' : 'dense';
}

/**
 * How much of its live units a layer uses: effective rank / (width × (1 −
 * dead fraction)); 1 when every unit is dead. A layer with no live unit
 * passes nothing on (a 784-2-10 host whose two ReLUs die at initialisation
 * stays at chance for the whole run, and so does its static twin): new units
 * are the only remedy, and a depth seed after it only reads zeros.
 */
export function layerSaturation(layer: LayerSignals): number {
  if (allDead(layer)) return 1;
  return layer.effectiveRank / Math.max(1, liveUnits(layer));
}

/**
 * Why a width seed on `layer` could not learn, when a neighbouring hidden
 * layer's units are all dead: its Ω feeds the next layer's pre-activation,
 * where no gradient passes a dead ReLU, and its units read the previous
 * layer's output, all zeros (they could only be constants). A 784-2-2-10
 * host whose four ReLUs died in its first epoch (Fashion-MNIST data seed 1)
 * widened its first layer, and the seed stood 15 epochs in TRAINING with a
 * gradient of exactly 0 before the heuristic pruned it as stalled; widening
 * the second layer instead gave it 16 constant units, pruned at HOLDING for
 * adding nothing. Growth cannot revive such a network one layer at a time.
 */
export function deadNeighbour(layer: LayerSignals, layers: readonly LayerSignals[]): string | undefined {
  const fed = layers.find((l) => l.layer === layer.layer + 1);
  if (fed !== undefined && allDead(fed)) return `L${layer.layer} feeds L${fed.layer}, whose units are all dead (no gradient would reach its seed)`;
  const read = layers.find((l) => l.layer === layer.layer - 1);
  if (read !== undefined && allDead(read)) return `L${layer.layer} reads L${read.layer}, whose units are all dead (its new units could only be constants)`;
  return undefined;
}

/**
 * The gradient score a layer is ranked by: a dense layer's as it is, a conv
 * block's rescaled to the pixels of the network's coarsest conv block
 * (score × P_coarsest / P_layer, P the pooled pixels, the signal
 * `positions`). A new channel's first-order gain sums over every pixel it
 * writes, so raw, an early high-resolution block outscores a later one by its
 * pixel count whether or not it is the bottleneck: on a Fashion-MNIST CNN
 * conv 2 → conv 4 (14×14 and 7×7 pooled pixels) the first block scored 0.364
 * against 0.194 and was widened 2 → 18 channels behind the 4 channels that
 * feed the classifier; the grown model reached only 0.62–0.76 of its static
 * twin's gain, where widening the second block resolved 1.06–1.63. Between
 * conv blocks this is the per-pixel ranking. The coarsest block's channels
 * are what the dense layers read, so it is compared with them as it is: per
 * pixel (bottleneck@3) a conv channel's score was 60× under a 16-unit dense
 * layer's on a conv 2 → dense 16 host, whose conv block is the bottleneck
 * (data seed 1: static c18-d16 89.28 %, c2-d144 88.00 %, host 86.70 %), and
 * raw it is about 3× over it.
 */
export function comparableScore(layer: LayerSignals, layers: readonly LayerSignals[]): number {
  const positions = layer.positions ?? 1;
  if (positions <= 1) return layer.gradientScore;
  const coarsest = Math.min(...layers.filter(isConvBlock).map((l) => l.positions ?? 1));
  return (layer.gradientScore * coarsest) / positions;
}

/** The values a layer passes on per example: units, or a conv block's channels × pooled positions. */
export function layerValues(layer: LayerSignals): number {
  return layer.width * (layer.positions ?? 1);
}

/**
 * Of the conv blocks among `candidates`, the one that passes on the fewest
 * values per example (channels × pooled positions; ties to the higher
 * score, then the earlier block): the conv blocks' bottleneck. Nothing after
 * a block sees more than it passes on, so a narrow early block limits every
 * later one however wide, and among conv blocks the gradient score ranked
 * the wrong one. On a Fashion-MNIST CNN conv 2 → conv 16 (15 epochs, data
 * seed 0) the second block scored 0.210 against the first's 0.387 (0.097
 * rescaled to the second block's pixels) and was widened 16 → 144: static c2-c144 87.48 %, host
 * 86.80 %, 65,152 parameters worth 0.7 points; grown 87.95 %. The first
 * block passes on 2 × 196 values, the second 16 × 49; widened 2 → 18
 * (2,464 parameters) the grown model reached 89.55 % and its static twin
 * c18-c16 90.08 %. On conv 2 → conv 4 (2 × 196 against 4 × 49) both rules
 * widen the second block. The block chosen competes with the dense layers
 * on its score, as before.
 */
export function narrowestConvBlock<T extends { readonly layer: LayerSignals; readonly score: number }>(candidates: readonly T[]): T | undefined {
  return candidates
    .filter((c) => isConvBlock(c.layer))
    .sort((a, b) => layerValues(a.layer) - layerValues(b.layer) || b.score - a.score || a.layer.layer - b.layer.layer)[0];
}

/**
 * A saturated dense layer among `candidates` narrower than `candidate` (a
 * dense layer; none for any other), before or after it, if any (the
 * narrowest, then the earliest). Such a layer goes first: a chain of dense
 * layers passes on no more than its narrowest layer carries, so a wider
 * layer on either side of it saturates on what it reads or on what may
 * reach the output, not on its own width, however it scores.
 * - Before it (`bottleneck@12`): on a Fashion-MNIST 784-3-16-12-10 (plain
 *   SGD 0.1, batch 32, 15 epochs, a held-out spec), at epoch 1 the 3-unit
 *   first layer was saturated (0.99) and the 12-unit third, with an
 *   effective rank of 2.68 behind it, just under the threshold (0.447) but
 *   scoring 0.731 against 0.595: it was widened 12 → 108 on data seeds 1, 2
 *   and 4, and the grown models stayed near their hosts (resolution −0.08,
 *   −4.7 and 0.31) while data seeds 0 and 3, which widened the first layer,
 *   resolved 1.10 and 0.91.
 * - After it (`bottleneck@14`): on a Fashion-MNIST 784-6-3-10 (plain SGD
 *   0.1, batch 64, 10k images, 15 epochs, a held-out spec of sweep 5), data
 *   seed 0, at epoch 1 the 6-unit first layer scored 0.696 (saturation 0.55)
 *   and the 3-unit second, two of its units dead, 0.447: the first was
 *   widened 6 → 54, merged at epoch 5, and the second never grew (the window
 *   had closed); the grown model ended at 37.85 %, under its host (38.65 %),
 *   where a static 784-54-3-10 reaches 82.05 % (widening the second first:
 *   81.40 %). On 784-10-2-10-10 (SGD 0.15, sweep 4) the 10-unit first
 *   layer went first on four data seeds and three grafts fell 30–79 %
 *   (resolution 0.771 / −1.04); with the 2-unit second first, 0.916 /
 *   0.816 and the largest fall 9.6 %. It costs where the wider layer was
 *   the better first step: 784-8-3-10 (SGD 0.05) 0.923 / 0.788 → 0.860 /
 *   0.788, and data seed 2 of 784-6-3-10, whose first layer was dying.
 * Conv blocks are ranked among themselves by {@link narrowestConvBlock}; a
 * dense layer behind a conv block is not compared with it here.
 */
export function narrowerSaturatedDense<T extends { readonly layer: LayerSignals; readonly saturation: number }>(candidate: T, candidates: readonly T[], saturation: number): T | undefined {
  if (candidate.layer.kind !== 'dense') return undefined;
  return candidates
    .filter((c) => c.layer.kind === 'dense' && c.layer.layer !== candidate.layer.layer && c.saturation >= saturation && c.layer.width < candidate.layer.width)
    .sort((a, b) => a.layer.width - b.layer.width || a.layer.layer - b.layer.layer)[0];
}

/** A layer's gradient score per output position (a conv block's over its pooled pixels), as the decision reasons show it. */
export function perPositionScore(layer: LayerSignals): number {
  return layer.gradientScore / (layer.positions ?? 1);
}

const describeScore = (l: LayerSignals): string =>
  isConvBlock(l) ? `grad ${l.gradientScore.toPrecision(3)} (${perPositionScore(l).toPrecision(3)}/px × ${l.positions})` : `grad ${l.gradientScore.toPrecision(3)}`;

/** One line per layer: what the decision saw. */
export function describeLayers(layers: readonly LayerSignals[]): string {
  return layers.map((l) => `L${l.layer} w${l.width} rank ${fmt(l.effectiveRank)} sat ${fmt(layerSaturation(l))} dead ${fmt(l.deadFraction)} ${describeScore(l)}`).join(', ');
}

/** The width kernel for a slot whose k is closest to `target` (ties to the larger), within `remaining` parameters. */
export function widthKernelFor(kernels: readonly KernelChoice[], interfaceKey: string | undefined, target: number, remaining: number): KernelChoice | undefined {
  const fits = kernels.filter(
    (k) => (k.status === undefined || k.status === 'VALIDATED') && k.units !== undefined && (interfaceKey === undefined || k.interfaceKey === interfaceKey) && k.paramCount <= remaining,
  );
  fits.sort((a, b) => Math.abs((a.units ?? 0) - target) - Math.abs((b.units ?? 0) - target) || (b.units ?? 0) - (a.units ?? 0) || (a.kernelId < b.kernelId ? -1 : 1));
  return fits[0];
}

/**
 * The width growth for `packet`, or why none. With `withConv` (a conv block
 * this decision widens), only a dense layer that has never grown may be
 * chosen, at least half saturated: it grows with the block.
 */
export function widthGrowthFor(packet: SystemStatePacket, context: PolicyContext, rule: WidthRuleConfig, maxLiveSeeds: number, withConv?: LayerSignals): WidthGrowth | { readonly wait: string } {
  const layers = packet.layers ?? [];
  const places = context.slots ?? {};
  if (layers.length === 0) return { wait: 'no layer signals' };
  if (packet.epoch < rule.growFromEpoch) return { wait: `epoch ${packet.epoch} < ${rule.growFromEpoch}` };
  if (context.epochs !== undefined && packet.epoch > rule.growUntilFraction * context.epochs) {
    return { wait: `epoch ${packet.epoch} is past ${fmt(rule.growUntilFraction)} of ${context.epochs}` };
  }
  if (!widthMayStillGrow(packet, context, rule)) {
    return { wait: `a seed germinated now would merge at epoch ${packet.epoch + rule.epochsToMerge}, past ${fmt(rule.mergeByFraction)} of ${context.epochs}` };
  }
  const live = packet.seeds.filter((s) => LIVE.has(s.stage));
  const liveWidth = live.filter((s) => places[s.slotId]?.role === 'width');
  // Conv blocks and dense layers grow side by side, each kind up to its own limit (`maxLiveConvWidthSeeds`, `maxLiveWidthSeeds`).
  const onConvBlock = (seed: SeedState): boolean => {
    const layer = layers.find((l) => l.layer === places[seed.slotId]?.layer);
    return layer !== undefined && isConvBlock(layer);
  };
  const liveConv = liveWidth.filter(onConvBlock).length;
  const full = { conv: liveConv >= Math.max(rule.maxLiveWidthSeeds, rule.maxLiveConvWidthSeeds), dense: liveWidth.length - liveConv >= rule.maxLiveWidthSeeds };
  if (layers.every((l) => full[layerKind(l)])) return { wait: liveWidth.length === 1 ? 'a width seed is growing' : `${liveWidth.length} width seeds are growing` };
  if (live.length - liveWidth.length >= maxLiveSeeds) return { wait: `${live.length} live seeds` };
  const holding = packet.seeds.filter((s) => LIVE.has(s.stage) || s.stage === 'FOSSILIZED').length;
  if (holding >= context.budget.maxSeeds) return { wait: `seed budget spent (${holding}/${context.budget.maxSeeds})` };
  const remaining = context.budget.maxParamsAdded - context.budget.paramsAdded;
  const candidates: (WidthGrowth & { score: number })[] = [];
  const skipped: string[] = [];
  /** The seeds of the `role` slots on `layer`. */
  const seedsOn = (role: 'width' | 'depth', layer: number): SeedState[] => packet.seeds.filter((s) => places[s.slotId]?.role === role && places[s.slotId]?.layer === layer);
  for (const layer of layers) {
    const saturation = layerSaturation(layer);
    const widthSeeds = seedsOn('width', layer.layer);
    const dead = deadNeighbour(layer, layers);
    if (dead !== undefined) {
      skipped.push(dead);
      continue;
    }
    if (widthSeeds.some((s) => LIVE.has(s.stage))) {
      skipped.push(`L${layer.layer} is growing`);
      continue;
    }
    if (full[layerKind(layer)]) {
      skipped.push(`L${layer.layer} waits: ${layerKind(layer) === 'conv' ? 'conv blocks' : 'dense layers'} growing at the limit`);
      continue;
    }
    if (withConv !== undefined && (isConvBlock(layer) || widthSeeds.some((s) => s.stage === 'FOSSILIZED'))) {
      skipped.push(`L${layer.layer} does not grow with L${withConv.layer}`);
      continue;
    }
    if (withConv !== undefined && saturation < rule.saturation / 2) {
      // A dense layer far from saturated has room for what the wider block passes on (and widening a wide one costs the most).
      skipped.push(`L${layer.layer} not saturated enough to grow with L${withConv.layer} (${fmt(saturation)} < ${fmt(rule.saturation / 2)})`);
      continue;
    }
    if (saturation < rule.saturation) {
      // A layer that grew must use up its new units before it grows again (right after a merge they carry little: 0.17).
      const grown = widthSeeds.some((s) => s.stage === 'FOSSILIZED');
      skipped.push(`L${layer.layer} not saturated (${fmt(saturation)} < ${fmt(rule.saturation)})${grown ? ' since it grew' : ''}`);
      if (grown) continue;
    }
    // A width seed of this layer was just pruned (it is embargoed): try the other layers first.
    const failed = widthSeeds.some((s) => COOLING.has(s.stage));
    if (failed) {
      skipped.push(`L${layer.layer} cooling down after a pruned width seed`);
      continue;
    }
    // A depth seed after the layer reads its activation at the width it was built for: the layer cannot widen under it.
    const depthHeld = seedsOn('depth', layer.layer).some((s) => LIVE.has(s.stage) || s.stage === 'FOSSILIZED');
    if (depthHeld) {
      skipped.push(`L${layer.layer} carries a depth seed`);
      continue;
    }
    const seed = widthSeeds.find((s) => s.stage === 'DORMANT');
    if (seed === undefined) {
      skipped.push(`L${layer.layer} has no free width slot`);
      continue;
    }
    const kernel = widthKernelFor(context.availableKernels, context.slotInterfaces?.[seed.slotId], rule.growthFactor * layer.width, remaining);
    if (kernel === undefined) {
      skipped.push(`L${layer.layer} has no width kernel within the budget`);
      continue;
    }
    candidates.push({ seed, kernel, layer, saturation, score: comparableScore(layer, layers) });
  }
  // Saturation says *when* (some layer that can grow has no room left); the score says *where*, the conv blocks represented by their
  // narrowest, and no dense layer beside a narrower saturated one.
  const trigger = withConv !== undefined ? candidates[0] : candidates.filter((c) => c.saturation >= rule.saturation).sort((a, b) => b.saturation - a.saturation)[0];
  if (trigger === undefined) return { wait: skipped.join('; ') || 'no layer to widen' };
  const narrowest = narrowestConvBlock(candidates);
  const ranked = candidates.filter((c) => (isConvBlock(c.layer) ? c === narrowest : narrowerSaturatedDense(c, candidates, rule.saturation) === undefined));
  ranked.sort((a, b) => b.score - a.score || a.layer.layer - b.layer.layer);
  const best = ranked[0];
  if (best === undefined) return { wait: skipped.join('; ') || 'no layer to widen' };
  if (withConv !== undefined) return { seed: best.seed, kernel: best.kernel, layer: best.layer, saturation: best.saturation, withConv };
  return { seed: best.seed, kernel: best.kernel, layer: best.layer, saturation: best.saturation, ...(best.saturation >= rule.saturation ? {} : { triggeredBy: trigger.layer }) };
}

/**
 * Every width growth that may start now: {@link widthGrowthFor}'s, and with
 * `germinateTogether` each further one it finds once those are counted live
 * and their parameters spent (a CNN's second conv block beside its first,
 * its dense layer beside them), in the order chosen; or why none may.
 */
export function widthGrowthsFor(packet: SystemStatePacket, context: PolicyContext, rule: WidthRuleConfig, maxLiveSeeds: number): WidthGrowth[] | { readonly wait: string } {
  const first = widthGrowthFor(packet, context, rule, maxLiveSeeds);
  if ('wait' in first) return first;
  const growths: WidthGrowth[] = [first];
  let seeds = packet.seeds;
  let paramsAdded = context.budget.paramsAdded;
  /** Counts a started growth live and its parameters spent, for the growths chosen after it. */
  const start = (growth: WidthGrowth): void => {
    seeds = seeds.map((s) => (s.seedId === growth.seed.seedId ? { ...s, stage: 'TRAINING' as const } : s));
    paramsAdded += growth.kernel.paramCount;
  };
  /** The next growth beside those started, optionally a dense layer's with the conv block `withConv`. */
  const next = (withConv?: LayerSignals): WidthGrowth | { readonly wait: string } =>
    widthGrowthFor({ ...packet, seeds }, { ...context, budget: { ...context.budget, paramsAdded } }, rule, maxLiveSeeds, withConv);
  start(first);
  if (rule.germinateTogether) {
    for (let growth = next(); !('wait' in growth); growth = next()) {
      growths.push(growth);
      start(growth);
    }
  }
  const conv = growths.find((g) => isConvBlock(g.layer));
  if (rule.denseGrowsWithConv && conv !== undefined && !growths.some((g) => !isConvBlock(g.layer))) {
    // A conv block widened multiplies what the dense layer behind it reads: it grows now, not once saturated on the wider input.
    const dense = next(conv.layer);
    if (!('wait' in dense)) growths.push(dense);
  }
  return growths;
}

/** The bottleneck policy's configuration: the width rule plus the heuristic it builds on. */
export interface BottleneckConfig {
  readonly width: WidthRuleConfig;
  readonly heuristic: HeuristicConfig;
}

/** Decides one packet (see the module comment). */
export function decideBottleneck(packet: SystemStatePacket, memory: PolicyMemory, context: PolicyContext, config: BottleneckConfig): PolicyDecision<PolicyMemory> {
  if (memory.lastDecision !== null && memory.lastDecision.packetId === packet.packetId) {
    return { commands: [...memory.lastDecision.commands], reason: memory.lastDecision.reason, memory };
  }
  const places = context.slots ?? {};
  const signals = packet.layers === undefined ? '' : ` [${describeLayers(packet.layers)}]`;
  const revival = revivalFor(packet, memory);
  if (revival !== undefined && 'layers' in revival) {
    // Nothing else this epoch: the signals are stale once the layers change (the heuristic only keeps its counts).
    const base = decideHeuristic(packet, memory, { ...context, availableKernels: [] }, config.heuristic, { policy: LABEL });
    const reason = clip(`${revival.why}${signals}`, 1000);
    const commands = [reviveCommand(packet, revival.layers, { deadlineMs: config.heuristic.commandDeadlineMs, policy: LABEL, reason: revival.why })];
    return { commands, reason, memory: { ...base.memory, revivals: revivalsIssued(memory) + 1, lastDecision: { packetId: packet.packetId, commands, reason } } };
  }
  const growth = widthGrowthsFor(packet, context, config.width, config.heuristic.maxLiveSeeds);
  const depthKernels = 'wait' in growth ? context.availableKernels.filter((k) => k.units === undefined) : [];
  // Width slots are the width rule's: the heuristic sees only depth kernels (none when a width seed is germinated now),
  // and no depth slot of a layer that is growing or has grown (its kernels were built for the layer's old width).
  const closed = closedSlots(packet, places, widthMayStillGrow(packet, context, config.width));
  const holdingPatience = (seed: SeedState, tracked: TrackedSeed | undefined): number =>
    places[seed.slotId]?.role === 'width' && tracked !== undefined && context.epochs !== undefined && tracked.fromEpoch <= config.width.patientUntilFraction * context.epochs
      ? config.width.holdingPatienceEpochs
      : 0;
  const heuristicContext = { ...context, availableKernels: depthKernels, slotInterfaces: { ...context.slotInterfaces, ...closed } };
  // Each kind advances after its own G2 minimum: an ADVANCE before it is only refused by the gate (and logged as a failure).
  const advanceTrainingEpochs = (seed: SeedState): number =>
    places[seed.slotId]?.role === 'width' ? config.width.trainingEpochs : config.heuristic.advanceTrainingEpochs;
  // Each kind blends by its own ramp: width seeds by the width rule's, depth seeds by the run's.
  const advanceBlend = (seed: SeedState): BlendSpec | undefined =>
    places[seed.slotId]?.role === 'width' && config.width.tempoEpochs !== undefined
      ? { curve: config.heuristic.blend?.curve ?? DEFAULT_GATE_CONFIG.defaultBlend.curve, tempoEpochs: config.width.tempoEpochs }
      : config.heuristic.blend;
  // A seed measured in the epoch after a width merge is measured on a disturbed host: a prune on it waits an epoch.
  const merged = config.width.deferPruneAfterMerge ? widthMergesSeen(packet, memory, places) : [];
  const pruneDeferral = merged.length === 0 ? undefined : `measured in the epoch after ${merged.join(', ')} merged: judged again next epoch`;
  const base = decideHeuristic(packet, memory, heuristicContext, config.heuristic, { policy: LABEL, holdingPatience, advanceTrainingEpochs, advanceBlend, pruneDeferral });
  if ('wait' in growth) {
    const dead = revival === undefined ? '' : `; revival: wait (${revival.wait})`;
    const reason = clip(`${base.reason}; width: wait (${growth.wait})${dead}${signals}`, 1000);
    const commands = withTrainingStarted(packet, base.commands, config);
    return { commands, reason, memory: { ...base.memory, lastDecision: { packetId: packet.packetId, commands, reason } } };
  }
  const started = growth.map((g) => ({ ...g, ...germination(packet, g, config) }));
  const commands = withTrainingStarted(packet, [...base.commands, ...started.map((g) => g.command)], config);
  const reason = clip(`${started.map((g) => g.why).join('; ')}; ${base.reason}${signals}`, 1000);
  const seeds = { ...base.memory.seeds };
  for (const { seed, kernel, command } of started) seeds[seed.seedId] = trackGermination(seed, kernel, command.commandId, packet.epoch);
  return { commands, reason, memory: { ...base.memory, seeds, lastDecision: { packetId: packet.packetId, commands, reason } } };
}

/** The GERMINATE command of a width growth, and why (named in the command and the decision's reason). */
function germination(packet: SystemStatePacket, growth: WidthGrowth, config: BottleneckConfig): { command: AdaptationCommand; why: string } {
  const { seed, kernel, layer, saturation, triggeredBy, withConv } = growth;
  const saturationText =
    withConv !== undefined
      ? `saturation ${fmt(saturation)}, growing with L${withConv.layer} (a conv block widened now widens what it reads)`
      : triggeredBy === undefined
      ? `saturation ${fmt(saturation)} ≥ ${fmt(config.width.saturation)}`
      : `saturation ${fmt(saturation)}; L${triggeredBy.layer} is saturated (${fmt(layerSaturation(triggeredBy))}) and scores lower`;
  const why = `widen L${layer.layer} (w${layer.width}, ${saturationText}, ${describeScore(layer).replace('grad', 'gradient score')}) by ${kernel.units ?? '?'} units: ${kernel.blueprintId} (${kernel.paramCount} params) in ${seed.slotId}`;
  const command = seedCommand(packet, seed.seedId, { op: 'GERMINATE', kernelId: kernel.kernelId, blueprintId: kernel.blueprintId }, { deadlineMs: config.heuristic.commandDeadlineMs, policy: LABEL, reason: why });
  return { command, why };
}

/** `commands` with an ADVANCE (→ TRAINING) after every GERMINATE, for the same seed (see the module comment). */
export function withTrainingStarted(packet: SystemStatePacket, commands: readonly AdaptationCommand[], config: BottleneckConfig): AdaptationCommand[] {
  const out: AdaptationCommand[] = [];
  for (const command of commands) {
    out.push(command);
    if (command.seedOperation?.op !== 'GERMINATE' || command.targetSeedId === undefined) continue;
    out.push(
      seedCommand(packet, command.targetSeedId, { op: 'ADVANCE' }, {
        deadlineMs: config.heuristic.commandDeadlineMs,
        policy: LABEL,
        reason: 'germinated → start training at once (G1 checked when the kernel attached)',
      }),
    );
  }
  return out.slice(0, MAX_COMMANDS_PER_DECISION);
}

/**
 * Slots the heuristic must not germinate into, given an interface key no
 * kernel has: every width slot, the depth slots of layers with a live or
 * merged width seed, and those after a layer whose units are all dead (a
 * depth seed there reads zeros: the same 784-2-2-10 host germinated a norm
 * seed after its dead first layer, which stood 15 epochs in TRAINING with no
 * gradient).
 */
function closedSlots(packet: SystemStatePacket, places: Readonly<Record<string, { role: string; layer: number }>>, widthMayGrow: boolean): Record<string, string> {
  const layersOf = (stages: ReadonlySet<string>): Set<number | undefined> =>
    new Set(packet.seeds.filter((s) => places[s.slotId]?.role === 'width' && stages.has(s.stage)).map((s) => places[s.slotId]?.layer));
  const widened = layersOf(WIDENED);
  const retrying = widthMayGrow ? layersOf(COOLING) : new Set<number | undefined>();
  const dead = new Set((packet.layers ?? []).filter(allDead).map((l) => l.layer));
  const closed: Record<string, string> = {};
  for (const [slotId, place] of Object.entries(places)) {
    if (place.role === 'width') closed[slotId] = 'closed:width-slot';
    else if (dead.has(place.layer)) closed[slotId] = 'closed:layer-dead';
    else if (widened.has(place.layer)) closed[slotId] = 'closed:layer-widened';
    else if (retrying.has(place.layer)) closed[slotId] = 'closed:layer-retrying-width';
  }
  return closed;
}

/**
 * The width seeds this packet is the first to show FOSSILIZED (merged at the
 * boundary before the epoch it measured): the policy followed them live. A
 * merge restarts the host's optimizer state (and on a CNN shrinks its
 * weights), so that epoch's measurements of the other live seeds are of a
 * disturbed network: sweep 9's data seed 3 pruned its first block's seed at
 * HOLDING there (+0.05 pp, the loss 0.85 % higher with it; judged an epoch
 * later, +0.62 pp and merged) and kept a 1-channel block to the end.
 */
export function widthMergesSeen(packet: SystemStatePacket, memory: PolicyMemory, places: Readonly<Record<string, { role: string }>>): string[] {
  return packet.seeds
    .filter((s) => s.stage === 'FOSSILIZED' && places[s.slotId]?.role === 'width' && memory.seeds[s.seedId] !== undefined)
    .map((s) => s.seedId);
}

/** True while the width rule's window is open (a pruned width seed's layer may still grow: no depth seed takes it meanwhile). */
function widthMayStillGrow(packet: SystemStatePacket, context: PolicyContext, rule: WidthRuleConfig): boolean {
  return context.epochs === undefined || packet.epoch + rule.epochsToMerge <= rule.mergeByFraction * context.epochs;
}

/** What a run spec may set (the heuristic's keys plus the width rule's). */
export type BottleneckConfigInput = HeuristicConfigInput & Partial<WidthRuleConfig>;

/** The bottleneck policy as a {@link TamiyoPolicy}. */
export function bottleneckPolicy(input: BottleneckConfigInput = {}): TamiyoPolicy<PolicyMemory> {
  const { growFromEpoch, growUntilFraction, mergeByFraction, epochsToMerge, saturation, growthFactor, patientUntilFraction, holdingPatienceEpochs, maxLiveWidthSeeds, maxLiveConvWidthSeeds, germinateTogether, denseGrowsWithConv, deferPruneAfterMerge, trainingEpochs, tempoEpochs, ...heuristic } =
    input;
  const config: BottleneckConfig = {
    width: Object.freeze({
      growFromEpoch: growFromEpoch ?? DEFAULT_WIDTH_RULE.growFromEpoch,
      growUntilFraction: growUntilFraction ?? DEFAULT_WIDTH_RULE.growUntilFraction,
      mergeByFraction: mergeByFraction ?? DEFAULT_WIDTH_RULE.mergeByFraction,
      epochsToMerge: epochsToMerge ?? DEFAULT_WIDTH_RULE.epochsToMerge,
      saturation: saturation ?? DEFAULT_WIDTH_RULE.saturation,
      growthFactor: growthFactor ?? DEFAULT_WIDTH_RULE.growthFactor,
      patientUntilFraction: patientUntilFraction ?? DEFAULT_WIDTH_RULE.patientUntilFraction,
      holdingPatienceEpochs: holdingPatienceEpochs ?? DEFAULT_WIDTH_RULE.holdingPatienceEpochs,
      maxLiveWidthSeeds: maxLiveWidthSeeds ?? DEFAULT_WIDTH_RULE.maxLiveWidthSeeds,
      maxLiveConvWidthSeeds: maxLiveConvWidthSeeds ?? DEFAULT_WIDTH_RULE.maxLiveConvWidthSeeds,
      germinateTogether: germinateTogether ?? DEFAULT_WIDTH_RULE.germinateTogether,
      denseGrowsWithConv: denseGrowsWithConv ?? DEFAULT_WIDTH_RULE.denseGrowsWithConv,
      deferPruneAfterMerge: deferPruneAfterMerge ?? DEFAULT_WIDTH_RULE.deferPruneAfterMerge,
      trainingEpochs: trainingEpochs ?? DEFAULT_WIDTH_RULE.trainingEpochs,
      tempoEpochs,
    }),
    heuristic: heuristic === undefined ? DEFAULT_HEURISTIC_CONFIG : parseHeuristicConfig(heuristic),
  };
  return {
    name: BOTTLENECK_POLICY_NAME,
    version: BOTTLENECK_POLICY_VERSION,
    initialMemory: initialPolicyMemory,
    decide: (packet, memory, context) => decideBottleneck(packet, memory, context, config),
    fieldReports: (previous, next, packet) => fieldReportsFor(previous, next, packet, { policyVersion: LABEL }),
  };
}
