/**
 * The epoch boundary (DESIGN §3): between two epochs Tolaria checkpoints, and
 * a boundary hook (the run service: persist, serve operator requests, pause)
 * may act on the run through {@link EpochBoundary} — operator seed overrides
 * (Tamiyo bypassed, Kasmina's gates not), rollbacks and new checkpoints.
 */
import type { AdaptationCommand, SeedOperation, SeedState } from '../../contracts/index.ts';
import { createMessage } from '../../contracts/registry.ts';
import { EsperError, InputError } from '../../errors/index.ts';
import { COMMAND_DEADLINE_MS, SEED_QUERY_MS, type RunCheckpoints } from './run-checkpoints.ts';
import type { BoundaryCheckpoint, RunContext } from './run-context.ts';
import type { RunLoopState } from './run-state.ts';

/** Source stamped on operator commands. */
export const OPERATOR_SOURCE = 'ctl/operator';

/** What the boundary hook can do (only while it runs: between two epochs). */
export interface EpochBoundary {
  readonly runId: string;
  /** The checkpoint of this boundary (the latest one). */
  readonly checkpoint: BoundaryCheckpoint;
  /** The loop state that goes with {@link EpochBoundary.checkpoint}. */
  readonly state: RunLoopState;
  /** The seeds now. */
  seeds(): SeedState[];
  /**
   * An operator's seed override: Tamiyo is bypassed, Kasmina's gates are not
   * (a refused command throws its coded error). The command and the
   * transition it causes go into the event log. Take a new checkpoint after.
   */
  command(seedOrSlotId: string, operation: SeedOperation, meta: { requestId: string; reason: string }): Promise<{ command: AdaptationCommand; seed: SeedState }>;
  /**
   * Operator rollback: restores the checkpoint `checkpointId` (one of the last
   * `KEPT_CHECKPOINTS`), by default the one before this boundary's;
   * live seeds are pruned. Refused (`ESPER_CONFLICT`) when a seed fossilized
   * after that checkpoint: its merge cannot be undone. Take a new checkpoint after.
   */
  rollback(reason: string, checkpointId?: string): Promise<{ checkpointId: string; toEpoch: number }>;
  /** Takes a new checkpoint of the state now (after commands or a rollback); it becomes {@link EpochBoundary.checkpoint}. */
  recheckpoint(): Promise<void>;
}

/** An operator's command to one seed, as the event log records it. */
function operatorCommand(ctx: RunContext, seed: SeedState, operation: SeedOperation, meta: { requestId: string; reason: string }): AdaptationCommand {
  return {
    commandId: `${meta.requestId}-${operation.op.toLowerCase()}`,
    type: 'SEED',
    targetSeedId: seed.seedId,
    deadlineMs: COMMAND_DEADLINE_MS,
    annotations: { policy: 'operator', reason: meta.reason.slice(0, 200), epoch: String(ctx.iteration) },
    seedOperation: operation,
    causationPacketId: meta.requestId,
    issuedAt: new Date().toISOString(),
  };
}

/** Checkpoints the boundary, then lets `hook` act on the run until it resolves. */
export async function crossBoundary(ctx: RunContext, checkpoints: RunCheckpoints, hook: ((boundary: EpochBoundary) => Promise<void>) | undefined): Promise<void> {
  let taken = await checkpoints.take();
  if (hook === undefined) return;
  const { runId, spec } = ctx;
  const boundary: EpochBoundary = {
    runId,
    get checkpoint() {
      return taken;
    },
    get state() {
      return ctx.loopState(taken);
    },
    seeds: () => [...ctx.current.values()].map((s) => structuredClone(s)),
    command: async (seedOrSlotId, operation, meta) => {
      const state = ctx.findSeed(seedOrSlotId);
      if (state === undefined) throw new InputError('ESPER_NOT_FOUND', `run ${runId} has no seed or slot ${JSON.stringify(seedOrSlotId)}`);
      if (operation.op === 'GERMINATE' && ctx.germinations >= spec.budgets.maxSeeds) {
        throw new EsperError('ESPER_CONFLICT', `run ${runId} has spent its seed budget (${spec.budgets.maxSeeds} germinations)`, { details: { maxSeeds: spec.budgets.maxSeeds } });
      }
      const command = operatorCommand(ctx, state, operation, meta);
      ctx.events.emit(() => createMessage('tamiyo.command.issued', command, { source: OPERATOR_SOURCE, runId }));
      const next = await ctx.seeds.seed(state.slotId).query<SeedState>({ type: 'command', command }, SEED_QUERY_MS);
      await ctx.apply(next);
      return { command, seed: structuredClone(next) };
    },
    rollback: async (reason, checkpointId) => {
      const target = checkpoints.find(checkpointId);
      if (target === undefined) {
        throw new InputError(
          'ESPER_NOT_FOUND',
          checkpointId === undefined ? `run ${runId} has no checkpoint before this boundary yet` : `run ${runId} keeps checkpoints ${checkpoints.keptIds.join(', ')}; ${checkpointId} is not one of them`,
        );
      }
      const later = ctx.fossilizations() - target.fossilizations;
      if (later > 0) {
        // Its tensors hold those seeds live (a rollback prunes them) while their lifecycle has ended FOSSILIZED: refused, not made inconsistent.
        throw new EsperError('ESPER_CONFLICT', `run ${runId}: ${later} seed(s) fossilized after checkpoint ${target.checkpointId} (epoch ${target.epoch}); a fossil's merge cannot be rolled back, pick a later checkpoint (kept: ${checkpoints.keptIds.join(', ')})`, {
          details: { checkpointId: target.checkpointId, fossilizedSince: later },
        });
      }
      ctx.log?.warn({ runId, checkpointId: target.checkpointId, reason }, 'operator rollback');
      await checkpoints.rollbackTo(target, ctx.iteration, 'operator', reason);
      return { checkpointId: target.checkpointId, toEpoch: target.epoch };
    },
    recheckpoint: async () => {
      taken = await checkpoints.take();
    },
  };
  await hook(boundary);
}
