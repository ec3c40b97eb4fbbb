/**
 * `esper run`: the run specification an operator writes (SPEC.json) and the
 * results the run leaves behind (`DIR/results.json`, DESIGN §9). The tensor
 * side of the spec is the training worker's own {@link TrainingSpecSchema},
 * embedded as is; the rest configures the controller (Tamiyo's policy),
 * the lifecycle gates, budgets, the blend schedule and which seed modules may
 * be grown. Accuracies are fractions in [0, 1]; `…Pp` fields are percentage
 * points and `…Pct` fields percent.
 */
import { z } from 'zod';
import { HostSpecSchema, TrainingSpecSchema } from './training-spec.ts';
import {
  BlueprintIdSchema,
  CheckpointIdSchema,
  KernelIdSchema,
  MAX_MAP_ENTRIES,
  RunIdSchema,
  SeedIdSchema,
  Sha256Schema,
  SlotIdSchema,
  TimestampSchema,
  count,
  finite,
  label,
  nonNegative,
  text,
  unitInterval,
} from './common.ts';
import { BlendCurveSchema, BlendTempoSchema, SeedStageSchema, TransitionCauseSchema } from './kasmina.ts';
import { MAX_SEEDS_PER_RUN, RollbackTriggerSchema } from './tolaria.ts';
import { FieldReportSchema } from './tamiyo.ts';

/** Most epochs a run may ask for. */
export const MAX_RUN_EPOCHS = 10_000;

/** Most blueprints or kernels an allow-list in `seedModules` may name. */
export const MAX_SEED_MODULES = 256;

/** Most stage transitions recorded for one seed in results.json. */
export const MAX_SEED_HISTORY = 10_000;

/** Most rollbacks recorded in results.json. */
export const MAX_RUN_ROLLBACKS = 1_000;

/**
 * Kinds of Tamiyo policy a run can ask for: `bottleneck` (the default) reads
 * per-layer signals and widens the layer that limits the network early,
 * adding depth on a plateau; `heuristic` adds depth seeds on a plateau only.
 */
export const RUN_POLICY_KINDS = ['bottleneck', 'heuristic'] as const;
export const RunPolicyKindSchema = z.enum(RUN_POLICY_KINDS);
export type RunPolicyKind = z.infer<typeof RunPolicyKindSchema>;

/**
 * Tamiyo's policy. Both kinds share the plateau rules (germinate a depth seed
 * when validation accuracy plateaus, fossilize seeds that earn their keep,
 * prune seeds that hurt); `bottleneck` adds the width rules (`grow…`). Epoch
 * counts are whole epochs; `…Pp` thresholds are percentage points of
 * validation accuracy. Every field has a default, so `{}` is a complete
 * policy (the bottleneck one).
 */
export const HeuristicPolicySpecSchema = z
  .object({
    /** Which policy. @default 'bottleneck' */
    kind: RunPolicyKindSchema.default('bottleneck'),
    /** Epochs without an improvement of more than `plateauDeltaPp` that count as a plateau (triggers a germination). 1–1000. @default 3 */
    plateauEpochs: z.number().int().min(1).max(1000).default(3),
    /** Smallest validation-accuracy gain, in percentage points, that counts as progress when detecting a plateau. 0–100. @default 0.1 */
    plateauDeltaPp: z.number().min(0).max(100).default(0.1),
    /** First epoch at which a germination may happen (lets the host settle first). 0–10,000. @default 3 */
    minEpochBeforeGerminate: z.number().int().min(0).max(MAX_RUN_EPOCHS).default(3),
    /** Epochs to wait after a germination before the next one. 0–10,000. @default 5 */
    germinateCooldownEpochs: z.number().int().min(0).max(MAX_RUN_EPOCHS).default(5),
    /** Counterfactual contribution, in percentage points, a HOLDING seed needs to be fossilized (gate G5). -100–100. @default 0.5 */
    fossilizeContributionPp: z.number().min(-100).max(100).default(0.5),
    /** A live seed whose contribution (or improvement since germination) falls to −`pruneRegressionPp` percentage points or below is pruned. 0–100. @default 1 */
    pruneRegressionPp: z.number().min(0).max(100).default(1),
    /** Most seeds alive (GERMINATED…HOLDING) at the same time. 1–1024. @default 1 */
    maxLiveSeeds: z.number().int().min(1).max(MAX_SEEDS_PER_RUN).default(1),
    /** Bottleneck: first epoch (1-based, the one just finished) after which a layer may be widened. 0–10,000. @default 1 */
    growFromEpoch: z.number().int().min(0).max(MAX_RUN_EPOCHS).default(1),
    /** Bottleneck: no layer is widened after this fraction of the run's epochs (late growth does not pay back). 0–1. @default 0.5 */
    growUntilFraction: z.number().min(0).max(1).default(0.5),
    /**
     * Bottleneck: a layer is widened only if the seed, on the lifecycle's
     * fastest path (G2's width minimum in TRAINING, the α ramp, one epoch at
     * α = 1), would be merged within this fraction of the run's epochs, so
     * the grown layer trains at its final width for the rest. 0–1. @default 0.6
     */
    mergeByFraction: z.number().min(0).max(1).default(0.6),
    /**
     * Bottleneck: width seeds live at once on dense layers, each on its own
     * layer (a merge widens a live width seed on a neighbouring layer with
     * zero weights where the new units meet it). 1–64. @default 1
     */
    maxLiveWidthSeeds: z.number().int().min(1).max(64).default(1),
    /**
     * Bottleneck: width seeds live at once on a CNN's conv blocks (each on
     * its own block); at least `maxLiveWidthSeeds`. A conv block's new
     * channels reach the classifier only through the blocks after it, so the
     * blocks of a narrow CNN are bottlenecks together (`bottleneck@15`). Its
     * dense layers count apart, against `maxLiveWidthSeeds`: one grows beside
     * the conv blocks (`bottleneck@16`; docs/growth.md rules 9 and 10). 1–64. @default 2
     */
    maxLiveConvWidthSeeds: z.number().int().min(1).max(64).default(2),
    /**
     * Bottleneck: when more than one layer may grow side by side (a CNN's
     * conv blocks, its dense layer beside them, `maxLiveWidthSeeds` > 1),
     * every one of them that qualifies starts in the same decision, instead
     * of one per epoch. @default false
     */
    germinateTogether: z.boolean().default(false),
    /**
     * Bottleneck: a decision that widens a CNN's conv block also widens the
     * dense hidden layer behind it, if that layer has never grown and could
     * grow and is at least half saturated (`saturation` / 2): the widened
     * block multiplies what it reads (`bottleneck@18`; false keeps `@17`,
     * where it waited to be saturated on its own). @default true
     */
    denseGrowsWithConv: z.boolean().default(true),
    /**
     * Bottleneck: in the epoch after a width seed merged (the host's
     * optimizer state restarts, a CNN's weights shrink), a live seed's prune
     * judged on that epoch's measurement (a regression, a HOLDING verdict)
     * waits an epoch and is judged again. @default true
     */
    deferPruneAfterMerge: z.boolean().default(true),
    /**
     * Bottleneck: epochs of a width seed's α ramp (1, 3, 5 or 8); absent, the
     * run's `blend.tempoEpochs`. 1: the new units blend at full strength from
     * their first BLENDING epoch — they start with zero outgoing weights (or
     * the amplitude the line search chose for α = 1), so nothing jumps, and a
     * width seed merges one epoch sooner (docs/growth.md, "Blending at full
     * strength"; measured, opt-in).
     */
    widthTempoEpochs: BlendTempoSchema.optional(),
    /**
     * Bottleneck: a layer counts as saturated when the effective rank of its
     * activations is at least this fraction of its live units. 0–1. @default 0.45
     */
    saturation: z.number().min(0).max(1).default(0.45),
    /** Bottleneck: new units per growth step, as a multiple of the layer's current width (the closest width kernel is chosen). 0.1–64. @default 8 */
    growthFactor: z.number().min(0.1).max(64).default(8),
    /**
     * Bottleneck: a width seed germinated within this fraction of the run's
     * epochs that is inconclusive at HOLDING (loss lower with it, not by G5's
     * threshold) keeps holding up to `holdingPatienceEpochs` before a prune. 0–1. @default 0.25
     */
    patientUntilFraction: z.number().min(0).max(1).default(0.25),
    /** Bottleneck: epochs of that patience (0 turns it off). 0–100. @default 3 */
    holdingPatienceEpochs: z.number().int().min(0).max(100).default(3),
  })
  .strict();
export type HeuristicPolicySpec = z.output<typeof HeuristicPolicySpecSchema>;

/** The controller policy of a run. @default { kind: 'bottleneck' } with every default. */
export const RunPolicySpecSchema = HeuristicPolicySpecSchema;
export type RunPolicySpec = z.output<typeof RunPolicySpecSchema>;

/**
 * Overrides of the lifecycle gates' defaults (DESIGN §2), e.g.
 * `{ "g2": { "minTrainingEpochs": 2 } }` (keys as in docs/lifecycle.md's gate table). Opaque here: the gate
 * configuration's own schema validates it when the run starts. At most 64
 * entries.
 */
export const RunGateOverridesSchema = z
  .record(label(64), z.unknown())
  .refine((map) => Object.keys(map).length <= MAX_MAP_ENTRIES, { message: `at most ${MAX_MAP_ENTRIES} gate overrides` });
export type RunGateOverrides = z.output<typeof RunGateOverridesSchema>;

/** What a run may spend on growth. */
export const RunBudgetsSchema = z
  .object({
    /** Most germinations over the whole run (a slot re-germinated after a prune counts again). 0–1024. @default 4 */
    maxSeeds: z.number().int().min(0).max(MAX_SEEDS_PER_RUN).default(4),
    /** Most trainable parameters the seeds may add to the host, counted per germinated kernel. Absent: unbounded. */
    maxParamsAdded: count().optional(),
  })
  .strict();
export type RunBudgets = z.output<typeof RunBudgetsSchema>;

/** The α ramp every depth seed of the run uses when it blends (DESIGN §2; width seeds: `policy.widthTempoEpochs`). */
export const RunBlendSpecSchema = z
  .object({
    /** Shape of the ramp. @default 'linear' */
    curve: BlendCurveSchema.default('linear'),
    /** Epochs the ramp takes: 1 (no ramp), 3, 5 or 8. @default 3 */
    tempoEpochs: BlendTempoSchema.default(3),
  })
  .strict();
export type RunBlendSpec = z.output<typeof RunBlendSpecSchema>;

/**
 * Tolaria's graft guard: an epoch trained with a seed BLENDING or HOLDING
 * whose validation accuracy falls further than the run's own noise explains
 * is rolled back to the boundary before it, and the live seeds are pruned
 * (trigger `graft_regression`), where that wins back at least half the fall.
 * The fall must exceed `minDropPct` percent of the accuracy before it (the
 * growth goal's measure), `sigma` binomial standard errors of that accuracy
 * on the validation split, and `noiseMultiple` × the largest fall of an
 * epoch without a graft so far, and (`lossMustRise`) the epoch's training
 * loss must have risen too (src/actors/tolaria/graft-guard.ts).
 */
export const RunGraftGuardSpecSchema = z
  .object({
    /** Off: grafts that collapse stay (as before the guard). @default true */
    enabled: z.boolean().default(true),
    /** Smallest fall that rolls back, percent of the accuracy before it. @default 5 */
    minDropPct: z.number().min(0).max(100).default(5),
    /** Binomial standard errors of the validation accuracy the fall must exceed. @default 3 */
    sigma: z.number().min(0).max(20).default(3),
    /** Multiple of the largest fall of an epoch without a graft that the fall must exceed. @default 1.5 */
    noiseMultiple: z.number().min(0).max(100).default(1.5),
    /** Roll back only when the epoch's mean training loss rose as well (the graft upset the optimisation, not only the validation reading). @default true */
    lossMustRise: z.boolean().default(true),
    /** Where pruning would not win back half the fall, retry the epoch with the seeds kept (never twice in a row); opt-in, measured mixed (docs/benchmarks.md, twenty-sixth session). @default false */
    retry: z.boolean().default(false),
  })
  .strict();
export type RunGraftGuardSpec = z.output<typeof RunGraftGuardSpecSchema>;

/**
 * Which seed modules the run may grow. Names are checked against the catalog
 * and the library when the run starts, not here.
 */
export const SeedModulesSpecSchema = z
  .object({
    /** `'catalog'`: every catalog blueprint that fits the slot; or an allow-list of catalog names / blueprint ids (1–256). @default 'catalog' */
    blueprints: z.union([z.literal('catalog'), z.array(BlueprintIdSchema).min(1).max(MAX_SEED_MODULES)]).default('catalog'),
    /** Exact VALIDATED kernels that may also be germinated (0–256). @default [] */
    kernels: z.array(KernelIdSchema).max(MAX_SEED_MODULES).default([]),
  })
  .strict();
export type SeedModulesSpec = z.output<typeof SeedModulesSpecSchema>;

/**
 * A run specification: the file `esper run SPEC.json` reads. Every section
 * but `name`, `epochs` and `training` has defaults.
 */
export const RunSpecSchema = z
  .object({
    /** Human-readable name of the run (shown in reports; not an id). 1–128 characters. */
    name: label(),
    /** Epochs to train, rollbacks included. 1–10,000. */
    epochs: z.number().int().min(1).max(MAX_RUN_EPOCHS),
    /** Data, host, slots, optimizer, batch size, backend and random seed (the training worker's spec). */
    training: TrainingSpecSchema,
    /** Controller policy. @default { kind: 'bottleneck' } */
    policy: RunPolicySpecSchema.prefault({}),
    /** Gate overrides; absent: the gates' defaults. */
    gates: RunGateOverridesSchema.optional(),
    /** Growth budgets. @default { maxSeeds: 4 } (parameters unbounded) */
    budgets: RunBudgetsSchema.prefault({}),
    /** α ramp. @default { curve: 'linear', tempoEpochs: 3 } */
    blend: RunBlendSpecSchema.prefault({}),
    /** Blueprints and kernels the run may grow. @default { blueprints: 'catalog', kernels: [] } */
    seedModules: SeedModulesSpecSchema.prefault({}),
    /** Rolls back a graft that collapses. @default { enabled: true, minDropPct: 5, sigma: 3, noiseMultiple: 1.5, lossMustRise: true, retry: false } */
    graftGuard: RunGraftGuardSpecSchema.prefault({}),
  })
  .strict();
/** A run specification with every default filled in. */
export type RunSpec = z.output<typeof RunSpecSchema>;
/** A run specification as written (defaults optional). */
export type RunSpecInput = z.input<typeof RunSpecSchema>;

/** One seed's state at the end of an epoch, as recorded in results.json. */
export const EpochSeedSnapshotSchema = z
  .object({
    seedId: SeedIdSchema,
    slotId: SlotIdSchema,
    stage: SeedStageSchema,
    /** Blend weight α ∈ [0, 1] at the end of the epoch. */
    alpha: unitInterval(),
  })
  .strict();
export type EpochSeedSnapshot = z.output<typeof EpochSeedSnapshotSchema>;

/** Metrics of one epoch. Losses are the task loss (cross-entropy, nats per example). */
export const EpochResultSchema = z
  .object({
    /** Epoch number (as in `tolaria.epoch.completed`). */
    epoch: count(),
    /** Mean training loss over the epoch, ≥ 0. */
    trainLoss: nonNegative(),
    /** Validation loss at the end of the epoch, ≥ 0. */
    validationLoss: nonNegative(),
    /** Validation accuracy at the end of the epoch, a fraction in [0, 1]. */
    validationAccuracy: unitInterval(),
    /** Wall time of the epoch, milliseconds. */
    durationMs: nonNegative(),
    /** Every seed's stage and α at the end of the epoch. */
    seeds: z.array(EpochSeedSnapshotSchema).max(MAX_SEEDS_PER_RUN),
  })
  .strict();
export type EpochResult = z.output<typeof EpochResultSchema>;

/** One stage transition of a seed. */
export const SeedHistoryEntrySchema = z
  .object({
    /** Epoch at whose boundary it happened. */
    epoch: count(),
    from: SeedStageSchema,
    to: SeedStageSchema,
    cause: TransitionCauseSchema,
    /** Blueprint germinated (on →GERMINATED). */
    blueprintId: BlueprintIdSchema.optional(),
    /** Kernel attached after the transition, if any. */
    kernelId: KernelIdSchema.optional(),
  })
  .strict()
  .refine((entry) => entry.from !== entry.to, { message: 'a transition must change the stage', path: ['to'] });
export type SeedHistoryEntry = z.output<typeof SeedHistoryEntrySchema>;

/** A seed (one per slot) over the whole run. */
export const SeedResultSchema = z
  .object({
    seedId: SeedIdSchema,
    slotId: SlotIdSchema,
    /** Blueprint of the last kernel attached (absent if it never germinated). */
    blueprintId: BlueprintIdSchema.optional(),
    /** Last kernel attached (absent if it never germinated). */
    kernelId: KernelIdSchema.optional(),
    /** Its transitions, in order. */
    history: z.array(SeedHistoryEntrySchema).max(MAX_SEED_HISTORY),
    /** Trainable parameters it adds to the final model (its kernel's when FOSSILIZED, else 0). */
    paramsAdded: count(),
  })
  .strict();
export type SeedResult = z.output<typeof SeedResultSchema>;

/** Hidden layers whose units were all dead, revived during the run (a HOST REVIVE command; see `tolaria.host.revived`). */
export const RunRevivalRecordSchema = z
  .object({
    /** The epoch boundary it happened at (after this epoch). */
    epoch: count(),
    /** The hidden layers revived (1-based). */
    layers: z.array(z.number().int().min(1).max(64)).min(1).max(64),
    /** Units given new incoming weights. */
    units: count(),
  })
  .strict();
export type RunRevivalRecord = z.infer<typeof RunRevivalRecordSchema>;

/** A rollback performed during the run. */
export const RunRollbackRecordSchema = z
  .object({
    /** Epoch in progress when the rollback was decided. */
    epoch: count(),
    /** What triggered it. */
    cause: RollbackTriggerSchema,
    /** The checkpoint restored. */
    checkpointId: CheckpointIdSchema,
    /** Epoch of the restored checkpoint. */
    toEpoch: count().optional(),
    /** Human-readable detail, e.g. `validation loss 9.1 > 3 × best`. */
    reason: text(500).optional(),
    /** True when the live seeds were kept, restored as checkpointed (a graft guard retry); absent: they were pruned. */
    seedsKept: z.boolean().optional(),
  })
  .strict();
export type RunRollbackRecord = z.output<typeof RunRollbackRecordSchema>;

/**
 * A kernel the run compiled and validated at its start (Tezzeret's compiler,
 * then Urabrask's validator, on the run's backend): the candidates Tamiyo
 * chose from, and the rejected ones with Urabrask's reasons.
 */
export const RunKernelSchema = z
  .object({
    /** Content address of the compiled kernel (see compiler.ts). */
    kernelId: KernelIdSchema,
    /** Catalog blueprint it was compiled from. */
    blueprintId: BlueprintIdSchema,
    /** `slotInterfaceKey()` of the slot interface it fits, e.g. `dense:3->3:float32`. */
    interface: text(200),
    status: z.enum(['VALIDATED', 'REJECTED']),
    /** Urabrask's risk score without its latency term (timing-dependent; a run must choose the same way every time). */
    riskScore: unitInterval(),
    /** Measured forward latency of the validation benchmark batch, ms (informative; not part of the score). */
    latencyP50Ms: nonNegative(),
    /** Trainable parameters a seed of this kernel adds. */
    paramCount: count(),
    /** Why Urabrask rejected it (empty when VALIDATED). */
    reasons: z.array(text(500)).max(64),
  })
  .strict();
export type RunKernel = z.output<typeof RunKernelSchema>;

/** Trainable parameter counts of the final model. `total` = `host` + `seeds`. */
export const RunParameterCountSchema = z
  .object({
    /** The host network's. */
    host: count(),
    /** Every fossilized seed's, together. */
    seeds: count(),
    /** host + seeds. */
    total: count(),
  })
  .strict()
  .refine((p) => p.total === p.host + p.seeds, { message: 'total must equal host + seeds', path: ['total'] });
export type RunParameterCount = z.output<typeof RunParameterCountSchema>;

/** Most static models in a `--compare` width sweep. */
export const MAX_SWEEP_POINTS = 16;

/** Most data seeds `esper run --compare --repeats N` may train. */
export const MAX_COMPARE_REPEATS = 100;

/** A topology as one line: `784-12-10` (MLP), `28x28x1-c8-c16-32-10` (CNN, `c<filters>[k<size>]` per conv block), plus `+ <blueprint>@<slot>` per depth fossil. */
const TopologyTextSchema = text(500);

/** A depth seed (shape-preserving, after a layer) that fossilized and stays in the final model. */
export const RunDepthFossilSchema = z
  .object({
    slotId: SlotIdSchema,
    /** Blueprint of its kernel (absent when the run only knows the kernel). */
    blueprintId: BlueprintIdSchema.optional(),
    /** Trainable parameters it adds. */
    params: count(),
  })
  .strict();
export type RunDepthFossil = z.output<typeof RunDepthFossilSchema>;

/**
 * The final model's architecture (filled by the run loop): the host after
 * every width seed that fossilized merged into it (a HostSpec, e.g.
 * `{ kind: 'mlp', hidden: [36] }` for a 784-4-10 host widened by 32 units),
 * plus the depth seeds that fossilized. `esper run --compare` trains `host`
 * from scratch as the static baseline when `depthSeeds` is empty.
 */
export const RunTopologySchema = z
  .object({
    /** The host as it ends the run (width fossils merged). */
    host: HostSpecSchema,
    /** Depth seeds that fossilized, in slot order (empty when only width seeds, or none, fossilized). */
    depthSeeds: z.array(RunDepthFossilSchema).max(MAX_SEEDS_PER_RUN),
  })
  .strict();
export type RunTopology = z.output<typeof RunTopologySchema>;

/**
 * How `--compare` chose the static model: `final-topology` = the grown
 * model's final host (width fossils merged) trained from scratch, exactly,
 * when no depth seed fossilized; `parameter-matched` = with depth fossils
 * (which a plain host cannot express), the final host's hidden widths (CNN:
 * filters and dense widths) scaled by the smallest step of 1/16 whose
 * parameter count reaches the grown model's total.
 */
export const STATIC_RULES = ['final-topology', 'parameter-matched'] as const;
export const StaticRuleSchema = z.enum(STATIC_RULES);
export type StaticRule = z.output<typeof StaticRuleSchema>;

/** One static model of the `--compare --sweep` width sweep: the spec's host with its widths (CNN: filters and dense widths) × `factor`, trained from scratch with the same budget. */
export const StaticSweepPointSchema = z
  .object({
    /** Width multiplier of the spec's host (1 = the host alone). */
    factor: z.number().positive().max(1024),
    host: HostSpecSchema,
    topology: TopologyTextSchema,
    /** Trainable parameters. */
    params: count(),
    /** Final validation accuracy. */
    accuracy: unitInterval(),
    /** Final validation loss. */
    loss: nonNegative(),
    /** Test accuracy, when the dataset has a test set. */
    testAccuracy: unitInterval().optional(),
  })
  .strict();
export type StaticSweepPoint = z.output<typeof StaticSweepPointSchema>;

/**
 * Parameter efficiency of growth: the parameters a static model trained from
 * scratch needs to reach the grown model's validation accuracy (interpolated
 * log-linearly in parameters between the static models trained: the host,
 * the static baseline and the sweep), divided by the parameters growth added
 * (grown − host). The design brief asks for 10–100×. Null, with `note`
 * saying why, when it is undefined (nothing grown, growth no better than the
 * host, or no static model reaches the grown accuracy).
 */
export const ParameterEfficiencySchema = z
  .object({
    /** staticParamsNeeded / paramsAdded, or null. */
    value: finite().nullable(),
    /** Parameters of a static model at the grown accuracy (interpolated), or null. */
    staticParamsNeeded: nonNegative().nullable(),
    /** Parameters growth added: grown − host. */
    paramsAdded: count(),
    /** How it was obtained, or why it is undefined (one line). */
    note: text(500),
  })
  .strict();
export type ParameterEfficiency = z.output<typeof ParameterEfficiencySchema>;

/**
 * `esper run --compare`: the host alone and a static model of the grown
 * model's final topology (see {@link STATIC_RULES}), each trained from
 * scratch with the same epochs, optimizer, batch size and data seed.
 * Accuracies are final validation accuracies unless named `test…`; fields
 * marked optional are absent in results written before issue 11.
 */
export const RunCompareSchema = z
  .object({
    /** Final validation accuracy of the host trained alone (no seeds). */
    hostAccuracy: unitInterval(),
    /** Final validation accuracy of the grown model (this run). */
    grownAccuracy: unitInterval(),
    /** Final validation accuracy of the static model. */
    staticAccuracy: unitInterval(),
    /** Trainable parameters of the static model. */
    staticParams: count(),
    /**
     * (grown − host) / (static − host): 1 means growth closed the whole gap
     * to the static model, 0 none; null when static equals host (undefined).
     */
    bottleneckResolution: finite().nullable(),
    /** How the static model was chosen. */
    staticRule: StaticRuleSchema.optional(),
    /** The static model's host, as trained. */
    staticHost: HostSpecSchema.optional(),
    /** Topologies in one line each, e.g. `784-4-10`, `784-36-10`, `2-3-3-2 + mlp_deep@h1`. */
    hostTopology: TopologyTextSchema.optional(),
    grownTopology: TopologyTextSchema.optional(),
    staticTopology: TopologyTextSchema.optional(),
    /** Trainable parameters of the host alone and of the grown model. */
    hostParams: count().optional(),
    grownParams: count().optional(),
    /** Final validation losses (cross-entropy). */
    hostLoss: nonNegative().optional(),
    grownLoss: nonNegative().optional(),
    staticLoss: nonNegative().optional(),
    /** Held-out test accuracies, when the dataset has a test set (Fashion-MNIST's t10k); absent otherwise. */
    hostTestAccuracy: unitInterval().optional(),
    grownTestAccuracy: unitInterval().optional(),
    staticTestAccuracy: unitInterval().optional(),
    /**
     * The static model's own largest drop (percent) over the grown run's
     * graft epochs ({@link RunResults.graftEpochs}), measured as the grown
     * run's graft drop is: how much of a graft drop the optimizer alone
     * produces on the same data at the same epochs. Absent without graft epochs.
     */
    staticDropInGraftEpochsPct: nonNegative().optional(),
    /** Bottleneck resolution on test accuracy (null when undefined); absent without a test set. */
    testBottleneckResolution: finite().nullable().optional(),
    /**
     * Each model's mean validation accuracy over its last `TAIL_EPOCHS` (5)
     * epochs, and the bottleneck resolution on them (null when undefined): a
     * reading less at the mercy of one epoch's fluctuation than the final
     * accuracy's (at batch 64 a model's validation accuracy moves by up to a
     * point from one epoch to the next). `bottleneckResolution` stays the
     * measure of record.
     */
    hostTailAccuracy: unitInterval().optional(),
    grownTailAccuracy: unitInterval().optional(),
    staticTailAccuracy: unitInterval().optional(),
    tailBottleneckResolution: finite().nullable().optional(),
    /** Wall time of each training, seconds (the training compute spent on each model). */
    trainingSeconds: z.object({ host: nonNegative(), grown: nonNegative(), static: nonNegative(), sweep: nonNegative().optional() }).strict().optional(),
    /** `--sweep`: static models of the spec's host at ×1, ×2, ×4, ×8 width, by parameters. */
    sweep: z.array(StaticSweepPointSchema).max(MAX_SWEEP_POINTS).optional(),
    parameterEfficiency: ParameterEfficiencySchema.optional(),
  })
  .strict();
export type RunCompare = z.output<typeof RunCompareSchema>;

/** One data seed of `--compare --repeats N`: its grown run, host and static model, flattened. */
export const RunRepeatSchema = z
  .object({
    /** The run's `training.seed` (data split, init and shuffling). */
    seed: z.number().int().min(0).max(2 ** 32 - 1),
    /** Run id of this repeat's grown run. */
    runId: RunIdSchema,
    hostAccuracy: unitInterval(),
    grownAccuracy: unitInterval(),
    staticAccuracy: unitInterval(),
    bottleneckResolution: finite().nullable(),
    /** Resolution on the last-5-epoch mean accuracies (see {@link RunCompare.tailBottleneckResolution}). */
    tailBottleneckResolution: finite().nullable().optional(),
    /** Resolution on the held-out test accuracies (see {@link RunCompare.testBottleneckResolution}). */
    testBottleneckResolution: finite().nullable().optional(),
    hostTestAccuracy: unitInterval().optional(),
    grownTestAccuracy: unitInterval().optional(),
    staticTestAccuracy: unitInterval().optional(),
    /** The grown run's largest graft drop, percent. */
    maxGraftDropPct: nonNegative(),
    /** The static model's largest drop over the same epochs (see {@link RunCompare.staticDropInGraftEpochsPct}). */
    staticDropInGraftEpochsPct: nonNegative().optional(),
    hostParams: count(),
    grownParams: count(),
    staticParams: count(),
    staticRule: StaticRuleSchema,
    grownTopology: TopologyTextSchema,
    staticTopology: TopologyTextSchema,
    /** Parameter efficiency (null when undefined, see {@link ParameterEfficiencySchema}). */
    parameterEfficiency: finite().nullable(),
    /** The grown run's final weights hash. */
    weightsHash: Sha256Schema,
  })
  .strict();
export type RunRepeat = z.output<typeof RunRepeatSchema>;

/** Median, minimum and maximum of a metric over the repeats where it is defined; `n` of them. */
export const RepeatStatsSchema = z.object({ n: count(), median: finite(), min: finite(), max: finite() }).strict();
export type RepeatStats = z.output<typeof RepeatStatsSchema>;

/** `--repeats N` summary: each metric's median, minimum and maximum over the data seeds (absent when it is undefined on every seed). */
export const RunRepeatSummarySchema = z
  .object({
    /** Data seeds trained. */
    repeats: count(),
    /** Over the seeds where it is defined (`undefinedResolutions` seeds had static = host). */
    bottleneckResolution: RepeatStatsSchema.optional(),
    /** Seeds whose resolution is undefined. */
    undefinedResolutions: count(),
    /** Resolution on the last-5-epoch mean accuracies, over the seeds where it is defined. */
    tailBottleneckResolution: RepeatStatsSchema.optional(),
    /** Resolution on the held-out test accuracies (2.5× the validation examples on Fashion-MNIST's 20k-image runs), over the seeds where it is defined. */
    testBottleneckResolution: RepeatStatsSchema.optional(),
    hostAccuracy: RepeatStatsSchema,
    grownAccuracy: RepeatStatsSchema,
    staticAccuracy: RepeatStatsSchema,
    hostTestAccuracy: RepeatStatsSchema.optional(),
    grownTestAccuracy: RepeatStatsSchema.optional(),
    staticTestAccuracy: RepeatStatsSchema.optional(),
    maxGraftDropPct: RepeatStatsSchema,
    staticDropInGraftEpochsPct: RepeatStatsSchema.optional(),
    /** Static model minus host, validation accuracy points (is the growth real? docs/growth.md "Goals"); absent in results written before it existed. */
    staticGainPts: RepeatStatsSchema.optional(),
    parameterEfficiency: RepeatStatsSchema.optional(),
  })
  .strict();
export type RunRepeatSummary = z.output<typeof RunRepeatSummarySchema>;

/** `(grown − host) / (static − host)`, or null when the static model is no better or worse than the host (division by zero). */
export function bottleneckResolution(hostAccuracy: number, grownAccuracy: number, staticAccuracy: number): number | null {
  const gap = staticAccuracy - hostAccuracy;
  if (gap === 0) return null;
  return (grownAccuracy - hostAccuracy) / gap;
}

/** `DIR/results.json` of `esper run` (DESIGN §9). */
export const RunResultsSchema = z
  .object({
    runId: RunIdSchema,
    /** The spec the run ran, with every default filled in. */
    spec: RunSpecSchema,
    startedAt: TimestampSchema,
    finishedAt: TimestampSchema,
    /** tfjs backend that actually ran the tensors (`native`, `wasm`, `tensorflow`, `cpu`). */
    backend: label(64),
    /** Why the run is not on the backend its spec asked for (`auto` without the native addon, e.g. "the addon is not built"); absent when it is. */
    backendFallbackReason: z.string().max(1000).optional(),
    /** Per-epoch metrics, in order. */
    epochs: z.array(EpochResultSchema).max(MAX_RUN_EPOCHS),
    /** Every seed of the run with its stage history. */
    seeds: z.array(SeedResultSchema).max(MAX_SEEDS_PER_RUN),
    /** Validation accuracy of the final model, a fraction in [0, 1]. */
    finalAccuracy: unitInterval(),
    /** Accuracy of the final model on the held-out test set (Fashion-MNIST: the 10k t10k images, whatever `limit` says), evaluated once at the end; absent when the dataset has none (synthetic sets). */
    testAccuracy: unitInterval().optional(),
    parameterCount: RunParameterCountSchema,
    /** sha256 of the final weights (host + fossils), in the checkpoint's canonical order. */
    weightsHash: Sha256Schema,
    rollbacks: z.array(RunRollbackRecordSchema).max(MAX_RUN_ROLLBACKS),
    /** Tamiyo's FieldReports: how each seed she germinated ended (SUCCESS when fossilized; NEUTRAL, REGRESSION or ABORTED otherwise), in order. */
    fieldReports: z.array(FieldReportSchema).max(MAX_SEEDS_PER_RUN).optional(),
    /** Dead layers revived, in order (absent when none were). */
    revivals: z.array(RunRevivalRecordSchema).max(MAX_RUN_EPOCHS).optional(),
    /** The kernels compiled and validated for the run's slots (absent in results of runs before compiled kernels). */
    kernels: z.array(RunKernelSchema).max(MAX_SEED_MODULES * 16).optional(),
    /** Largest drop of validation accuracy, in percent (points), over its graft epochs ({@link RunResults.graftEpochs}); 0 when none dropped. */
    maxGraftDropPct: nonNegative(),
    /** The epochs {@link RunResults.maxGraftDropPct} looks at: those trained with a seed grafting, BLENDING or HOLDING, and the first one after such a seed was pruned or merged (results written before 2026-12-07 do not count the epoch after a merge, those before HOLDING was counted hold BLENDING epochs only, those before 2026-12-04 also the epoch at whose end a seed began to blend; absent in results of earlier runs). */
    graftEpochs: z.array(count()).max(MAX_RUN_EPOCHS).optional(),
    /** The final model's architecture (width fossils merged, depth fossils listed); absent in results of runs before width seeds. */
    topology: RunTopologySchema.optional(),
    /** Present with `--compare`. */
    compare: RunCompareSchema.optional(),
    /** `--compare`: every data seed trained (the first is this run), in order. */
    repeats: z.array(RunRepeatSchema).max(MAX_COMPARE_REPEATS).optional(),
    /** `--compare`: median / min / max over {@link RunResults.repeats}. */
    repeatSummary: RunRepeatSummarySchema.optional(),
  })
  .strict()
  .refine((r) => Date.parse(r.finishedAt) >= Date.parse(r.startedAt), { message: 'finishedAt must not precede startedAt', path: ['finishedAt'] });
export type RunResults = z.output<typeof RunResultsSchema>;
export type RunResultsInput = z.input<typeof RunResultsSchema>;
