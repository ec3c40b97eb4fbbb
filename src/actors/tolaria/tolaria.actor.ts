/**
 * Tolaria on a trainer node (DESIGN §1, §3): the supervisor every hosted run
 * starts under (each run a subtree of its own, run-actor.ts), and the orphan
 * sweeper — a worker that, every `sweepMs`, looks for runs whose node died
 * and resumes them here (the sweep itself is the node's run service). A
 * sweep that throws crashes the sweeper; the supervisor restarts it.
 */
import { alwaysRestart, type SupervisorSpec, type WorkerSpec } from '../../supervision/index.ts';

/** Child id of the node's Tolaria supervisor under Weatherlight. */
export const TOLARIA_SUPERVISOR_ID = 'tolaria';
/** Child id of the orphan sweeper. */
export const ORPHAN_SWEEPER_ID = 'orphan-sweeper';

export interface TolariaNodeOptions {
  /** One pass of the orphan sweep (undefined until the run service is up). */
  sweep: () => Promise<void> | undefined;
  /** Time between passes, ms. */
  sweepMs: number;
}

type SweeperMessage = { type: 'sweep' };

interface SweeperState {
  timer: NodeJS.Timeout;
  passes: number;
}

/** The orphan sweeper: one sweep pass at start and every `sweepMs`, one at a time. */
export function orphanSweeperSpec(options: TolariaNodeOptions): WorkerSpec<SweeperState, SweeperMessage> {
  return {
    id: ORPHAN_SWEEPER_ID,
    restart: 'permanent',
    shutdownTimeoutMs: 30_000,
    subsystem: 'tolaria',
    behaviour: {
      init: (ctx) => {
        const timer = setInterval(() => ctx.self.dispatch({ type: 'sweep' }), options.sweepMs);
        timer.unref();
        ctx.self.dispatch({ type: 'sweep' });
        return { timer, passes: 0 };
      },
      handle: async (state) => {
        await options.sweep();
        state.passes++;
        return state;
      },
      terminate: (state) => clearInterval(state.timer),
    },
  };
}

/** The node's Tolaria: the sweeper first; runs are added as they start. */
export function tolariaSupervisorSpec(options: TolariaNodeOptions): SupervisorSpec {
  return {
    id: TOLARIA_SUPERVISOR_ID,
    strategy: 'one_for_one',
    intensity: { maxRestarts: 10, periodMs: 60_000 },
    backoff: { initialMs: 200, maxMs: 10_000, factor: 2, jitter: 0.2 },
    // A run gives up on its own (its supervisor is temporary); the sweeper is restarted whatever ended it.
    policy: alwaysRestart,
    subsystem: 'tolaria',
    children: [orphanSweeperSpec(options)],
  };
}
