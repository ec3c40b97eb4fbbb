import { expect } from 'chai';
import type { FieldReport, FieldReportOutcome } from '../../../src/contracts/tamiyo.ts';
import {
  chooseParent,
  descendantCounts,
  emptyFieldStats,
  judgedReports,
  meanImprovement,
  rankParents,
  recordFieldReport,
  successRate,
  type FieldStatsTable,
} from '../../../src/actors/karn/index.ts';

let commands = 0;

function report(blueprintId: string, outcome: FieldReportOutcome, improvementPp?: number, commandId = `cmd-${++commands}`): FieldReport {
  return {
    commandId,
    seedId: 'seed-a',
    blueprintId,
    outcome,
    metrics: improvementPp === undefined ? {} : { improvementPp },
    observationWindow: { fromEpoch: 1, toEpoch: 5 },
    policyVersion: 'heuristic@1',
  };
}

function table(...reports: FieldReport[]): FieldStatsTable {
  return reports.reduce((t, r) => recordFieldReport(t, r), emptyFieldStats());
}

function record(blueprintId: string, successes: number, failures: number, improvementPp = 1): FieldReport[] {
  return [
    ...Array.from({ length: successes }, () => report(blueprintId, 'SUCCESS', improvementPp)),
    ...Array.from({ length: failures }, () => report(blueprintId, 'REGRESSION', -improvementPp)),
  ];
}

describe('Karn field stats', () => {
  it('counts outcomes and averages the improvement metric; ABORTED is counted but not judged', () => {
    const t = table(report('bp-a', 'SUCCESS', 2), report('bp-a', 'NEUTRAL', 0), report('bp-a', 'REGRESSION', -1), report('bp-a', 'ABORTED', 9), report('bp-a', 'SUCCESS'));
    const s = t.get('bp-a');
    expect(s).to.include({ reports: 5, successes: 2, neutrals: 1, regressions: 1, aborted: 1, improvementCount: 3 });
    expect(judgedReports(s!)).to.equal(4);
    expect(successRate(s!)).to.equal(0.5);
    expect(meanImprovement(s!)).to.be.closeTo(1 / 3, 1e-12);
    expect(meanImprovement(table(report('bp-b', 'SUCCESS')).get('bp-b')!)).to.equal(undefined);
  });

  it('counts a redelivered report once and never mutates the table it was given', () => {
    const first = report('bp-a', 'SUCCESS', 1, 'cmd-same');
    const t1 = table(first);
    const t2 = recordFieldReport(t1, { ...first });
    expect(t2).to.equal(t1);
    const t3 = recordFieldReport(t1, report('bp-a', 'SUCCESS', 3));
    expect(t1.get('bp-a')?.reports).to.equal(1);
    expect(t3.get('bp-a')?.reports).to.equal(2);
  });

  it('chooses the blueprint with the best success rate among those with enough reports and a success', () => {
    const t = table(
      ...record('bp-good', 3, 1), // 0.75
      ...record('bp-ok', 2, 2), // 0.5
      ...record('bp-few', 2, 0), // 1.0 but only 2 reports
      ...record('bp-bad', 0, 5), // never succeeded
    );
    const candidates = ['bp-good', 'bp-ok', 'bp-few', 'bp-bad', 'bp-unknown'].map((blueprintId) => ({ blueprintId, descendants: 0 }));
    expect(chooseParent(t, candidates, { minReports: 3 })?.blueprintId).to.equal('bp-good');
    expect(rankParents(t, candidates, { minReports: 3 }).map((c) => c.blueprintId)).to.deep.equal(['bp-good', 'bp-ok']);
    // With a lower bar the perfect record wins.
    expect(chooseParent(t, candidates, { minReports: 2 })?.blueprintId).to.equal('bp-few');
    // Only candidates are considered.
    expect(chooseParent(t, [{ blueprintId: 'bp-bad', descendants: 0 }], { minReports: 3 })).to.equal(null);
    expect(chooseParent(emptyFieldStats(), candidates)).to.equal(null);
  });

  it('breaks ties by fewer descendants, then by mean improvement, then by id', () => {
    const t = table(...record('bp-a', 3, 1, 1), ...record('bp-b', 3, 1, 1), ...record('bp-c', 3, 1, 5));
    // Same rate; b has fewer descendants.
    expect(
      chooseParent(t, [
        { blueprintId: 'bp-a', descendants: 4 },
        { blueprintId: 'bp-b', descendants: 1 },
      ])?.blueprintId,
    ).to.equal('bp-b');
    // Same rate and descendants: the better mean improvement (c: 5·3 − 5 over 4).
    expect(
      chooseParent(t, [
        { blueprintId: 'bp-a', descendants: 2 },
        { blueprintId: 'bp-c', descendants: 2 },
      ])?.blueprintId,
    ).to.equal('bp-c');
    // Fully tied: the smaller id, whatever the candidate order.
    expect(
      chooseParent(t, [
        { blueprintId: 'bp-b', descendants: 2 },
        { blueprintId: 'bp-a', descendants: 2 },
      ])?.blueprintId,
    ).to.equal('bp-a');
    // A better rate beats fewer descendants.
    const t2 = table(...record('bp-x', 4, 0), ...record('bp-y', 3, 1));
    expect(
      chooseParent(t2, [
        { blueprintId: 'bp-x', descendants: 10 },
        { blueprintId: 'bp-y', descendants: 0 },
      ])?.blueprintId,
    ).to.equal('bp-x');
  });

  it('counts descendants over every generation', () => {
    const counts = descendantCounts([
      { blueprintId: 'root' },
      { blueprintId: 'c1', parentBlueprintId: 'root' },
      { blueprintId: 'c2', parentBlueprintId: 'root' },
      { blueprintId: 'g1', parentBlueprintId: 'c1' },
      { blueprintId: 'other' },
    ]);
    expect(Object.fromEntries(counts)).to.deep.equal({ root: 3, c1: 1, c2: 0, g1: 0, other: 0 });
  });
});
