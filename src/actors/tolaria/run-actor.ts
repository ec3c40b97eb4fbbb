/**
 * A run as a supervised actor subtree (DESIGN §1, §5):
 *
 *     <parent>/run-<runId>            one_for_one, temporary (a run is never restarted whole)
 *       ├─ tolaria                    the loop driver (transient)
 *       ├─ kasmina-<runId>            the run's seed actors, one per slot
 *       └─ tamiyo                     the run's advisor
 *
 * The `tolaria` worker drives {@link runTraining}; at every epoch boundary it
 * keeps the boundary's loop state and checkpoint bytes. When the loop fails
 * with a retryable error (the training worker thread died, a timeout) the
 * worker crashes and its supervisor restarts it — with backoff, bounded by
 * the run supervisor's intensity — and the new incarnation resumes exactly
 * from the last boundary (the same path a crash-resume on another node
 * takes). Any other error ends the run with that error. Kasmina's seed
 * actors and Tamiyo are restarted by the same supervisor when they crash;
 * Tamiyo holds nothing a restart loses, seeds resume from their stored state.
 */
import type { RunResults, RunSpec } from '../../contracts/run.ts';
import { EsperError, type WireError } from '../../errors/index.ts';
import type { Logger } from '../../infra/logger.ts';
import { startSupervisor, watch, type Supervisor, type WorkerSpec } from '../../supervision/index.ts';
import type { EpochBoundary } from './epoch-boundary.ts';
import { runTraining, type RunTrainingOptions } from './run-loop.ts';
import { runSupervisorSpec } from './run-supervision.ts';

/** Child id of the loop driver under a run's supervisor. */
export const RUN_LOOP_ACTOR_ID = 'tolaria';

/** A run started under supervision. */
export interface RunHandle {
  readonly runId: string;
  /** The run's supervisor (its subtree: the loop, Kasmina, Tamiyo). */
  readonly supervisor: Supervisor;
  /** Resolves with the results; rejects with the error that ended the run. */
  readonly finished: Promise<RunResults>;
  /** Times the loop was restarted from a boundary after a crash. */
  readonly restarts: number;
}

type LoopMessage = { type: 'done'; results: RunResults } | { type: 'crash'; error: unknown };

/** Whether a loop failure is one a restart from the last boundary may cure. */
export function restartable(error: unknown): boolean {
  return error instanceof EsperError && error.retryable;
}

function asError(wire: WireError | undefined, runId: string): EsperError {
  return new EsperError('ESPER_RESTART_INTENSITY', `run ${runId} gave up: ${wire === undefined ? 'its supervisor stopped' : `${wire.code}: ${wire.message}`}`, {
    ...(wire === undefined ? {} : { details: { code: wire.code } }),
  });
}

/**
 * Starts `spec` as a supervised run under `parent` (a node's Tolaria
 * supervisor), or under a root supervisor of its own.
 */
export interface StartRunOptions extends Omit<RunTrainingOptions, 'supervisor'> {
  runId: string;
  logger?: Logger;
  /**
   * Called before a restarted loop resumes from the last boundary: what was
   * emitted after that boundary is about to be emitted again (drop it).
   */
  onRestart?: () => void;
}

export async function startRun(parent: Supervisor | undefined, spec: RunSpec, options: StartRunOptions): Promise<RunHandle> {
  const { runId } = options;
  let settle: { resolve: (results: RunResults) => void; reject: (error: unknown) => void } | undefined;
  const finished = new Promise<RunResults>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const done = settle as NonNullable<typeof settle>;
  let settled = false;
  const finish = (outcome: { results: RunResults } | { error: unknown }): void => {
    if (settled) return;
    settled = true;
    if ('results' in outcome) done.resolve(outcome.results);
    else done.reject(outcome.error);
  };
  const spec0 = runSupervisorSpec(runId);
  const supervisor =
    parent === undefined
      ? await startSupervisor(spec0, { ...(options.logger === undefined ? {} : { logger: options.logger }), onGiveUp: (error) => finish({ error }) })
      : await parent.startChild(spec0);
  watch(supervisor, (terminated) => finish({ error: asError(terminated.error, runId) }));

  // The latest boundary: where a restarted loop resumes.
  let resume = options.resume;
  let restarts = 0;
  const boundary = async (b: EpochBoundary): Promise<void> => {
    await options.boundary?.(b);
    resume = { state: b.state, checkpoint: b.checkpoint.bytes };
  };
  const loop: WorkerSpec<{ incarnation: number }, LoopMessage> = {
    id: RUN_LOOP_ACTOR_ID,
    restart: 'transient',
    shutdownTimeoutMs: 10_000,
    subsystem: 'tolaria',
    behaviour: {
      init: (ctx) => {
        const incarnation = restarts;
        if (incarnation > 0) {
          options.logger?.warn({ runId, restarts: incarnation, fromEpoch: resume?.state.iteration ?? 0 }, 'run loop restarted; resuming from the last boundary');
          options.onRestart?.();
        }
        const { onRestart: _onRestart, ...training } = options;
        runTraining(spec, { ...training, supervisor, boundary, ...(resume === undefined ? {} : { resume }) }).then(
          // Settled inside the actor, so the run's subtree is stopped only after the loop driver has handled its end.
          (results) => ctx.self.dispatch({ type: 'done', results }),
          (error: unknown) => ctx.self.dispatch({ type: 'crash', error }),
        );
        return { incarnation };
      },
      handle: (state, message, ctx) => {
        if (message.type === 'done') {
          ctx.stop();
          finish({ results: message.results });
          return state;
        }
        if (!restartable(message.error)) {
          finish({ error: message.error });
          ctx.stop();
          return state;
        }
        restarts++;
        // Crash on purpose: the supervisor restarts the loop (from the last boundary) or gives up.
        throw message.error;
      },
    },
  };
  await supervisor.startChild(loop);
  // A run that finished (or failed for good) leaves nothing running.
  const cleanup = (): void => void supervisor.stop().catch(() => undefined);
  finished.then(cleanup, cleanup);
  return {
    runId,
    supervisor,
    finished,
    get restarts() {
      return restarts;
    },
  };
}
