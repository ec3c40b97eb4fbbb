/**
 * A width seed resident in its host layers while it blends (issue 11:
 * "growth adds no per-step cost beyond the new units' own work").
 *
 * Blended as a branch, a seed's k units cost their own matmuls plus a fixed
 * overhead: a second, thin matmul beside the layer's, the branch's own
 * kernels, and an Adam update for each of its three variables — up to 1.4×
 * the step of the static model with the same units. Resident, the seed's
 * units are columns of the host layer's own (temporarily wider) variables,
 * its outgoing weights rows of the next layer's, and α a per-unit scale on
 * the layer's output: a step costs what the static model's does, plus that
 * scale.
 *
 * Residency is an execution form, not a state: the host enters it for the
 * training steps of one epoch and leaves it before anything else looks at
 * the model (evaluation, checkpoints, signals, lifecycle moves), writing
 * every value back into the host's and the seed's own variables. Entering
 * and leaving change no value (concatenation and slicing are exact).
 *
 * This file is the contract between the host (which builds the fused
 * variables) and the optimizer (which carries their state, column by column
 * on each owner's clock).
 */
import type * as tf from '@tensorflow/tfjs';

/** One variable the host trains in place of its own while seeds are resident. */
export interface FusedParam {
  /** The wide variable: the host's own joined with resident seeds' variables. */
  readonly wide: tf.Variable;
  /**
   * What it is made of, in join order: the host group's parameter first
   * (`index` into its params), then each resident seed's (`groupId` is its
   * optimizer group).
   */
  readonly parts: readonly { groupId: string; index: number }[];
  /** A wide tensor from one tensor per part, each shaped like that part (a parameter or one of its optimizer buffers); call inside `tf.tidy`. */
  readonly join: (parts: readonly tf.Tensor[]) => tf.Tensor;
  /** The inverse of {@link join}; call inside `tf.tidy`. */
  readonly split: (wide: tf.Tensor) => tf.Tensor[];
  /** The wide variable as [outer, columns, inner] (row-major); `owners[c]` is the part (index into {@link parts}) column c belongs to. */
  readonly layout: { outer: number; inner: number; owners: readonly number[] };
}

/** The seeds a host made resident for a run of training steps. */
export interface ResidentFusion {
  /** The optimizer group whose parameters are replaced (the host's). */
  readonly groupId: string;
  /** By index into that group's parameters: the wide variable trained in its place. */
  readonly params: ReadonlyMap<number, FusedParam>;
  /**
   * The resident seeds' optimizer groups; `frozen`: the seed takes no step
   * while resident (blending at α = 0, where its every gradient is zero), so
   * its columns keep their values and moments and its step count stays.
   */
  readonly seeds: readonly { groupId: string; frozen: boolean }[];
}
