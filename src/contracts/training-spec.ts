/**
 * What a training worker needs to build a run's tensors: data, host, slots,
 * optimizer, batch size, backend and the random seed. Plain JSON (it crosses
 * the worker boundary); validated with zod at both ends.
 */
import { z } from 'zod';

const positiveInt = (max: number): z.ZodNumber => z.number().int().min(1).max(max);

/** Where the examples come from. */
export const DatasetSpecSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('spirals'),
      /** Points in total. @default 1000 */
      n: positiveInt(1_000_000).default(1000),
      noise: z.number().min(0).max(1).default(0.05),
      turns: z.number().positive().max(10).default(1.5),
    })
    .strict(),
  z.object({ kind: z.literal('xor'), n: positiveInt(1_000_000).default(500), noise: z.number().min(0).max(1).default(0.1) }).strict(),
  z
    .object({
      kind: z.literal('fashion-mnist'),
      /** Directory of the IDX files. @default /usr/share/datasets/fashion-mnist */
      dir: z.string().min(1).optional(),
      /** Use only the first N training examples. */
      limit: positiveInt(60_000).optional(),
      /** `flat` ([784]) for MLP hosts, `image` ([28, 28, 1]) for CNN hosts. @default 'flat' */
      layout: z.enum(['flat', 'image']).default('flat'),
    })
    .strict(),
]);
export type DatasetSpec = z.output<typeof DatasetSpecSchema>;

/** A seed slot after (depth) or on (width) hidden layer `afterLayer` (1-based). */
export const SlotSpecSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    afterLayer: positiveInt(64),
    /**
     * `depth`: a shape-preserving seed after the layer's activation. `width`:
     * new units (channels) of the layer, merged into it when fossilised, so
     * the host grows wider. @default 'depth'
     */
    kind: z.enum(['depth', 'width']).optional(),
    /**
     * Whether a FOSSILIZED seed keeps training jointly with the host (it is
     * part of the host then; its parameters are counted in the final model
     * either way). @default false (frozen)
     */
    trainFossil: z.boolean().optional(),
    /** Whether a BLENDING or HOLDING seed reads the host through a gradient stop. @default true */
    detachInBlending: z.boolean().optional(),
    /**
     * How a width seed learns in TRAINING (width slots only).
     * `straight-through`: one pass, the forward without the seed and its
     * gradient as if it were added; only the outgoing weights learn (the
     * incoming ones wait for BLENDING). `live`: each step adds a second pass
     * whose forward includes the seed at full strength, differentiated for
     * the seed's parameters alone (all of them learn); the host's step comes
     * from the pass without it, exactly as with no seed. Measured, not
     * better on the growth specs (docs/benchmarks.md, twenty-first
     * session). @default 'straight-through'
     */
    trainingForward: z.enum(['live', 'straight-through']).optional(),
  })
  .strict();

/** The host network. */
export const HostSpecSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('mlp'),
      /** Hidden widths (input and output widths come from the dataset). */
      hidden: z.array(positiveInt(65_536)).min(1).max(16),
    })
    .strict(),
  z
    .object({
      kind: z.literal('cnn'),
      convs: z.array(z.object({ filters: positiveInt(1024), kernelSize: positiveInt(11).optional() }).strict()).min(1).max(4),
      dense: z.array(positiveInt(65_536)).max(4).default([]),
    })
    .strict(),
]);
export type HostSpec = z.output<typeof HostSpecSchema>;

export const TrainingSpecSchema = z
  .object({
    /**
     * Tensor backend: `auto` runs `native` (the OpenBLAS addon `npm ci` builds where g++ and
     * libopenblas-dev exist) and falls back to `wasm`, saying why in results.json and the log.
     * @default 'auto'
     */
    backend: z.enum(['wasm', 'native', 'auto', 'tensorflow', 'cpu']).default('auto'),
    /** Seeds every random stream (init, split, shuffling). */
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    dataset: DatasetSpecSchema,
    /** Fraction (or count) held out for validation. @default 0.2 */
    validation: z.number().positive().default(0.2),
    host: HostSpecSchema,
    slots: z.array(SlotSpecSchema).max(32).default([]),
    optimizer: z
      .object({
        kind: z.enum(['adam', 'sgd']).default('adam'),
        learningRate: z.number().positive().max(10).default(0.01),
        /**
         * The host's optimizer state when a width seed merges into it:
         * `restart` (fresh moments, re-warmed by Adam's bias correction —
         * moments gathered on the narrow network slow the wider one down) or
         * `carry` (built from the old moments: exactly what the unmerged
         * model would have done). @default 'restart'
         */
        afterGrowth: z.enum(['restart', 'carry']).default('restart'),
        /**
         * Epochs (of optimizer steps) over which a parameter group whose
         * state starts fresh once training has begun — a new seed's, a width
         * seed's when it starts blending — ramps its learning rate linearly
         * from 0 (the host's after a merge: `mergeWarmupEpochs`).
         * Fresh Adam moments make the first steps full-sized whatever the
         * gradient: new units fed all-positive inputs (pixels) then move as
         * one and die (ReLU), 23 of 96 on Fashion-MNIST 784-12-10 without the
         * ramp, 12 with it. 0 = no ramp. 0–100. @default 1
         */
        growthWarmupEpochs: z.number().min(0).max(100).default(1),
        /**
         * The same ramp for the host's groups restarted by a merge
         * (`afterGrowth: 'restart'`). 0, the default: the trained host goes
         * on at its full learning rate with fresh moments, as its static
         * twin trains. A ramp (the default was `growthWarmupEpochs` until
         * 2026-12-05) held the whole network at half its rate for the epoch
         * after each merge; measured on every spec in docs/benchmarks.md
         * ("fifteenth session"). 0–100. @default 0
         */
        mergeWarmupEpochs: z.number().min(0).max(100).default(0),
        /**
         * Plain SGD only: a dense width seed's new units are scaled at germination
         * so that learningRate × the sharpness of the loss in their outgoing
         * weights (the top Gauss–Newton eigenvalue, on 256 training
         * examples) is at most this — SGD is stable along a direction only
         * below 2 (src/tensor/width/width-scale.ts). Full-strength new units
         * doubled the training loss on reaching α = 1 at SGD 0.2. Conv
         * seeds are not scaled (on a CNN it cost resolution).
         * 0 = no scaling. Adam: not used. 0–100. @default 2
         */
        sgdSharpnessBound: z.number().min(0).max(100).default(2),
        /**
         * Plain SGD only: a dense width seed entering BLENDING whose outgoing
         * weights start at zero (its TRAINING taught them nothing the
         * amplitude search kept) starts as cancelling pairs instead — half
         * its units copied, outgoing weights Z and −Z (He-normal at the grown
         * fan-in) — so the function is unchanged and every unit's incoming
         * weights learn from the first step (src/tensor/width/width-pairs.ts).
         * With Ω = 0 its units waited for Ω to grow and the grown model
         * trained like its host through the graft. Adam: not used. @default true
         */
        sgdOutgoingPairs: z.boolean().default(true),
        /**
         * Shrink and perturb once per growth phase, at the merge that leaves
         * no width seed live (Ash & Adams 2020; the grown model is a warm
         * start, and warm starts generalise worse): every host
         * kernel is multiplied by `factor` (layer l's bias by factor^l, live
         * width seeds to match, so predictions are unchanged) and gets
         * `noise` × a He-normal draw added. Not applied while a depth slot
         * holds a seed (src/tensor/hosts/shrink-perturb.ts).
         * `{ "factor": 1, "noise": 0 }` = off. Absent: `{ 0.6, 0.1 }` on a
         * CNN host, off on an MLP (`shrinkAtMergeFor`; measured on every
         * goal spec and five CNNs, docs/benchmarks.md, thirty-first and
         * thirty-second sessions).
         */
        shrinkAtMerge: z
          .object({
            factor: z.number().gt(0).max(1),
            noise: z.number().min(0).max(1),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    batchSize: positiveInt(65_536).default(64),
  })
  .strict();
export type TrainingSpec = z.output<typeof TrainingSpecSchema>;
export type TrainingSpecInput = z.input<typeof TrainingSpecSchema>;
