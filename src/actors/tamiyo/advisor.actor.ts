/**
 * Tamiyo as a run's advisor (DESIGN §1, §5): one actor per run, under the
 * run's supervisor, that answers `decide` queries with its policy's decision.
 * The policy memory travels with each query and comes back in the reply:
 * Tolaria commits it only when it uses the decision (a decision that misses
 * its deadline leaves no trace) and checkpoints it at every epoch boundary.
 * So the actor holds nothing a restart could lose, and its supervisor may
 * restart it at any time.
 *
 * A policy that throws (a bug) crashes the actor: the query is rejected with
 * the crash's code at once, the supervisor restarts the actor, and the caller's
 * breaker answers "no change this epoch". An asynchronous decision (a remote
 * Tamiyo, `decide`) is answered when it settles, without blocking the mailbox,
 * so one hanging decision never wedges the next.
 */
import type { SystemStatePacket } from '../../contracts/index.ts';
import type { Behaviour, WorkerSpec } from '../../supervision/index.ts';
import { policyLabel, type PolicyContext, type PolicyDecision, type PolicyMemory, type TamiyoPolicy } from './policy.ts';

/**
 * A replacement decision function (a remote Tamiyo, or a failing one in
 * tests); `builtin` is the run's own policy.
 */
export type TamiyoDecide = (
  packet: SystemStatePacket,
  memory: PolicyMemory,
  context: PolicyContext,
  builtin: (packet: SystemStatePacket, memory: PolicyMemory, context: PolicyContext) => PolicyDecision<PolicyMemory>,
) => PolicyDecision<PolicyMemory> | Promise<PolicyDecision<PolicyMemory>>;

/** What the advisor understands. */
export type TamiyoAdvisorMessage =
  /** Replies with the policy's decision (the next memory inside). */
  | { readonly type: 'decide'; readonly packet: SystemStatePacket; readonly memory: PolicyMemory; readonly context: PolicyContext }
  /** Replies with a {@link TamiyoAdvisorStatus}. */
  | { readonly type: 'status' };

/** Reply of `status`. */
export interface TamiyoAdvisorStatus {
  readonly policy: string;
  /** Decisions answered by this incarnation. */
  readonly decisions: number;
}

interface AdvisorState {
  decisions: number;
}

/** Child id of the advisor under a run's supervisor. */
export const TAMIYO_ADVISOR_ID = 'tamiyo';

/** The advisor's behaviour: `policy` decides unless `decide` replaces it. */
export function tamiyoAdvisorBehaviour(policy: TamiyoPolicy<PolicyMemory>, decide?: TamiyoDecide): Behaviour<AdvisorState, TamiyoAdvisorMessage> {
  const builtin = (packet: SystemStatePacket, memory: PolicyMemory, context: PolicyContext): PolicyDecision<PolicyMemory> => policy.decide(packet, memory, context);
  return {
    init: () => ({ decisions: 0 }),
    handle: (state, message, ctx) => {
      if (message.type === 'status') {
        ctx.reply({ policy: policyLabel(policy), decisions: state.decisions } satisfies TamiyoAdvisorStatus);
        return state;
      }
      state.decisions++;
      const answer = decide === undefined ? builtin(message.packet, message.memory, message.context) : decide(message.packet, message.memory, message.context, builtin);
      if (!(answer instanceof Promise)) {
        ctx.reply(answer);
        return state;
      }
      const replier = ctx.deferReply();
      answer.then(
        (decision) => replier?.resolve(decision),
        (error: unknown) => replier?.reject(error),
      );
      return state;
    },
  };
}

/** The advisor as a supervised child (permanent: restarted whatever ended it). */
export function tamiyoAdvisorSpec(policy: TamiyoPolicy<PolicyMemory>, decide?: TamiyoDecide): WorkerSpec<AdvisorState, TamiyoAdvisorMessage> {
  return { id: TAMIYO_ADVISOR_ID, restart: 'permanent', shutdownTimeoutMs: 2_000, subsystem: 'tamiyo', behaviour: tamiyoAdvisorBehaviour(policy, decide) };
}
