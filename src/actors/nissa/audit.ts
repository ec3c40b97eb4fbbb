/**
 * The audit of a run (pure): from its stored events, the causal chain of every
 * seed transition — transition → the AdaptationCommand that asked for it (the
 * transition's `causationId` is the command id) → the `tamiyo.decision.made`
 * that carried the command (or the `tolaria.run.rolled_back` behind a governor
 * prune) → the SystemStatePacket the decision answered, with that epoch's
 * metrics — and a replay that rebuilds every seed's stage from its
 * transitions in order and checks it against the states the run recorded last.
 */
import type { Envelope } from '../../contracts/envelope.ts';

/** A seed stage as stored (kept a string: the audit reads whatever was stored). */
type Stage = string;

interface TransitionData {
  seedId: string;
  slotId?: string;
  from: Stage;
  to: Stage;
  epoch: number;
  cause: { commandId?: string; gate?: string; reason: string };
  kernelId?: string;
}

interface CommandData {
  commandId: string;
  type: string;
  targetSeedId?: string;
  seedOperation?: { op: string; blueprintId?: string; kernelId?: string };
  hostOperation?: { op: string; layers: number[] };
  annotations?: Record<string, string>;
  causationPacketId: string;
}

interface DecisionData {
  packetId: string;
  epoch: number;
  commands: CommandData[];
  policy: string;
  reason: string;
  fallback: boolean;
}

/** The command link of a transition. */
export interface AuditCommand {
  commandId: string;
  type: string;
  op?: string;
  blueprintId?: string;
  /** Who issued it (`annotations.policy`), e.g. `heuristic@1`, `tolaria-governor`. */
  policy?: string;
  reason?: string;
}

/** The decision link. */
export interface AuditDecision {
  eventId: string;
  epoch: number;
  policy: string;
  reason: string;
  fallback: boolean;
}

/** The packet link: the SystemStatePacket answered and that epoch's metrics. */
export interface AuditPacket {
  packetId: string;
  epoch?: number;
  validationAccuracy?: number;
  validationLoss?: number;
  trainingLoss?: number;
}

/** One transition with everything it traces back to. */
export interface AuditEntry {
  /** The transition event's id. */
  eventId: string;
  epoch: number;
  seedId: string;
  slotId?: string;
  from: Stage;
  to: Stage;
  cause: string;
  gate?: string;
  /** `command`: asked for by a command; `epoch`: happened by itself at an epoch boundary (α schedule, embargo, …). */
  origin: 'command' | 'epoch';
  command?: AuditCommand;
  decision?: AuditDecision;
  /** The rollback behind a governor command. */
  rollback?: { eventId: string; fromEpoch: number; toEpoch: number; reason: string };
  packet?: AuditPacket;
  /** Links that should exist but were not found among the events. */
  missing: string[];
}

const TRANSITIONED = 'kasmina.seed.transitioned';
const DECISION = 'tamiyo.decision.made';
const COMMAND_ISSUED = 'tamiyo.command.issued';
const PACKET = 'tolaria.state.published';
const EPOCH = 'tolaria.epoch.completed';
const ROLLED_BACK = 'tolaria.run.rolled_back';
/** The run's last event: its final seed states (see the run loop). */
export const RUN_COMPLETED = 'tolaria.run.completed';

/** A stored event's field as an object (`{}` when it is not one): stored data is read as whatever was stored. */
export const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
/** A stored event's field as a finite number, or undefined. */
export const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

function metricsOf(packetId: string, d: Record<string, unknown>): AuditPacket {
  const epoch = num(d['epoch']);
  const va = num(d['validationAccuracy']);
  const vl = num(d['validationLoss']);
  const tl = num(d['trainingLoss']);
  return {
    packetId,
    ...(epoch === undefined ? {} : { epoch }),
    ...(va === undefined ? {} : { validationAccuracy: va }),
    ...(vl === undefined ? {} : { validationLoss: vl }),
    ...(tl === undefined ? {} : { trainingLoss: tl }),
  };
}

/** The packet link of a stored `tolaria.state.published` event's data (undefined without a packet id). */
export function readAuditPacket(data: unknown): AuditPacket | undefined {
  const d = record(data);
  return typeof d['packetId'] === 'string' ? metricsOf(d['packetId'], d) : undefined;
}

function toCommand(c: CommandData): AuditCommand {
  const policy = c.annotations?.['policy'];
  const reason = c.annotations?.['reason'];
  return {
    commandId: c.commandId,
    type: c.type,
    ...(c.seedOperation?.op === undefined ? {} : { op: c.seedOperation.op }),
    ...(c.seedOperation?.blueprintId === undefined ? {} : { blueprintId: c.seedOperation.blueprintId }),
    ...(policy === undefined ? {} : { policy }),
    ...(reason === undefined ? {} : { reason }),
  };
}

/** The causal chain of every seed transition among `events` (in their order), optionally of one seed (by seed id or slot id). */
export function auditTransitions(events: readonly Envelope[], options: { seed?: string } = {}): AuditEntry[] {
  const commands = new Map<string, { command: CommandData; decision?: Envelope<DecisionData>; issued?: Envelope }>();
  const byId = new Map<string, Envelope>();
  const packets = new Map<string, AuditPacket>();
  const epochMetrics = new Map<number, Record<string, unknown>>();
  for (const event of events) {
    byId.set(event.id, event);
    if (event.type === DECISION) {
      const decision = event as Envelope<DecisionData>;
      for (const command of decision.data.commands) commands.set(command.commandId, { command, decision });
    } else if (event.type === COMMAND_ISSUED) {
      const command = event.data as CommandData;
      if (!commands.has(command.commandId)) commands.set(command.commandId, { command, issued: event });
    } else if (event.type === PACKET) {
      const packet = readAuditPacket(event.data);
      if (packet !== undefined) packets.set(packet.packetId, packet);
    } else if (event.type === EPOCH) {
      const d = record(event.data);
      const epoch = num(d['epoch']);
      if (epoch !== undefined) epochMetrics.set(epoch, d);
    }
  }
  const packetOf = (packetId: string, epoch: number | undefined): AuditPacket => {
    const known = packets.get(packetId);
    if (known !== undefined) return known;
    // No packet event: the epoch's completed event gives the same metrics.
    const metrics = epoch === undefined ? undefined : epochMetrics.get(epoch);
    if (metrics === undefined) return { packetId };
    return metricsOf(packetId, { ...metrics, epoch });
  };

  const out: AuditEntry[] = [];
  for (const event of events) {
    if (event.type !== TRANSITIONED) continue;
    const t = event.data as TransitionData;
    if (options.seed !== undefined && t.seedId !== options.seed && t.slotId !== options.seed) continue;
    const commandId = t.cause.commandId ?? event.causationId;
    const entry: AuditEntry = {
      eventId: event.id,
      epoch: t.epoch,
      seedId: t.seedId,
      ...(t.slotId === undefined ? {} : { slotId: t.slotId }),
      from: t.from,
      to: t.to,
      cause: t.cause.reason,
      ...(t.cause.gate === undefined ? {} : { gate: t.cause.gate }),
      origin: commandId === undefined ? 'epoch' : 'command',
      missing: [],
    };
    if (commandId === undefined) {
      entry.packet = packetOf(`${event.runId ?? ''}-p${t.epoch}`, t.epoch);
      if (!packets.has(entry.packet.packetId)) delete entry.packet;
      out.push(entry);
      continue;
    }
    const found = commands.get(commandId);
    if (found === undefined) {
      entry.command = { commandId, type: 'SEED' };
      entry.missing.push(`command ${commandId}`);
      out.push(entry);
      continue;
    }
    entry.command = toCommand(found.command);
    if (found.decision !== undefined) {
      const d = found.decision;
      entry.decision = { eventId: d.id, epoch: d.data.epoch, policy: d.data.policy, reason: d.data.reason, fallback: d.data.fallback };
      entry.packet = packetOf(d.data.packetId, d.data.epoch);
      if (!packets.has(d.data.packetId)) entry.missing.push(`packet ${d.data.packetId}`);
    } else {
      const rolled = found.issued?.causationId === undefined ? undefined : byId.get(found.issued.causationId);
      if (rolled?.type === ROLLED_BACK) {
        const d = record(rolled.data);
        entry.rollback = { eventId: rolled.id, fromEpoch: num(d['fromEpoch']) ?? 0, toEpoch: num(d['toEpoch']) ?? 0, reason: ((r: unknown): string => (typeof r === 'string' ? r : ''))(record(d['cause'])['reason']) };
      } else {
        entry.missing.push(`decision of command ${commandId}`);
      }
      entry.packet = packetOf(found.command.causationPacketId, entry.rollback?.fromEpoch ?? t.epoch);
    }
    out.push(entry);
  }
  return out;
}

/** A dead-layer revival with what it traces back to (`tolaria.host.revived` ← HOST command ← decision ← packet). */
export interface AuditRevival {
  eventId: string;
  epoch: number;
  layers: number[];
  units: number;
  command?: AuditCommand;
  decision?: AuditDecision;
  packet?: AuditPacket;
  missing: string[];
}

const REVIVED = 'tolaria.host.revived';

/** Every dead-layer revival among `events`, in order, linked to its command, decision and packet. */
export function auditRevivals(events: readonly Envelope[]): AuditRevival[] {
  const byId = new Map(events.map((e) => [e.id, e]));
  const out: AuditRevival[] = [];
  for (const event of events) {
    if (event.type !== REVIVED) continue;
    const d = record(event.data);
    const layers = Array.isArray(d['layers']) ? (d['layers'] as unknown[]).filter((l): l is number => typeof l === 'number') : [];
    const entry: AuditRevival = { eventId: event.id, epoch: num(d['epoch']) ?? 0, layers, units: num(d['units']) ?? 0, missing: [] };
    const decision = event.causationId === undefined ? undefined : byId.get(event.causationId);
    const commandId = typeof d['commandId'] === 'string' ? d['commandId'] : undefined;
    if (decision?.type !== DECISION) {
      entry.missing.push(`decision of command ${commandId ?? '?'}`);
    } else {
      const data = decision.data as DecisionData;
      const command = data.commands.find((c) => c.commandId === commandId);
      if (command === undefined) entry.missing.push(`command ${commandId ?? '?'}`);
      else entry.command = { ...toCommand(command), ...(command.hostOperation === undefined ? {} : { op: command.hostOperation.op }) };
      entry.decision = { eventId: decision.id, epoch: data.epoch, policy: data.policy, reason: data.reason, fallback: data.fallback };
      const packet = events.find((e) => e.type === PACKET && record(e.data)['packetId'] === data.packetId);
      if (packet === undefined) entry.missing.push(`packet ${data.packetId}`);
      else {
        const p = record(packet.data);
        const va = num(p['validationAccuracy']);
        entry.packet = { packetId: data.packetId, epoch: data.epoch, ...(va === undefined ? {} : { validationAccuracy: va }) };
      }
    }
    out.push(entry);
  }
  return out;
}

/** One line of `esper audit` for a revival: `epoch  host  L2–L3 revived (4 units)  ← command …  ← decision …  ← packet …`. */
export function formatAuditRevival(entry: AuditRevival): string {
  const parts = [`${String(entry.epoch).padStart(3)}`, 'host', `${entry.layers.map((l) => `L${l}`).join('–')} revived (${entry.units} units)`];
  if (entry.command !== undefined) parts.push(`← command ${entry.command.commandId} (${[entry.command.type, entry.command.op].filter((w) => w !== undefined).join(' ')})`);
  if (entry.decision !== undefined) parts.push(`← decision ${entry.decision.policy} (${entry.decision.reason})`);
  if (entry.packet?.validationAccuracy !== undefined) parts.push(`← packet ${entry.packet.packetId} (val acc ${(entry.packet.validationAccuracy * 100).toFixed(1)}%)`);
  if (entry.missing.length > 0) parts.push(`[missing: ${entry.missing.join(', ')}]`);
  return parts.join('  ');
}

/** One replay problem. */
export interface ReplayIssue {
  seedId: string;
  /** `inconsistent`: a transition's `from` is not the stage replayed so far; `mismatch`: the replayed final stage differs from the recorded one; `unrecorded`: a seed missing on one side. */
  kind: 'inconsistent' | 'mismatch' | 'unrecorded';
  message: string;
  /** The transition event (for `inconsistent`). */
  eventId?: string;
  epoch?: number;
  expected?: Stage;
  actual?: Stage;
}

/** Outcome of {@link replaySeeds}. */
export interface ReplayResult {
  /** Seed id → stage after its transitions (seeds start DORMANT). */
  stages: Record<string, Stage>;
  /** The final states the run recorded (`tolaria.run.completed`), when present. */
  recorded?: Record<string, Stage>;
  transitions: number;
  issues: ReplayIssue[];
  ok: boolean;
}

/** The initial stage of every seed. */
export const INITIAL_STAGE = 'DORMANT';

/**
 * Rebuilds every seed's stage from its transitions in order (each must start
 * from the stage reached so far) and, when the run recorded its final states,
 * checks them against the rebuild.
 */
export function replaySeeds(events: readonly Envelope[]): ReplayResult {
  const stages = new Map<string, Stage>();
  const issues: ReplayIssue[] = [];
  let transitions = 0;
  let recorded: Map<string, Stage> | undefined;
  for (const event of events) {
    if (event.type === RUN_COMPLETED) {
      const seeds = record(event.data)['seeds'];
      recorded = new Map();
      if (Array.isArray(seeds)) {
        for (const seed of seeds) {
          const s = record(seed);
          if (typeof s['seedId'] === 'string' && typeof s['stage'] === 'string') recorded.set(s['seedId'], s['stage']);
        }
      }
      continue;
    }
    if (event.type !== TRANSITIONED) continue;
    transitions++;
    const t = event.data as TransitionData;
    const current = stages.get(t.seedId) ?? INITIAL_STAGE;
    if (t.from !== current) {
      issues.push({
        seedId: t.seedId,
        kind: 'inconsistent',
        eventId: event.id,
        epoch: t.epoch,
        expected: current,
        actual: t.from,
        message: `${t.seedId} at epoch ${t.epoch}: transition ${t.from} → ${t.to} but the seed was ${current}`,
      });
    }
    stages.set(t.seedId, t.to);
  }
  if (recorded !== undefined) {
    for (const [seedId, stage] of recorded) {
      const replayed = stages.get(seedId) ?? INITIAL_STAGE;
      if (replayed !== stage) {
        issues.push({ seedId, kind: 'mismatch', expected: stage, actual: replayed, message: `${seedId}: recorded ${stage}, replayed ${replayed}` });
      }
    }
    for (const [seedId, stage] of stages) {
      if (!recorded.has(seedId)) issues.push({ seedId, kind: 'unrecorded', actual: stage, message: `${seedId}: replayed ${stage} but the run recorded no final state for it` });
    }
  }
  return {
    stages: Object.fromEntries(stages),
    ...(recorded === undefined ? {} : { recorded: Object.fromEntries(recorded) }),
    transitions,
    issues,
    ok: issues.length === 0,
  };
}

/** One line of `esper audit`: `epoch  seed  FROM → TO  cause  ← command CMD (op)  ← decision (reason)  ← packet P (val acc …)`. */
export function formatAuditEntry(entry: AuditEntry): string {
  const parts = [`${String(entry.epoch).padStart(3)}`, entry.slotId ?? entry.seedId, `${entry.from} → ${entry.to}`, entry.cause];
  if (entry.origin === 'epoch') parts.push('← epoch boundary (no command)');
  if (entry.command !== undefined) parts.push(`← command ${entry.command.commandId} (${entry.command.op ?? entry.command.type})`);
  if (entry.decision !== undefined) parts.push(`← decision ${entry.decision.policy} (${entry.decision.reason})${entry.decision.fallback ? ' [fallback]' : ''}`);
  if (entry.rollback !== undefined) parts.push(`← rollback ${entry.rollback.fromEpoch}→${entry.rollback.toEpoch} (${entry.rollback.reason})`);
  if (entry.packet !== undefined) {
    const metrics: string[] = [];
    if (entry.packet.validationAccuracy !== undefined) metrics.push(`val acc ${(entry.packet.validationAccuracy * 100).toFixed(1)}%`);
    if (entry.packet.validationLoss !== undefined) metrics.push(`val loss ${entry.packet.validationLoss.toFixed(4)}`);
    parts.push(`← packet ${entry.packet.packetId}${metrics.length === 0 ? '' : ` (${metrics.join(', ')})`}`);
  }
  if (entry.missing.length > 0) parts.push(`[missing: ${entry.missing.join(', ')}]`);
  return parts.join('  ');
}
