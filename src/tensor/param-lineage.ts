/**
 * Where a variable came from when the model rebuilt it out of older ones
 * (a width seed merged into its host layer: the new kernel is the old kernel
 * and the seed's weights, concatenated). The optimizer reads this when it is
 * rebound to the model's new parameters, and builds the new variable's
 * optimizer buffers the same way out of the old variables' buffers, so the
 * host keeps its Adam moments across the merge (see `Optimizer.setGroups`).
 */
import type * as tf from '@tensorflow/tfjs';

/** How one variable was built: `combine(sources)`; the same function applied to buffers shaped like the sources gives the matching buffer. */
export interface Lineage {
  /** The variables it was built from (possibly disposed since; only their identity and shape are used). */
  readonly sources: readonly tf.Variable[];
  /** Builds a tensor shaped like the variable from one tensor per source, shaped like that source; call inside `tf.tidy`. */
  combine(parts: readonly tf.Tensor[]): tf.Tensor;
  /**
   * `pad`: the same parameter with zero entries added (a live width seed whose neighbouring layer grew), so its
   * group's optimizer state carries on whatever `afterMerge` says; absent: a merge.
   */
  readonly kind?: 'pad';
}

const registry = new WeakMap<tf.Variable, Lineage>();

/** Records that `variable` was built from `lineage.sources` by `lineage.combine`. */
export function recordLineage(variable: tf.Variable, lineage: Lineage): void {
  registry.set(variable, lineage);
}

/** How `variable` was built, when the model recorded it. */
export function lineageOf(variable: tf.Variable): Lineage | undefined {
  return registry.get(variable);
}
