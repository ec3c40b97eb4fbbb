/**
 * Building blocks shared by every message schema: ids, timestamps, bounded
 * strings, finite numbers, metric maps, tensor shapes and the slot interface a
 * kernel must match. Every string and collection is bounded so a hostile
 * payload cannot make a parser allocate without limit.
 */
import { z } from 'zod';

/** Longest id accepted anywhere (a sha256 hex digest is 64). */
export const MAX_ID_LENGTH = 128;
/** Longest free-text field (reasons, descriptions, details). */
export const MAX_TEXT_LENGTH = 2000;
/** Longest short label (names, versions, policy names, tags). */
export const MAX_LABEL_LENGTH = 128;
/** Most entries in a metrics map. */
export const MAX_METRICS = 256;
/** Most entries in an annotations / params map. */
export const MAX_MAP_ENTRIES = 64;

/** Pattern of an id: one NATS subject token (no dots, wildcards or spaces). */
export const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/** An id that can be used as one subject token: 1–128 letters, digits, '_' or '-'. */
export function idSchema(what: string): z.ZodString {
  return z
    .string()
    .min(1, `${what} must not be empty`)
    .max(MAX_ID_LENGTH, `${what} must be at most ${MAX_ID_LENGTH} characters`)
    .regex(ID_PATTERN, `${what} must be letters, digits, '_' or '-' (one subject token)`);
}

/** A training run. */
export const RunIdSchema = idSchema('runId');
/** A seed (one per slot of a run's model). */
export const SeedIdSchema = idSchema('seedId');
/** A slot of the host model a seed occupies (e.g. `r0c1`). */
export const SlotIdSchema = idSchema('slotId');
/** A node of the cluster (its name). */
export const NodeIdSchema = idSchema('nodeId');
/** A compiled kernel: a content hash of IR + compiler version + backend. */
export const KernelIdSchema = idSchema('kernelId');
/** A blueprint (content-addressed by its IR hash, or a catalog name). */
export const BlueprintIdSchema = idSchema('blueprintId');
/** An adaptation command; doubles as its idempotency key. */
export const CommandIdSchema = idSchema('commandId');
/** A SystemStatePacket. */
export const PacketIdSchema = idSchema('packetId');
/** A checkpoint of a run. */
export const CheckpointIdSchema = idSchema('checkpointId');
/** A compile or validation job. */
export const JobIdSchema = idSchema('jobId');

/** A lowercase hex sha256 digest (64 characters). */
export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256 digest (64 characters)');

/** An ISO-8601 UTC timestamp with a `Z` suffix, e.g. `2025-01-01T00:00:00.000Z`. */
export const TimestampSchema = z.iso.datetime();

/**
 * A finite number. zod v4's `z.number()` already rejects NaN and ±Infinity;
 * this helper names the intent (and JSON cannot carry them anyway).
 */
export function finite(): z.ZodNumber {
  return z.number();
}

/** A finite number ≥ 0. */
export function nonNegative(): z.ZodNumber {
  return z.number().min(0);
}

/** An integer ≥ 0 (counts, epochs, steps, bytes). */
export function count(): z.ZodNumber {
  return z.number().int().min(0);
}

/** A fraction in [0, 1] (accuracies, α, risk). */
export function unitInterval(): z.ZodNumber {
  return z.number().min(0).max(1);
}

/** A bounded free-text string (reasons, descriptions). */
export function text(max: number = MAX_TEXT_LENGTH): z.ZodString {
  return z.string().max(max);
}

/** A non-empty bounded label (names, versions, policy names). */
export function label(max: number = MAX_LABEL_LENGTH): z.ZodString {
  return z.string().min(1).max(max);
}

/** A metric name: starts with a letter or '_', then letters, digits, '_', '.', ':', '/' or '-'. */
export const MetricNameSchema = z
  .string()
  .max(MAX_LABEL_LENGTH)
  .regex(/^[A-Za-z_][A-Za-z0-9_.:/-]*$/, "metric names start with a letter or '_' and use letters, digits, '_', '.', ':', '/', '-'");

/** A map from metric name to a finite number, at most 256 entries. */
export const MetricsSchema = z
  .record(MetricNameSchema, finite())
  .refine((metrics) => Object.keys(metrics).length <= MAX_METRICS, { message: `at most ${MAX_METRICS} metrics` });
export type Metrics = z.infer<typeof MetricsSchema>;

/** Free-form string annotations (`key → value`), at most 64 entries. */
export const AnnotationsSchema = z
  .record(z.string().min(1).max(MAX_LABEL_LENGTH), text(512))
  .refine((map) => Object.keys(map).length <= MAX_MAP_ENTRIES, { message: `at most ${MAX_MAP_ENTRIES} annotations` });
export type Annotations = z.infer<typeof AnnotationsSchema>;

/** Scalar parameters (`key → number | string | boolean`), at most 64 entries. */
export const ParamsSchema = z
  .record(z.string().min(1).max(MAX_LABEL_LENGTH), z.union([finite(), text(512), z.boolean()]))
  .refine((map) => Object.keys(map).length <= MAX_MAP_ENTRIES, { message: `at most ${MAX_MAP_ENTRIES} params` });
export type Params = z.infer<typeof ParamsSchema>;

/** A tag (Urza queries filter by them): lowercase letters, digits, '_', '-', ':'. */
export const TagSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_:-]*$/, "tags are lowercase letters, digits, '_', '-' or ':'");
/** At most 32 tags. */
export const TagsSchema = z.array(TagSchema).max(32);

/** Largest size of one tensor dimension. */
export const MAX_DIM = 65_536;

/** One tensor dimension: an integer in [1, 65536]. */
export const DimSchema = z.number().int().min(1).max(MAX_DIM);

/** A tensor shape without its batch dimension: 1–8 dimensions. */
export const TensorShapeSchema = z.array(DimSchema).min(1).max(8);
export type TensorShape = z.infer<typeof TensorShapeSchema>;

/** Element types a slot can carry (only float32 for now). */
export const DTYPES = ['float32'] as const;
export const DtypeSchema = z.enum(DTYPES);
export type Dtype = z.infer<typeof DtypeSchema>;

/** Kinds of slot interface. */
export const SLOT_KINDS = ['dense', 'conv2d'] as const;
export const SlotKindSchema = z.enum(SLOT_KINDS);
export type SlotKind = z.infer<typeof SlotKindSchema>;

/**
 * The interface a kernel must match to fill a slot: the per-example input and
 * output shapes (no batch dimension) and the dtype. `dense` slots carry
 * `[features]`; `conv2d` slots carry channels-last `[height, width, channels]`
 * (tfjs' layout). Seeds in Esper preserve shape, but the contract does not
 * assume it: a kernel matches a slot when both shapes and the dtype are equal.
 */
export const SlotInterfaceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('dense'),
      /** `[features]` of the host activation entering the slot. */
      inputShape: z.tuple([DimSchema]),
      /** `[features]` the slot must produce. */
      outputShape: z.tuple([DimSchema]),
      dtype: DtypeSchema,
    })
    .strict(),
  z
    .object({
      kind: z.literal('conv2d'),
      /** `[height, width, channels]` of the host activation entering the slot. */
      inputShape: z.tuple([DimSchema, DimSchema, DimSchema]),
      /** `[height, width, channels]` the slot must produce. */
      outputShape: z.tuple([DimSchema, DimSchema, DimSchema]),
      dtype: DtypeSchema,
    })
    .strict(),
]);
export type SlotInterface = z.infer<typeof SlotInterfaceSchema>;

/** A stable string for an interface, usable as an index key: `dense:64->64:float32`, `conv2d:8x8x32->8x8x32:float32`. */
export function slotInterfaceKey(iface: SlotInterface): string {
  return `${iface.kind}:${iface.inputShape.join('x')}->${iface.outputShape.join('x')}:${iface.dtype}`;
}

/** True when a kernel built for `a` fits a slot of interface `b` (same kind, shapes and dtype). */
export function sameSlotInterface(a: SlotInterface, b: SlotInterface): boolean {
  return slotInterfaceKey(a) === slotInterfaceKey(b);
}

/** Where an artifact (kernel weights, checkpoint) is stored, and how to verify it. */
export const ArtifactRefSchema = z
  .object({
    /** Artifact repository: the filesystem or the JetStream Object Store. */
    store: z.enum(['fs', 'objectstore']),
    /** Key inside the store (a relative path or an object name); never absolute, never `..`. */
    key: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/, "artifact keys are relative: letters, digits, '_', '.', '/', '-'")
      .refine((key) => !key.split('/').includes('..'), { message: "artifact keys must not contain '..'" }),
    /** Size of the stored bytes. */
    sizeBytes: count(),
    /** sha256 of the stored bytes, checked on every load. */
    sha256: Sha256Schema,
  })
  .strict();
export type ArtifactRef = z.infer<typeof ArtifactRefSchema>;

/** An empty request: verbs without input accept `{}` (the bus passes `{}` for an empty payload). */
export const EmptySchema = z.object({}).strict();
export type Empty = z.infer<typeof EmptySchema>;
