/**
 * `esper run`'s live progress display (a terminal on stdout): a block of
 * {@link BLOCK_LINES} lines — progress bar with elapsed time and ETA, current
 * and best validation accuracy with the losses, a sparkline of accuracy over
 * the epochs, seeds by stage, each slot's stage (α while blending), Tamiyo's
 * last decision — redrawn in place after every epoch. Notable events (a
 * rollback with its cause, a seed reaching FOSSILIZED or PRUNED) are printed
 * once, as permanent lines above the block.
 *
 * Redraw: every block line ends with a newline, so after a render the cursor
 * sits at the start of the line below the block; the next render first moves
 * up and clears each of the block's lines (`ESC[1A ESC[2K`, once per line),
 * then writes the event lines and the new block. Every line is cut to the
 * sink's width so that no line wraps (a wrapped line would break the count).
 *
 * The formatting functions are pure and exported for tests; the clock is
 * injectable.
 */
import type { EpochSummary } from '../actors/tolaria/index.ts';
import { SEED_STAGES } from '../contracts/kasmina.ts';

/** Where the display writes: a stream-like sink; `columns` is read on every render. */
export interface ProgressSink {
  write(text: string): void;
  /** Terminal width; @default DEFAULT_COLUMNS */
  columns?: number | undefined;
}

export interface ProgressDisplayOptions {
  /** Epochs the run will train (the bar's 100%). */
  totalEpochs: number;
  /** Clock in milliseconds (elapsed time, ETA). @default performance.now */
  now?: () => number;
}

/** Width used when the sink does not know its own. */
export const DEFAULT_COLUMNS = 100;
/** Lines of the redrawn block (fixed, so the redraw knows how many to erase). */
export const BLOCK_LINES = 6;
/** Moves the cursor one line up, then clears that line. */
export const CURSOR_UP_CLEAR = '\x1b[1A\x1b[2K';

const SPARK_CHARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;
const NOTABLE_STAGES: ReadonlySet<string> = new Set(['FOSSILIZED', 'PRUNED']);

/** `[#####.....] 50%`: `done` of `total` on a bar `width` characters wide (clamped to 0–100%). */
export function formatBar(done: number, total: number, width = 20): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100)}%`;
}

/** `epoch 12/40 [######..............] 30%` */
export function formatProgress(epoch: number, totalEpochs: number, barWidth = 20): string {
  return `epoch ${epoch}/${totalEpochs} ${formatBar(epoch, totalEpochs, barWidth)}`;
}

/**
 * One block character per value (the last `maxWidth` values), scaled between
 * the shown values' minimum (▁) and maximum (█); a flat series is drawn at mid
 * height. Non-finite values are drawn as a space.
 */
export function sparkline(values: readonly number[], maxWidth = Number.POSITIVE_INFINITY): string {
  const width = Math.max(0, Math.floor(maxWidth));
  const shown = width === 0 ? [] : values.slice(-width);
  const finite = shown.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return ' '.repeat(shown.length);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const top = SPARK_CHARS.length - 1;
  return shown
    .map((v) => {
      if (!Number.isFinite(v)) return ' ';
      const level = max === min ? Math.floor(top / 2) : Math.round(((v - min) / (max - min)) * top);
      return SPARK_CHARS[level] ?? ' ';
    })
    .join('');
}

/** `0s`, `850ms`, `12s`, `3m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--';
  if (ms === 0) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** Time left, extrapolated from the mean time per epoch so far; `--` before the first epoch, `0s` at the end. */
export function estimateRemainingMs(elapsedMs: number, epochsDone: number, totalEpochs: number): number | undefined {
  if (epochsDone <= 0 || !Number.isFinite(elapsedMs)) return undefined;
  return (elapsedMs / epochsDone) * Math.max(0, totalEpochs - epochsDone);
}

/** `elapsed 12s  ETA 36s` (`ETA --` when no epoch is done yet). */
export function formatTiming(elapsedMs: number, epochsDone: number, totalEpochs: number): string {
  const left = estimateRemainingMs(elapsedMs, epochsDone, totalEpochs);
  return `elapsed ${formatDuration(elapsedMs)}  ETA ${left === undefined ? '--' : formatDuration(left)}`;
}

/** `DORMANT×1 TRAINING×1 FOSSILIZED×1` in lifecycle order; `-` without seeds. */
export function formatSeedsByStage(seeds: EpochSummary['seeds']): string {
  const counts = new Map<string, number>();
  for (const seed of seeds) counts.set(seed.stage, (counts.get(seed.stage) ?? 0) + 1);
  const order: readonly string[] = SEED_STAGES;
  const stages = [...counts.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return stages.map((stage) => `${stage}×${counts.get(stage) ?? 0}`).join(' ') || '-';
}

/** `h1 BLENDING α0.40 · h2 DORMANT`: every slot's stage, with α while blending. */
export function formatSlots(seeds: EpochSummary['seeds']): string {
  return seeds.map((s) => (s.stage === 'BLENDING' ? `${s.slotId} ${s.stage} α${s.alpha.toFixed(2)}` : `${s.slotId} ${s.stage}`)).join(' · ') || '-';
}

/** `62.5%` */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/**
 * Permanent event lines for `current` given the summary before it: a rollback
 * (cause, reason, epoch restored) and every slot whose seed reached FOSSILIZED
 * or PRUNED since `previous` (by slot; without `previous`, any seed already there).
 */
export function notableEvents(previous: EpochSummary | undefined, current: EpochSummary): string[] {
  const lines: string[] = [];
  const at = `epoch ${current.epoch}`;
  if (current.rolledBack) {
    const r = current.rollback;
    if (r === undefined) lines.push(`${at}  ROLLBACK`);
    else {
      const pruned = r.prunedSlots.length > 0 ? `; pruned ${r.prunedSlots.join(', ')}` : '';
      lines.push(`${at}  ROLLBACK (${r.cause}) ${r.reason} → restored epoch ${r.toEpoch}${pruned}`);
    }
  }
  const before = new Map((previous?.seeds ?? []).map((s) => [s.slotId, s.stage]));
  for (const seed of current.seeds) {
    if (NOTABLE_STAGES.has(seed.stage) && before.get(seed.slotId) !== seed.stage) {
      lines.push(`${at}  ${seed.slotId} ${seed.stage} (${seed.seedId})`);
    }
  }
  return lines;
}

/** Cuts `line` to at most `columns` characters (code points), ending with `…` when cut. */
export function truncateLine(line: string, columns: number): string {
  const width = Math.max(1, Math.floor(columns));
  const chars = Array.from(line);
  if (chars.length <= width) return line;
  return `${chars.slice(0, width - 1).join('')}…`;
}

/** The state the block is drawn from. */
export interface BlockState {
  summary: EpochSummary;
  totalEpochs: number;
  /** Validation accuracy of every epoch so far, in order (the sparkline). */
  accuracies: readonly number[];
  best: { accuracy: number; epoch: number };
  elapsedMs: number;
}

/** The block's {@link BLOCK_LINES} lines, each cut to `columns`. */
export function renderBlock(state: BlockState, columns = DEFAULT_COLUMNS): string[] {
  const s = state.summary;
  const sparkPrefix = 'acc   ';
  const tamiyo =
    s.tamiyo === undefined ? '-' : `${s.tamiyo.fallback ? 'FALLBACK ' : ''}${s.tamiyo.reason}${s.tamiyo.breaker === 'closed' ? '' : ` (breaker ${s.tamiyo.breaker})`}`;
  const lines = [
    `${formatProgress(s.epoch, state.totalEpochs)}  ${formatTiming(state.elapsedMs, s.epoch, state.totalEpochs)}`,
    `val acc ${formatPercent(s.validationAccuracy)} (best ${formatPercent(state.best.accuracy)} @${state.best.epoch})  ` +
      `loss ${s.trainLoss.toFixed(4)} / val ${s.validationLoss.toFixed(4)}${s.rolledBack ? '  ROLLBACK' : ''}`,
    `${sparkPrefix}${sparkline(state.accuracies, columns - sparkPrefix.length)}`,
    `seeds ${formatSeedsByStage(s.seeds)}`,
    `slots ${formatSlots(s.seeds)}`,
    `tamiyo ${tamiyo}`,
  ];
  return lines.map((line) => truncateLine(line, columns));
}

/** The live display: call {@link update} after every epoch, {@link finish} once at the end. */
export class ProgressDisplay {
  private readonly sink: ProgressSink;
  private readonly totalEpochs: number;
  private readonly now: () => number;
  private readonly started: number;
  private readonly accuracies: number[] = [];
  private previous: EpochSummary | undefined;
  private best: { accuracy: number; epoch: number } | undefined;
  private drawnLines = 0;
  private finished = false;

  constructor(sink: ProgressSink, options: ProgressDisplayOptions) {
    this.sink = sink;
    this.totalEpochs = options.totalEpochs;
    this.now = options.now ?? ((): number => performance.now());
    this.started = this.now();
  }

  /** Erases the previous block, prints new event lines, draws the block for `summary`. */
  update(summary: EpochSummary): void {
    if (this.finished) return;
    const columns = this.sink.columns !== undefined && this.sink.columns > 0 ? this.sink.columns : DEFAULT_COLUMNS;
    this.accuracies.push(summary.validationAccuracy);
    if (this.best === undefined || summary.validationAccuracy > this.best.accuracy) {
      this.best = { accuracy: summary.validationAccuracy, epoch: summary.epoch };
    }
    const events = notableEvents(this.previous, summary).map((line) => truncateLine(line, columns));
    this.previous = summary;
    const block = renderBlock(
      { summary, totalEpochs: this.totalEpochs, accuracies: this.accuracies, best: this.best, elapsedMs: this.now() - this.started },
      columns,
    );
    const erase = this.drawnLines > 0 ? `${CURSOR_UP_CLEAR.repeat(this.drawnLines)}\r` : '';
    this.sink.write(`${erase}${[...events, ...block].map((line) => `${line}\n`).join('')}`);
    this.drawnLines = block.length;
  }

  /** Leaves the last block on screen, followed by a newline; later updates are ignored. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.drawnLines > 0) this.sink.write('\n');
  }
}
