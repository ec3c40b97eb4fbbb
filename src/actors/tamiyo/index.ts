/**
 * Tamiyo (DESIGN §1): the strategic controller. A pluggable, pure policy
 * (strategy pattern; the heuristic of digest §7 first) turns each
 * SystemStatePacket into AdaptationCommands, and a thin actor holds the
 * policy's memory between packets.
 *
 * @example
 * const policy = heuristicPolicy({ plateauEpochs: 3 });
 * let memory = policy.initialMemory();
 * const { commands, reason, memory: next } = policy.decide(packet, memory, { availableKernels, budget });
 * const reports = fieldReportsFor(memory, next, packet);
 * memory = next;
 *
 * @module
 */
export {
  clip,
  deriveCommandId,
  initialPolicyMemory,
  policyLabel,
  seedCommand,
  trackGermination,
  type FinishedSeed,
  type KernelChoice,
  type PolicyBudget,
  type PolicyContext,
  type PolicyDecision,
  type PolicyMemory,
  type SlotPlace,
  type PruneVerdict,
  type RememberedDecision,
  type SeedCommandOptions,
  type TamiyoPolicy,
  type TrackedSeed,
} from './policy.ts';
export {
  DEFAULT_HEURISTIC_CONFIG,
  HEURISTIC_POLICY_NAME,
  HEURISTIC_POLICY_VERSION,
  HeuristicConfigSchema,
  decayPenalties,
  decideHeuristic,
  decisionWindowClosed,
  epochsToDecision,
  fieldReportsFor,
  germinationFor,
  heuristicPolicy,
  liveSeedAction,
  parseHeuristicConfig,
  rankFreeSlots,
  rankKernels,
  type FieldReportOptions,
  type GerminationChoice,
  type HeuristicConfig,
  type HeuristicConfigInput,
  type RankedSlot,
  type ScoredKernel,
} from './heuristic-policy.ts';
export {
  TAMIYO_SHUTDOWN_TIMEOUT_MS,
  tamiyoBehaviour,
  tamiyoWorkerSpec,
  type TamiyoMessage,
  type TamiyoOptions,
  type TamiyoState,
  type TamiyoStatus,
} from './tamiyo.actor.ts';
export {
  TAMIYO_ADVISOR_ID,
  tamiyoAdvisorBehaviour,
  tamiyoAdvisorSpec,
  type TamiyoAdvisorMessage,
  type TamiyoAdvisorStatus,
  type TamiyoDecide,
} from './advisor.actor.ts';
export {
  BOTTLENECK_POLICY_NAME,
  BOTTLENECK_POLICY_VERSION,
  DEFAULT_WIDTH_RULE,
  bottleneckPolicy,
  comparableScore,
  deadNeighbour,
  decideBottleneck,
  describeLayers,
  layerSaturation,
  layerValues,
  narrowestConvBlock,
  narrowerSaturatedDense,
  widthEpochsToMerge,
  widthGrowthFor,
  widthKernelFor,
  type BottleneckConfig,
  type BottleneckConfigInput,
  type WidthGrowth,
  type WidthRuleConfig,
} from './bottleneck-policy.ts';
export { allDead, deadChains, MAX_REVIVALS, revivalFor, revivalsIssued, reviveCommand } from './dead-layer-revival.ts';
