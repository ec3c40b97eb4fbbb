/**
 * `esper run SPEC.json [--out DIR] [--json] [--progress MODE] [--compare
 * [--sweep] [--repeats N]]` (DESIGN §9): trains one run in process, shows its
 * progress (a live display on a terminal, else one line per epoch; JSON
 * lines with `--json`), writes `DIR/results.json` and `DIR/report.html`, and
 * prints a final table.
 *
 * `--compare` also trains, for the same epochs, optimizer, batch size and
 * data seed, the host alone and a static model of the grown model's final
 * topology (`--sweep`: and the host at ×2, ×4, ×8 width); `--repeats N` does
 * it for N data seeds. See compare.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { formatZodIssues } from '../contracts/registry.ts';
import { MAX_COMPARE_REPEATS, RunResultsSchema, RunSpecSchema, type RunResults, type RunSpec } from '../contracts/run.ts';
import { ConfigError } from '../errors/index.ts';
import { checkRunSpec, runTraining, startRun, type EpochSummary } from '../actors/tolaria/index.ts';
import { renderReport } from './report/report-html.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { printError, type CliOutput } from './output.ts';
import { createLogger } from '../infra/logger.ts';
import { ProgressDisplay } from './progress-display.ts';
import { EventRecorder, EventStore } from '../actors/nissa/index.ts';
import type { Logger } from '../infra/logger.ts';
import { DEFAULT_SUBJECT_PREFIX } from '../contracts/subjects.ts';
import { runOnCluster } from './run-remote.ts';
import { compareRepeats } from './compare.ts';
import { summarizeRepeats } from './compare-stats.ts';
import { compareRows, num, repeatsTable, resolutionNotes } from './compare-table.ts';
import { growthGoals, growthGoalsText } from './growth-goals.ts';
import { openRunDashboard, teeEvents, type RunDashboardFlags } from './run-dashboard.ts';

/** Default data directory of `esper run`'s audit trail (the embedded database goes in `<dir>/db`). */
export const DEFAULT_DATA_DIR = '.esper';

export interface RunFlags extends RunDashboardFlags {
  out?: string;
  json?: boolean;
  compare?: boolean;
  /** With `--compare`: also train the host at ×2, ×4 and ×8 width (the static width sweep). @default false */
  sweep?: boolean;
  /** With `--compare`: data seeds to train (spec seed, seed + 1, …), as commander gives it (a string). @default 1 */
  repeats?: string;
  /** Data directory of the event store. @default DEFAULT_DATA_DIR */
  dataDir?: string;
  /** False (`--no-audit`): do not persist the run's events. @default true */
  audit?: boolean;
  /** How epochs are shown without `--json`: one of {@link PROGRESS_MODES}. @default 'auto' */
  progress?: string;
  /** Run on the cluster at this NATS URL instead of in process. */
  nats?: string;
  /** Subject prefix of the cluster. @default DEFAULT_SUBJECT_PREFIX */
  prefix?: string;
}

/** `--progress` modes: `auto` = `live` when stdout is a terminal, else `lines`. */
export const PROGRESS_MODES = ['auto', 'live', 'lines'] as const;

/**
 * How `esper run` shows its epochs: `json` (JSON lines) with `--json`, whatever
 * `--progress` says; else `--progress` (`auto`: `live` on a terminal, `lines`
 * otherwise). Undefined for an unknown mode.
 */
export function resolveProgressMode(flags: Pick<RunFlags, 'json' | 'progress'>, isTTY: boolean): 'json' | 'live' | 'lines' | undefined {
  const mode = flags.progress ?? 'auto';
  if (!(PROGRESS_MODES as readonly string[]).includes(mode)) return undefined;
  if (flags.json === true) return 'json';
  if (mode === 'auto') return isTTY ? 'live' : 'lines';
  return mode === 'live' ? 'live' : 'lines';
}

/** Reads and validates SPEC.json; throws an error listing every issue. */
export function loadRunSpec(file: string): RunSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${file}`, [`${file}: ${(error as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON`, [`${file}: ${(error as Error).message}`]);
  }
  const parsed = RunSpecSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${file} is not a valid run spec`, formatZodIssues(parsed.error));
  return parsed.data;
}

function seedsByStage(summary: EpochSummary): string {
  const counts = new Map<string, number>();
  for (const seed of summary.seeds) counts.set(seed.stage, (counts.get(seed.stage) ?? 0) + 1);
  return [...counts].map(([stage, n]) => `${stage}×${n}`).join(' ') || '-';
}

function epochLine(summary: EpochSummary, json: boolean): string {
  if (json) return JSON.stringify({ type: 'epoch', ...summary });
  return (
    `epoch ${String(summary.epoch).padStart(3)}  loss ${summary.trainLoss.toFixed(4)} / val ${summary.validationLoss.toFixed(4)}  ` +
    `acc ${(summary.validationAccuracy * 100).toFixed(1)}%  seeds ${seedsByStage(summary)}${summary.rolledBack ? '  ROLLBACK' : ''}` +
    (summary.tamiyo?.revived === undefined ? '' : `  REVIVED ${summary.tamiyo.revived.map((l) => `L${l}`).join('–')}`)
  );
}

function finalTable(results: RunResults, seconds: string): string {
  const rows: [string, string][] = [
    ['run', results.runId],
    ['final accuracy', `${(results.finalAccuracy * 100).toFixed(2)}%`],
    ['parameters', `${results.parameterCount.total} (host ${results.parameterCount.host} + seeds ${results.parameterCount.seeds})`],
    ['seeds', results.seeds.map((s) => `${s.slotId}:${s.history.at(-1)?.to ?? 'DORMANT'}`).join(' ') || '-'],
    ['rollbacks', String(results.rollbacks.length)],
    ['max graft drop', `${results.maxGraftDropPct.toFixed(2)}%`],
    ['weights', results.weightsHash.slice(0, 16)],
    ['backend', results.backendFallbackReason === undefined ? results.backend : `${results.backend} (${results.backendFallbackReason})`],
  ];
  if (results.testAccuracy !== undefined) rows.splice(2, 0, ['test accuracy', `${(results.testAccuracy * 100).toFixed(2)}%`]);
  if (results.compare !== undefined) rows.push(...compareRows(results.compare));
  rows.push(['time', `${seconds}s`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const table = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
  const repeats = results.repeats ?? [];
  const summary = repeats.length > 1 ? results.repeatSummary : undefined;
  const withRepeats = summary === undefined ? table : `${table}\n\n${repeatsTable(repeats, summary)}`;
  const goals = growthGoals(results);
  if (goals === undefined) return withRepeats;
  return `${withRepeats}\n\ngrowth goals (${summary === undefined ? 'this data seed' : `${repeats.length} data seeds`}; docs/growth.md "Goals")\n${growthGoalsText(goals)}`;
}

/** `esper run`: resolves to the exit code. */
export async function runRunCommand(file: string, flags: RunFlags, output: CliOutput): Promise<ExitCode> {
  let spec: RunSpec;
  try {
    spec = loadRunSpec(file);
    checkRunSpec(spec);
  } catch (error) {
    printError(output, error);
    return EXIT.USAGE;
  }
  let repeats: number;
  try {
    repeats = compareRepeatCount(flags, spec);
  } catch (error) {
    printError(output, error);
    return EXIT.USAGE;
  }
  if (flags.nats !== undefined && flags.compare === true) {
    printError(output, new ConfigError('--compare trains its baselines in process', ['--compare: not available with --nats; run the comparison embedded (without --nats)']));
    return EXIT.USAGE;
  }
  const mode = resolveProgressMode(flags, output.isTTY === true);
  if (mode === undefined) {
    printError(output, new ConfigError(`unknown --progress mode ${String(flags.progress)}`, [`--progress must be one of ${PROGRESS_MODES.join(', ')}`]));
    return EXIT.USAGE;
  }
  const runId = `run-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}-${process.pid}`;
  const dir = resolve(flags.out ?? join('runs', runId));
  const json = flags.json === true;
  try {
    const started = performance.now();
    // Actor logs (every seed transition at info) go to stderr; warnings only unless ESPER_LOG_LEVEL says otherwise.
    const envLevel = process.env['ESPER_LOG_LEVEL'];
    const logger = createLogger({ level: envLevel === undefined || envLevel === '' ? 'warn' : (envLevel as 'info') });
    let results =
      flags.nats === undefined
        ? await runLocally(spec, runId, flags, mode, output, logger)
        : await runOnCluster(spec, { url: flags.nats, prefix: flags.prefix ?? DEFAULT_SUBJECT_PREFIX, runId, json, output });
    if (flags.compare === true) results = await compareRun(results, repeats, flags, output, logger);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(dir, 'report.html'), renderReport(results));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (json) output.out(JSON.stringify({ type: 'done', dir, seconds: Number(seconds), results }));
    else output.out(`${finalTable(results, seconds)}\nwrote ${join(dir, 'results.json')} and report.html`);
    return EXIT.OK;
  } catch (error) {
    printError(output, error);
    return EXIT.FAILED;
  }
}

/**
 * The number of data seeds `--repeats` asks for (1 without it). Throws a
 * ConfigError (exit 2) when it is not a whole number in 1–{@link MAX_COMPARE_REPEATS},
 * when the seeds would pass 2³² − 1, or when `--repeats` or `--sweep` come without `--compare`.
 */
export function compareRepeatCount(flags: Pick<RunFlags, 'compare' | 'repeats' | 'sweep'>, spec: RunSpec): number {
  const issues: string[] = [];
  if (flags.compare !== true) {
    if (flags.repeats !== undefined) issues.push('--repeats: only with --compare (it repeats the comparison on more data seeds)');
    if (flags.sweep === true) issues.push('--sweep: only with --compare (it adds static models to the comparison)');
  }
  const text = flags.repeats ?? '1';
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_COMPARE_REPEATS) issues.push(`--repeats: a whole number from 1 to ${MAX_COMPARE_REPEATS}, got '${text}'`);
  else if (spec.training.seed + n - 1 > 2 ** 32 - 1) issues.push(`--repeats: data seeds ${spec.training.seed}…${spec.training.seed + n - 1} pass 2^32 − 1`);
  if (issues.length > 0) throw new ConfigError('bad --compare options', issues);
  return n;
}

/** `--compare`: trains the baselines (and the other repeats) and adds them to `results`. */
async function compareRun(results: RunResults, repeats: number, flags: RunFlags, output: CliOutput, logger: Logger): Promise<RunResults> {
  const json = flags.json === true;
  const percent = (fraction: number): string => `${(fraction * 100).toFixed(2)}%`;
  const { compare, repeats: rows } = await compareRepeats(results, {
    repeats,
    sweep: flags.sweep === true,
    train: (spec, runId) => runTraining(spec, { runId, logger, growth: false }),
    grow: (spec, runId) => runTraining(spec, { runId, logger }),
    onTrained: (label, trained, seconds) => {
      const seed = trained.spec.training.seed;
      if (json) output.out(JSON.stringify({ type: 'baseline', label, seed, runId: trained.runId, accuracy: trained.finalAccuracy, testAccuracy: trained.testAccuracy, params: trained.parameterCount.total, seconds }));
      else output.out(`compare  seed ${seed}  ${label.padEnd(9)} ${percent(trained.finalAccuracy)}  ${trained.parameterCount.total} params  ${seconds.toFixed(1)}s`);
    },
    onRepeat: (row, index) => {
      if (json) output.out(JSON.stringify({ type: 'repeat', index, ...row }));
      else if (repeats > 1) {
        output.out(`repeat ${index + 1}/${repeats}  seed ${row.seed}  host ${percent(row.hostAccuracy)}  grown ${percent(row.grownAccuracy)}  static ${percent(row.staticAccuracy)}  resolution ${num(row.bottleneckResolution, 3)}${resolutionNotes(row)}`);
      }
    },
  });
  return RunResultsSchema.parse({ ...results, compare, repeats: rows, repeatSummary: summarizeRepeats(rows) });
}

/** Trains `spec` in this process (embedded: in-process bus, audit trail in PGlite under the data dir). */
async function runLocally(spec: RunSpec, runId: string, flags: RunFlags, mode: 'json' | 'live' | 'lines', output: CliOutput, logger: Logger): Promise<RunResults> {
  const json = flags.json === true;
  // Audit trail: events buffered by the run loop, written once per epoch; persisting never stops training.
  let store: EventStore | undefined;
  if (flags.audit !== false) {
    try {
      store = await EventStore.open({ dataDir: resolve(flags.dataDir ?? DEFAULT_DATA_DIR), logger });
    } catch (error) {
      logger.warn({ err: error }, 'audit: cannot open the event store; the run goes on without an audit trail');
    }
  }
  const recorder = store === undefined ? undefined : new EventRecorder(store, logger);
  const dashboard = await openRunDashboard(flags, runId, spec, output, logger); // issue 14: --dashboard (run-dashboard.ts)
  let outcome: 'completed' | 'failed' = 'failed';
  const display =
    mode === 'live'
      ? new ProgressDisplay(
          {
            write: (text) => (output.write === undefined ? output.out(text) : output.write(text)),
            get columns(): number | undefined {
              return output.columns; // read on every render: follows terminal resizes
            },
          },
          { totalEpochs: spec.epochs },
        )
      : undefined;
  try {
    // Supervised like a node's run: a loop whose training worker dies resumes from its last boundary.
    const run = await startRun(undefined, spec, {
      runId,
      logger,
      ...teeEvents(recorder?.sink, dashboard?.events),
      onEpoch: async (s) => {
        if (display === undefined) output.out(epochLine(s, json));
        else display.update(s);
        await recorder?.flush();
      },
      boundary: () => {
        recorder?.mark();
        return Promise.resolve();
      },
      onRestart: () => recorder?.rewind(),
    });
    const results = await run.finished;
    outcome = 'completed';
    return results;
  } finally {
    await dashboard?.close(outcome);
    display?.finish();
    await recorder?.flush();
    await store?.close().catch((error: unknown) => logger.warn({ err: error }, 'audit: closing the event store failed'));
  }
}

/** Adds `esper run` to the program; the action records its exit code in `result`. */
export function registerRunCommand(program: Command, output: CliOutput, result: { code: number }): void {
  program
    .command('run')
    .description('train a run from SPEC.json (in process, or on a cluster with --nats): seeds grow under Tamiyo and Kasmina; writes DIR/results.json and DIR/report.html')
    .argument('<spec>', 'run specification (JSON)')
    .option('--out <dir>', 'output directory (default ./runs/<runId>)')
    .option('--json', 'print JSON lines (one per epoch, then the results); overrides --progress')
    .addOption(
      new Option('--progress <mode>', 'epoch display: auto (live on a terminal, else lines), live (redrawn in place), lines (one line per epoch)')
        .choices(PROGRESS_MODES)
        .default('auto'),
    )
    .option('--data-dir <dir>', `data directory of the audit trail (default ./${DEFAULT_DATA_DIR})`)
    .option('--no-audit', 'do not record the run\'s events (esper audit / esper replay need them)')
    .option('--compare', "also train, from scratch with the same budget and data seed, the host alone and a static model of the grown model's final topology; adds bottleneck resolution, test accuracies and parameter efficiency")
    .option('--sweep', 'with --compare: also train the host at ×2, ×4 and ×8 width (a static width sweep for the accuracy-vs-parameters chart)')
    .option('--repeats <n>', 'with --compare: repeat it on N data seeds (training.seed, +1, …) and report median and minimum (default 1)')
    .option('--nats <url>', 'run on the cluster at this NATS URL (a trainer node takes it) instead of in process; Ctrl-C detaches')
    .option('--prefix <prefix>', 'subject prefix of the cluster (with --nats)', DEFAULT_SUBJECT_PREFIX)
    .option('--dashboard', 'serve the live dashboard of this run while it trains (read-only; docs/dashboard.md)')
    .option('--port <n>', 'with --dashboard: HTTP port (default 8642; 0 picks a free one)')
    .exitOverride()
    .action(async (file: string, flags: RunFlags) => {
      result.code = await runRunCommand(file, flags, output);
    });
}
