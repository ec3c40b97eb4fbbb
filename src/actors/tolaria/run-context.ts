/**
 * The one state of a running run: what Tolaria's parts (run-checkpoints,
 * epoch-boundary, tamiyo-adviser, epoch-step, run-results) read and change,
 * and what a boundary captures as {@link RunLoopState}. Built fresh or from a
 * resumed boundary; `apply` is the only way a seed's new state reaches the
 * tensors.
 */
import { slotInterfaceKey, type SlotInterface } from '../../contracts/common.ts';
import type { FieldReport, SeedState, SystemStatePacket } from '../../contracts/index.ts';
import type { EpochResult, EpochSeedSnapshot, RunRevivalRecord, RunRollbackRecord, RunSpec, SeedHistoryEntry } from '../../contracts/run.ts';
import type { TrainingSpecInput } from '../../contracts/training-spec.ts';
import { EsperError } from '../../errors/index.ts';
import type { Logger } from '../../infra/logger.ts';
import type { EpochReport, SeedModuleSource, SlotCommand, WidthSeedSource } from '../../tensor/training/training-session.ts';
import { SEED_QUERY_MS } from './run-checkpoints.ts';
import { attachObservation, MemorySeedStateStore, slotCommandFor, type KasminaHandle, type KernelCandidate, type SeedTransitionedEnvelope } from '../kasmina/index.ts';
import type { KernelChoice, PolicyMemory, SlotPlace } from '../tamiyo/index.ts';
import { initialGovernorState, type GovernorState } from './governor.ts';
import type { RunKernelEntry } from './run-kernels.ts';
import type { RunEvents } from './run-events.ts';
import { roleInterfaceKey, trainingSpecFor, type RunSlot } from './run-slots.ts';
import type { BoundaryCheckpointInfo, RunLoopState } from './run-state.ts';
import type { TrainingWorkerClient } from './worker/training-worker-client.ts';

/** Stages in which a seed is alive (attached and not yet fossilized). */
export const LIVE_STAGES: ReadonlySet<SeedState['stage']> = new Set<SeedState['stage']>(['GERMINATED', 'TRAINING', 'BLENDING', 'HOLDING']);

/**
 * Stages of a seed whose output is in the network but not yet merged into
 * it: its graft. BLENDING ramps α; HOLDING trains at α = 1 while G5 measures
 * the seed, and the host adapts to it there as much as in BLENDING (a
 * 784-10-2-10-10 run at SGD 0.15 fell from 69.8 % to 54.8 % in the HOLDING
 * epoch of a seed on its 2-unit layer, a fall the BLENDING-only window did
 * not count).
 */
export const GRAFTING_STAGES: ReadonlySet<SeedState['stage']> = new Set<SeedState['stage']>(['BLENDING', 'HOLDING']);

/** A checkpoint taken at an epoch boundary, with its bytes. */
export interface BoundaryCheckpoint extends BoundaryCheckpointInfo {
  bytes: Uint8Array;
  /** Fossilizations the run had made when it was taken ({@link RunContext.fossilizations}): a rollback to it cannot undo a later merge. */
  fossilizations: number;
}

/** A kernel a seed may load: VALIDATED, with what Tamiyo weighs. */
export type RunKernelCandidate = KernelCandidate & { paramCount: number; riskScore: number };

export interface RunContextOptions {
  runId: string;
  spec: RunSpec;
  /** False: the host alone (no slots, no policy). */
  growth: boolean;
  /** The run's slots (empty without growth). */
  slots: readonly RunSlot[];
  client: TrainingWorkerClient;
  events: RunEvents;
  /** The boundary this run continues from. */
  resumed?: RunLoopState | undefined;
  /** The policy's memory before the first packet (fresh runs). */
  initialMemory: PolicyMemory;
  log?: Logger | undefined;
}

export class RunContext {
  readonly runId: string;
  readonly spec: RunSpec;
  readonly growth: boolean;
  readonly startedAt: string;
  readonly log: Logger | undefined;
  readonly client: TrainingWorkerClient;
  readonly events: RunEvents;
  /** The run's slots by id, with their role, layer and interface. */
  readonly slots: ReadonlyMap<string, RunSlot>;
  /** The interface of each slot. */
  readonly interfaces: ReadonlyMap<string, SlotInterface>;
  readonly numClasses: number;
  readonly seedStore = new MemorySeedStateStore();
  /** This run's kernels, as compiled and validated at its start. */
  readonly kernels: RunKernelEntry[] = [];
  readonly kernelById = new Map<string, RunKernelEntry>();
  readonly candidates: RunKernelCandidate[] = [];
  /** Seed states as last applied to the tensors, by slot. */
  readonly current = new Map<string, SeedState>();
  kasmina: KasminaHandle | undefined;

  /** The tensor backend the worker runs (set once the worker is created; the spec's name until then) and, when it is not the one asked for, why. */
  backend: { active: string; fallbackReason?: string };
  iteration: number;
  checkpointCount: number;
  globalStep: number;
  hostParams: number;
  paramsAdded: number;
  germinations: number;
  lastAccuracy: number | undefined;
  governor: GovernorState;
  memory: PolicyMemory;
  readonly histories: Map<string, SeedHistoryEntry[]>;
  readonly lastParams: Map<string, number>;
  readonly blueprintOf: Map<string, string>;
  /** Validation accuracy when each live seed germinated (its improvement is measured against it). */
  readonly baseline: Map<string, number>;
  readonly epochs: EpochResult[];
  readonly rollbacks: RunRollbackRecord[];
  readonly fieldReports: FieldReport[];
  /** Dead layers revived so far, in order. */
  readonly revivals: RunRevivalRecord[];
  /** Per epoch: whether it was trained with a seed grafting, BLENDING or HOLDING, or right after such a seed was pruned or merged (graft drops are measured there: {@link GRAFTING_STAGES}). */
  readonly graftingAt: boolean[];

  constructor(options: RunContextOptions) {
    const r = options.resumed;
    this.runId = options.runId;
    this.spec = options.spec;
    this.growth = options.growth;
    this.startedAt = r?.startedAt ?? new Date().toISOString();
    this.log = options.log;
    this.client = options.client;
    this.events = options.events;
    this.slots = new Map(options.slots.map((slot) => [slot.slotId, slot]));
    this.interfaces = new Map(options.slots.map((slot) => [slot.slotId, slot.interface]));
    this.numClasses = options.spec.training.dataset.kind === 'fashion-mnist' ? 10 : 2;
    this.backend = { active: options.spec.training.backend };
    this.iteration = r?.iteration ?? 0;
    this.checkpointCount = r?.checkpointCount ?? 0;
    this.globalStep = r?.globalStep ?? 0;
    this.hostParams = r?.hostParams ?? 0;
    this.paramsAdded = r?.paramsAdded ?? 0;
    this.germinations = r?.germinations ?? 0;
    this.lastAccuracy = r?.lastAccuracy ?? undefined;
    this.governor = r?.governor ?? initialGovernorState();
    this.memory = r === undefined ? options.initialMemory : (structuredClone(r.memory) as unknown as PolicyMemory);
    this.histories = new Map(Object.entries(structuredClone(r?.histories ?? {})));
    this.lastParams = new Map(Object.entries(r?.lastParams ?? {}));
    this.blueprintOf = new Map(Object.entries(r?.blueprintOf ?? {}));
    this.baseline = new Map(Object.entries(r?.baseline ?? {}));
    this.epochs = structuredClone(r?.epochs ?? []);
    this.rollbacks = structuredClone(r?.rollbacks ?? []);
    this.fieldReports = structuredClone(r?.fieldReports ?? []);
    this.revivals = structuredClone(r?.revivals ?? []);
    this.graftingAt = [...(r?.blendingAt ?? [])];
  }

  /** The worker's training spec: the run's, without slots when the host trains alone. */
  get training(): TrainingSpecInput {
    return this.growth ? trainingSpecFor(this.spec, [...this.slots.values()]) : { ...this.spec.training, slots: [] };
  }

  /** The running Kasmina (after start). */
  get seeds(): KasminaHandle {
    if (this.kasmina === undefined) throw new EsperError('ESPER_INTERNAL', `run ${this.runId}: Kasmina is not running`);
    return this.kasmina;
  }

  /** Records a prepared kernel; VALIDATED ones become candidates. */
  addKernel(entry: RunKernelEntry): void {
    this.kernels.push(entry);
    this.kernelById.set(entry.kernelId, entry);
    if (entry.status === 'VALIDATED') {
      this.candidates.push({ kernelId: entry.kernelId, blueprintId: entry.blueprintId, status: 'VALIDATED', interface: entry.slotInterface, paramCount: entry.paramCount, riskScore: entry.riskScore });
    } else {
      this.log?.warn({ runId: this.runId, kernelId: entry.kernelId, blueprintId: entry.blueprintId, reasons: entry.reasons }, 'kernel rejected by validation; not a candidate');
    }
  }

  /** The candidate a seed's germination asks for: same slot interface, and the kernel or blueprint named, if any. */
  resolveKernel(request: { slotInterface: SlotInterface; kernelId?: string | undefined; blueprintId?: string | undefined }): RunKernelCandidate | null {
    const key = slotInterfaceKey(request.slotInterface);
    return (
      this.candidates.find(
        (c) => slotInterfaceKey(c.interface) === key && (request.kernelId === undefined || c.kernelId === request.kernelId) && (request.blueprintId === undefined || c.blueprintId === request.blueprintId),
      ) ?? null
    );
  }

  /** What Tamiyo may choose from: every candidate, keyed by role and interface (width kernels with their k). */
  availableKernels(): KernelChoice[] {
    return this.candidates.map((c) => {
      const entry = this.kernelById.get(c.kernelId);
      const role = entry?.role ?? 'depth';
      return {
        kernelId: c.kernelId,
        blueprintId: c.blueprintId,
        interfaceKey: roleInterfaceKey(role, slotInterfaceKey(c.interface)),
        riskScore: c.riskScore,
        paramCount: c.paramCount,
        status: 'VALIDATED',
        ...(entry?.width === undefined ? {} : { units: entry.width.units }),
      };
    });
  }

  /** The key of every slot (role and interface: what a kernel must match). */
  slotInterfaceKeys(): Record<string, string> {
    return Object.fromEntries([...this.slots.values()].map((slot) => [slot.slotId, roleInterfaceKey(slot.role, slotInterfaceKey(slot.interface))]));
  }

  /** Role and layer of every slot. */
  slotPlaces(): Record<string, SlotPlace> {
    return Object.fromEntries([...this.slots.values()].map((slot) => [slot.slotId, { role: slot.role, layer: slot.layer }]));
  }

  /** What a germinating seed builds: a width kernel's units, or a depth kernel's artifact. */
  moduleFor(kernelId: string): SeedModuleSource | WidthSeedSource {
    const kernel = this.kernelById.get(kernelId);
    if (kernel === undefined) throw new EsperError('ESPER_NOT_FOUND', `kernel ${kernelId} is not one of this run's kernels`, { details: { kernelId } });
    return kernel.width === undefined ? { kernel: { kernelId, artifact: kernel.artifact } } : { width: kernel.width };
  }

  /** Whether a slot widens its layer (its fossil is merged into the host). */
  isWidthSlot(slotId: string): boolean {
    return this.slots.get(slotId)?.role === 'width';
  }

  /** Kasmina's transition publisher: the event goes out and into the seed's history. */
  readonly onTransition = (envelope: SeedTransitionedEnvelope): void => {
    this.events.emit(() => (envelope.runId === undefined ? { ...envelope, runId: this.runId } : envelope));
    const d = envelope.data;
    const slotId = d.slotId ?? d.seedId;
    const list = this.histories.get(slotId) ?? [];
    list.push({ epoch: d.epoch, from: d.from, to: d.to, cause: d.cause, ...(d.kernelId === undefined ? {} : { kernelId: d.kernelId }) });
    this.histories.set(slotId, list);
  };

  /** Takes a seed's new state to the tensors (germination bookkeeping included). */
  async apply(next: SeedState): Promise<void> {
    const previous = this.current.get(next.slotId);
    if (next.stage === 'GERMINATED' && previous?.stage !== 'GERMINATED') {
      this.baseline.set(next.slotId, this.lastAccuracy ?? 0);
      this.germinations++;
      const kernel = next.kernelId === undefined ? undefined : this.kernelById.get(next.kernelId);
      this.paramsAdded += kernel?.paramCount ?? 0;
      if (next.blueprintId !== undefined) this.blueprintOf.set(next.slotId, next.blueprintId);
      const history = this.histories.get(next.slotId);
      const last = history?.[history.length - 1];
      if (last !== undefined && last.to === 'GERMINATED' && next.blueprintId !== undefined) last.blueprintId = next.blueprintId;
    }
    const command: SlotCommand | undefined = slotCommandFor(previous, next, (kernelId) => this.moduleFor(kernelId));
    if (command !== undefined) {
      const { shrinkSkipped } = await this.client.request('applySlot', command);
      if (shrinkSkipped !== undefined) {
        // A warning where the spec asked for it; a CNN's default (`shrinkAtMergeFor`) skipped beside a depth seed is routine.
        const fields = { runId: this.runId, slotId: next.slotId, reason: shrinkSkipped };
        if (this.spec.training.optimizer.shrinkAtMerge === undefined) this.log?.info(fields, 'shrink and perturb at the merge skipped');
        else this.log?.warn(fields, 'shrink and perturb at the merge skipped');
      }
    }
    this.current.set(next.slotId, next);
    if (command?.germinate === undefined) return;
    // The kernel is attached now: G1's check (loaded, parameters finite) is made here, so an ADVANCE at this
    // same boundary can start TRAINING instead of the seed idling an epoch until the epoch's telemetry.
    const check = await this.client.request('inspectSlot', { slotId: next.slotId });
    this.current.set(next.slotId, await this.seeds.seed(next.slotId).query<SeedState>({ type: 'attached', telemetry: attachObservation(check) }, SEED_QUERY_MS));
  }

  /** The seeds alive now. */
  liveSeeds(): SeedState[] {
    return [...this.current.values()].filter((s) => LIVE_STAGES.has(s.stage));
  }

  /** Seeds fossilized so far in this run (transitions to FOSSILIZED in the seed histories, which a resumed run keeps). */
  fossilizations(): number {
    let count = 0;
    for (const list of this.histories.values()) count += list.filter((entry) => entry.to === 'FOSSILIZED').length;
    return count;
  }

  /** The seed in a slot, by seed or slot id. */
  findSeed(seedOrSlotId: string): SeedState | undefined {
    return [...this.current.values()].find((s) => s.seedId === seedOrSlotId || s.slotId === seedOrSlotId);
  }

  /** Every seed's stage and α, for an epoch's record. */
  snapshot(): EpochSeedSnapshot[] {
    return [...this.current.values()].map((s) => ({ seedId: s.seedId, slotId: s.slotId, stage: s.stage, alpha: s.alpha }));
  }

  /** The packet Tamiyo answers for an epoch's report (with the per-layer signals the worker measured, if any). */
  packetFor(report: Pick<EpochReport, 'epoch' | 'validationAccuracy' | 'validationLoss' | 'trainLoss'> & { layers?: EpochReport['layers'] }): SystemStatePacket {
    return {
      v: 1,
      packetId: `${this.runId}-p${report.epoch}`,
      runId: this.runId,
      epoch: report.epoch,
      globalStep: this.globalStep,
      validationAccuracy: report.validationAccuracy,
      validationLoss: report.validationLoss,
      trainingLoss: report.trainLoss,
      metrics: {},
      hardware: { backend: this.backend.active },
      seeds: [...this.current.values()],
      ...(report.layers === undefined ? {} : { layers: report.layers }),
      ts: new Date().toISOString(),
    };
  }

  /** Host + every live seed's and depth fossil's last reported parameters (width fossils are part of the host). */
  paramCount(seeds: readonly EpochSeedSnapshot[]): number {
    const counted = (s: EpochSeedSnapshot): boolean => LIVE_STAGES.has(s.stage) || (s.stage === 'FOSSILIZED' && !this.isWidthSlot(s.slotId));
    return this.hostParams + seeds.reduce((sum, s) => sum + (counted(s) ? (this.lastParams.get(s.slotId) ?? 0) : 0), 0);
  }

  /** Records an epoch's result and emits `tolaria.epoch.completed`. */
  recordEpoch(result: EpochResult, graftingDuring: boolean, metrics: Record<string, number>): void {
    this.epochs.push(result);
    this.graftingAt.push(graftingDuring);
    this.events.epochCompleted(result, this.globalStep, this.paramCount(result.seeds), { ...metrics, liveSeeds: result.seeds.filter((s) => LIVE_STAGES.has(s.stage)).length });
  }

  /** The loop state that goes with the boundary checkpoint `taken`. */
  loopState(taken: BoundaryCheckpoint): RunLoopState {
    const { bytes: _bytes, fossilizations: _fossilizations, ...info } = taken;
    return structuredClone({
      v: 1 as const,
      runId: this.runId,
      startedAt: this.startedAt,
      iteration: this.iteration,
      checkpointCount: this.checkpointCount,
      checkpoint: info,
      globalStep: this.globalStep,
      hostParams: this.hostParams,
      paramsAdded: this.paramsAdded,
      germinations: this.germinations,
      lastAccuracy: this.lastAccuracy ?? null,
      governor: { window: [...this.governor.window], consecutive: this.governor.consecutive, lastEpoch: this.governor.lastEpoch },
      memory: this.memory as unknown as Record<string, unknown>,
      seedStates: this.seedStore.all(),
      histories: Object.fromEntries(this.histories),
      lastParams: Object.fromEntries(this.lastParams),
      blueprintOf: Object.fromEntries(this.blueprintOf),
      baseline: Object.fromEntries(this.baseline),
      epochs: this.epochs,
      rollbacks: this.rollbacks,
      // Stored under its first name (it counted BLENDING epochs only), so a run checkpointed before resumes.
      blendingAt: this.graftingAt,
      fieldReports: this.fieldReports,
      ...(this.revivals.length === 0 ? {} : { revivals: this.revivals }),
    });
  }
}
