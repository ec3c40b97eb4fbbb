/**
 * `esper run SPEC.json [--out DIR] [--json] [--progress MODE] [--compare]`
 * (DESIGN §9): trains one run in process, shows its progress (a live display
 * on a terminal, else one line per epoch; JSON lines with `--json`), writes
 * `DIR/results.json` and `DIR/report.html`, and prints a final table.
 *
 * `--compare` also trains, for the same epochs, the host alone (no slots, no
 * policy) and a static MLP of the grown model's final size. Static sizing
 * rule: every hidden width of the host is scaled by the same factor k (each
 * width = round(w·k), at least w), with k the smallest step of 1/16 whose
 * parameter count reaches the grown model's total; when nothing was grown the
 * static model is the host itself.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { formatZodIssues } from '../contracts/registry.ts';
import { RunResultsSchema, RunSpecSchema, bottleneckResolution, type RunResults, type RunSpec } from '../contracts/run.ts';
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

/** Default data directory of `esper run`'s audit trail (the embedded database goes in `<dir>/db`). */
export const DEFAULT_DATA_DIR = '.esper';

export interface RunFlags {
  out?: string;
  json?: boolean;
  compare?: boolean;
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

/** Trainable parameters of a dense MLP in → hidden… → out. */
export function mlpParams(widths: readonly number[]): number {
  let total = 0;
  for (let i = 1; i < widths.length; i++) total += (widths[i - 1] ?? 0) * (widths[i] ?? 0) + (widths[i] ?? 0);
  return total;
}

/** Hidden widths of the static model (see the module comment for the rule). */
export function staticHidden(hidden: readonly number[], inputs: number, classes: number, targetParams: number): number[] {
  for (let k = 1; k <= 64; k += 1 / 16) {
    const widths = hidden.map((w) => Math.max(w, Math.round(w * k)));
    if (mlpParams([inputs, ...widths, classes]) >= targetParams) return widths;
  }
  return hidden.map((w) => w * 64);
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
    `acc ${(summary.validationAccuracy * 100).toFixed(1)}%  seeds ${seedsByStage(summary)}${summary.rolledBack ? '  ROLLBACK' : ''}`
  );
}

function finalTable(results: RunResults): string {
  const rows: [string, string][] = [
    ['run', results.runId],
    ['final accuracy', `${(results.finalAccuracy * 100).toFixed(2)}%`],
    ['parameters', `${results.parameterCount.total} (host ${results.parameterCount.host} + seeds ${results.parameterCount.seeds})`],
    ['seeds', results.seeds.map((s) => `${s.slotId}:${s.history.at(-1)?.to ?? 'DORMANT'}`).join(' ') || '-'],
    ['rollbacks', String(results.rollbacks.length)],
    ['max graft drop', `${results.maxGraftDropPct.toFixed(2)}%`],
    ['weights', results.weightsHash.slice(0, 16)],
  ];
  const c = results.compare;
  if (c !== undefined) {
    rows.push(['host alone', `${(c.hostAccuracy * 100).toFixed(2)}%`]);
    rows.push(['static', `${(c.staticAccuracy * 100).toFixed(2)}% (${c.staticParams} params)`]);
    rows.push(['resolution', c.bottleneckResolution === null ? 'n/a' : c.bottleneckResolution.toFixed(3)]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
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
    if (flags.compare === true) {
      const host = await runTraining(spec, { runId: `${runId}-host`, logger, growth: false });
      const h = spec.training.host;
      let staticAccuracy = host.finalAccuracy;
      let staticParams = host.parameterCount.total;
      if (h.kind === 'mlp' && results.parameterCount.total > host.parameterCount.total) {
        // inputs/classes recovered from the host's count: solve params(in, hidden, out) with the known dataset shapes.
        const classes = spec.training.dataset.kind === 'fashion-mnist' ? 10 : 2;
        const inputs = spec.training.dataset.kind === 'fashion-mnist' ? 784 : 2;
        const hidden = staticHidden(h.hidden, inputs, classes, results.parameterCount.total);
        const staticSpec: RunSpec = { ...spec, training: { ...spec.training, host: { kind: 'mlp', hidden }, slots: [] } };
        const stat = await runTraining(staticSpec, { runId: `${runId}-static`, logger, growth: false });
        staticAccuracy = stat.finalAccuracy;
        staticParams = stat.parameterCount.total;
      }
      results = RunResultsSchema.parse({
        ...results,
        compare: {
          hostAccuracy: host.finalAccuracy,
          grownAccuracy: results.finalAccuracy,
          staticAccuracy,
          staticParams,
          bottleneckResolution: bottleneckResolution(host.finalAccuracy, results.finalAccuracy, staticAccuracy),
        },
      });
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(dir, 'report.html'), renderReport(results));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (json) output.out(JSON.stringify({ type: 'done', dir, seconds: Number(seconds), results }));
    else output.out(`${finalTable(results)}\n${'time'.padEnd(14)}  ${seconds}s\nwrote ${join(dir, 'results.json')} and report.html`);
    return EXIT.OK;
  } catch (error) {
    printError(output, error);
    return EXIT.FAILED;
  }
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
      ...(recorder === undefined ? {} : { events: recorder.sink }),
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
    return await run.finished;
  } finally {
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
    .option('--compare', 'also train the host alone and a static model of the final size; adds bottleneck resolution')
    .option('--nats <url>', 'run on the cluster at this NATS URL (a trainer node takes it) instead of in process; Ctrl-C detaches')
    .option('--prefix <prefix>', 'subject prefix of the cluster (with --nats)', DEFAULT_SUBJECT_PREFIX)
    .exitOverride()
    .action(async (file: string, flags: RunFlags) => {
      result.code = await runRunCommand(file, flags, output);
    });
}
