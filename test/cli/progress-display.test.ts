/**
 * `esper run`'s live progress display: the pure formatters, the in-place
 * redraw (cursor-up + clear per block line), the permanent event lines, the
 * cut to the terminal width, and the `--progress` modes through
 * `runRunCommand` on a tiny spirals spec.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { EpochSummary } from '../../src/actors/tolaria/run-loop.ts';
import { RunSpecSchema } from '../../src/contracts/run.ts';
import {
  BLOCK_LINES,
  CURSOR_UP_CLEAR,
  ProgressDisplay,
  estimateRemainingMs,
  formatBar,
  formatDuration,
  formatProgress,
  formatSeedsByStage,
  formatSlots,
  formatTiming,
  notableEvents,
  renderBlock,
  sparkline,
  truncateLine,
} from '../../src/cli/progress-display.ts';
import { main } from '../../src/cli/main.ts';
import { resolveProgressMode, runRunCommand } from '../../src/cli/run.ts';
import type { CliOutput } from '../../src/cli/output.ts';

const ESC = '\x1b';
const countOf = (text: string, needle: string): number => text.split(needle).length - 1;
/** Visible lines of a chunk: escape sequences removed. */
const visibleLines = (text: string): string[] =>
  text
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9]*[A-Za-z]/g, '')
    .replace(/\r/g, '')
    .split('\n');

type Seed = EpochSummary['seeds'][number];
function summary(epoch: number, accuracy: number, seeds: Seed[], extra: Partial<EpochSummary> = {}): EpochSummary {
  return {
    epoch,
    trainLoss: 0.5,
    validationLoss: 0.6,
    validationAccuracy: accuracy,
    durationMs: 100,
    seeds,
    rolledBack: false,
    ...extra,
  };
}
const seed = (slotId: string, stage: Seed['stage'], alpha = 0): Seed => ({ seedId: `seed-${slotId}`, slotId, stage, alpha });

function sink(columns?: number): { write(text: string): void; columns?: number; writes: string[] } {
  const writes: string[] = [];
  return { writes, write: (text) => void writes.push(text), ...(columns === undefined ? {} : { columns }) };
}

describe('esper run: progress display formatters', () => {
  it('draws the progress bar with its percentage, clamped', () => {
    expect(formatBar(12, 40, 10)).to.equal('[###.......] 30%');
    expect(formatBar(0, 40, 10)).to.equal('[..........] 0%');
    expect(formatBar(40, 40, 10)).to.equal('[##########] 100%');
    expect(formatBar(50, 40, 4)).to.equal('[####] 100%');
    expect(formatBar(1, 0, 4)).to.equal('[....] 0%');
    expect(formatProgress(12, 40, 10)).to.equal('epoch 12/40 [###.......] 30%');
  });

  it('draws a sparkline scaled between the shown minimum and maximum', () => {
    expect(sparkline([0, 1 / 7, 2 / 7, 3 / 7, 4 / 7, 5 / 7, 6 / 7, 1])).to.equal('▁▂▃▄▅▆▇█');
    expect(sparkline([0.5, 0.9, 0.5])).to.equal('▁█▁');
    expect(sparkline([0.3, 0.3, 0.3])).to.equal('▄▄▄');
    expect(sparkline([0.1, 0.2, 0.9, 0.5], 2)).to.equal('█▁');
    expect(sparkline([0.1, Number.NaN, 0.9])).to.equal('▁ █');
    expect(sparkline([])).to.equal('');
    expect(sparkline([0.1, 0.2], 0)).to.equal('');
  });

  it('formats durations and extrapolates the ETA from the mean epoch time', () => {
    expect(formatDuration(850)).to.equal('850ms');
    expect(formatDuration(0)).to.equal('0s');
    expect(formatDuration(12_000)).to.equal('12s');
    expect(formatDuration(185_000)).to.equal('3m05s');
    expect(formatDuration(3_720_000)).to.equal('1h02m');
    expect(formatDuration(Number.NaN)).to.equal('--');
    expect(estimateRemainingMs(10_000, 5, 20)).to.equal(30_000);
    expect(estimateRemainingMs(10_000, 0, 20)).to.equal(undefined);
    expect(estimateRemainingMs(10_000, 20, 20)).to.equal(0);
    expect(formatTiming(10_000, 5, 20)).to.equal('elapsed 10s  ETA 30s');
    expect(formatTiming(500, 0, 20)).to.equal('elapsed 500ms  ETA --');
  });

  it('counts seeds by stage in lifecycle order and shows α only while blending', () => {
    const seeds = [seed('h3', 'FOSSILIZED', 1), seed('h1', 'DORMANT'), seed('h2', 'BLENDING', 0.4), seed('h4', 'DORMANT')];
    expect(formatSeedsByStage(seeds)).to.equal('DORMANT×2 BLENDING×1 FOSSILIZED×1');
    expect(formatSlots(seeds)).to.equal('h3 FOSSILIZED · h1 DORMANT · h2 BLENDING α0.40 · h4 DORMANT');
    expect(formatSeedsByStage([])).to.equal('-');
  });

  it('cuts lines to the width, by code point, marking the cut', () => {
    expect(truncateLine('abcdef', 10)).to.equal('abcdef');
    expect(truncateLine('abcdef', 6)).to.equal('abcdef');
    expect(truncateLine('abcdefgh', 6)).to.equal('abcde…');
    expect(Array.from(truncateLine('α'.repeat(20), 5))).to.have.length(5);
  });

  it('renders a block of BLOCK_LINES lines with accuracy, best, seeds, slots and Tamiyo', () => {
    const lines = renderBlock({
      summary: summary(12, 0.6, [seed('h1', 'TRAINING'), seed('h2', 'BLENDING', 0.25)], {
        tamiyo: { fallback: false, breaker: 'closed', reason: 'wait: plateau not reached' },
      }),
      totalEpochs: 40,
      accuracies: [0.5, 0.73, 0.6],
      best: { accuracy: 0.73, epoch: 2 },
      elapsedMs: 12_000,
    });
    expect(lines).to.have.length(BLOCK_LINES);
    expect(lines[0]).to.equal('epoch 12/40 [######..............] 30%  elapsed 12s  ETA 28s');
    expect(lines[1]).to.equal('val acc 60.0% (best 73.0% @2)  loss 0.5000 / val 0.6000');
    expect(lines[2]).to.equal('acc   ▁█▄');
    expect(lines[3]).to.equal('seeds TRAINING×1 BLENDING×1');
    expect(lines[4]).to.equal('slots h1 TRAINING · h2 BLENDING α0.25');
    expect(lines[5]).to.equal('tamiyo wait: plateau not reached');
  });

  it('reports a rollback with its cause and a seed reaching FOSSILIZED or PRUNED, by slot', () => {
    const before = summary(4, 0.6, [seed('h1', 'HOLDING', 1), seed('h2', 'TRAINING')]);
    const after = summary(5, 0.62, [seed('h1', 'FOSSILIZED', 1), seed('h2', 'PRUNED')], {
      rolledBack: true,
      rollback: { cause: 'non_finite', reason: 'non-finite loss', toEpoch: 3, checkpointHostWeightsHash: 'a', restoredHostWeightsHash: 'a', prunedSlots: ['h2'] },
    });
    expect(notableEvents(before, after)).to.deep.equal([
      'epoch 5  ROLLBACK (non_finite) non-finite loss → restored epoch 3; pruned h2',
      'epoch 5  h1 FOSSILIZED (seed-h1)',
      'epoch 5  h2 PRUNED (seed-h2)',
    ]);
    expect(notableEvents(after, summary(6, 0.62, after.seeds))).to.deep.equal([]);
    expect(notableEvents(undefined, summary(1, 0.5, [seed('h1', 'DORMANT')]))).to.deep.equal([]);
  });
});

describe('esper run: ProgressDisplay', () => {
  it('draws once, then redraws in place with exactly one cursor-up per block line', () => {
    const out = sink();
    const display = new ProgressDisplay(out, { totalEpochs: 3, now: () => 0 });
    display.update(summary(1, 0.5, [seed('h1', 'DORMANT')]));
    expect(out.writes).to.have.length(1);
    expect(out.writes[0]).to.not.include(ESC);
    expect(visibleLines(out.writes[0] ?? '')).to.have.length(BLOCK_LINES + 1); // N lines, each ending with a newline
    for (let epoch = 2; epoch <= 3; epoch++) {
      display.update(summary(epoch, 0.5 + epoch / 10, [seed('h1', 'TRAINING')]));
      const chunk = out.writes.at(-1) ?? '';
      expect(countOf(chunk, `${ESC}[1A`), `epoch ${epoch}`).to.equal(BLOCK_LINES);
      expect(countOf(chunk, `${ESC}[2K`)).to.equal(BLOCK_LINES);
      expect(chunk.startsWith(CURSOR_UP_CLEAR.repeat(BLOCK_LINES))).to.equal(true);
      expect(countOf(chunk, '\n')).to.equal(BLOCK_LINES);
    }
    expect(out.writes.at(-1)).to.include('epoch 3/3 [####################] 100%');
    expect(out.writes.at(-1)).to.include('val acc 80.0% (best 80.0% @3)');
  });

  it('computes elapsed time and ETA from the injected clock', () => {
    let t = 1_000;
    const out = sink();
    const display = new ProgressDisplay(out, { totalEpochs: 10, now: () => t });
    t += 4_000;
    display.update(summary(1, 0.5, []));
    expect(out.writes.at(-1)).to.include('elapsed 4s  ETA 36s');
    t += 4_000;
    display.update(summary(2, 0.55, []));
    expect(out.writes.at(-1)).to.include('elapsed 8s  ETA 32s');
  });

  it('prints event lines once, above the block, and keeps them out of the redrawn lines', () => {
    const out = sink();
    const display = new ProgressDisplay(out, { totalEpochs: 5, now: () => 0 });
    const rollback = { cause: 'divergence' as const, reason: 'validation loss 9.1 > 3 × best', toEpoch: 2, checkpointHostWeightsHash: 'a', restoredHostWeightsHash: 'a', prunedSlots: [] };
    display.update(summary(1, 0.5, [seed('h1', 'HOLDING', 1)]));
    display.update(summary(2, 0.6, [seed('h1', 'FOSSILIZED', 1)]));
    display.update(summary(3, 0.6, [seed('h1', 'FOSSILIZED', 1)], { rolledBack: true, rollback }));
    display.update(summary(4, 0.6, [seed('h1', 'FOSSILIZED', 1)]));
    const all = out.writes.join('');
    expect(countOf(all, 'h1 FOSSILIZED (seed-h1)')).to.equal(1);
    expect(countOf(all, 'ROLLBACK (divergence) validation loss 9.1 > 3 × best → restored epoch 2')).to.equal(1);
    // The event line comes right after the erase, before the block; the block still has BLOCK_LINES lines.
    const third = out.writes[2] ?? '';
    const lines = visibleLines(third);
    expect(lines[0]).to.equal('epoch 3  ROLLBACK (divergence) validation loss 9.1 > 3 × best → restored epoch 2');
    expect(lines).to.have.length(1 + BLOCK_LINES + 1);
    expect(countOf(third, `${ESC}[1A`)).to.equal(BLOCK_LINES);
    // The erase after an event line still covers only the block (the event line stays on screen).
    expect(countOf(out.writes[3] ?? '', `${ESC}[1A`)).to.equal(BLOCK_LINES);
  });

  it('cuts every line, events included, to the sink width', () => {
    const out = sink(30);
    const display = new ProgressDisplay(out, { totalEpochs: 100, now: () => 0 });
    const slots = ['a-very-long-slot-name-1', 'a-very-long-slot-name-2', 'a-very-long-slot-name-3'];
    for (let epoch = 1; epoch <= 60; epoch++) {
      display.update(summary(epoch, (epoch % 7) / 7, slots.map((s) => seed(s, epoch > 50 ? 'FOSSILIZED' : 'BLENDING', 0.5))));
    }
    const lines = out.writes.flatMap(visibleLines);
    expect(lines.length).to.be.greaterThan(60 * BLOCK_LINES);
    for (const line of lines) expect(Array.from(line).length, line).to.be.at.most(30);
    expect(lines.some((line) => line.endsWith('…'))).to.equal(true);
    // The sparkline fills the width with the latest epochs.
    expect(Array.from(lines.filter((line) => line.startsWith('acc ')).at(-1) ?? '')).to.have.length(30);
  });

  it('finish leaves the block and adds one newline, once; later updates are ignored', () => {
    const out = sink();
    const display = new ProgressDisplay(out, { totalEpochs: 2, now: () => 0 });
    display.finish();
    expect(out.writes).to.deep.equal([]); // nothing drawn: nothing to close
    const other = new ProgressDisplay(out, { totalEpochs: 2, now: () => 0 });
    other.update(summary(1, 0.5, []));
    other.finish();
    other.finish();
    other.update(summary(2, 0.5, []));
    expect(out.writes).to.have.length(2);
    expect(out.writes[1]).to.equal('\n');
  });
});

describe('esper run --progress', function () {
  this.timeout(60_000);
  const EPOCHS = 3;
  let dir: string;
  let file: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'esper-progress-'));
    file = join(dir, 'tiny.json');
    const raw = JSON.parse(readFileSync(new URL('../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const training = raw['training'] as Record<string, unknown>;
    const spec = { ...raw, epochs: EPOCHS, training: { ...training, dataset: { ...(training['dataset'] as object), n: 200 } } };
    RunSpecSchema.parse(spec);
    writeFileSync(file, JSON.stringify(spec));
  });

  function capture(tty: boolean): CliOutput & { lines: string[]; writes: string[]; errors: string[] } {
    const lines: string[] = [];
    const writes: string[] = [];
    const errors: string[] = [];
    return {
      lines,
      writes,
      errors,
      isTTY: tty,
      columns: 80,
      out: (t) => void lines.push(t),
      err: (t) => void errors.push(t),
      write: (t) => void writes.push(t),
    };
  }

  it('chooses the renderer: --json wins, auto is live only on a terminal, unknown modes are refused', () => {
    expect(resolveProgressMode({}, true)).to.equal('live');
    expect(resolveProgressMode({}, false)).to.equal('lines');
    expect(resolveProgressMode({ progress: 'auto' }, true)).to.equal('live');
    expect(resolveProgressMode({ progress: 'lines' }, true)).to.equal('lines');
    expect(resolveProgressMode({ progress: 'live' }, false)).to.equal('live');
    expect(resolveProgressMode({ json: true }, true)).to.equal('json');
    expect(resolveProgressMode({ json: true, progress: 'live' }, true)).to.equal('json');
    expect(resolveProgressMode({ progress: 'fancy' }, true)).to.equal(undefined);
  });

  it('refuses an unknown mode with exit 2, before training', async () => {
    const out = capture(true);
    expect(await runRunCommand(file, { progress: 'fancy', audit: false, out: join(dir, 'bad') }, out)).to.equal(2);
    expect(out.errors.join('\n')).to.include('--progress must be one of auto, live, lines');
    const cli = capture(false);
    expect(await main(['run', file, '--progress', 'fancy', '--no-audit'], cli)).to.equal(2);
    expect(cli.lines).to.deep.equal([]);
  });

  it('--progress lines prints one plain line per epoch, then the final table, even on a terminal', async () => {
    const out = capture(true);
    expect(await runRunCommand(file, { progress: 'lines', audit: false, out: join(dir, 'lines') }, out)).to.equal(0);
    expect(out.writes).to.deep.equal([]);
    const epochLines = out.lines.filter((line) => /^epoch +\d+ {2}loss /.test(line));
    expect(epochLines.map((line) => Number(/^epoch +(\d+)/.exec(line)?.[1]))).to.deep.equal([1, 2, 3]);
    expect(out.lines.join('\n')).to.not.include(ESC);
    expect(out.lines.at(-1)).to.match(/^run {2,}run-/);
    expect(out.lines.at(-1)).to.include('final accuracy');
  });

  it('auto on a terminal draws the live display in place, then prints the same final table', async () => {
    const out = capture(true);
    expect(await runRunCommand(file, { audit: false, out: join(dir, 'live') }, out)).to.equal(0);
    expect(out.writes).to.have.length(EPOCHS + 1); // one render per epoch, then finish's newline
    expect(out.writes[0]).to.not.include(ESC);
    for (const chunk of out.writes.slice(1, EPOCHS)) expect(countOf(chunk, `${ESC}[1A`)).to.equal(BLOCK_LINES);
    expect(out.writes[EPOCHS - 1]).to.include(`epoch ${EPOCHS}/${EPOCHS} [####################] 100%`);
    expect(out.writes.at(-1)).to.equal('\n');
    for (const line of out.writes.flatMap(visibleLines)) expect(Array.from(line).length).to.be.at.most(80);
    expect(out.lines.filter((line) => /^epoch +\d+ {2}loss /.test(line))).to.deep.equal([]);
    expect(out.lines).to.have.length(1);
    expect(out.lines[0]).to.match(/^run {2,}run-/);
  });
});
