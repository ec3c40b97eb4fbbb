/**
 * In-memory classification datasets, seeded splits and a resumable batch
 * cursor. Everything here is plain typed arrays: tensors are made only by
 * {@link toTensors}, which callers run inside `tf.tidy` so that disposal is
 * obvious (style rule 13).
 */
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../errors/index.ts';
import { Rng, type RngState } from '../rng.ts';

/** Class labels, one per example. */
export type Labels = Int32Array | Uint8Array;

/** A classification dataset held in memory. */
export interface Dataset {
  /** Short name for logs and telemetry (`fashion-mnist/train`, `spirals`). */
  readonly name: string;
  /** Row-major features, `size × featureSize` values. */
  readonly features: Float32Array;
  /** One class index in `[0, numClasses)` per example. */
  readonly labels: Labels;
  /** Shape of one example (`[28, 28, 1]` for Fashion-MNIST, `[2]` for spirals). */
  readonly featureShape: readonly number[];
  /** Number of classes. */
  readonly numClasses: number;
  /** Number of examples (`labels.length`). */
  readonly size: number;
}

/** The fields needed to build a {@link Dataset}; `size` is derived. */
export interface DatasetInit {
  name: string;
  features: Float32Array;
  labels: Labels;
  featureShape: readonly number[];
  numClasses: number;
}

/** Number of values in one example. */
export function featureSize(featureShape: readonly number[]): number {
  return featureShape.reduce((a, b) => a * b, 1);
}

/**
 * Builds a dataset after checking that the arrays agree with the shape and
 * that every label is a class index.
 * @throws RangeError naming the mismatch.
 */
export function createDataset(init: DatasetInit): Dataset {
  const size = init.labels.length;
  const per = featureSize(init.featureShape);
  if (!init.featureShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`Error in createDataset(${init.name}): featureShape ${JSON.stringify(init.featureShape)} must be positive integers`);
  }
  if (!Number.isInteger(init.numClasses) || init.numClasses < 1) {
    throw new RangeError(`Error in createDataset(${init.name}): numClasses must be a positive integer, got ${init.numClasses}`);
  }
  if (init.features.length !== size * per) {
    throw new RangeError(
      `Error in createDataset(${init.name}): ${init.features.length} feature values for ${size} labels of shape ${JSON.stringify(init.featureShape)} (expected ${size * per})`,
    );
  }
  for (let i = 0; i < size; i++) {
    const label = init.labels[i] as number;
    if (label < 0 || label >= init.numClasses) {
      throw new RangeError(`Error in createDataset(${init.name}): label ${label} at index ${i} is outside [0, ${init.numClasses})`);
    }
  }
  return Object.freeze({
    name: init.name,
    features: init.features,
    labels: init.labels,
    featureShape: Object.freeze([...init.featureShape]),
    numClasses: init.numClasses,
    size,
  });
}

/** A new dataset holding the given examples, in the given order (copied). */
export function subset(dataset: Dataset, indices: ArrayLike<number>, name = dataset.name): Dataset {
  const per = featureSize(dataset.featureShape);
  const features = new Float32Array(indices.length * per);
  const labels = dataset.labels instanceof Uint8Array ? new Uint8Array(indices.length) : new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i] as number;
    if (!Number.isInteger(src) || src < 0 || src >= dataset.size) throw new RangeError(`Error in subset(${dataset.name}): index ${src} is outside [0, ${dataset.size})`);
    features.set(dataset.features.subarray(src * per, (src + 1) * per), i * per);
    labels[i] = dataset.labels[src] as number;
  }
  return createDataset({ name, features, labels, featureShape: dataset.featureShape, numClasses: dataset.numClasses });
}

/** How much of a dataset goes to validation and test; each a fraction in [0, 1) (rounded to whole examples) or a whole count. */
export interface SplitOptions {
  /** @default 0.1 */
  validation?: number;
  /** @default 0 */
  test?: number;
}

/** Disjoint parts of a dataset that together cover it. */
export interface DatasetSplit {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
}

function splitCount(value: number, size: number, what: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Error in splitDataset: ${what} must be ≥ 0, got ${value}`);
  const count = value < 1 ? Math.round(value * size) : value;
  if (!Number.isInteger(count)) throw new RangeError(`Error in splitDataset: ${what} must be a fraction in [0, 1) or a whole count, got ${value}`);
  return count;
}

/**
 * Shuffles example indices with `rng` and cuts them into train / validation /
 * test. The same dataset and rng state give the same split.
 */
export function splitDataset(dataset: Dataset, rng: Rng, options: SplitOptions = {}): DatasetSplit {
  const nValidation = splitCount(options.validation ?? 0.1, dataset.size, 'validation');
  const nTest = splitCount(options.test ?? 0, dataset.size, 'test');
  if (nValidation + nTest > dataset.size) {
    throw new RangeError(`Error in splitDataset(${dataset.name}): validation (${nValidation}) + test (${nTest}) exceed the ${dataset.size} examples`);
  }
  const order = rng.shuffle(Array.from({ length: dataset.size }, (_, i) => i));
  const test = order.slice(0, nTest);
  const validation = order.slice(nTest, nTest + nValidation);
  const train = order.slice(nTest + nValidation);
  return {
    train: subset(dataset, train, `${dataset.name}/train`),
    validation: subset(dataset, validation, `${dataset.name}/validation`),
    test: subset(dataset, test, `${dataset.name}/test`),
  };
}

/** One mini-batch as plain arrays. */
export interface Batch {
  /** `size × featureSize` values. */
  readonly features: Float32Array;
  /** Class indices. */
  readonly labels: Int32Array;
  /** Examples in this batch (the last batch of an epoch may be short). */
  readonly size: number;
  readonly featureShape: readonly number[];
  readonly numClasses: number;
  /** The epoch this batch belongs to (0-based). */
  readonly epoch: number;
  /** Index of this batch within its epoch (0-based). */
  readonly index: number;
  /** True for the final batch of its epoch. */
  readonly last: boolean;
}

/** Tensors for one batch. Create them inside `tf.tidy` (or dispose both). */
export interface BatchTensors {
  /** `[size, ...featureShape]`, float32. */
  xs: tf.Tensor;
  /** One-hot `[size, numClasses]`, float32. */
  ys: tf.Tensor2D;
}

/** Makes the batch's tensors; call inside `tf.tidy` so they are disposed with the step. */
export function toTensors(batch: Batch): BatchTensors {
  const xs = tf.tensor(batch.features, [batch.size, ...batch.featureShape], 'float32');
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.labels, 'int32'), batch.numClasses).toFloat() as tf.Tensor2D);
  return { xs, ys };
}

/** Everything needed to resume a {@link BatchCursor} at the exact same batch. JSON-serialisable. */
export interface BatchCursorState {
  /** Epoch of the current permutation (0-based). */
  readonly epoch: number;
  /** Offset of the next example within the current permutation. */
  readonly position: number;
  /** Rng state just before the current epoch's permutation was drawn. */
  readonly epochRng: RngState;
  readonly batchSize: number;
  readonly datasetSize: number;
  readonly shuffle: boolean;
  readonly dropRemainder: boolean;
}

/** Options for {@link BatchCursor}. */
export interface BatchCursorOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Draws each epoch's permutation; the cursor owns it from then on. Pass `rng.fork(n)` to keep another stream untouched. */
  rng: Rng;
  /** Reshuffle every epoch; `false` walks the examples in order. @default true */
  shuffle?: boolean;
  /** Skip the last, short batch of each epoch. @default false */
  dropRemainder?: boolean;
}

/**
 * Yields shuffled mini-batches, epoch after epoch. Its state (epoch, position
 * and the rng state the epoch's permutation was drawn from) can be exported
 * into a checkpoint and restored to continue with the identical batches.
 */
export class BatchCursor {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropRemainder: boolean;
  #rng: Rng;
  #epoch: number;
  #position: number;
  #epochRng: RngState;
  #order: Uint32Array;

  constructor(dataset: Dataset, options: BatchCursorOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`Error in BatchCursor(${dataset.name}): batchSize must be a positive integer, got ${options.batchSize}`);
    }
    if (dataset.size === 0) throw new RangeError(`Error in BatchCursor(${dataset.name}): the dataset is empty`);
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? true;
    this.dropRemainder = options.dropRemainder ?? false;
    if (this.dropRemainder && dataset.size < this.batchSize) {
      throw new RangeError(`Error in BatchCursor(${dataset.name}): dropRemainder with batchSize ${this.batchSize} > ${dataset.size} examples yields no batch`);
    }
    this.#rng = options.rng;
    this.#epoch = 0;
    this.#position = 0;
    this.#epochRng = this.#rng.state();
    this.#order = this.#permutation();
  }

  /** Resumes a cursor from {@link BatchCursor.state}; the dataset must be the one it was taken on. */
  static restore(dataset: Dataset, state: BatchCursorState): BatchCursor {
    if (state.datasetSize !== dataset.size) {
      throw new EsperError('ESPER_CONFIG_INVALID', `BatchCursor state is for ${state.datasetSize} examples but ${dataset.name} has ${dataset.size}`, {
        details: { dataset: dataset.name, stateSize: state.datasetSize, datasetSize: dataset.size },
      });
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.position) || state.position < 0 || state.position > dataset.size || state.epochRng.length !== 4) {
      throw new EsperError('ESPER_CONFIG_INVALID', `BatchCursor state for ${dataset.name} is malformed`, { details: { dataset: dataset.name, epoch: state.epoch, position: state.position } });
    }
    const cursor = new BatchCursor(dataset, {
      batchSize: state.batchSize,
      rng: Rng.fromState(state.epochRng),
      shuffle: state.shuffle,
      dropRemainder: state.dropRemainder,
    });
    cursor.#epoch = state.epoch;
    cursor.#position = state.position;
    return cursor;
  }

  /** The current epoch (0-based). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.dropRemainder ? Math.floor(this.dataset.size / this.batchSize) : Math.ceil(this.dataset.size / this.batchSize);
  }

  /** The state to store in a checkpoint. */
  state(): BatchCursorState {
    return {
      epoch: this.#epoch,
      position: this.#position,
      epochRng: this.#epochRng,
      batchSize: this.batchSize,
      datasetSize: this.dataset.size,
      shuffle: this.shuffle,
      dropRemainder: this.dropRemainder,
    };
  }

  /** The next batch; after the last batch of an epoch, the next call starts a new epoch (new permutation). */
  next(): Batch {
    if (this.#exhausted()) this.#startEpoch(this.#epoch + 1);
    const start = this.#position;
    const size = Math.min(this.batchSize, this.dataset.size - start);
    const per = featureSize(this.dataset.featureShape);
    const features = new Float32Array(size * per);
    const labels = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const src = this.#order[start + i] as number;
      features.set(this.dataset.features.subarray(src * per, (src + 1) * per), i * per);
      labels[i] = this.dataset.labels[src] as number;
    }
    this.#position = start + size;
    return {
      features,
      labels,
      size,
      featureShape: this.dataset.featureShape,
      numClasses: this.dataset.numClasses,
      epoch: this.#epoch,
      index: Math.floor(start / this.batchSize),
      last: this.#exhausted(),
    };
  }

  /** The remaining batches of the current epoch (all of the next epoch's when the current one is finished). */
  *epochBatches(): Generator<Batch, void, undefined> {
    if (this.#exhausted()) this.#startEpoch(this.#epoch + 1);
    while (!this.#exhausted()) yield this.next();
  }

  #exhausted(): boolean {
    const remaining = this.dataset.size - this.#position;
    return remaining <= 0 || (this.dropRemainder && remaining < this.batchSize);
  }

  #startEpoch(epoch: number): void {
    this.#epoch = epoch;
    this.#position = 0;
    this.#epochRng = this.#rng.state();
    this.#order = this.#permutation();
  }

  #permutation(): Uint32Array {
    const order = Array.from({ length: this.dataset.size }, (_, i) => i);
    if (this.shuffle) this.#rng.shuffle(order);
    return Uint32Array.from(order);
  }
}
