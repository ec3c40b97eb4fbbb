/**
 * Tezzeret's compiler (DESIGN §1, §2): BlueprintIR → an immutable,
 * content-addressed kernel artifact. Pure apart from the tensor work of the
 * `optimized` tier's warm-up; it runs in a worker thread (worker-pool.ts),
 * never on a node's event loop.
 *
 * The kernel id and the artifact layout are defined by the codec in
 * src/blueprint/kernel-artifact.ts (shared with Urabrask and the tensor
 * layer's loader).
 *
 * ## Tiers
 *
 * `fast`: analysis, weights, artifact, and the module built once from the
 * artifact's weights (a build check). `optimized`: the same, plus a warm-up —
 * a few forward+backward passes on a small batch, so the backend's kernels
 * (XNNPACK operators on wasm, CUDA kernels on tensorflow) are created and
 * cached — whose timings are returned beside the artifact (not in it).
 */
import * as tf from '@tensorflow/tfjs';
import type { BlueprintLimitsInput } from '../../blueprint/blueprint-analysis.ts';
import { encodeKernelArtifact, KERNEL_FORMAT_VERSION, kernelArtifactKey, kernelIdFor, weightSeedFor, type KernelHeader } from '../../blueprint/kernel-artifact.ts';
import type { SlotInterface } from '../../contracts/common.ts';
import { KernelMetadataSchema, type CompileTier, type KernelMetadata } from '../../contracts/tezzeret.ts';
import { EsperError } from '../../errors/index.ts';
import { sha256Hex } from '../../infra/content-hash.ts';
import { selectBackend, type BackendName } from '../../tensor/backend.ts';
import { initialWeights, planBlueprint, type BlueprintModule, type BlueprintPlan } from '../../tensor/blueprint-module.ts';
import { loadKernelWithHeader } from '../../tensor/kernel-loader.ts';
import { Rng } from '../../tensor/rng.ts';

/**
 * Version of this compiler; part of every kernel id. 1.1.0: the header's
 * stats carry `startsAsZero` (so the bytes differ from 1.0.0's for the same
 * IR, and so must the id: an artifact store refuses new bytes under an old key).
 */
export const COMPILER_VERSION = 'tezzeret-1.1.0';
/** A compile job as the compiler takes it (the work-queue job resolves its IR from Urza first). */
export interface KernelCompileJob {
  /** The blueprint IR: parsed, or raw JSON (analysis parses it). */
  ir: unknown;
  /** The slot interface to compile for; replaces the IR's own. @default the IR's `interface` */
  interface?: SlotInterface;
  tier: CompileTier;
  /** Id of the blueprint in Urza (metadata only, not part of the kernel id or the artifact). @default the IR hash */
  blueprintId?: string;
  /** Analysis budgets. @default Karn's defaults */
  limits?: BlueprintLimitsInput;
  /** Where the artifact will be stored (metadata only). @default 'fs' */
  artifactStore?: 'fs' | 'objectstore';
  /** Warm-up forward+backward passes of the `optimized` tier. @default 3 */
  warmupPasses?: number;
  /** Batch size of the warm-up. @default 8 */
  warmupBatch?: number;
}

/** Options of {@link compileKernel}. */
export interface CompileOptions {
  /** Backend to select before compiling. @default the active tfjs backend */
  backend?: BackendName;
  /** Clock for `createdAt` (a seam for tests). @default `() => new Date()` */
  now?: () => Date;
}

/** Timings of the `optimized` tier's warm-up. */
export interface WarmupStats {
  passes: number;
  batch: number;
  /** The first forward+backward pass (kernel creation included), ms. */
  firstMs: number;
  /** Mean of the later passes, ms (equals `firstMs` with one pass). */
  steadyMs: number;
  totalMs: number;
}

/** What {@link compileKernel} returns. */
export interface CompiledKernel {
  /** Status PENDING_VALIDATION; `artifactRef` describes `artifact`. */
  metadata: KernelMetadata;
  /** The artifact bytes (see the module comment). */
  artifact: Uint8Array;
  /** Wall time of the whole compilation, ms. */
  compileMs: number;
  /** Present for the `optimized` tier. */
  warmup?: WarmupStats;
}

function headerFor(plan: BlueprintPlan, backend: string, tier: CompileTier, rngSeed: number): KernelHeader {
  const r = plan.report;
  return {
    format: 'esper-kernel',
    formatVersion: KERNEL_FORMAT_VERSION,
    kernelId: kernelIdFor(r.irHash, COMPILER_VERSION, backend, tier),
    compilerVersion: COMPILER_VERSION,
    backend,
    tier,
    irHash: r.irHash,
    ir: plan.ir,
    interface: plan.interface,
    rngSeed,
    weights: plan.weights.map((w) => ({ nodeId: w.nodeId, name: w.name, shape: [...w.shape], trainable: w.trainable, offset: w.offset, length: w.size })),
    stats: {
      paramCount: r.paramCount,
      trainableParamCount: r.trainableParamCount,
      flops: r.flops,
      activationBytes: r.activationBytes,
      memoryBytes: r.memoryBytes,
      depth: r.depth,
      startsAsIdentity: r.startsAsIdentity,
      startsAsZero: r.startsAsZero,
    },
  };
}

function warmUp(module: BlueprintModule, passes: number, batch: number, seed: number): WarmupStats {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const shape = [batch, ...module.interface.inputShape];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
  const times: number[] = [];
  try {
    for (let i = 0; i < passes; i++) {
      const started = performance.now();
      tf.tidy(() => {
        const loss = (): tf.Scalar => tf.mean(tf.square(module.forward(x)));
        if (module.trainableParams.length > 0) {
          const { value, grads } = tf.variableGrads(loss, module.trainableParams);
          // Reading one number forces every kernel of the pass to run.
          tf.addN([value, ...Object.values(grads).map((g) => tf.sum(g))]).dataSync();
        } else {
          loss().dataSync();
        }
      });
      times.push(performance.now() - started);
    }
  } finally {
    x.dispose();
  }
  const [firstMs = 0, ...rest] = times;
  const round = (ms: number): number => Math.round(ms * 1000) / 1000;
  return {
    passes,
    batch,
    firstMs: round(firstMs),
    steadyMs: round(rest.length > 0 ? rest.reduce((a, b) => a + b, 0) / rest.length : firstMs),
    totalMs: round(times.reduce((a, b) => a + b, 0)),
  };
}

/**
 * Compiles a blueprint (analysis first, always): a deterministic artifact and
 * its metadata (status PENDING_VALIDATION). Throws the analysis' coded error
 * (`ESPER_SCHEMA_VIOLATION`, `ESPER_BLUEPRINT_*`, non-retryable: the
 * blueprint is INVALID) or `ESPER_BACKEND_UNAVAILABLE`.
 */
export async function compileKernel(job: KernelCompileJob, options: CompileOptions = {}): Promise<CompiledKernel> {
  const started = performance.now();
  const backend = options.backend === undefined ? tf.getBackend() : await selectBackend(options.backend);
  const plan = planBlueprint(job.ir, job.interface, job.limits === undefined ? {} : { limits: job.limits });
  const rngSeed = weightSeedFor(plan.report.irHash);
  const header = headerFor(plan, backend, job.tier, rngSeed);
  const artifact = encodeKernelArtifact(header, initialWeights(plan, new Rng(rngSeed)));

  // Build check: the module is built from the artifact itself, exactly as a loader will.
  const { module } = loadKernelWithHeader(artifact);
  let warmup: WarmupStats | undefined;
  try {
    if (job.tier === 'optimized') {
      const passes = job.warmupPasses ?? 3;
      const batch = job.warmupBatch ?? 8;
      if (!Number.isInteger(passes) || passes < 1 || !Number.isInteger(batch) || batch < 1) {
        throw new EsperError('ESPER_CONFIG_INVALID', `warm-up passes (${passes}) and batch (${batch}) must be positive integers`);
      }
      warmup = warmUp(module, passes, batch, rngSeed);
    }
  } finally {
    module.dispose();
  }

  const metadata = KernelMetadataSchema.parse({
    kernelId: header.kernelId,
    blueprintId: job.blueprintId ?? plan.report.irHash,
    irHash: plan.report.irHash,
    compilerVersion: COMPILER_VERSION,
    backend,
    tier: job.tier,
    interface: plan.interface,
    paramCount: plan.report.paramCount,
    flops: plan.report.flops,
    memoryBytes: plan.report.memoryBytes,
    artifactRef: { store: job.artifactStore ?? 'fs', key: kernelArtifactKey(header.kernelId), sizeBytes: artifact.length, sha256: sha256Hex(artifact) },
    status: 'PENDING_VALIDATION',
    createdAt: (options.now ?? (() => new Date()))().toISOString(),
  } satisfies KernelMetadata);
  const result: CompiledKernel = { metadata, artifact, compileMs: Math.round((performance.now() - started) * 1000) / 1000 };
  if (warmup !== undefined) result.warmup = warmup;
  return result;
}


