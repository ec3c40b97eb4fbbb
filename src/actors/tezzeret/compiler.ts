/**
 * Tezzeret's compiler (DESIGN §1, §2): BlueprintIR → an immutable,
 * content-addressed kernel artifact. Pure apart from the tensor work of the
 * `optimized` tier's warm-up; it runs in a worker thread (worker-pool.ts),
 * never on a node's event loop.
 *
 * ## Kernel id (content address)
 *
 *     kernelId = hex(sha256(utf8("esper-kernel\n" + irHash + "\n" + COMPILER_VERSION + "\n" + backend + "\n" + tier)))
 *
 * where `irHash` is Karn's hash of the parsed IR (the slot interface is part
 * of the IR), `backend` the tfjs backend name (`wasm`, `cpu`, `tensorflow`)
 * and `tier` `fast` or `optimized`. The same IR compiled twice by the same
 * compiler for the same backend and tier has the same id — and the same bytes.
 *
 * ## Artifact (one binary blob, deterministic)
 *
 * | bytes            | content                                                    |
 * |------------------|------------------------------------------------------------|
 * | 0–3              | magic `ESPK`                                               |
 * | 4–7              | format version, uint32 LE ({@link KERNEL_FORMAT_VERSION})  |
 * | 8–11             | header length H, uint32 LE                                 |
 * | 12 … 12+H        | header: canonical JSON, UTF-8 ({@link KernelHeader})       |
 * | … P              | zero padding to a multiple of 4                            |
 * | P … P+4·params   | weights, float32 LE, in `params` order (header.weights)    |
 * | last 32          | sha256 of every byte before it                             |
 *
 * The header holds the format, kernel id, compiler version, backend, tier,
 * IR hash, the parsed IR, the interface, the weight layout (node, name,
 * shape, trainable, offset and length in scalars), the Rng seed and static
 * stats. Nothing time- or machine-dependent is in it (no timestamps, no
 * timings, no blueprint id), so recompiling gives identical bytes. Initial
 * weights come from `new Rng(seed)` with `seed = parseInt(irHash[0..8], 16)`.
 *
 * ## Tiers
 *
 * `fast`: analysis, weights, artifact, and the module built once from the
 * artifact's weights (a build check). `optimized`: the same, plus a warm-up —
 * a few forward+backward passes on a small batch, so the backend's kernels
 * (XNNPACK operators on wasm, CUDA kernels on tensorflow) are created and
 * cached — whose timings are returned beside the artifact (not in it).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { BlueprintLimitsInput } from '../karn/blueprint-analysis.ts';
import { SlotInterfaceSchema, type SlotInterface } from '../../contracts/common.ts';
import { BlueprintIRSchema } from '../../contracts/karn.ts';
import { KernelMetadataSchema, type CompileTier, type KernelMetadata } from '../../contracts/tezzeret.ts';
import { EsperError } from '../../errors/index.ts';
import { canonicalJson, sha256Hex } from '../../infra/content-hash.ts';
import { selectBackend, type BackendName } from '../../tensor/backend.ts';
import { initialWeights, moduleFromPlan, planBlueprint, type BlueprintModule, type BlueprintPlan } from '../../tensor/blueprint-module.ts';
import { Rng } from '../../tensor/rng.ts';

/** Version of this compiler; part of every kernel id. */
export const COMPILER_VERSION = 'tezzeret-1.0.0';
/** Version of the artifact layout. */
export const KERNEL_FORMAT_VERSION = 1;
/** First four bytes of every kernel artifact. */
export const KERNEL_MAGIC = 'ESPK';
/** Bytes of the trailing sha256. */
const DIGEST_BYTES = 32;
/** Magic, format version, header length. */
const PREFIX_BYTES = 12;
/** Largest header accepted when decoding (a hostile length cannot make us allocate without limit). */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

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

const WeightEntrySchema = z
  .object({
    nodeId: z.string().min(1).max(64),
    name: z.string().min(1).max(64),
    shape: z.array(z.number().int().min(1)).min(1).max(8),
    trainable: z.boolean(),
    /** Offset in scalars. */
    offset: z.number().int().min(0),
    /** Length in scalars. */
    length: z.number().int().min(1),
  })
  .strict();

/** The JSON header of a kernel artifact. */
export const KernelHeaderSchema = z
  .object({
    format: z.literal('esper-kernel'),
    formatVersion: z.literal(KERNEL_FORMAT_VERSION),
    kernelId: z.string().regex(/^[0-9a-f]{64}$/),
    compilerVersion: z.string().min(1).max(64),
    backend: z.string().min(1).max(64),
    tier: z.enum(['fast', 'optimized']),
    irHash: z.string().regex(/^[0-9a-f]{64}$/),
    ir: BlueprintIRSchema,
    interface: SlotInterfaceSchema,
    /** Seed of the Rng the initial weights were drawn from. */
    rngSeed: z.number().int().min(0).max(0xffffffff),
    weights: z.array(WeightEntrySchema).max(4096),
    stats: z
      .object({
        paramCount: z.number().int().min(0),
        trainableParamCount: z.number().int().min(0),
        flops: z.number().int().min(0),
        activationBytes: z.number().int().min(0),
        memoryBytes: z.number().int().min(0),
        depth: z.number().int().min(0),
        startsAsIdentity: z.boolean(),
      })
      .strict(),
  })
  .strict();
/** The JSON header of a kernel artifact. */
export type KernelHeader = z.infer<typeof KernelHeaderSchema>;

/** A decoded, verified artifact. */
export interface DecodedKernel {
  header: KernelHeader;
  /** One array per weight, in `params` order. */
  weights: Float32Array[];
  /** sha256 (hex) of the whole artifact (what `artifactRef.sha256` records). */
  sha256: string;
}

/** The content address of a kernel (see the module comment). */
export function kernelIdFor(irHash: string, compilerVersion: string, backend: string, tier: CompileTier): string {
  return createHash('sha256').update(`esper-kernel\n${irHash}\n${compilerVersion}\n${backend}\n${tier}`, 'utf8').digest('hex');
}

/** The Rng seed of a blueprint's initial weights: the first 32 bits of its IR hash. */
export function weightSeedFor(irHash: string): number {
  return Number.parseInt(irHash.slice(0, 8), 16) >>> 0;
}


function corrupt(message: string, details: Record<string, unknown> = {}, cause?: unknown): EsperError {
  return new EsperError('ESPER_KERNEL_CORRUPT', `kernel artifact is corrupt: ${message}`, { details, ...(cause === undefined ? {} : { cause }) });
}

/** Encodes a header and its weights into an artifact (see the module comment); the header must describe the weights. */
export function encodeKernelArtifact(header: KernelHeader, weights: readonly Float32Array[]): Uint8Array {
  if (weights.length !== header.weights.length || header.weights.some((w, i) => weights[i]?.length !== w.length)) {
    throw new EsperError('ESPER_INTERNAL', 'encodeKernelArtifact: the weights do not match the header layout');
  }
  const headerBytes = new TextEncoder().encode(canonicalJson(header));
  const weightsStart = PREFIX_BYTES + headerBytes.length + ((4 - ((PREFIX_BYTES + headerBytes.length) % 4)) % 4);
  const scalars = weights.reduce((n, w) => n + w.length, 0);
  const digestAt = weightsStart + 4 * scalars;
  const bytes = new Uint8Array(digestAt + DIGEST_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(KERNEL_MAGIC), 0);
  view.setUint32(4, KERNEL_FORMAT_VERSION, true);
  view.setUint32(8, headerBytes.length, true);
  bytes.set(headerBytes, PREFIX_BYTES);
  let at = weightsStart;
  for (const w of weights) {
    for (let i = 0; i < w.length; i++, at += 4) view.setFloat32(at, w[i] ?? 0, true);
  }
  bytes.set(createHash('sha256').update(bytes.subarray(0, digestAt)).digest(), digestAt);
  return bytes;
}

/**
 * Verifies and decodes an artifact: framing, trailing sha256, header schema,
 * weight layout. Does not re-run analysis (see {@link loadKernel}).
 *
 * @throws EsperError `ESPER_KERNEL_CORRUPT`
 */
export function decodeKernelArtifact(artifact: Uint8Array): DecodedKernel {
  if (!(artifact instanceof Uint8Array)) throw corrupt('not a byte array');
  if (artifact.length < PREFIX_BYTES + DIGEST_BYTES) throw corrupt(`${artifact.length} bytes is too short`, { sizeBytes: artifact.length });
  const digestAt = artifact.length - DIGEST_BYTES;
  const expected = Buffer.from(artifact.subarray(digestAt)).toString('hex');
  const actual = createHash('sha256').update(artifact.subarray(0, digestAt)).digest('hex');
  if (expected !== actual) throw corrupt('sha256 does not match', { expected, actual });
  const magic = new TextDecoder().decode(artifact.subarray(0, 4));
  if (magic !== KERNEL_MAGIC) throw corrupt(`bad magic ${JSON.stringify(magic)}`);
  const view = new DataView(artifact.buffer, artifact.byteOffset, artifact.byteLength);
  const version = view.getUint32(4, true);
  if (version !== KERNEL_FORMAT_VERSION) throw corrupt(`format version ${version} is not ${KERNEL_FORMAT_VERSION}`, { formatVersion: version });
  const headerLength = view.getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > digestAt) throw corrupt(`header length ${headerLength} does not fit`, { headerLength });
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(artifact.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (error) {
    throw corrupt('the header is not UTF-8 JSON', {}, error);
  }
  const parsed = KernelHeaderSchema.safeParse(raw);
  if (!parsed.success) throw corrupt(`bad header: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const header = parsed.data;
  const weightsStart = PREFIX_BYTES + headerLength + ((4 - ((PREFIX_BYTES + headerLength) % 4)) % 4);
  let offset = 0;
  for (const w of header.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (w.offset !== offset || w.length !== size) throw corrupt(`weight ${w.nodeId}/${w.name} has offset ${w.offset} and length ${w.length}, expected ${offset} and ${size}`);
    offset += size;
  }
  if (weightsStart + 4 * offset !== digestAt) {
    throw corrupt(`the weights take ${digestAt - weightsStart} bytes, the header lists ${4 * offset}`, { expectedBytes: 4 * offset, actualBytes: digestAt - weightsStart });
  }
  const weights = header.weights.map((w) => {
    const values = new Float32Array(w.length);
    const base = weightsStart + 4 * w.offset;
    for (let i = 0; i < w.length; i++) values[i] = view.getFloat32(base + 4 * i, true);
    return values;
  });
  return { header, weights, sha256: sha256Hex(artifact) };
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
    },
  };
}

/**
 * A loaded kernel: its verified header and its module. Throws
 * `ESPER_KERNEL_CORRUPT` when the artifact fails verification or its header
 * disagrees with a fresh analysis of its IR (IR hash, kernel id, weight
 * layout).
 */
export function loadKernelWithHeader(artifact: Uint8Array): { header: KernelHeader; module: BlueprintModule; sha256: string } {
  const { header, weights, sha256 } = decodeKernelArtifact(artifact);
  let plan: BlueprintPlan;
  try {
    plan = planBlueprint(header.ir, header.interface);
  } catch (error) {
    throw corrupt(`its IR fails analysis: ${error instanceof Error ? error.message : String(error)}`, {}, error);
  }
  if (plan.report.irHash !== header.irHash) throw corrupt('the IR hash does not match the IR', { header: header.irHash, actual: plan.report.irHash });
  const id = kernelIdFor(header.irHash, header.compilerVersion, header.backend, header.tier);
  if (id !== header.kernelId) throw corrupt('the kernel id does not match its content', { header: header.kernelId, actual: id });
  const layoutOk =
    plan.weights.length === header.weights.length &&
    plan.weights.every((w, i) => {
      const h = header.weights[i];
      return h !== undefined && h.nodeId === w.nodeId && h.name === w.name && h.trainable === w.trainable && canonicalJson(h.shape) === canonicalJson(w.shape);
    });
  if (!layoutOk) throw corrupt('the weight layout does not match the IR');
  return { header, module: moduleFromPlan(plan, weights), sha256 };
}

/** Loads a kernel artifact as a seed module (verifying it; see {@link loadKernelWithHeader}). */
export function loadKernel(artifact: Uint8Array): BlueprintModule {
  return loadKernelWithHeader(artifact).module;
}

/** Reads a kernel artifact's verified header without building the module. */
export function readKernelHeader(artifact: Uint8Array): KernelHeader {
  return decodeKernelArtifact(artifact).header;
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

/** The artifact store key of a kernel: `kernels/<kernelId>.esk`. */
export function kernelArtifactKey(kernelId: string): string {
  return `kernels/${kernelId}.esk`;
}

