/**
 * Karn (DESIGN §1, §2): blueprints as data. The built-in catalog, and the
 * static analysis every blueprint passes before Tezzeret compiles it
 * (`esper blueprint check` runs it offline). The layer math is one table the
 * compiler reuses.
 *
 * @example
 * const analysis = analyzeBlueprint(JSON.parse(text), { interface: iface, limits: { maxParams: 1_000_000 } });
 * if (analysis.ok) console.log(analysis.report.paramCount, analysis.report.startsAsIdentity, analysis.report.startsAsZero);
 * else for (const error of analysis.errors) console.log(error.code, error.details);
 *
 * @module
 */
export {
  BlueprintLimitsSchema,
  DEFAULT_BLUEPRINT_LIMITS,
  analyzeBlueprint,
  blueprintIrHash,
  type AnalyzeOptions,
  type BlueprintAnalysis,
  type BlueprintLimits,
  type BlueprintLimitsInput,
  type BlueprintReport,
  type NodeReport,
} from '../../blueprint/blueprint-analysis.ts';
export {
  BLUEPRINT_CATALOG,
  CATALOG_NAMES,
  DEFAULT_CONV_WIDTH_GEOMETRY,
  MAX_FLATTEN_WINDOW,
  SE_REDUCTION,
  WIDTH_ROLE_TAG,
  bottleneckWidth,
  catalogBlueprint,
  catalogEntry,
  catalogFits,
  catalogFor,
  catalogWidthBlueprint,
  catalogWidthFor,
  convWidthInterface,
  parseInterfaceFlag,
  shapePreservingInterface,
  widthInterface,
  widthUnits,
  type CatalogEntry,
  type CatalogRole,
  type ConvWidthGeometry,
  type DepthCatalogEntry,
  type WidthCatalogEntry,
  type WidthBlueprintGeometry,
} from './catalog.ts';
export { DOC_INTERFACES, renderBlueprintsDoc } from './blueprints-doc.ts';
export {
  ACTIVATION_FLOPS,
  BYTES_PER_ELEMENT,
  LAYER_SPECS,
  NORM_FLOPS_PER_ELEMENT,
  SOFTMAX_FLOPS_PER_ELEMENT,
  convOutputSize,
  formatShape,
  groupDigits,
  inferLayer,
  layerAtInit,
  seHidden,
  shapeSize,
  weightCount,
  type InitValue,
  type LayerFacts,
  type LayerResult,
  type LayerSpec,
  type Shape,
  type ShapeProblem,
  type WeightInit,
  type WeightSpec,
} from '../../blueprint/layer-specs.ts';
export {
  DEFAULT_MAX_WIDTH_FACTOR,
  DEFAULT_MUTATION_ATTEMPTS,
  MUTANT_TAG,
  MUTATION_ACTIVATIONS,
  MUTATION_KINDS,
  mutantFamily,
  mutate,
  type Mutation,
  type MutationKind,
  type MutationOptions,
  type MutationResult,
} from './mutation.ts';
export {
  BlueprintRegistry,
  DEFAULT_DIVERSITY_SCALE,
  DIVERSITY_WEIGHTS,
  blueprintFeatures,
  diversity,
  featureDistance,
  novelty,
  spread,
  type BlueprintFeatures,
  type DiversityScale,
  type RegisteredBlueprint,
} from './diversity.ts';
export {
  DEFAULT_IMPROVEMENT_METRIC,
  DEFAULT_MIN_REPORTS,
  REMEMBERED_COMMANDS,
  chooseParent,
  compareChoices,
  descendantCounts,
  emptyFieldStats,
  judgedReports,
  meanImprovement,
  rankParents,
  recordFieldReport,
  successRate,
  type BlueprintStats,
  type ChooseParentOptions,
  type FieldStatsTable,
  type ParentCandidate,
  type ParentChoice,
} from './field-stats.ts';
export {
  DEFAULT_KARN_SEED,
  DEFAULT_PROPOSAL_ATTEMPTS,
  DEFAULT_PROPOSE_INTERVAL_MS,
  MemoryBlueprintLibrary,
  blueprintIdOf,
  karnBehaviour,
  karnWorkerSpec,
  type BlueprintLibrary,
  type BlueprintSink,
  type BlueprintSubmittedEnvelope,
  type KarnMessage,
  type KarnOptions,
  type KarnProposal,
  type KarnState,
  type KarnStatus,
  type LibraryLineage,
  type LibraryPutInput,
  type LibraryPutResult,
} from './karn.actor.ts';
export { DEFAULT_KARN_SUBMIT_TIMEOUT_MS, KARN_SUBMIT_QUEUE, registerKarnFieldReports, registerKarnSubmit, type KarnSubmitServiceOptions } from './karn-service.ts';
export { urzaBlueprintLibrary } from './urza-library-adapter.ts';
