/**
 * The Tamiyo actor (DESIGN §1): a thin shell holding a policy's memory.
 *
 * - **decide** (a query: a SystemStatePacket + the policy context) runs the
 *   pure policy and replies with a {@link TamiyoDecision} (`policy` is
 *   `name@version`, `fallback: false`, `decisionMs` the time it took). The
 *   FieldReports the policy derives from the packet (seeds fossilized or
 *   pruned since the last one) are recorded and handed to `onFieldReport`. A
 *   packet that fails its schema is answered with ESPER_SCHEMA_VIOLATION and
 *   changes nothing.
 * - **fieldReport** records a report from elsewhere (e.g. an ABORTED command
 *   reported by Tolaria); a report already recorded (same `commandId` and
 *   outcome) is ignored.
 * - **status** replies with a {@link TamiyoStatus}.
 *
 * A throwing policy (a bug) crashes the actor; the supervisor restarts it
 * from `initialMemory` (or the policy's initial memory).
 */
import {
  FieldReportSchema,
  SystemStatePacketSchema,
  TamiyoDecisionSchema,
  formatZodIssues,
  type FieldReport,
  type SystemStatePacket,
  type TamiyoDecision,
} from '../../contracts/index.ts';
import { InputError } from '../../errors/index.ts';
import type { ActorContext, Behaviour, WorkerSpec } from '../../supervision/index.ts';
import { heuristicPolicy } from './heuristic-policy.ts';
import { policyLabel, type PolicyContext, type PolicyMemory, type TamiyoPolicy } from './policy.ts';

/** What the Tamiyo actor understands. */
export type TamiyoMessage =
  /** Decide one packet; replies with a TamiyoDecision. */
  | { readonly type: 'decide'; readonly packet: SystemStatePacket; readonly context: PolicyContext }
  /** Record a FieldReport; replies `{ recorded: boolean }`. */
  | { readonly type: 'fieldReport'; readonly report: FieldReport }
  /** Replies with a TamiyoStatus (the memory included). */
  | { readonly type: 'status' };

/** The actor's state. */
export interface TamiyoState<M = PolicyMemory> {
  readonly memory: M;
  /** Reports recorded, oldest first (at most `maxFieldReports`). */
  readonly fieldReports: readonly FieldReport[];
  readonly decisions: number;
}

/** Reply of `status`. */
export interface TamiyoStatus<M = PolicyMemory> {
  readonly policy: string;
  readonly decisions: number;
  readonly fieldReports: readonly FieldReport[];
  readonly memory: M;
}

/** Options of the Tamiyo actor. */
export interface TamiyoOptions<M = PolicyMemory> {
  /** @default the heuristic with its default config */
  policy?: TamiyoPolicy<M>;
  /** Memory to start from (e.g. persisted); @default the policy's initial memory. */
  initialMemory?: M;
  /** Called with every FieldReport the policy derives (e.g. publish `tamiyo.field_report`); a throw is logged, never fatal. */
  onFieldReport?: (report: FieldReport) => void;
  /** Reports kept in the state. @default 256 */
  maxFieldReports?: number;
  /** Milliseconds clock for `decisionMs`. @default performance.now */
  nowMs?: () => number;
}

/** How long the actor may take to stop, ms. */
export const TAMIYO_SHUTDOWN_TIMEOUT_MS = 2_000;

function recordReport(reports: readonly FieldReport[], report: FieldReport, max: number): readonly FieldReport[] | null {
  if (reports.some((r) => r.commandId === report.commandId && r.outcome === report.outcome)) return null;
  return [...reports, report].slice(-max);
}

/** The behaviour of the Tamiyo actor (with no `policy`, the heuristic with its default config). */
export function tamiyoBehaviour(options?: TamiyoOptions): Behaviour<TamiyoState, TamiyoMessage>;
/** The behaviour of the Tamiyo actor running `options.policy`. */
export function tamiyoBehaviour<M>(options: TamiyoOptions<M> & { policy: TamiyoPolicy<M> }): Behaviour<TamiyoState<M>, TamiyoMessage>;
export function tamiyoBehaviour<M>(options: TamiyoOptions<M> = {}): Behaviour<TamiyoState<M>, TamiyoMessage> {
  // Without a policy the overloads guarantee M = PolicyMemory, which is the heuristic's memory.
  const policy = options.policy ?? (heuristicPolicy() as unknown as TamiyoPolicy<M>);
  const label = policyLabel(policy);
  const max = options.maxFieldReports ?? 256;
  const nowMs = options.nowMs ?? (() => performance.now());

  const decide = (state: TamiyoState<M>, msg: Extract<TamiyoMessage, { type: 'decide' }>, ctx: ActorContext<TamiyoMessage>): TamiyoState<M> => {
    const parsed = SystemStatePacketSchema.safeParse(msg.packet);
    if (!parsed.success) {
      const issues = formatZodIssues(parsed.error);
      ctx.replyError(new InputError('ESPER_SCHEMA_VIOLATION', `invalid SystemStatePacket: ${issues.join('; ')}`, { details: { issues } }));
      return state;
    }
    const packet = parsed.data;
    const started = nowMs();
    const result = policy.decide(packet, state.memory, msg.context);
    const reports = policy.fieldReports?.(state.memory, result.memory, packet) ?? [];
    const decision: TamiyoDecision = TamiyoDecisionSchema.parse({
      packetId: packet.packetId,
      runId: packet.runId,
      epoch: packet.epoch,
      commands: result.commands,
      policy: label,
      reason: result.reason,
      fallback: false,
      decisionMs: Math.max(0, nowMs() - started),
    });
    let fieldReports = state.fieldReports;
    for (const report of reports) {
      const next = recordReport(fieldReports, report, max);
      if (next === null) continue;
      fieldReports = next;
      try {
        options.onFieldReport?.(report);
      } catch (error) {
        ctx.log.error({ err: error, commandId: report.commandId }, 'handing on a field report failed');
      }
    }
    ctx.log.debug({ packetId: packet.packetId, epoch: packet.epoch, commands: decision.commands.length, reason: decision.reason }, 'tamiyo decided');
    ctx.reply(decision);
    return { memory: result.memory, fieldReports, decisions: state.decisions + 1 };
  };

  return {
    init: () => ({ memory: options.initialMemory ?? policy.initialMemory(), fieldReports: [], decisions: 0 }),
    handle: (state, msg, ctx) => {
      switch (msg.type) {
        case 'decide':
          return decide(state, msg, ctx);
        case 'fieldReport': {
          const parsed = FieldReportSchema.safeParse(msg.report);
          if (!parsed.success) {
            const issues = formatZodIssues(parsed.error);
            ctx.replyError(new InputError('ESPER_SCHEMA_VIOLATION', `invalid FieldReport: ${issues.join('; ')}`, { details: { issues } }));
            return state;
          }
          const next = recordReport(state.fieldReports, parsed.data, max);
          ctx.reply({ recorded: next !== null });
          return next === null ? state : { ...state, fieldReports: next };
        }
        case 'status': {
          const status: TamiyoStatus<M> = { policy: label, decisions: state.decisions, fieldReports: state.fieldReports, memory: state.memory };
          ctx.reply(status);
          return state;
        }
      }
    },
  };
}

/** A permanent worker running the Tamiyo actor (child id `tamiyo`) with the heuristic, or `options.policy`. */
export function tamiyoWorkerSpec(options?: TamiyoOptions): WorkerSpec<TamiyoState, TamiyoMessage>;
export function tamiyoWorkerSpec<M>(options: TamiyoOptions<M> & { policy: TamiyoPolicy<M> }): WorkerSpec<TamiyoState<M>, TamiyoMessage>;
export function tamiyoWorkerSpec<M>(options: TamiyoOptions<M> = {}): WorkerSpec<TamiyoState<M>, TamiyoMessage> {
  const behaviour = options.policy === undefined
    ? (tamiyoBehaviour(options as TamiyoOptions) as unknown as Behaviour<TamiyoState<M>, TamiyoMessage>)
    : tamiyoBehaviour({ ...options, policy: options.policy });
  return { id: 'tamiyo', restart: 'permanent', shutdownTimeoutMs: TAMIYO_SHUTDOWN_TIMEOUT_MS, subsystem: 'tamiyo', behaviour };
}
