/**
 * Urabrask's validator (DESIGN §1): runs a compiled kernel through the
 * validation pipeline and marks it VALIDATED or REJECTED. It does tensor work,
 * so it runs in a worker thread (tezzeret/worker-pool.ts), never on a node's
 * event loop. Checks, in order (names as they appear in the report):
 *
 * 1. `integrity` — framing and trailing sha256 of the artifact, and, when the
 *    job names one, that it is that kernel.
 * 2. `load` — the IR in the header passes Karn's analysis again, its hash and
 *    the kernel id match the content, the weight layout matches the IR, and
 *    the module is built (its parameter count equals the analysis').
 * 3. `interface` — a probe `[1, ...inputShape]` gives `[1, ...outputShape]`,
 *    and the kernel's interface is the expected slot's (when given).
 * 4. `finite` — outputs are finite on several probe batches: standard
 *    normal, zeros, and large values (±10).
 * 5. `identity_at_init` — max |f(x) − x| on the normal probe. When analysis
 *    says the blueprint starts as the identity it must be ≤ the tolerance
 *    (1e-6). When it says the blueprint starts as zero (a width kernel, whose
 *    output is added to the next layer through Ω = 0) max |f(x)| must be ≤
 *    the same tolerance. Either way the kernel preserves the host's function
 *    at germination. When analysis says neither, the check passes and the
 *    non-preserving start is a risk factor.
 * 6. `gradient` — for L = ½·mean((f(x) − t)²), x, t ~ N(0, 1), the gradients
 *    w.r.t. the trainable parameters are finite, not all zero, and their
 *    global L2 norm is ≤ `maxGradNorm` (exploding otherwise).
 * 7. `benchmark` — p50/p99 latency of the forward pass and of a
 *    forward+backward pass on a batch of 32 over N runs (after warm-up);
 *    memory = parameter bytes + max(analysis activation bytes × batch,
 *    measured `tf.memory()` growth during a forward+backward pass). Skipped
 *    (and failed) when an earlier check failed.
 *
 * ## Risk score
 *
 *     risk = 0.2·nonIdentity + 0.3·latency + 0.3·size + 0.2·gradient     ∈ [0, 1]
 *
 * - nonIdentity = 1 when analysis says the blueprint starts neither as the
 *   identity nor as zero (it changes the host's function at germination),
 *   else 0;
 * - latency = min(1, p50 of forward+backward / `latencyBudgetMs`) — the
 *   median, the per-step cost a seed adds to training: on a shared machine
 *   the p99 of 20 runs measures the machine's hiccups more than the kernel
 *   (both are reported);
 * - size = min(1, max(params / `paramBudget`, memoryBytes / `memoryBudgetBytes`));
 * - gradient = min(1, d / 2) where d is how many decades the gradient norm
 *   lies outside the healthy band [1e-4, 1e2] (0 inside it).
 *
 * So a kernel at its latency or size budget is rejected on that alone (0.3),
 * and a non-identity start (0.2) is tolerated only when it is cheap and well
 * conditioned. Any failed check → REJECTED with risk 1, whatever the score.
 * Otherwise VALIDATED when risk < `maxRisk` (default 0.3), else REJECTED.
 * `latencyMs` in the report is the forward pass (the contract's field); the
 * forward+backward figures are in the benchmark check's metrics.
 */
import * as tf from '@tensorflow/tfjs';
import { slotInterfaceKey, type Metrics, type SlotInterface } from '../../contracts/common.ts';
import { DEFAULT_MAX_RISK, ValidationReportSchema, type ValidationCheck, type ValidationReport } from '../../contracts/urabrask.ts';
import { toEsperError } from '../../errors/index.ts';
import { selectBackend, type BackendName } from '../../tensor/backend.ts';
import type { BlueprintModule } from '../../tensor/blueprint-module.ts';
import { Rng } from '../../tensor/rng.ts';
import { decodeKernelArtifact, type KernelHeader } from '../../blueprint/kernel-artifact.ts';
import { loadKernelWithHeader } from '../../tensor/kernel-loader.ts';

/** Version of this validator; recorded in every report. */
export const VALIDATOR_VERSION = 'urabrask-1.0.0';

/** Weights of the risk terms (they sum to 1). */
export const RISK_WEIGHTS = Object.freeze({ nonIdentity: 0.2, latency: 0.3, size: 0.3, gradient: 0.2 });

/** Options of {@link validateKernel}; plain data, so they can cross to a worker thread. */
export interface ValidateOptions {
  /** The kernel the job names; an artifact of another kernel fails `integrity`. */
  kernelId?: string;
  /** Copied into the report. */
  jobId?: string;
  /** The slot the kernel must fit; a different interface fails `interface`. */
  expectedInterface?: SlotInterface;
  /** Risk at or above which a kernel is rejected. @default 0.3 */
  maxRisk?: number;
  /** Backend to select first. @default the active tfjs backend */
  backend?: BackendName;
  /** Seed of the probe data. @default 0 */
  seed?: number;
  /** Batch of the probes and the gradient check. @default 8 */
  probeBatch?: number;
  /** Batch of the benchmark. @default 32 */
  benchmarkBatch?: number;
  /** Timed runs of the benchmark (each of forward and forward+backward). @default 20 */
  benchmarkIterations?: number;
  /** Untimed runs before timing. @default 2 */
  benchmarkWarmup?: number;
  /** Budget for the median of one forward+backward pass of the benchmark batch, ms. @default 100 */
  latencyBudgetMs?: number;
  /** Parameter budget of the risk score. @default 1_000_000 */
  paramBudget?: number;
  /** Memory budget of the risk score, bytes. @default 67_108_864 (64 MiB) */
  memoryBudgetBytes?: number;
  /** Largest max |f(x) − x| of an identity-start kernel (max |f(x)| of a zero-start one) at init. @default 1e-6 */
  identityTolerance?: number;
  /** Largest healthy global gradient norm; above it the gradient check fails (exploding). @default 10_000 */
  maxGradNorm?: number;
}

interface Resolved {
  maxRisk: number;
  seed: number;
  probeBatch: number;
  benchmarkBatch: number;
  benchmarkIterations: number;
  benchmarkWarmup: number;
  latencyBudgetMs: number;
  paramBudget: number;
  memoryBudgetBytes: number;
  identityTolerance: number;
  maxGradNorm: number;
}

function resolve(options: ValidateOptions): Resolved {
  return {
    maxRisk: options.maxRisk ?? DEFAULT_MAX_RISK,
    seed: options.seed ?? 0,
    probeBatch: Math.max(1, Math.floor(options.probeBatch ?? 8)),
    benchmarkBatch: Math.max(1, Math.floor(options.benchmarkBatch ?? 32)),
    benchmarkIterations: Math.max(1, Math.floor(options.benchmarkIterations ?? 20)),
    benchmarkWarmup: Math.max(0, Math.floor(options.benchmarkWarmup ?? 2)),
    latencyBudgetMs: options.latencyBudgetMs ?? 100,
    paramBudget: options.paramBudget ?? 1_000_000,
    memoryBudgetBytes: options.memoryBudgetBytes ?? 64 * 1024 * 1024,
    identityTolerance: options.identityTolerance ?? 1e-6,
    maxGradNorm: options.maxGradNorm ?? 10_000,
  };
}

/** Healthy band of the global gradient norm (the risk's gradient term is 0 inside it). */
export const HEALTHY_GRAD_NORM: readonly [number, number] = [1e-4, 1e2];

/** The risk score's terms and total (see the module comment). */
export interface RiskBreakdown {
  nonIdentity: number;
  latency: number;
  size: number;
  gradient: number;
  total: number;
}

/** The risk score from its measured inputs (see the module comment). */
export function riskScore(input: {
  startsAsIdentity: boolean;
  /** Starts as zero (a width kernel): function-preserving like an identity start. @default false */
  startsAsZero?: boolean;
  /** Median forward+backward latency of the benchmark batch, ms. */
  trainStepMs: number;
  latencyBudgetMs: number;
  paramCount: number;
  paramBudget: number;
  memoryBytes: number;
  memoryBudgetBytes: number;
  gradNorm: number;
}): RiskBreakdown {
  const clamp = (v: number): number => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 1);
  const [lo, hi] = HEALTHY_GRAD_NORM;
  const g = input.gradNorm;
  const decades = !(g > 0) || !Number.isFinite(g) ? Infinity : Math.max(0, Math.log10(g / hi), Math.log10(lo / g));
  const terms = {
    nonIdentity: input.startsAsIdentity || input.startsAsZero === true ? 0 : 1,
    latency: clamp(input.trainStepMs / input.latencyBudgetMs),
    size: clamp(Math.max(input.paramCount / input.paramBudget, input.memoryBytes / input.memoryBudgetBytes)),
    gradient: clamp(decades / 2),
  };
  const total =
    RISK_WEIGHTS.nonIdentity * terms.nonIdentity + RISK_WEIGHTS.latency * terms.latency + RISK_WEIGHTS.size * terms.size + RISK_WEIGHTS.gradient * terms.gradient;
  return { ...terms, total: Math.min(1, Math.max(0, Math.round(total * 1e6) / 1e6)) };
}

/** Nearest-rank percentile of samples (q in (0, 1]). */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

const round = (v: number, digits = 4): number => Number(v.toPrecision(digits));

/** Metrics without non-finite values (the contract carries finite numbers only; a NaN is said in the detail). */
function finiteMetrics(values: Record<string, number>): Metrics {
  const out: Metrics = {};
  for (const [k, v] of Object.entries(values)) if (Number.isFinite(v)) out[k] = round(v, 6);
  return out;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function normalTensor(rng: Rng, shape: readonly number[], scale = 1): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal() * scale), [...shape]);
}

function readScalars(...tensors: tf.Tensor[]): number[] {
  return Array.from(tf.stack(tensors.map((t) => tf.reshape(t, []))).dataSync());
}

/** State carried from check to check. */
interface Run {
  checks: ValidationCheck[];
  header?: KernelHeader;
  module?: BlueprintModule;
  gradNorm?: number;
  fwdP50?: number;
  fwdP99?: number;
  stepP50?: number;
  memoryBytes?: number;
}

function record(run: Run, name: string, passed: boolean, detail: string, metrics: Record<string, number> = {}): boolean {
  const check: ValidationCheck = { name, passed, detail: clip(detail, 1000) };
  const m = finiteMetrics(metrics);
  if (Object.keys(m).length > 0) check.metrics = m;
  run.checks.push(check);
  return passed;
}

function guarded(run: Run, name: string, body: () => boolean): boolean {
  try {
    return body();
  } catch (error) {
    const e = toEsperError(error);
    return record(run, name, false, `${e.code}: ${e.message}`);
  }
}

function checkInterface(run: Run, module: BlueprintModule, header: KernelHeader, expected: SlotInterface | undefined): boolean {
  const key = slotInterfaceKey(header.interface);
  if (expected !== undefined && slotInterfaceKey(expected) !== key) {
    return record(run, 'interface', false, `the kernel is built for ${key}, the slot is ${slotInterfaceKey(expected)}`);
  }
  const shape = tf.tidy(() => module.forward(tf.zeros([1, ...header.interface.inputShape])).shape);
  const want = [1, ...header.interface.outputShape];
  const ok = shape.length === want.length && shape.every((d, i) => d === want[i]);
  return record(run, 'interface', ok, ok ? `${key}: probe ${JSON.stringify([1, ...header.interface.inputShape])} → ${JSON.stringify(shape)}` : `probe output ${JSON.stringify(shape)}, expected ${JSON.stringify(want)}`);
}

function checkFinite(run: Run, module: BlueprintModule, inputShape: readonly number[], o: Resolved): boolean {
  const rng = new Rng(o.seed ^ 0x1234567);
  const shape = [o.probeBatch, ...inputShape];
  const probes: [string, () => tf.Tensor][] = [
    ['normal', () => normalTensor(rng, shape)],
    ['zeros', () => tf.zeros(shape)],
    ['large', () => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.next() < 0.5 ? -10 : 10)), shape)],
  ];
  const metrics: Record<string, number> = {};
  const bad: string[] = [];
  for (const [name, make] of probes) {
    const [finite = 0, maxAbs = Number.NaN] = tf.tidy(() => {
      const y = module.forward(make());
      return readScalars(tf.cast(tf.all(tf.isFinite(y)), 'float32'), tf.max(tf.abs(y)));
    });
    metrics[`maxAbsOutput.${name}`] = maxAbs;
    if (finite !== 1) bad.push(name);
  }
  return record(
    run,
    'finite',
    bad.length === 0,
    bad.length === 0 ? 'outputs are finite on the normal, zeros and ±10 probes' : `non-finite outputs (NaN or ±Infinity) on the ${bad.join(', ')} probe(s)`,
    metrics,
  );
}

function checkIdentity(run: Run, module: BlueprintModule, inputShape: readonly number[], o: Resolved): boolean {
  const rng = new Rng(o.seed ^ 0x7654321);
  const [deviation = Number.NaN, maxOutput = Number.NaN] = tf.tidy(() => {
    const x = normalTensor(rng, [o.probeBatch, ...inputShape]);
    const y = module.forward(x);
    const sameShape = y.shape.length === x.shape.length && y.shape.every((d, i) => d === x.shape[i]);
    const maxAbs = tf.max(tf.abs(y));
    return sameShape ? readScalars(tf.max(tf.abs(tf.sub(y, x))), maxAbs) : [Number.NaN, ...readScalars(maxAbs)];
  });
  const { startsAsIdentity, startsAsZero } = module.report;
  const metrics = { maxDeviation: deviation, maxAbsOutput: maxOutput, startsAsIdentity: startsAsIdentity ? 1 : 0, startsAsZero: startsAsZero ? 1 : 0 };
  if (startsAsZero) {
    const ok = maxOutput <= o.identityTolerance;
    return record(run, 'identity_at_init', ok, ok ? `f(x) = 0 at init (max |f(x)| = ${maxOutput}): function-preserving` : `analysis says zero at init but max |f(x)| = ${maxOutput} > ${o.identityTolerance}`, metrics);
  }
  if (!startsAsIdentity) {
    return record(run, 'identity_at_init', true, `neither an identity nor a zero start (max |f(x) − x| = ${round(deviation)}); counted as a risk factor`, metrics);
  }
  const ok = deviation <= o.identityTolerance;
  return record(run, 'identity_at_init', ok, ok ? `f(x) = x at init (max |f(x) − x| = ${deviation})` : `analysis says identity at init but max |f(x) − x| = ${deviation} > ${o.identityTolerance}`, metrics);
}

function checkGradient(run: Run, module: BlueprintModule, inputShape: readonly number[], o: Resolved): boolean {
  const params = module.trainableParams;
  if (params.length === 0) return record(run, 'gradient', false, 'the kernel has no trainable parameters');
  const rng = new Rng(o.seed ^ 0x0badf00d);
  const [loss = Number.NaN, norm = Number.NaN, allFinite = 0, zeroTensors = 0] = tf.tidy(() => {
    const x = normalTensor(rng, [o.probeBatch, ...inputShape]);
    const y0 = module.forward(x);
    const t = normalTensor(rng, y0.shape);
    const { value, grads } = tf.variableGrads(() => tf.mul(tf.mean(tf.square(tf.sub(module.forward(x), t))), 0.5), params);
    const list = params.map((p) => grads[p.name] ?? tf.zerosLike(p));
    const squares = list.map((g) => tf.sum(tf.square(g)));
    const finite = tf.cast(tf.all(tf.stack(list.map((g) => tf.all(tf.isFinite(g))))), 'float32');
    const zeros = tf.sum(tf.cast(tf.equal(tf.stack(squares), 0), 'float32'));
    return readScalars(value, tf.sqrt(tf.addN(squares)), finite, zeros);
  });
  run.gradNorm = norm;
  const metrics = { loss, gradNorm: norm, zeroGradTensors: zeroTensors, paramTensors: params.length };
  if (allFinite !== 1 || !Number.isFinite(norm)) return record(run, 'gradient', false, `non-finite gradients (norm ${norm}, loss ${loss})`, metrics);
  if (!(norm > 0)) return record(run, 'gradient', false, 'every gradient is zero: the kernel cannot learn', metrics);
  if (norm > o.maxGradNorm) return record(run, 'gradient', false, `exploding gradients: norm ${round(norm)} > ${o.maxGradNorm}`, metrics);
  return record(run, 'gradient', true, `gradient norm ${round(norm)}; ${zeroTensors} of ${params.length} parameter tensors have a zero gradient`, metrics);
}

function checkBenchmark(run: Run, module: BlueprintModule, o: Resolved): boolean {
  const shape = [o.benchmarkBatch, ...module.interface.inputShape];
  const rng = new Rng(o.seed ^ 0x2545f491);
  const x = normalTensor(rng, shape);
  const params = module.trainableParams;
  const forward = (): void => {
    tf.tidy(() => {
      tf.sum(module.forward(x)).dataSync();
    });
  };
  let deltaBytes = 0;
  const step = (measure: boolean): void => {
    tf.tidy(() => {
      const before = measure ? tf.memory().numBytes : 0;
      const loss = (): tf.Scalar => tf.mean(tf.square(module.forward(x)));
      const { value, grads } = tf.variableGrads(loss, params);
      tf.addN([value, ...Object.values(grads).map((g) => tf.sum(g))]).dataSync();
      if (measure) deltaBytes = Math.max(deltaBytes, tf.memory().numBytes - before);
    });
  };
  const time = (fn: () => void): number[] => {
    for (let i = 0; i < o.benchmarkWarmup; i++) fn();
    const samples: number[] = [];
    for (let i = 0; i < o.benchmarkIterations; i++) {
      const started = performance.now();
      fn();
      samples.push(performance.now() - started);
    }
    return samples;
  };
  try {
    const fwd = time(forward);
    const train = params.length > 0 ? time(() => step(false)) : fwd;
    if (params.length > 0) step(true);
    const paramBytes = module.paramCount * 4;
    const activationBytes = module.report.activationBytes * o.benchmarkBatch;
    run.fwdP50 = round(percentile(fwd, 0.5));
    run.fwdP99 = round(percentile(fwd, 0.99));
    run.stepP50 = round(percentile(train, 0.5));
    run.memoryBytes = Math.round(paramBytes + Math.max(activationBytes, deltaBytes));
    return record(
      run,
      'benchmark',
      true,
      `batch ${o.benchmarkBatch}, ${o.benchmarkIterations} runs on ${tf.getBackend()}: forward p50 ${run.fwdP50} ms p99 ${run.fwdP99} ms; forward+backward p50 ${run.stepP50} ms p99 ${round(percentile(train, 0.99))} ms`,
      {
        batch: o.benchmarkBatch,
        iterations: o.benchmarkIterations,
        forwardP50Ms: run.fwdP50,
        forwardP99Ms: run.fwdP99,
        trainStepP50Ms: run.stepP50,
        trainStepP99Ms: percentile(train, 0.99),
        paramBytes,
        activationBytes,
        measuredDeltaBytes: deltaBytes,
        memoryBytes: run.memoryBytes,
      },
    );
  } finally {
    x.dispose();
  }
}

/**
 * Validates a kernel artifact (see the module comment for the checks and the
 * risk score). Never throws for a bad kernel: every problem is a failed
 * check of a REJECTED report. Leaves no tensors behind.
 */
export async function validateKernel(artifact: Uint8Array, options: ValidateOptions = {}): Promise<ValidationReport> {
  if (options.backend !== undefined) await selectBackend(options.backend);
  const o = resolve(options);
  const run: Run = { checks: [] };
  try {
    const integrity = guarded(run, 'integrity', () => {
      const decoded = decodeKernelArtifact(artifact);
      run.header = decoded.header;
      if (options.kernelId !== undefined && options.kernelId !== decoded.header.kernelId) {
        return record(run, 'integrity', false, `the artifact is kernel ${decoded.header.kernelId}, the job names ${options.kernelId}`);
      }
      return record(run, 'integrity', true, `sha256 ${decoded.sha256}`, { sizeBytes: artifact.length });
    });
    const loaded =
      integrity &&
      guarded(run, 'load', () => {
        const { module, header } = loadKernelWithHeader(artifact);
        run.module = module;
        return record(run, 'load', true, `${header.ir.name}: ${module.params.length} weight tensors, ${module.paramCount} parameters (analysis: ${module.report.paramCount})`, {
          paramCount: module.paramCount,
          flops: module.report.flops,
        });
      });
    const { module, header } = run;
    if (loaded && module !== undefined && header !== undefined) {
      const inputShape = header.interface.inputShape;
      const shapes = guarded(run, 'interface', () => checkInterface(run, module, header, options.expectedInterface));
      if (shapes) {
        const finite = guarded(run, 'finite', () => checkFinite(run, module, inputShape, o));
        const identity = guarded(run, 'identity_at_init', () => checkIdentity(run, module, inputShape, o));
        const gradient = guarded(run, 'gradient', () => checkGradient(run, module, inputShape, o));
        if (finite && identity && gradient) guarded(run, 'benchmark', () => checkBenchmark(run, module, o));
        else record(run, 'benchmark', false, 'skipped: an earlier check failed');
      }
    }
  } finally {
    run.module?.dispose();
  }

  let riskTotal = 1;
  if (run.checks.every((c) => c.passed) && run.header !== undefined) {
    const risk = riskScore({
      // The claims of the analysis of the verified IR (the header's stats are not verified; old headers lack startsAsZero).
      startsAsIdentity: run.module?.report.startsAsIdentity ?? run.header.stats.startsAsIdentity,
      startsAsZero: run.module?.report.startsAsZero ?? run.header.stats.startsAsZero ?? false,
      trainStepMs: run.stepP50 ?? Infinity,
      latencyBudgetMs: o.latencyBudgetMs,
      paramCount: run.header.stats.paramCount,
      paramBudget: o.paramBudget,
      memoryBytes: run.memoryBytes ?? Infinity,
      memoryBudgetBytes: o.memoryBudgetBytes,
      gradNorm: run.gradNorm ?? Number.NaN,
    });
    riskTotal = risk.total;
    const terms = `nonIdentity ${risk.nonIdentity}, latency ${round(risk.latency)}, size ${round(risk.size)}, gradient ${round(risk.gradient)}`;
    const passed = risk.total < o.maxRisk;
    run.checks.push({
      name: 'risk',
      passed,
      detail: `risk ${risk.total} ${passed ? '<' : '≥'} threshold ${o.maxRisk}; 0.2·nonIdentity + 0.3·latency + 0.3·size + 0.2·gradient with ${terms}`,
      metrics: finiteMetrics({ risk: risk.total, nonIdentity: risk.nonIdentity, latency: risk.latency, size: risk.size, gradient: risk.gradient, maxRisk: o.maxRisk }),
    });
  }
  const reasons = run.checks.filter((c) => !c.passed).map((c) => clip(`${c.name}: ${c.detail ?? 'failed'}`, 500));
  const kernelId = run.header?.kernelId ?? options.kernelId ?? 'unknown';
  const report: ValidationReport = {
    kernelId,
    status: reasons.length === 0 ? 'VALIDATED' : 'REJECTED',
    riskScore: riskTotal,
    checks: run.checks,
    reasons,
    latencyMs: { p50: run.fwdP50 ?? 0, p99: Math.max(run.fwdP99 ?? 0, run.fwdP50 ?? 0) },
    memoryBytes: run.memoryBytes ?? 0,
    validatorVersion: VALIDATOR_VERSION,
    createdAt: new Date().toISOString(),
  };
  if (options.jobId !== undefined) report.jobId = options.jobId;
  return ValidationReportSchema.parse(report);
}
