/**
 * Tamiyo's policy interface (DESIGN §1: "policies are pluggable (strategy
 * pattern; a heuristic first)"), the memory a policy carries from packet to
 * packet, and the helpers every policy uses to build its commands.
 *
 * A policy is **pure and deterministic**: `decide(packet, memory, context)`
 * depends on nothing else (no clock, no randomness, no I/O), so the same
 * packet with the same memory always yields the same commands. Every command
 * answers the packet (`causationPacketId = packet.packetId`), is stamped with
 * the packet's time (`issuedAt = packet.ts`) and has an id derived from
 * packet id + seed + operation ({@link deriveCommandId}): a packet decided
 * twice yields the same command ids, and executors de-duplicate on them.
 *
 * The memory is plain JSON-serialisable data (records and arrays, no maps or
 * classes), so an actor can persist it and a restarted actor resume from it.
 */
import { createHash } from 'node:crypto';
import type {
  AdaptationCommand,
  Annotations,
  FieldReport,
  FieldReportOutcome,
  KernelStatus,
  SeedOperation,
  SeedStage,
  SeedState,
  SystemStatePacket,
} from '../../contracts/index.ts';

/** A kernel the policy may germinate (Urza's VALIDATED kernels for the run's slot interfaces). */
export interface KernelChoice {
  readonly kernelId: string;
  readonly blueprintId: string;
  /** `slotInterfaceKey()` of the interface the kernel was built for, e.g. `dense:64->64:float32`. */
  readonly interfaceKey: string;
  /** Urabrask's risk score in [0, 1] (0 = safest). */
  readonly riskScore: number;
  /** Trainable parameters the kernel adds. */
  readonly paramCount: number;
  /** Validation status; absent means VALIDATED (the caller lists validated kernels). Anything else is never germinated. */
  readonly status?: KernelStatus | undefined;
  /** Width kernels: the units (k) a germination adds to its layer. */
  readonly units?: number | undefined;
}

/** What a slot grows, and where. */
export interface SlotPlace {
  readonly role: 'depth' | 'width';
  /** Hidden layer (1-based) it follows (depth) or widens (width). */
  readonly layer: number;
}

/** The run's growth budget. */
export interface PolicyBudget {
  /** Most seeds holding a kernel at once (live + fossilized): each adds parameters to the model. */
  readonly maxSeeds: number;
  /** Most parameters the seeds of the run may add in all. */
  readonly maxParamsAdded: number;
  /** Parameters already added (fossils + live seeds), as Tolaria counts them. */
  readonly paramsAdded: number;
}

/** What a policy knows besides the packet. */
export interface PolicyContext {
  readonly availableKernels: readonly KernelChoice[];
  readonly budget: PolicyBudget;
  /**
   * Interface key of each slot (`slotId → slotInterfaceKey`). A kernel is only
   * germinated into a slot whose key it matches; a slot missing here accepts
   * any kernel (Kasmina's gate G0 still checks the interface).
   */
  readonly slotInterfaces?: Readonly<Record<string, string>> | undefined;
  /** Role and layer of each slot (absent: all depth slots, as the heuristic assumes). */
  readonly slots?: Readonly<Record<string, SlotPlace>> | undefined;
  /** Epochs the run trains in all (absent: unknown). */
  readonly epochs?: number | undefined;
}

/** A policy's answer to one packet. */
export interface PolicyDecision<M> {
  readonly commands: AdaptationCommand[];
  /** Why (e.g. `plateau 3 epochs → germinate bp-lowrank (k-1) in r0c1`, `wait: host not stabilised`). */
  readonly reason: string;
  /** The memory to pass with the next packet. */
  readonly memory: M;
}

/** A pluggable decision strategy. */
export interface TamiyoPolicy<M = PolicyMemory> {
  /** Policy name, e.g. `heuristic`. */
  readonly name: string;
  /** Version of its rules; a decision names `name@version`. */
  readonly version: number;
  /** The memory before the first packet of a run. */
  initialMemory(): M;
  /** Pure: the commands answering `packet`, and the memory to carry to the next one. */
  decide(packet: SystemStatePacket, memory: M, context: PolicyContext): PolicyDecision<M>;
  /** FieldReports on seeds whose fate `decide` observed between `previous` and `next` (empty when it keeps no such record). */
  fieldReports?(previous: M, next: M, packet: SystemStatePacket): FieldReport[];
}

/** `name@version`, as a TamiyoDecision names its policy. */
export function policyLabel(policy: Pick<TamiyoPolicy<unknown>, 'name' | 'version'>): string {
  return `${policy.name}@${policy.version}`;
}

// ------------------------------------------------------------------ memory

/** Why the policy pruned a seed (kept until its end is observed, for the FieldReport). */
export interface PruneVerdict {
  readonly outcome: Extract<FieldReportOutcome, 'REGRESSION' | 'NEUTRAL'>;
  /** Epoch of the packet whose decision pruned it. */
  readonly epoch: number;
  readonly reason: string;
}

/** A seed the policy follows from germination to its end. */
export interface TrackedSeed {
  readonly seedId: string;
  readonly slotId: string;
  readonly blueprintId: string;
  readonly kernelId?: string | undefined;
  readonly paramCount?: number | undefined;
  /** The GERMINATE command (or, for a seed germinated by someone else, an id derived from the packet it was first seen in). */
  readonly commandId: string;
  /** Epoch of the packet that germinated it (or first showed it alive). */
  readonly fromEpoch: number;
  /** True once a packet has shown it alive (false right after GERMINATE was issued). */
  readonly confirmed: boolean;
  /** Last stage seen (GERMINATED right after GERMINATE was issued). */
  readonly stage: SeedStage;
  /** Last values seen, percentage points. */
  readonly improvementPp?: number | undefined;
  readonly contributionPp?: number | undefined;
  /** Last loss contribution seen, percent of the loss without the seed. */
  readonly lossContributionPct?: number | undefined;
  /** Set when the policy pruned it. */
  readonly verdict?: PruneVerdict | undefined;
}

/** The tracked seed a policy's GERMINATE command starts following (unconfirmed until a packet shows it alive). */
export function trackGermination(seed: Pick<SeedState, 'seedId' | 'slotId'>, kernel: Pick<KernelChoice, 'blueprintId' | 'kernelId' | 'paramCount'>, commandId: string, epoch: number): TrackedSeed {
  return {
    seedId: seed.seedId,
    slotId: seed.slotId,
    blueprintId: kernel.blueprintId,
    kernelId: kernel.kernelId,
    paramCount: kernel.paramCount,
    commandId,
    fromEpoch: epoch,
    confirmed: false,
    stage: 'GERMINATED',
  };
}

/** A tracked seed whose end the latest packet showed. */
export interface FinishedSeed {
  readonly seed: TrackedSeed;
  readonly outcome: FieldReportOutcome;
  /** Epoch of the packet that showed the end. */
  readonly toEpoch: number;
  readonly reason: string;
}

/** The last decision, replayed verbatim when the same packet comes again. */
export interface RememberedDecision {
  readonly packetId: string;
  readonly commands: readonly AdaptationCommand[];
  readonly reason: string;
}

/**
 * What a policy remembers between packets: the run's signals (plateau, host
 * stability, last prune), blueprint penalties, the seeds it follows and its
 * last decision. Plain data; never mutated (every update is a new object).
 */
export interface PolicyMemory {
  /** Packet last decided (null before the first). */
  readonly lastPacketId: string | null;
  readonly lastEpoch: number | null;
  /** Best validation accuracy seen since the last reset (fraction). */
  readonly bestAccuracy: number | null;
  /** Consecutive epochs whose validation accuracy gained less than the plateau threshold over the best so far. */
  readonly plateauEpochs: number;
  /** Loss of the previous packet (the one host stability is measured on). */
  readonly previousLoss: number | null;
  /** Consecutive epochs whose relative loss change was within the stability band. */
  readonly stableEpochs: number;
  /** Latches once `stableEpochs` reaches the window; cleared by a rollback. */
  readonly hostStabilized: boolean;
  /** Epoch of the last prune the policy issued. */
  readonly lastPruneEpoch: number | null;
  /** Penalty per blueprint id (decays every epoch; entries that fall below 0.01 are dropped). */
  readonly penalties: Readonly<Record<string, number>>;
  /** Seeds followed, by seed id. */
  readonly seeds: Readonly<Record<string, TrackedSeed>>;
  /** Seeds whose end the latest packet showed (replaced at every new packet). */
  readonly finished: readonly FinishedSeed[];
  /** Number of rollbacks seen (the epoch went backwards). */
  readonly rollbacksSeen: number;
  /** Dead-layer revivals issued (bottleneck policy; absent: none). */
  readonly revivals?: number;
  readonly lastDecision: RememberedDecision | null;
}

/** The memory before the first packet of a run. */
export function initialPolicyMemory(): PolicyMemory {
  return {
    lastPacketId: null,
    lastEpoch: null,
    bestAccuracy: null,
    plateauEpochs: 0,
    previousLoss: null,
    stableEpochs: 0,
    hostStabilized: false,
    lastPruneEpoch: null,
    penalties: {},
    seeds: {},
    finished: [],
    rollbacksSeen: 0,
    lastDecision: null,
  };
}

// ------------------------------------------------------------------ commands

/**
 * The id of the command answering `packetId` with `op` on `seedId`: a
 * sha256-derived token, so any packet id (up to 128 characters) gives a valid,
 * bounded command id, and the same inputs always give the same id.
 */
export function deriveCommandId(packetId: string, seedId: string, op: string): string {
  const digest = createHash('sha256').update(`${packetId}\u0000${seedId}\u0000${op}`).digest('hex').slice(0, 40);
  return `tamiyo-${op.toLowerCase()}-${digest}`;
}

/** Longest annotation value (the schema's limit). */
const MAX_ANNOTATION = 512;

/** `text` cut to `max` characters, with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Options of {@link seedCommand}. */
export interface SeedCommandOptions {
  /** Milliseconds after the packet's time past which the command must not be executed. */
  readonly deadlineMs: number;
  /** `name@version` of the issuing policy (annotation `policy`). */
  readonly policy: string;
  /** Why (annotation `reason`). */
  readonly reason: string;
}

/**
 * A SEED command answering `packet`: id derived from packet + seed + op,
 * `causationPacketId` the packet's id, `issuedAt` the packet's time.
 */
export function seedCommand(packet: SystemStatePacket, seedId: string, seedOperation: SeedOperation, options: SeedCommandOptions): AdaptationCommand {
  const annotations: Annotations = {
    policy: clip(options.policy, MAX_ANNOTATION),
    reason: clip(options.reason, MAX_ANNOTATION),
    epoch: String(packet.epoch),
  };
  return {
    commandId: deriveCommandId(packet.packetId, seedId, seedOperation.op),
    type: 'SEED',
    targetSeedId: seedId,
    deadlineMs: options.deadlineMs,
    annotations,
    seedOperation,
    causationPacketId: packet.packetId,
    issuedAt: packet.ts,
  };
}
