/**
 * What Karn learns from FieldReports (DESIGN §1: "learns from FieldReports"),
 * and which blueprint it mutates next. Pure: tables are immutable values;
 * every update returns a new table.
 *
 * Per blueprint: how many reports of each outcome, and the mean of the
 * improvement metric (`improvementPp` by default) over the reports that carry
 * it. ABORTED reports (the command was dropped: it says nothing about the
 * blueprint) are counted but not judged: the success rate is
 * `successes / (successes + neutrals + regressions)`. A report is counted
 * once: a redelivered report (same `commandId`) leaves the table unchanged.
 *
 * **Choice of parent** ({@link chooseParent}): among the blueprints judged at
 * least `minReports` times with at least one success, the best success rate;
 * ties go to the one with fewer descendants (so one lineage does not crowd
 * out the others), then the better mean improvement, then the smaller id (so
 * the choice is deterministic).
 */
import type { FieldReport, FieldReportOutcome } from '../../contracts/tamiyo.ts';

/** The metric averaged as "improvement". */
export const DEFAULT_IMPROVEMENT_METRIC = 'improvementPp';
/** Judged reports a blueprint needs before it can be chosen on its record. */
export const DEFAULT_MIN_REPORTS = 3;
/** Command ids remembered per blueprint to ignore redelivered reports. */
export const REMEMBERED_COMMANDS = 256;

/** What the reports say about one blueprint. */
export interface BlueprintStats {
  readonly blueprintId: string;
  /** Every report counted, ABORTED included. */
  readonly reports: number;
  readonly successes: number;
  readonly neutrals: number;
  readonly regressions: number;
  readonly aborted: number;
  /** Sum and count of the improvement metric over the reports that carry it. */
  readonly improvementSum: number;
  readonly improvementCount: number;
  /** The latest commands counted (at most {@link REMEMBERED_COMMANDS}), oldest first. */
  readonly commandIds: readonly string[];
}

/** Stats by blueprint id. */
export type FieldStatsTable = ReadonlyMap<string, BlueprintStats>;

/** An empty table. */
export function emptyFieldStats(): FieldStatsTable {
  return new Map();
}

function emptyStats(blueprintId: string): BlueprintStats {
  return { blueprintId, reports: 0, successes: 0, neutrals: 0, regressions: 0, aborted: 0, improvementSum: 0, improvementCount: 0, commandIds: [] };
}

const OUTCOME_FIELD: Readonly<Record<FieldReportOutcome, 'successes' | 'neutrals' | 'regressions' | 'aborted'>> = {
  SUCCESS: 'successes',
  NEUTRAL: 'neutrals',
  REGRESSION: 'regressions',
  ABORTED: 'aborted',
};

/** The table with `report` counted (unchanged — the same object — when its command was already counted). */
export function recordFieldReport(table: FieldStatsTable, report: FieldReport, metric: string = DEFAULT_IMPROVEMENT_METRIC): FieldStatsTable {
  const before = table.get(report.blueprintId) ?? emptyStats(report.blueprintId);
  if (before.commandIds.includes(report.commandId)) return table;
  const field = OUTCOME_FIELD[report.outcome];
  const improvement = report.metrics[metric];
  const counted = report.outcome !== 'ABORTED' && improvement !== undefined && Number.isFinite(improvement);
  const after: BlueprintStats = {
    ...before,
    reports: before.reports + 1,
    [field]: before[field] + 1,
    improvementSum: before.improvementSum + (counted ? improvement : 0),
    improvementCount: before.improvementCount + (counted ? 1 : 0),
    commandIds: [...before.commandIds, report.commandId].slice(-REMEMBERED_COMMANDS),
  };
  const next = new Map(table);
  next.set(report.blueprintId, after);
  return next;
}

/** Reports that judge the blueprint (ABORTED excluded). */
export function judgedReports(stats: BlueprintStats): number {
  return stats.successes + stats.neutrals + stats.regressions;
}

/** successes / judged reports; 0 when none. */
export function successRate(stats: BlueprintStats): number {
  const judged = judgedReports(stats);
  return judged === 0 ? 0 : stats.successes / judged;
}

/** Mean of the improvement metric; undefined when no report carried it. */
export function meanImprovement(stats: BlueprintStats): number | undefined {
  return stats.improvementCount === 0 ? undefined : stats.improvementSum / stats.improvementCount;
}

/** A blueprint that may be chosen, with how many descendants it already has. */
export interface ParentCandidate {
  readonly blueprintId: string;
  /** Blueprints descended from it (children, grandchildren, …). */
  readonly descendants: number;
}

/** The chosen parent and why. */
export interface ParentChoice {
  readonly blueprintId: string;
  readonly successRate: number;
  readonly judged: number;
  readonly descendants: number;
  readonly meanImprovement: number | undefined;
}

/** Options of {@link chooseParent}. */
export interface ChooseParentOptions {
  /** @default {@link DEFAULT_MIN_REPORTS} */
  minReports?: number;
}

const EPSILON = 1e-12;

/** Orders choices best first (see the module comment). */
export function compareChoices(a: ParentChoice, b: ParentChoice): number {
  if (Math.abs(a.successRate - b.successRate) > EPSILON) return b.successRate - a.successRate;
  if (a.descendants !== b.descendants) return a.descendants - b.descendants;
  const ma = a.meanImprovement ?? Number.NEGATIVE_INFINITY;
  const mb = b.meanImprovement ?? Number.NEGATIVE_INFINITY;
  if (ma !== mb) return mb > ma ? 1 : -1;
  return a.blueprintId < b.blueprintId ? -1 : a.blueprintId > b.blueprintId ? 1 : 0;
}

/** Every candidate with a record good enough to be chosen, best first. */
export function rankParents(table: FieldStatsTable, candidates: readonly ParentCandidate[], options: ChooseParentOptions = {}): ParentChoice[] {
  const minReports = Math.max(1, options.minReports ?? DEFAULT_MIN_REPORTS);
  const choices: ParentChoice[] = [];
  for (const candidate of candidates) {
    const stats = table.get(candidate.blueprintId);
    if (stats === undefined) continue;
    const judged = judgedReports(stats);
    if (judged < minReports || stats.successes === 0) continue;
    choices.push({
      blueprintId: candidate.blueprintId,
      successRate: successRate(stats),
      judged,
      descendants: candidate.descendants,
      meanImprovement: meanImprovement(stats),
    });
  }
  return choices.sort(compareChoices);
}

/** The blueprint to mutate next, or null when no candidate has a good enough record. */
export function chooseParent(table: FieldStatsTable, candidates: readonly ParentCandidate[], options: ChooseParentOptions = {}): ParentChoice | null {
  return rankParents(table, candidates, options)[0] ?? null;
}

/** Descendant counts (all generations) from parent links; every listed blueprint gets an entry. */
export function descendantCounts(blueprints: readonly { blueprintId: string; parentBlueprintId?: string | undefined }[]): Map<string, number> {
  const parentOf = new Map(blueprints.map((b) => [b.blueprintId, b.parentBlueprintId]));
  const counts = new Map(blueprints.map((b) => [b.blueprintId, 0]));
  for (const b of blueprints) {
    const seen = new Set<string>([b.blueprintId]);
    let parent = b.parentBlueprintId;
    while (parent !== undefined && !seen.has(parent)) {
      seen.add(parent);
      counts.set(parent, (counts.get(parent) ?? 0) + 1);
      parent = parentOf.get(parent);
    }
  }
  return counts;
}
