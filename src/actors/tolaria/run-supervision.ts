/**
 * How a run's actors are supervised (DESIGN §5): the run supervisor's spec
 * and policy, shared by a supervised run (run-actor.ts) and a bare
 * `runTraining` (which starts the same supervisor as a root of its own).
 */
import { defaultPolicy, type Policy, type SupervisorSpec } from '../../supervision/index.ts';
import { TAMIYO_ADVISOR_ID } from '../tamiyo/index.ts';

/**
 * The run supervisor's policy: Tamiyo is always restarted (it is stateless;
 * its breaker covers the gap); the loop and Kasmina follow the default
 * policy (retryable → restart; repeated → escalate, ending the run).
 */
export const runSupervisionPolicy: Policy = (error, child, history) => (child.id === TAMIYO_ADVISOR_ID ? 'restart' : defaultPolicy(error, child, history));

/** The supervisor spec of one run (children are added as the run starts). */
export function runSupervisorSpec(runId: string): SupervisorSpec {
  return {
    id: `run-${runId}`,
    strategy: 'one_for_one',
    intensity: { maxRestarts: 5, periodMs: 60_000 },
    backoff: { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 },
    policy: runSupervisionPolicy,
    restart: 'temporary',
    subsystem: 'tolaria',
    children: [],
  };
}

