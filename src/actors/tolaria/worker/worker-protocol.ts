/**
 * Messages between the node's event loop and a training worker thread. The
 * worker answers every request exactly once, with data or a coded error.
 */
import type { WireError } from '../../../errors/index.ts';
import type { EpochReport, ModelSummary, RevivalRequest, RevivalResult, SlotApplied, SlotAttachCheck, SlotCommand } from '../../../tensor/training/training-session.ts';
import type { KernelPreparationJob, PreparedKernel } from './kernel-preparation.ts';
import type { TrainingSpecInput } from '../../../contracts/training-spec.ts';

/** Operations and their argument / result types. */
export interface WorkerOps {
  create: { args: TrainingSpecInput; result: ModelSummary };
  runEpoch: { args: null; result: EpochReport };
  evaluate: { args: null; result: { loss: number; accuracy: number } };
  /** Loss and accuracy on the dataset's held-out test set (read from disk now), null when it has none; once, at the end of a run. */
  evaluateTest: { args: null; result: { loss: number; accuracy: number; size: number } | null };
  applySlot: { args: SlotCommand; result: ModelSummary & SlotApplied };
  summary: { args: null; result: ModelSummary };
  /** Revives a chain of hidden layers whose units all died (see `TrainingSession.reviveLayers`). */
  reviveLayers: { args: RevivalRequest; result: RevivalResult };
  /** A slot's seed as attached (kind, parameters finite): what G1 checks right after a germination. */
  inspectSlot: { args: { slotId: string }; result: SlotAttachCheck };
  checkpoint: { args: { meta: unknown }; result: { bytes: Uint8Array; hash: string } };
  restore: { args: { bytes: Uint8Array; mode: 'exact' | 'rollback' | 'retry' }; result: { prunedSlots: string[]; epoch: number } };
  /** Fault injection: overwrites the seed in `slotId` with NaN (false when the slot holds no seed). */
  poisonSeed: { args: { slotId: string }; result: { poisoned: boolean } };
  /** Test hook: makes the worker thread crash (uncaught error) to exercise supervision. */
  crash: { args: null; result: never };
  memory: { args: null; result: { numTensors: number; numBytes: number } };
  /** Compiles and validates one kernel on the session's backend (send after `create`). */
  prepareKernel: { args: KernelPreparationJob; result: PreparedKernel };
}

export type WorkerOp = keyof WorkerOps;

export interface WorkerRequest<O extends WorkerOp = WorkerOp> {
  id: number;
  op: O;
  args: WorkerOps[O]['args'];
}

export type WorkerResponse = { id: number; ok: true; data: unknown } | { id: number; ok: false; error: WireError };
