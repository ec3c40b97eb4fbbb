/**
 * Every decision of a run (pure): each `tamiyo.decision.made` in epoch order
 * with the commands it issued, its reason and the SystemStatePacket it
 * answered — that epoch's metrics and the per-layer signals the policy read.
 * `esper audit` lists transitions; a decision that issued no command (a wait,
 * a deferred prune, "nothing saturated") changes no seed and so shows only
 * here. This is how an operator reads why a layer was widened, or why a seed
 * was judged again instead of pruned.
 */
import type { Envelope } from '../../contracts/envelope.ts';
import { num, readAuditPacket, record, type AuditPacket } from './audit.ts';

const DECISION = 'tamiyo.decision.made';
const PACKET = 'tolaria.state.published';

/** One layer's signals as the packet carried them, and the saturation the bottleneck policy derives. */
export interface AuditLayerSignals {
  layer: number;
  kind: string;
  width: number;
  effectiveRank: number;
  deadFraction: number;
  gradientScore: number;
  /** Effective rank over the live units (the bottleneck policy's trigger compares it with `policy.saturation`). */
  saturation: number;
}

/** One command of a decision. */
export interface AuditDecisionCommand {
  commandId: string;
  type: string;
  op?: string;
  targetSeedId?: string;
  blueprintId?: string;
  kernelId?: string;
  /** HOST commands: the operation and its layers, e.g. `REVIVE L1–L2`. */
  hostOperation?: string;
  reason?: string;
}

/** One decision with what it answered. */
export interface AuditDecisionEntry {
  /** The decision event's id. */
  eventId: string;
  epoch: number;
  policy: string;
  reason: string;
  fallback: boolean;
  commands: AuditDecisionCommand[];
  packet?: AuditPacket;
  layers?: AuditLayerSignals[];
  /** Links that should exist but were not found among the events. */
  missing: string[];
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function toCommand(value: unknown): AuditDecisionCommand {
  const c = record(value);
  const seedOp = record(c['seedOperation']);
  const hostOp = record(c['hostOperation']);
  const annotations = record(c['annotations']);
  const layers = Array.isArray(hostOp['layers']) ? hostOp['layers'].filter((l): l is number => typeof l === 'number') : [];
  const op = str(seedOp['op']);
  const target = str(c['targetSeedId']);
  const blueprintId = str(seedOp['blueprintId']);
  const kernelId = str(seedOp['kernelId']);
  const host = str(hostOp['op']);
  const reason = str(annotations['reason']);
  return {
    commandId: str(c['commandId']) ?? '?',
    type: str(c['type']) ?? '?',
    ...(op === undefined ? {} : { op }),
    ...(target === undefined ? {} : { targetSeedId: target }),
    ...(blueprintId === undefined ? {} : { blueprintId }),
    ...(kernelId === undefined ? {} : { kernelId }),
    ...(host === undefined ? {} : { hostOperation: `${host} ${layers.length > 1 ? `L${layers[0]}–L${layers.at(-1)}` : `L${layers[0] ?? '?'}`}` }),
    ...(reason === undefined ? {} : { reason }),
  };
}

function toLayers(value: unknown): AuditLayerSignals[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: AuditLayerSignals[] = [];
  for (const item of value) {
    const l = record(item);
    const layer = num(l['layer']);
    const width = num(l['width']);
    const effectiveRank = num(l['effectiveRank']);
    if (layer === undefined || width === undefined || effectiveRank === undefined) continue;
    const deadFraction = num(l['deadFraction']) ?? 0;
    // As the bottleneck policy reads it: effective rank over the live units (at least one).
    const saturation = effectiveRank / Math.max(1, width * (1 - deadFraction));
    out.push({ layer, kind: str(l['kind']) ?? 'dense', width, effectiveRank, deadFraction, gradientScore: num(l['gradientScore']) ?? 0, saturation });
  }
  return out;
}

/** True when one of `names` is a whole word of `text` (ids are words of letters, digits, `_` and `-`: slot `c1` is not in `seed-c1-w1`). */
function namesIn(text: string, names: readonly string[]): boolean {
  const words = new Set(text.split(/[^\w-]+/));
  return names.some((n) => words.has(n));
}

/**
 * Every decision among `events`, in their order; with `seed` (a seed id or a
 * slot id, and `seedIds`: the seed ids that slot held), only the decisions
 * that issued a command to it or whose reason names it.
 */
export function auditDecisions(events: readonly Envelope[], options: { seed?: string; seedIds?: readonly string[] } = {}): AuditDecisionEntry[] {
  const packets = new Map<string, { packet: AuditPacket; layers?: AuditLayerSignals[] }>();
  for (const event of events) {
    if (event.type !== PACKET) continue;
    const packet = readAuditPacket(event.data);
    if (packet === undefined) continue;
    const layers = toLayers(record(event.data)['layers']);
    packets.set(packet.packetId, { packet, ...(layers === undefined ? {} : { layers }) });
  }
  const names = options.seed === undefined ? [] : [options.seed, ...(options.seedIds ?? [])];
  const out: AuditDecisionEntry[] = [];
  for (const event of events) {
    if (event.type !== DECISION) continue;
    const d = record(event.data);
    const packetId = str(d['packetId']) ?? '';
    const commands = (Array.isArray(d['commands']) ? d['commands'] : []).map(toCommand);
    const reason = str(d['reason']) ?? '';
    if (names.length > 0 && !commands.some((c) => c.targetSeedId !== undefined && names.includes(c.targetSeedId)) && !namesIn(reason, names)) continue;
    const found = packets.get(packetId);
    out.push({
      eventId: event.id,
      epoch: num(d['epoch']) ?? found?.packet.epoch ?? -1,
      policy: str(d['policy']) ?? '?',
      reason,
      fallback: d['fallback'] === true,
      commands,
      ...(found === undefined ? {} : { packet: found.packet }),
      ...(found?.layers === undefined ? {} : { layers: found.layers }),
      missing: found === undefined ? [`packet ${packetId}`] : [],
    });
  }
  return out;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** One layer in a few characters: `L2 dense 16: sat 0.41 (rank 6.1, dead 6%), score 0.083`. */
export function formatLayerSignals(l: AuditLayerSignals): string {
  const dead = l.deadFraction > 0 ? `, dead ${Math.round(l.deadFraction * 100)}%` : '';
  return `L${l.layer} ${l.kind} ${l.width}: sat ${l.saturation.toFixed(2)} (rank ${l.effectiveRank.toFixed(1)}${dead}), score ${l.gradientScore.toPrecision(3)}`;
}

function formatCommand(c: AuditDecisionCommand): string {
  const what = c.hostOperation ?? [c.op ?? c.type, c.blueprintId ?? c.kernelId].filter((x) => x !== undefined).join(' ');
  return `${what}${c.targetSeedId === undefined ? '' : ` → ${c.targetSeedId}`}`;
}

/**
 * The lines of one decision in `esper audit --decisions`:
 * `epoch  policy  val acc …  commands | wait`, then the reason, then the layers.
 */
export function formatAuditDecision(entry: AuditDecisionEntry): string[] {
  const head = [`${String(entry.epoch).padStart(3)}`, entry.policy];
  if (entry.packet?.validationAccuracy !== undefined) head.push(`val acc ${pct(entry.packet.validationAccuracy)}`);
  if (entry.packet?.validationLoss !== undefined) head.push(`val loss ${entry.packet.validationLoss.toFixed(4)}`);
  head.push(entry.commands.length === 0 ? 'no command' : entry.commands.map(formatCommand).join('; '));
  if (entry.fallback) head.push('[fallback]');
  if (entry.missing.length > 0) head.push(`[missing: ${entry.missing.join(', ')}]`);
  const lines = [head.join('  '), `      why: ${entry.reason}`];
  if (entry.layers !== undefined && entry.layers.length > 0) lines.push(`      layers: ${entry.layers.map(formatLayerSignals).join(' | ')}`);
  return lines;
}
