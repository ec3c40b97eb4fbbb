/** Datasets for training runs: in-memory classification sets, splits, a resumable batch cursor, Fashion-MNIST and synthetic tasks. */
export {
  BatchCursor,
  createDataset,
  featureSize,
  splitDataset,
  subset,
  toTensors,
  type Batch,
  type BatchCursorOptions,
  type BatchCursorState,
  type BatchTensors,
  type Dataset,
  type DatasetInit,
  type DatasetSplit,
  type Labels,
  type SplitOptions,
} from './dataset.ts';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, FASHION_MNIST_FILES, loadFashionMnist, type FashionMnistOptions } from './fashion-mnist.ts';
export { encodeIdx, IDX_TYPES, isGzip, parseIdx, readIdxFile, type IdxArray, type IdxExpectation, type IdxType } from './idx.ts';
export { twoSpirals, xor, type SpiralsOptions, type XorOptions } from './synthetic.ts';
