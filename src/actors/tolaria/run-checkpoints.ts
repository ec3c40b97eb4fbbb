/**
 * Checkpoints and rollback (DESIGN §2): Tolaria checkpoints at every epoch
 * boundary (keeping the last {@link KEPT_CHECKPOINTS} in memory for operator
 * rollbacks) and alone decides a rollback: the tensors come back exactly
 * (hash-verified), live seeds are pruned through their actors, and the cause
 * is recorded and emitted.
 */
import { createMessage } from '../../contracts/registry.ts';
import type { RunRollbackRecord } from '../../contracts/run.ts';
import type { SeedState } from '../../contracts/index.ts';
import { seedCommand } from '../tamiyo/index.ts';
import type { BoundaryCheckpoint, RunContext } from './run-context.ts';
import { RUN_LOOP_SOURCE } from './run-events.ts';

/** Checkpoints a run keeps in memory for operator rollbacks. */
export const KEPT_CHECKPOINTS = 3;
/** How long a seed actor may take to answer, ms. */
export const SEED_QUERY_MS = 10_000;
/** Deadline stamped on the commands Tolaria issues, ms. */
export const COMMAND_DEADLINE_MS = 60_000;

/** What a rollback did. */
export interface RollbackOutcome {
  restoredHostWeightsHash: string;
  prunedSlots: string[];
  evaluation: { loss: number; accuracy: number };
  record: RunRollbackRecord;
}

export class RunCheckpoints {
  readonly #ctx: RunContext;
  readonly #recent: BoundaryCheckpoint[] = [];
  #last: BoundaryCheckpoint | undefined;

  constructor(ctx: RunContext) {
    this.#ctx = ctx;
  }

  /** The latest checkpoint (the current boundary's). */
  get last(): BoundaryCheckpoint | undefined {
    return this.#last;
  }

  /** Ids of the checkpoints kept, oldest first. */
  get keptIds(): string[] {
    return this.#recent.map((c) => c.checkpointId);
  }

  /** `checkpointId` among those kept; without an id, the one before the latest. */
  find(checkpointId?: string): BoundaryCheckpoint | undefined {
    return checkpointId === undefined ? this.#recent[this.#recent.length - 2] : this.#recent.find((c) => c.checkpointId === checkpointId);
  }

  /** Takes a checkpoint of the tensors now; it becomes the latest. */
  async take(): Promise<BoundaryCheckpoint> {
    const ctx = this.#ctx;
    const id = `${ctx.runId}-ckpt-${ctx.checkpointCount}`;
    ctx.checkpointCount++;
    const saved = await ctx.client.request('checkpoint', { meta: { runId: ctx.runId, iteration: ctx.iteration, checkpointId: id } });
    const summary = await ctx.client.request('summary', null);
    ctx.hostParams = summary.hostParams;
    const taken: BoundaryCheckpoint = {
      checkpointId: id,
      epoch: ctx.iteration,
      globalStep: ctx.globalStep,
      hash: saved.hash,
      hostWeightsHash: summary.hostWeightsHash,
      sizeBytes: saved.bytes.byteLength,
      createdAt: new Date().toISOString(),
      bytes: saved.bytes,
      fossilizations: ctx.fossilizations(),
    };
    this.#recent.push(taken);
    while (this.#recent.length > KEPT_CHECKPOINTS) this.#recent.shift();
    this.#last = taken;
    return taken;
  }

  /**
   * Restores `target` (live seeds pruned), prunes the live seeds' actors, records and emits the rollback.
   * `keepSeeds` (a retry): every slot restored as checkpointed and no seed pruned — only for the checkpoint of
   * this epoch's own boundary, whose seeds are the seeds now.
   */
  async rollbackTo(target: BoundaryCheckpoint, fromEpoch: number, trigger: RunRollbackRecord['cause'], reason: string, options: { keepSeeds?: boolean } = {}): Promise<RollbackOutcome> {
    const ctx = this.#ctx;
    const { runId } = ctx;
    const restored = await ctx.client.request('restore', { bytes: target.bytes, mode: options.keepSeeds === true ? 'retry' : 'rollback' });
    const restoredHostWeightsHash = (await ctx.client.request('summary', null)).hostWeightsHash;
    const evaluation = await ctx.client.request('evaluate', null);
    const packet = ctx.packetFor({ epoch: fromEpoch, validationAccuracy: evaluation.accuracy, validationLoss: evaluation.loss, trainLoss: evaluation.loss });
    const live = options.keepSeeds === true ? [] : ctx.liveSeeds();
    const rolledBackEvent = ctx.events.emit(() =>
      createMessage(
        'tolaria.run.rolled_back',
        {
          runId,
          fromEpoch,
          toEpoch: target.epoch,
          checkpointId: target.checkpointId,
          restoredHash: restoredHostWeightsHash,
          cause: { trigger, reason: reason.slice(0, 500) || trigger },
          prunedSeedIds: live.map((s) => s.seedId),
        },
        { source: RUN_LOOP_SOURCE, runId },
      ),
    );
    for (const state of live) {
      const command = seedCommand(packet, state.seedId, { op: 'PRUNE' }, { deadlineMs: COMMAND_DEADLINE_MS, policy: trigger === 'operator' ? 'operator' : 'tolaria-governor', reason: `rollback: ${reason}` });
      ctx.events.emit(() => createMessage('tamiyo.command.issued', command, { source: RUN_LOOP_SOURCE, runId, ...(rolledBackEvent === undefined ? {} : { causedBy: rolledBackEvent }) }));
      try {
        await ctx.apply(await ctx.seeds.seed(state.slotId).query<SeedState>({ type: 'command', command }, SEED_QUERY_MS));
      } catch (error) {
        ctx.log?.warn({ err: error, slotId: state.slotId }, 'prune after rollback refused');
      }
    }
    const record: RunRollbackRecord = { epoch: fromEpoch, cause: trigger, checkpointId: target.checkpointId, toEpoch: target.epoch, reason: reason.slice(0, 500), ...(options.keepSeeds === true ? { seedsKept: true } : {}) };
    ctx.rollbacks.push(record);
    ctx.lastAccuracy = evaluation.accuracy;
    return { restoredHostWeightsHash, prunedSlots: restored.prunedSlots, evaluation, record };
  }
}
