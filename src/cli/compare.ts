/**
 * `esper run --compare [--sweep] [--repeats N]` (DESIGN §9, growth-notes §5
 * "Fair protocol"): after the grown run, trains from scratch, with the same
 * epochs, optimizer, batch size and data seed (`training.seed`),
 * - the host alone (no slots, no policy);
 * - the static baseline: the grown model's final topology (see
 *   compare-models.ts for the rule, `final-topology` or `parameter-matched`);
 * - with `--sweep`, the host at ×2, ×4 and ×8 width (×1 is the host alone);
 * and records their validation and test accuracies, losses, parameters and
 * topologies, the bottleneck resolution and the parameter efficiency.
 * `--repeats N` does all of it for the data seeds seed, seed + 1, …,
 * seed + N − 1, and summarises them (median, minimum, maximum).
 *
 * Trainings run one after another: on the 2-core dev machine two spirals
 * baselines at once took 9.1–10.6 s against 10.9–12.8 s in turn (about 17%
 * less, on a machine loaded by other work), not clearly faster, and each
 * training's recorded seconds would no longer be its own compute.
 */
import { largestDropPct } from '../actors/tolaria/index.ts';
import type { RunCompare, RunRepeat, RunResults, RunSpec, StaticSweepPoint } from '../contracts/run.ts';
import { RunCompareSchema, bottleneckResolution } from '../contracts/run.ts';
import type { HostSpec } from '../contracts/training-spec.ts';
import { chooseStaticModel, dataShape, describeHost, describeTopology, sameHost, sweepHosts } from './compare-models.ts';
import { parameterEfficiency, repeatRecord, tailAccuracy, type StaticPoint } from './compare-stats.ts';

/** Trains `spec` from scratch without growth (the host or a static model) under `runId`. */
export type BaselineTrainer = (spec: RunSpec, runId: string) => Promise<RunResults>;

/** Options of {@link compareBaselines}. */
export interface CompareOptions {
  /** Trains one baseline (in `esper run`: `runTraining(spec, { runId, growth: false })`). */
  train: BaselineTrainer;
  /** Also train the `--sweep` static models. @default false */
  sweep?: boolean;
  /** Called when a baseline has trained (progress lines). */
  onTrained?(label: string, results: RunResults, seconds: number): void;
}

/** One baseline to train. */
interface Job {
  label: string;
  host: HostSpec;
  runId: string;
}

/** Wall time of a finished run, seconds. */
function runSeconds(results: RunResults): number {
  return Math.max(0, (Date.parse(results.finishedAt) - Date.parse(results.startedAt)) / 1000);
}

/** The final validation loss of a run (its last epoch's), if it ran any epoch. */
function finalLoss(results: RunResults): number | undefined {
  return results.epochs.at(-1)?.validationLoss;
}

/** `{ [key]: value }` when value is defined, else `{}` (exactOptionalPropertyTypes). */
function present<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
}

/** Trains the baselines of the grown run `grown` and returns its comparison record. */
export async function compareBaselines(grown: RunResults, options: CompareOptions): Promise<RunCompare> {
  const spec = grown.spec;
  const shape = dataShape(spec);
  const baseHost = spec.training.host;
  const choice = chooseStaticModel(grown);
  // Distinct architectures only: a static model equal to the host (nothing grown), or a sweep point equal to the static one, is trained once.
  const jobs: Job[] = [{ label: 'host', host: baseHost, runId: `${grown.runId}-host` }];
  const jobFor = (host: HostSpec, label: string, runId: string): Job => {
    const known = jobs.find((job) => sameHost(job.host, host));
    if (known !== undefined) return known;
    const job = { label, host, runId };
    jobs.push(job);
    return job;
  };
  const staticJob = jobFor(choice.host, 'static', `${grown.runId}-static`);
  const sweep = options.sweep === true ? sweepHosts(baseHost).map((point) => ({ ...point, job: jobFor(point.host, `sweep ×${point.factor}`, `${grown.runId}-sweep-x${point.factor}`) })) : [];
  // One after another: two at once were not clearly faster on 2 cores, and each training's seconds stay its own compute.
  const trained: { job: Job; results: RunResults; seconds: number }[] = [];
  for (const job of jobs) {
    const started = performance.now();
    const results = await options.train({ ...spec, training: { ...spec.training, host: job.host, slots: [] } }, job.runId);
    const seconds = (performance.now() - started) / 1000;
    options.onTrained?.(job.label, results, seconds);
    trained.push({ job, results, seconds });
  }
  const resultOf = (job: Job): { job: Job; results: RunResults; seconds: number } => {
    const found = trained.find((t) => t.job === job);
    if (found === undefined) throw new Error(`compare: baseline ${job.label} was not trained`);
    return found;
  };
  const host = resultOf(jobs[0] as Job);
  const stat = resultOf(staticJob);
  const point = (h: HostSpec, r: RunResults): StaticPoint => ({ params: r.parameterCount.total, accuracy: r.finalAccuracy, topology: describeHost(h, shape) });
  const sweepPoints: StaticSweepPoint[] = sweep.map(({ factor, host: h, job }) => {
    const r = resultOf(job).results;
    return { factor, host: h, topology: describeHost(h, shape), params: r.parameterCount.total, accuracy: r.finalAccuracy, loss: finalLoss(r) ?? 0, ...present('testAccuracy', r.testAccuracy) };
  });
  const statics = [point(baseHost, host.results), point(choice.host, stat.results), ...sweep.map(({ host: h, job }) => point(h, resultOf(job).results))];
  const tests = [host.results.testAccuracy, grown.testAccuracy, stat.results.testAccuracy];
  const [hostTest, grownTest, staticTest] = tests;
  const tails = [host.results, grown, stat.results].map((r) => tailAccuracy(r.epochs));
  const [hostTail, grownTail, staticTail] = tails;
  const sweepSeconds = sweep.length === 0 ? undefined : trained.filter((t) => t.job.label.startsWith('sweep')).reduce((s, t) => s + t.seconds, 0);
  return RunCompareSchema.parse({
    hostAccuracy: host.results.finalAccuracy,
    grownAccuracy: grown.finalAccuracy,
    staticAccuracy: stat.results.finalAccuracy,
    staticParams: stat.results.parameterCount.total,
    bottleneckResolution: bottleneckResolution(host.results.finalAccuracy, grown.finalAccuracy, stat.results.finalAccuracy),
    staticRule: choice.rule,
    staticHost: choice.host,
    hostTopology: describeHost(baseHost, shape),
    grownTopology: describeTopology(choice.grown, shape),
    staticTopology: describeHost(choice.host, shape),
    hostParams: host.results.parameterCount.total,
    grownParams: grown.parameterCount.total,
    ...present('hostLoss', finalLoss(host.results)),
    ...present('grownLoss', finalLoss(grown)),
    ...present('staticLoss', finalLoss(stat.results)),
    ...present('hostTestAccuracy', hostTest),
    ...present('grownTestAccuracy', grownTest),
    ...present('staticTestAccuracy', staticTest),
    ...present('staticDropInGraftEpochsPct', grown.graftEpochs === undefined || grown.graftEpochs.length === 0 ? undefined : largestDropPct(stat.results.epochs, grown.graftEpochs)),
    ...(hostTest === undefined || grownTest === undefined || staticTest === undefined ? {} : { testBottleneckResolution: bottleneckResolution(hostTest, grownTest, staticTest) }),
    ...(hostTail === undefined || grownTail === undefined || staticTail === undefined
      ? {}
      : { hostTailAccuracy: hostTail, grownTailAccuracy: grownTail, staticTailAccuracy: staticTail, tailBottleneckResolution: bottleneckResolution(hostTail, grownTail, staticTail) }),
    trainingSeconds: { host: host.seconds, grown: runSeconds(grown), static: stat.job === host.job ? 0 : stat.seconds, ...present('sweep', sweepSeconds) },
    ...(sweep.length === 0 ? {} : { sweep: sweepPoints }),
    parameterEfficiency: parameterEfficiency(statics, { params: grown.parameterCount.total, accuracy: grown.finalAccuracy }, point(baseHost, host.results)),
  });
}

/** Options of {@link compareRepeats}. */
export interface RepeatOptions extends CompareOptions {
  /** Data seeds to train (the first is `first`'s). */
  repeats: number;
  /** Trains the grown run of a later repeat (its spec has `training.seed` set). */
  grow: (spec: RunSpec, runId: string) => Promise<RunResults>;
  /** Called after each repeat (progress lines). */
  onRepeat?(repeat: RunRepeat, index: number): void;
}

/**
 * `--repeats N`: compares `first` (the run already trained), then trains and
 * compares the same spec on the data seeds after its own, one by one.
 * Returns the first run's comparison and every repeat's row.
 */
export async function compareRepeats(first: RunResults, options: RepeatOptions): Promise<{ compare: RunCompare; repeats: RunRepeat[] }> {
  const repeats: RunRepeat[] = [];
  let firstCompare: RunCompare | undefined;
  for (let i = 0; i < options.repeats; i++) {
    const seed = first.spec.training.seed + i;
    const grown = i === 0 ? first : await options.grow({ ...first.spec, training: { ...first.spec.training, seed } }, `${first.runId}-seed${seed}`);
    const compare = await compareBaselines(grown, options);
    firstCompare ??= compare;
    const row = repeatRecord(grown, compare);
    repeats.push(row);
    options.onRepeat?.(row, i);
  }
  if (firstCompare === undefined) throw new RangeError('compareRepeats: repeats must be at least 1');
  return { compare: firstCompare, repeats };
}
