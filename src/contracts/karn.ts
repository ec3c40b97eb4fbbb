/**
 * Karn's messages and the BlueprintIR: a blueprint is DATA — a small graph of
 * layer specs from a fixed vocabulary — never code (DESIGN §2). The schema
 * checks structure (ops, params, references, order); shape inference and the
 * parameter/memory budget are Tezzeret's static analysis.
 */
import { z } from 'zod';
import {
  BlueprintIdSchema,
  MAX_DIM,
  Sha256Schema,
  SlotInterfaceSchema,
  TagsSchema,
  TimestampSchema,
  label,
  text,
} from './common.ts';

/** Version of the IR layout. */
export const BLUEPRINT_IR_VERSION = 1;
/** Most nodes in one blueprint. */
export const MAX_BLUEPRINT_NODES = 256;
/** The reserved node reference for the slot's input activation. */
export const BLUEPRINT_INPUT = 'input';

/** The fixed op vocabulary. */
export const BLUEPRINT_OPS = ['dense', 'low_rank', 'activation', 'norm', 'residual', 'attention', 'conv', 'depthwise'] as const;
export const BlueprintOpSchema = z.enum(BLUEPRINT_OPS);
export type BlueprintOp = z.infer<typeof BlueprintOpSchema>;

/** Ops that need a `conv2d` slot (a spatial input). */
export const SPATIAL_OPS = ['conv', 'depthwise'] as const satisfies readonly BlueprintOp[];

/** Weight initializers; `zeros` lets a blueprint start as the identity (its last layer outputs 0 before a residual). */
export const INITIALIZERS = ['glorot_uniform', 'he_normal', 'lecun_normal', 'zeros'] as const;
export const InitializerSchema = z.enum(INITIALIZERS);
export type Initializer = z.infer<typeof InitializerSchema>;

/** Activation functions. */
export const ACTIVATION_FNS = ['relu', 'gelu', 'tanh', 'sigmoid', 'identity'] as const;
/** Normalisations. */
export const NORM_KINDS = ['layer', 'batch'] as const;
/** Attention kinds. */
export const ATTENTION_KINDS = ['squeeze_excitation', 'self'] as const;
/** Convolution paddings. */
export const PADDINGS = ['same', 'valid'] as const;

/** A node id: 1–64 letters, digits, '_' or '-'. */
export const BlueprintNodeIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "node ids are letters, digits, '_' or '-'");

const ref = BlueprintNodeIdSchema;
const one = z.tuple([ref]);
const units = z.number().int().min(1).max(MAX_DIM);
const kernelSize = z.number().int().min(1).max(15);
const stride = z.number().int().min(1).max(4);

/** `dense`: a fully connected layer over the last axis. */
export const DenseNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('dense'),
    inputs: one,
    params: z
      .object({
        /** Output features. */
        units,
        /** @default true */
        useBias: z.boolean().default(true),
        /** @default 'glorot_uniform' */
        init: InitializerSchema.default('glorot_uniform'),
      })
      .strict(),
  })
  .strict();

/** `low_rank`: x·A·B with A `[in, rank]`, B `[rank, units]` (LoRA-style; B starts at zero by default). */
export const LowRankNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('low_rank'),
    inputs: one,
    params: z
      .object({
        rank: z.number().int().min(1).max(1024),
        /** Output features. */
        units,
        /** Initializer of the up-projection B. @default 'zeros' */
        init: InitializerSchema.default('zeros'),
      })
      .strict(),
  })
  .strict();

/** `activation`: an elementwise function. */
export const ActivationNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('activation'),
    inputs: one,
    params: z.object({ fn: z.enum(ACTIVATION_FNS) }).strict(),
  })
  .strict();

/** `norm`: layer or batch normalisation. */
export const NormNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('norm'),
    inputs: one,
    params: z
      .object({
        kind: z.enum(NORM_KINDS),
        /** @default 0.001 */
        epsilon: z.number().positive().max(0.1).default(0.001),
      })
      .strict(),
  })
  .strict();

/** `residual`: the sum of its two inputs (same shape). */
export const ResidualNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('residual'),
    inputs: z.tuple([ref, ref]),
    params: z.object({}).strict().default({}),
  })
  .strict();

/** `attention`: squeeze-and-excitation channel gating, or multi-head self-attention. */
export const AttentionNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('attention'),
    inputs: one,
    params: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('squeeze_excitation'),
          /** Channel reduction of the bottleneck. @default 16 */
          reduction: z.number().int().min(1).max(1024).default(16),
        })
        .strict(),
      z
        .object({
          kind: z.literal('self'),
          heads: z.number().int().min(1).max(64),
          /** Per-head key size; @default features / heads */
          keyDim: z.number().int().min(1).max(4096).optional(),
        })
        .strict(),
    ]),
  })
  .strict();

/** `conv`: a 2-D convolution (conv2d slots only). */
export const ConvNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('conv'),
    inputs: one,
    params: z
      .object({
        filters: z.number().int().min(1).max(4096),
        kernelSize,
        /** @default 1 */
        stride: stride.default(1),
        /** @default 'same' */
        padding: z.enum(PADDINGS).default('same'),
        /** @default true */
        useBias: z.boolean().default(true),
        /** @default 'glorot_uniform' */
        init: InitializerSchema.default('glorot_uniform'),
      })
      .strict(),
  })
  .strict();

/** `depthwise`: a depthwise 2-D convolution (conv2d slots only). */
export const DepthwiseNodeSchema = z
  .object({
    id: BlueprintNodeIdSchema,
    op: z.literal('depthwise'),
    inputs: one,
    params: z
      .object({
        kernelSize,
        /** Output channels per input channel. @default 1 */
        multiplier: z.number().int().min(1).max(16).default(1),
        /** @default 1 */
        stride: stride.default(1),
        /** @default 'same' */
        padding: z.enum(PADDINGS).default('same'),
        /** @default 'glorot_uniform' */
        init: InitializerSchema.default('glorot_uniform'),
      })
      .strict(),
  })
  .strict();

/** One node of the graph: a discriminated union on `op`. */
export const BlueprintNodeSchema = z.discriminatedUnion('op', [
  DenseNodeSchema,
  LowRankNodeSchema,
  ActivationNodeSchema,
  NormNodeSchema,
  ResidualNodeSchema,
  AttentionNodeSchema,
  ConvNodeSchema,
  DepthwiseNodeSchema,
]);
export type BlueprintNode = z.infer<typeof BlueprintNodeSchema>;
/** The node type of one op. */
export type BlueprintNodeOf<O extends BlueprintOp> = Extract<BlueprintNode, { op: O }>;

/**
 * A blueprint. Nodes are listed in topological order: each input names
 * `input` (the slot's activation) or an EARLIER node, so the graph is acyclic
 * by construction; `output` names the node whose value leaves the slot, and
 * every node must feed it. Ids are unique and `input` is reserved.
 */
export const BlueprintIRSchema = z
  .object({
    irVersion: z.literal(BLUEPRINT_IR_VERSION),
    /** Catalog name, e.g. `conv_light`. */
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9][a-z0-9_-]*$/, "blueprint names are lowercase letters, digits, '_' or '-'"),
    description: text().optional(),
    /** @default [] */
    tags: TagsSchema.default([]),
    /** The slot interface the compiled kernel will match. */
    interface: SlotInterfaceSchema,
    nodes: z.array(BlueprintNodeSchema).min(1).max(MAX_BLUEPRINT_NODES),
    /** Id of the node whose value is the blueprint's output. */
    output: BlueprintNodeIdSchema,
  })
  .strict()
  .superRefine((ir, ctx) => {
    const index = new Map<string, number>();
    ir.nodes.forEach((node, i) => {
      if (node.id === BLUEPRINT_INPUT) {
        ctx.addIssue({ code: 'custom', message: `'${BLUEPRINT_INPUT}' is reserved for the slot input`, path: ['nodes', i, 'id'] });
      } else if (index.has(node.id)) {
        ctx.addIssue({ code: 'custom', message: `duplicate node id '${node.id}'`, path: ['nodes', i, 'id'] });
      }
      node.inputs.forEach((input, j) => {
        if (input !== BLUEPRINT_INPUT && !index.has(input)) {
          const later = ir.nodes.some((other, k) => k >= i && other.id === input);
          ctx.addIssue({
            code: 'custom',
            message: later
              ? `input '${input}' must be an earlier node (nodes are listed in topological order)`
              : `input '${input}' is not a node of this blueprint`,
            path: ['nodes', i, 'inputs', j],
          });
        }
      });
      if ((SPATIAL_OPS as readonly string[]).includes(node.op) && ir.interface.kind !== 'conv2d') {
        ctx.addIssue({ code: 'custom', message: `op '${node.op}' needs a conv2d slot interface`, path: ['nodes', i, 'op'] });
      }
      if (!index.has(node.id)) index.set(node.id, i);
    });
    const outputIndex = index.get(ir.output);
    if (outputIndex === undefined) {
      ctx.addIssue({ code: 'custom', message: `output '${ir.output}' is not a node of this blueprint`, path: ['output'] });
      return;
    }
    // Walk back from the output; every node must be reached (no dead code).
    const used = new Set<number>([outputIndex]);
    for (let i = outputIndex; i >= 0; i--) {
      const node = ir.nodes[i];
      if (node === undefined || !used.has(i)) continue;
      for (const input of node.inputs) {
        const k = index.get(input);
        if (k !== undefined && k < i) used.add(k);
      }
    }
    ir.nodes.forEach((node, i) => {
      if (!used.has(i)) ctx.addIssue({ code: 'custom', message: `node '${node.id}' does not feed the output`, path: ['nodes', i, 'id'] });
    });
  });
/** A parsed blueprint (defaults filled in). */
export type BlueprintIR = z.infer<typeof BlueprintIRSchema>;
/** A blueprint as written by an author (defaults may be omitted). */
export type BlueprintIRInput = z.input<typeof BlueprintIRSchema>;

/** Blueprint lifecycle: SUBMITTED → COMPILING → COMPILED | INVALID. */
export const BLUEPRINT_STATUSES = ['SUBMITTED', 'COMPILING', 'COMPILED', 'INVALID'] as const;
export const BlueprintStatusSchema = z.enum(BLUEPRINT_STATUSES);
export type BlueprintStatus = z.infer<typeof BlueprintStatusSchema>;

/** Data of `karn.blueprint.submitted`: a blueprint entered the library (from Karn's catalog, a mutation or an operator). */
export const BlueprintSubmittedSchema = z
  .object({
    blueprintId: BlueprintIdSchema,
    /** sha256 of the canonical JSON of the parsed IR. */
    irHash: Sha256Schema,
    ir: BlueprintIRSchema,
    /** Who submitted it: `karn`, `operator:<name>`, … */
    submittedBy: label(),
    /** The blueprint it mutates, for lineage. */
    parentBlueprintId: BlueprintIdSchema.optional(),
  })
  .strict();
export type BlueprintSubmitted = z.infer<typeof BlueprintSubmittedSchema>;

/** A blueprint as Urza stores and returns it. */
export const BlueprintRecordSchema = z
  .object({
    blueprintId: BlueprintIdSchema,
    name: label(64),
    irHash: Sha256Schema,
    status: BlueprintStatusSchema,
    tags: TagsSchema,
    interface: SlotInterfaceSchema,
    submittedBy: label(),
    parentBlueprintId: BlueprintIdSchema.optional(),
    /** The IR itself (queries may leave it out). */
    ir: BlueprintIRSchema.optional(),
    /** Why it is INVALID. */
    invalidReasons: z.array(text(500)).max(64).optional(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .strict();
export type BlueprintRecord = z.infer<typeof BlueprintRecordSchema>;

/**
 * Request on `ctl.karn.submit`: an operator's blueprint. `ir` is taken raw (any
 * JSON object) so Karn's static analysis can answer with precise codes
 * (ESPER_BLUEPRINT_GRAPH, _SHAPE_MISMATCH, _LIMIT with its numbers, …) rather
 * than a bare schema violation.
 */
export const KarnSubmitRequestSchema = z
  .object({
    /** The BlueprintIR, unparsed (analysis parses and checks it). */
    ir: z.record(z.string(), z.unknown()),
    /** Replaces the IR's own `interface` (the IR may then omit it). */
    interface: SlotInterfaceSchema.optional(),
    /** Added to the IR's tags (they are part of the IR, so of its hash). */
    tags: TagsSchema.optional(),
    /** @default 'operator' */
    submittedBy: label().default('operator'),
    parentBlueprintId: BlueprintIdSchema.optional(),
  })
  .strict();
export type KarnSubmitRequest = z.infer<typeof KarnSubmitRequestSchema>;

/**
 * Reply of `ctl.karn.submit`. A resubmitted IR returns the existing blueprint
 * with `duplicate: true`. Karn always sets `paramCount`, `startsAsIdentity`
 * and `duplicate`; they are optional in the schema only so replies written
 * before they existed still parse.
 */
export const KarnSubmitReplySchema = z
  .object({
    blueprintId: BlueprintIdSchema,
    irHash: Sha256Schema,
    status: BlueprintStatusSchema,
    /** All weights (static analysis). */
    paramCount: z.number().int().min(0).optional(),
    /** The blueprint's output equals its input at initialisation. */
    startsAsIdentity: z.boolean().optional(),
    /** True when this IR was already in the library (nothing new was stored). */
    duplicate: z.boolean().optional(),
  })
  .strict();
export type KarnSubmitReply = z.infer<typeof KarnSubmitReplySchema>;
