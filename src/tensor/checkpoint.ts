/**
 * Checkpoints of a training run (DESIGN §2 "Rollback", §6): host weights,
 * seeds with their mode and α, optimizer state, Rng state and the data
 * cursor, as a JSON manifest plus one binary blob of little-endian float32s,
 * bound together by a sha256 over a canonical encoding. Restoring verifies
 * the hash first and then puts every weight and optimizer buffer back
 * bit-for-bit; a rollback (`liveSeeds: 'prune'`) restores host and fossils
 * and prunes live seeds.
 *
 * Width seeds change the host's topology when merged: the manifest's host
 * config carries the widths, and a restore into a host with width slots
 * resizes the host to the checkpoint's widths first, so a checkpoint taken
 * before a merge restores after it and vice versa. Width slots are slot
 * entries like depth slots (a merged one is FOSSILIZED without a seed and
 * records what it added in `merged`); the format is unchanged, v1 manifests
 * without width slots read as before.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { EsperError } from '../errors/index.ts';
import { canonicalJson } from '../infra/content-hash.ts';
import { BLUEPRINT_MODULE_KIND, blueprintModule } from './blueprint-module.ts';
import type { HostModel, HostSlot } from './hosts/model.ts';
import type { Optimizer, OptimizerState } from './optimizer.ts';
import { Rng, type RngState } from './rng.ts';
import { builtinSeedModule, SLOT_MODES, type SeedModule, type SeedModuleConfig, type SlotMode } from './seed-slot.ts';
import { widthSeedFromConfig, type WidthSeed } from './width/width-seed.ts';
import { WidthSlot, type MergedGrowth } from './width/width-slot.ts';

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Manifest format tag; bump when the layout changes. */
export const CHECKPOINT_FORMAT = 'esper.checkpoint.v1';

const MAGIC = 'ESPERCKP';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // The blob is the platforms' native float32 bytes; every Node target Esper supports is little-endian.
  throw new EsperError('ESPER_INTERNAL', 'checkpoint: big-endian platforms are not supported');
}

const json: z.ZodType<JsonValue> = z.lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(json), z.record(z.string(), json)]));
const int = z.number().int().nonnegative();
const TensorEntrySchema = z.object({ shape: z.array(int), offset: int, length: int }).strict();
const SeedEntrySchema = z
  .object({
    kind: z.string(),
    config: z.record(z.string(), z.number()),
    /** Blueprint seeds: the IR that rebuilds the module's structure. */
    ir: json.optional(),
    params: z.array(TensorEntrySchema),
  })
  .strict();
const SlotEntrySchema = z
  .object({
    id: z.string(),
    mode: z.enum(SLOT_MODES),
    alpha: z.number().min(0).max(1),
    seed: SeedEntrySchema.nullable(),
    /** Width slots whose seeds were merged: units and parameters they added to the host. */
    merged: z.object({ units: int, params: int }).strict().optional(),
  })
  .strict();
const OptimizerConfigSchema = z.union([
  z.object({ kind: z.literal('adam'), learningRate: z.number(), beta1: z.number(), beta2: z.number(), epsilon: z.number() }).strict(),
  z.object({ kind: z.literal('sgd'), learningRate: z.number(), momentum: z.number() }).strict(),
]);
const OptimizerEntrySchema = z
  .object({
    config: OptimizerConfigSchema,
    groups: z.array(z.object({ id: z.string(), step: int, warmupSteps: int.optional(), params: z.array(z.object({ shape: z.array(int), buffers: z.array(TensorEntrySchema) }).strict()) }).strict()),
  })
  .strict();

/** The JSON half of a checkpoint. Tensor entries point into the weights blob (offset and length in float32 elements). */
export const CheckpointManifestSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    host: z.object({ kind: z.string(), config: json, params: z.array(TensorEntrySchema) }).strict(),
    slots: z.array(SlotEntrySchema),
    optimizer: OptimizerEntrySchema.nullable(),
    /** Rng state as four unsigned 32-bit words. */
    rng: z.tuple([int, int, int, int]).nullable(),
    /** The data cursor (opaque to this module). */
    cursor: json,
    /** Free-form context (epoch, reason, …). */
    meta: json,
  })
  .strict();
export type CheckpointManifest = z.infer<typeof CheckpointManifestSchema>;
type TensorEntry = z.infer<typeof TensorEntrySchema>;

/** A checkpoint: manifest, weights blob and the sha256 (hex) binding them. */
export interface Checkpoint {
  readonly manifest: CheckpointManifest;
  readonly weights: Uint8Array;
  readonly hash: string;
}


/** sha256 (hex) of a manifest and its weights: canonical JSON, a 0x00 byte (never inside JSON text), the blob. */
export function checkpointHash(manifest: CheckpointManifest, weights: Uint8Array): string {
  return createHash('sha256').update(canonicalJson(manifest), 'utf8').update(new Uint8Array([0])).update(weights).digest('hex');
}

/** Collects float32 tensors into one blob, handing out entries. */
class BlobWriter {
  readonly #chunks: Float32Array[] = [];
  #length = 0;

  add(values: Float32Array, shape: readonly number[]): TensorEntry {
    const entry = { shape: [...shape], offset: this.#length, length: values.length };
    this.#chunks.push(values);
    this.#length += values.length;
    return entry;
  }

  addVariable(v: tf.Variable): TensorEntry {
    return this.add((v.dataSync() as Float32Array).slice(), v.shape);
  }

  bytes(): Uint8Array {
    const all = new Float32Array(this.#length);
    let at = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return new Uint8Array(all.buffer);
  }
}

/** What to capture besides model and optimizer. */
export interface CaptureOptions {
  /** The run's Rng (its state is saved). */
  rng?: Rng;
  /** Where the data pipeline is, e.g. a BatchCursor's state: opaque, but it must be JSON (checked, and copied). @default null */
  cursor?: unknown;
  /** Free-form JSON context, e.g. `{ epoch: 12, reason: 'epoch' }` (checked, and copied). @default null */
  meta?: unknown;
}

/**
 * Captures model (host, seeds, their modes and α), optimizer, Rng and data
 * cursor. The optimizer is first rebound to the model's current groups (as
 * the next train step would), so that after a merge its state matches the
 * widened host.
 */
export function capture(model: HostModel, optimizer: Optimizer | undefined, options: CaptureOptions = {}): Checkpoint {
  const blob = new BlobWriter();
  optimizer?.setGroups(model.paramGroups());
  const opt = optimizer?.exportState();
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    host: { kind: model.kind, config: JSON.parse(canonicalJson(model.config)) as JsonValue, params: model.hostParams.map((p) => blob.addVariable(p)) },
    slots: model.allSlots.map((slot) => ({
      id: slot.id,
      mode: slot.mode,
      alpha: slot.alpha,
      ...(slot instanceof WidthSlot && slot.merged.units > 0 ? { merged: slot.merged } : {}),
      seed:
        slot.seed === undefined
          ? null
          : {
              kind: slot.seed.kind,
              config: { ...slot.seed.config },
              ...(!('ir' in slot.seed) || slot.seed.ir === undefined ? {} : { ir: JSON.parse(canonicalJson(slot.seed.ir)) as JsonValue }),
              params: slot.seed.params.map((p) => blob.addVariable(p)),
            },
    })),
    optimizer:
      opt === undefined
        ? null
        : {
            config: opt.config,
            groups: opt.groups.map((g) => ({ id: g.id, step: g.step, ...(g.warmupSteps === undefined ? {} : { warmupSteps: g.warmupSteps }), params: g.params.map((p) => ({ shape: p.shape, buffers: p.buffers.map((b) => blob.add(b, p.shape)) })) })),
          },
    rng: options.rng === undefined ? null : (options.rng.state().map((word) => word >>> 0) as [number, number, number, number]),
    // Deep copies: later changes to the caller's objects must not alter (and so corrupt) the checkpoint.
    cursor: JSON.parse(canonicalJson(options.cursor ?? null)) as JsonValue,
    meta: JSON.parse(canonicalJson(options.meta ?? null)) as JsonValue,
  };
  const weights = blob.bytes();
  return { manifest, weights, hash: checkpointHash(manifest, weights) };
}

function corrupt(message: string, details?: Record<string, unknown>): EsperError {
  return new EsperError('ESPER_CHECKPOINT_CORRUPT', `checkpoint corrupt: ${message}`, details === undefined ? {} : { details });
}

function mismatch(message: string, details?: Record<string, unknown>): EsperError {
  return new EsperError('ESPER_CHECKPOINT_MISMATCH', `checkpoint does not fit: ${message}`, details === undefined ? {} : { details });
}

function allEntries(m: CheckpointManifest): TensorEntry[] {
  return [
    ...m.host.params,
    ...m.slots.flatMap((s) => s.seed?.params ?? []),
    ...(m.optimizer?.groups.flatMap((g) => g.params.flatMap((p) => p.buffers)) ?? []),
  ];
}

/**
 * Checks the manifest's shape, every tensor entry's bounds and the content
 * hash. @throws EsperError `ESPER_CHECKPOINT_CORRUPT`
 */
export function verifyCheckpoint(checkpoint: Checkpoint): void {
  const parsed = CheckpointManifestSchema.safeParse(checkpoint.manifest);
  if (!parsed.success) throw corrupt('manifest is malformed', { issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
  if (checkpoint.weights.byteLength % 4 !== 0) throw corrupt(`weights blob of ${checkpoint.weights.byteLength} bytes is not whole float32s`);
  const floats = checkpoint.weights.byteLength / 4;
  for (const e of allEntries(parsed.data)) {
    if (e.offset + e.length > floats || e.shape.reduce((a, b) => a * b, 1) !== e.length) throw corrupt('a tensor entry lies outside the blob or disagrees with its shape', { entry: e });
  }
  let hash: string;
  try {
    hash = checkpointHash(checkpoint.manifest, checkpoint.weights);
  } catch (cause) {
    throw corrupt('manifest is not canonical JSON', { cause: String(cause) });
  }
  if (hash !== checkpoint.hash) throw corrupt('sha256 content hash does not match', { expected: checkpoint.hash, actual: hash });
}

/** One file's worth of bytes: magic, u32 header length, header JSON `{hash, manifest}`, weights. */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ hash: checkpoint.hash, manifest: checkpoint.manifest }));
  const out = new Uint8Array(MAGIC.length + 4 + header.length + checkpoint.weights.byteLength);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  out.set(checkpoint.weights, MAGIC.length + 4 + header.length);
  return out;
}

/** Parses {@link encodeCheckpoint}'s bytes and verifies them. @throws EsperError `ESPER_CHECKPOINT_CORRUPT` */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.byteLength < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw corrupt('not an Esper checkpoint (bad magic)');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (start + headerLength > bytes.byteLength) throw corrupt('truncated header');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, start + headerLength)));
  } catch (cause) {
    throw corrupt('header is not JSON', { cause: String(cause) });
  }
  const h = z.object({ hash: z.string(), manifest: z.unknown() }).safeParse(header);
  if (!h.success) throw corrupt('header lacks hash or manifest');
  const checkpoint = { hash: h.data.hash, manifest: h.data.manifest as CheckpointManifest, weights: bytes.slice(start + headerLength) };
  verifyCheckpoint(checkpoint);
  return checkpoint;
}

/** Where a checkpoint is restored into, and how. */
export interface RestoreOptions {
  model: HostModel;
  /** Its state is restored (config, steps, buffers) after rebinding to the model's groups. */
  optimizer?: Optimizer;
  /** Set to the checkpointed Rng state, when the checkpoint has one. */
  rng?: Rng;
  /**
   * `restore` (default): every slot exactly as checkpointed. `prune`: a
   * rollback — host and fossils restored, and every live seed (one that was
   * live at the checkpoint or is live now) pruned.
   */
  liveSeeds?: 'restore' | 'prune';
  /** Builds a depth seed module for a slot whose current seed does not match the checkpoint. @default the built-in adapters (width seeds are always rebuilt from their kind and config) */
  seedFactory?: (slotId: string, kind: string, config: SeedModuleConfig, ir: unknown) => SeedModule | undefined;
}

/** What a restore hands back besides the restored tensors. */
export interface RestoreResult {
  cursor: JsonValue;
  meta: JsonValue;
  rngState: RngState | null;
  /** Slots whose live seed the rollback pruned. */
  prunedSlots: string[];
}

function floatsAt(weights: Uint8Array, e: TensorEntry): Float32Array {
  const from = weights.byteOffset + e.offset * 4;
  return new Float32Array(weights.buffer.slice(from, from + e.length * 4));
}

function shapesFit(vars: readonly tf.Variable[], entries: readonly TensorEntry[]): boolean {
  return vars.length === entries.length && vars.every((v, i) => canonicalJson(v.shape) === canonicalJson(entries[i]?.shape));
}

/** Rebuilds a built-in seed from its kind and config, or a blueprint seed from its IR (fresh weights; the restore overwrites them). */
function defaultSeedFactory(_slotId: string, kind: string, config: SeedModuleConfig, ir: unknown): SeedModule | undefined {
  if (kind === BLUEPRINT_MODULE_KIND) return ir === undefined ? undefined : blueprintModule(ir, undefined, new Rng(0));
  return builtinSeedModule(kind, config, new Rng(0));
}

const isLive = (mode: SlotMode, hasSeed: boolean): boolean => mode === 'TRAINING' || mode === 'BLENDING' || mode === 'HOLDING' || (mode === 'DORMANT' && hasSeed);

/** How one slot is put back: its seed (kept, or rebuilt with fresh weights the blob then overwrites), mode and α. */
type SlotPlan = { id: string; mode: SlotMode; alpha: number; entries: TensorEntry[]; merged: MergedGrowth | undefined } & (
  | { width: false; seed: SeedModule | undefined }
  | { width: true; seed: WidthSeed | undefined }
);

/** Whether the model must take the checkpoint's topology first (only hosts with width slots ever change theirs). @throws ESPER_CHECKPOINT_MISMATCH */
function topologyChange(model: HostModel, m: CheckpointManifest): boolean {
  const config = m.host.config;
  const same = canonicalJson(config) === canonicalJson(model.config);
  const isObject = typeof config === 'object' && config !== null && !Array.isArray(config);
  const shapes = same ? model.hostParams.map((p) => p.shape) : model.widthSlots.length > 0 && isObject ? model.hostParamShapes(config) : undefined;
  const fits = shapes !== undefined && shapes.length === m.host.params.length && shapes.every((shape, i) => canonicalJson(shape) === canonicalJson(m.host.params[i]?.shape));
  if (m.host.kind !== model.kind || !fits) throw mismatch(`host ${m.host.kind} ${canonicalJson(m.host.config)} vs model ${model.kind} ${canonicalJson(model.config)}`);
  return !same;
}

/** Plans one slot (see {@link restore}); a seed it builds is pushed onto `built`. */
function planSlot(slot: HostSlot, saved: CheckpointManifest['slots'][number], reuse: boolean, factory: NonNullable<RestoreOptions['seedFactory']>, built: { dispose(): void }[]): SlotPlan {
  const base = { id: saved.id, mode: saved.mode, alpha: saved.alpha, merged: saved.merged };
  const s = saved.seed;
  if (s === null) return slot instanceof WidthSlot ? { ...base, width: true, seed: undefined, entries: [] } : { ...base, width: false, seed: undefined, entries: [] };
  const fits = (current: SeedModule | WidthSeed | undefined): boolean =>
    reuse && current !== undefined && current.kind === s.kind && canonicalJson(current.config) === canonicalJson(s.config) && shapesFit(current.params, s.params);
  const cannot = (): EsperError => mismatch(`slot ${saved.id}: cannot rebuild seed ${s.kind} ${canonicalJson(s.config)}`, { slotId: saved.id });
  if (slot instanceof WidthSlot) {
    if (saved.mode === 'FOSSILIZED') throw mismatch(`width slot ${saved.id}: a FOSSILIZED width seed is merged and has no seed entry`, { slotId: saved.id });
    let seed = fits(slot.seed) ? slot.seed : undefined;
    if (seed === undefined) {
      seed = widthSeedFromConfig(s.kind, s.config, new Rng(0));
      if (seed !== undefined) built.push(seed);
      if (seed === undefined || !shapesFit(seed.params, s.params)) throw cannot();
    }
    return { ...base, width: true, seed, entries: s.params };
  }
  let seed = fits(slot.seed) ? slot.seed : undefined;
  if (seed === undefined) {
    seed = factory(saved.id, s.kind, s.config, s.ir);
    if (seed !== undefined) built.push(seed);
    if (seed === undefined || !shapesFit(seed.params, s.params)) throw cannot();
  }
  return { ...base, width: false, seed, entries: s.params };
}

/**
 * Verifies `checkpoint`, then restores it into `options.model` (and optimizer
 * and Rng): weights and optimizer buffers bit-identical to capture time. A
 * host with width slots first takes the checkpoint's widths (its variables
 * and the slots on resized layers are rebuilt).
 *
 * @throws EsperError `ESPER_CHECKPOINT_CORRUPT` (hash or framing; nothing is
 *   changed) or `ESPER_CHECKPOINT_MISMATCH` (the model's architecture or slots
 *   differ; checked before anything is changed).
 */
export function restore(checkpoint: Checkpoint, options: RestoreOptions): RestoreResult {
  verifyCheckpoint(checkpoint);
  const { model } = options;
  const m = checkpoint.manifest;
  const prune = options.liveSeeds === 'prune';
  const resize = topologyChange(model, m);
  const slotIds = model.allSlots.map((s) => s.id);
  if (canonicalJson([...slotIds].sort()) !== canonicalJson(m.slots.map((s) => s.id).sort())) {
    throw mismatch('slot ids differ', { checkpoint: m.slots.map((s) => s.id), model: slotIds });
  }
  const factory = options.seedFactory ?? defaultSeedFactory;

  // Plan every slot before changing anything; a factory-built seed is disposed if planning fails.
  const built: { dispose(): void }[] = [];
  const plans: SlotPlan[] = [];
  const prunedSlots: string[] = [];
  try {
    for (const saved of m.slots) {
      const slot = model.anySlot(saved.id);
      if (prune && (isLive(saved.mode, saved.seed !== null) || isLive(slot.mode, slot.seed !== undefined))) {
        prunedSlots.push(saved.id);
        const pruned = { id: saved.id, mode: 'PRUNED' as const, alpha: 0, entries: [], merged: saved.merged, seed: undefined };
        plans.push(slot instanceof WidthSlot ? { ...pruned, width: true } : { ...pruned, width: false });
        continue;
      }
      // After a resize every seed is rebuilt: the slots on resized layers are emptied.
      plans.push(planSlot(slot, saved, !resize, factory, built));
    }
  } catch (error) {
    for (const seed of built) seed.dispose();
    throw error;
  }

  if (resize) model.adoptConfig(m.host.config as Record<string, unknown>);
  tf.tidy(() => {
    model.hostParams.forEach((p, i) => p.assign(tf.tensor(floatsAt(checkpoint.weights, m.host.params[i] as TensorEntry), p.shape, 'float32')));
    for (const plan of plans) {
      plan.seed?.params.forEach((p, i) => p.assign(tf.tensor(floatsAt(checkpoint.weights, plan.entries[i] as TensorEntry), p.shape, 'float32')));
    }
  });
  for (const plan of plans) {
    if (plan.width) model.widthSlot(plan.id).restoreState(plan.seed, plan.mode, plan.alpha, plan.merged);
    else model.slot(plan.id).restoreState(plan.seed, plan.mode, plan.alpha);
  }

  if (options.optimizer !== undefined) {
    options.optimizer.setGroups(model.paramGroups());
    if (m.optimizer !== null) {
      const state: OptimizerState = {
        config: m.optimizer.config,
        groups: m.optimizer.groups.map((g) => ({ id: g.id, step: g.step, ...(g.warmupSteps === undefined ? {} : { warmupSteps: g.warmupSteps }), params: g.params.map((p) => ({ shape: p.shape, buffers: p.buffers.map((b) => floatsAt(checkpoint.weights, b)) })) })),
      };
      options.optimizer.restoreState(state);
    }
  }
  if (options.rng !== undefined && m.rng !== null) options.rng.setState(m.rng);
  return { cursor: m.cursor, meta: m.meta, rngState: m.rng, prunedSlots };
}

/**
 * sha256 (hex) of a model's weights, for quick equality checks: `host` covers
 * the host's parameters only; `all` adds every slot's mode, α and seed.
 */
export function weightsHash(model: HostModel, scope: 'all' | 'host' = 'all'): string {
  const hash = createHash('sha256');
  const feed = (vars: readonly tf.Variable[]): void => {
    for (const v of vars) {
      const data = v.dataSync() as Float32Array;
      hash.update(canonicalJson(v.shape)).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  };
  hash.update(`${model.kind}:`);
  feed(model.hostParams);
  if (scope === 'all') {
    for (const slot of model.allSlots) {
      hash.update(canonicalJson({ id: slot.id, mode: slot.mode, alpha: slot.alpha, kind: slot.seed?.kind ?? null }));
      feed(slot.seed?.params ?? []);
    }
  }
  return hash.digest('hex');
}
