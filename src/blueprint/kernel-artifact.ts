/**
 * The kernel artifact codec (DESIGN §2): the content address of a compiled
 * blueprint and the byte layout of its artifact. Pure data — no tensors —
 * so Tezzeret (which writes artifacts), Urabrask (which verifies them) and
 * the tensor layer (which loads them into modules) share one definition.
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
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SlotInterfaceSchema } from '../contracts/common.ts';
import { BlueprintIRSchema } from '../contracts/karn.ts';
import type { CompileTier } from '../contracts/tezzeret.ts';
import { formatZodIssues } from '../contracts/zod-issues.ts';
import { EsperError } from '../errors/index.ts';
import { canonicalJson, sha256Hex } from '../infra/content-hash.ts';

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
        /** The output is exactly zero at init (a width kernel); absent in headers written before it existed. */
        startsAsZero: z.boolean().optional(),
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

/** An `ESPER_KERNEL_CORRUPT` error (a verification failure of an artifact). */
export function corruptKernel(message: string, details: Record<string, unknown> = {}, cause?: unknown): EsperError {
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
  if (!(artifact instanceof Uint8Array)) throw corruptKernel('not a byte array');
  if (artifact.length < PREFIX_BYTES + DIGEST_BYTES) throw corruptKernel(`${artifact.length} bytes is too short`, { sizeBytes: artifact.length });
  const digestAt = artifact.length - DIGEST_BYTES;
  const expected = Buffer.from(artifact.subarray(digestAt)).toString('hex');
  const actual = createHash('sha256').update(artifact.subarray(0, digestAt)).digest('hex');
  if (expected !== actual) throw corruptKernel('sha256 does not match', { expected, actual });
  const magic = new TextDecoder().decode(artifact.subarray(0, 4));
  if (magic !== KERNEL_MAGIC) throw corruptKernel(`bad magic ${JSON.stringify(magic)}`);
  const view = new DataView(artifact.buffer, artifact.byteOffset, artifact.byteLength);
  const version = view.getUint32(4, true);
  if (version !== KERNEL_FORMAT_VERSION) throw corruptKernel(`format version ${version} is not ${KERNEL_FORMAT_VERSION}`, { formatVersion: version });
  const headerLength = view.getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > digestAt) throw corruptKernel(`header length ${headerLength} does not fit`, { headerLength });
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(artifact.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (error) {
    throw corruptKernel('the header is not UTF-8 JSON', {}, error);
  }
  const parsed = KernelHeaderSchema.safeParse(raw);
  if (!parsed.success) throw corruptKernel(`bad header: ${formatZodIssues(parsed.error).join('; ')}`);
  const header = parsed.data;
  const weightsStart = PREFIX_BYTES + headerLength + ((4 - ((PREFIX_BYTES + headerLength) % 4)) % 4);
  let offset = 0;
  for (const w of header.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (w.offset !== offset || w.length !== size) throw corruptKernel(`weight ${w.nodeId}/${w.name} has offset ${w.offset} and length ${w.length}, expected ${offset} and ${size}`);
    offset += size;
  }
  if (weightsStart + 4 * offset !== digestAt) {
    throw corruptKernel(`the weights take ${digestAt - weightsStart} bytes, the header lists ${4 * offset}`, { expectedBytes: 4 * offset, actualBytes: digestAt - weightsStart });
  }
  const weights = header.weights.map((w) => {
    const values = new Float32Array(w.length);
    const base = weightsStart + 4 * w.offset;
    for (let i = 0; i < w.length; i++) values[i] = view.getFloat32(base + 4 * i, true);
    return values;
  });
  return { header, weights, sha256: sha256Hex(artifact) };
}

/** The artifact store key of a kernel: `kernels/<kernelId>.esk`. */
export function kernelArtifactKey(kernelId: string): string {
  return `kernels/${kernelId}.esk`;
}
