/**
 * Fashion-MNIST (Zalando; 28×28 grey images, 10 classes, 60k train / 10k
 * test) from IDX files. Debian's `dataset-fashion-mnist` package installs
 * them, gzipped, in {@link FASHION_MNIST_DEFAULT_DIR}; any directory holding
 * the four files (gzipped or not) can be given instead.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EsperError } from '../../errors/index.ts';
import { createDataset, type Dataset } from './dataset.ts';
import { readIdxFile } from './idx.ts';

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** The class names, by label index. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** The files of each part, by base name (a `.gz` sibling is accepted). */
export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

/** Options for {@link loadFashionMnist}. */
export interface FashionMnistOptions {
  /** Directory holding the IDX files. @default FASHION_MNIST_DEFAULT_DIR */
  dir?: string;
  /** Which part to load. @default 'train' */
  split?: 'train' | 'test';
  /** Keep only the first `limit` examples (quick runs, tests); only that much of each file is read and inflated. @default all */
  limit?: number;
  /** `'image'`: featureShape `[28, 28, 1]` (NHWC, for CNNs); `'flat'`: `[784]` (for MLPs). Same bytes either way. @default 'image' */
  layout?: 'image' | 'flat';
}

function missing(dir: string, what: string, cause?: unknown): EsperError {
  return new EsperError(
    'ESPER_DATASET_MISSING',
    `Fashion-MNIST not found: ${what}. Install Debian's package with \`apt-get install dataset-fashion-mnist\` ` +
      `(files in ${FASHION_MNIST_DEFAULT_DIR}), or give a directory holding ` +
      `${Object.values(FASHION_MNIST_FILES)
        .flatMap((part) => [part.images, part.labels])
        .join(', ')} (each may be gzipped, ending in .gz).`,
    { details: { dir }, ...(cause === undefined ? {} : { cause }) },
  );
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The path of `base` or `base.gz` in `dir`, whichever exists (uncompressed first). */
async function locate(dir: string, base: string): Promise<string> {
  for (const name of [base, `${base}.gz`]) {
    const path = join(dir, name);
    if (await isFile(path)) return path;
  }
  throw missing(dir, `${join(dir, base)}(.gz) does not exist`);
}

/**
 * Loads one part of Fashion-MNIST: features are pixel values scaled to
 * [0, 1], labels are class indices (see {@link FASHION_MNIST_CLASSES}).
 *
 * @throws EsperError `ESPER_DATASET_MISSING` when the directory or a file is
 *   absent (the message says how to get them), `ESPER_DATASET_CORRUPT` when a
 *   file is malformed or images and labels disagree.
 */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<Dataset> {
  const dir = options.dir ?? FASHION_MNIST_DEFAULT_DIR;
  const split = options.split ?? 'train';
  const limit = options.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new RangeError(`Error in loadFashionMnist: limit must be a positive integer, got ${limit}`);
  }
  try {
    if (!(await stat(dir)).isDirectory()) throw missing(dir, `${dir} is not a directory`);
  } catch (error) {
    if (error instanceof EsperError) throw error;
    throw missing(dir, `directory ${dir} does not exist`, error);
  }
  const files = FASHION_MNIST_FILES[split];
  const imagesPath = await locate(dir, files.images);
  const labelsPath = await locate(dir, files.labels);
  const [images, labels] = await Promise.all([
    readIdxFile(imagesPath, { type: 'ubyte', rank: 3, ...(limit === undefined ? {} : { limit }) }),
    readIdxFile(labelsPath, { type: 'ubyte', rank: 1, ...(limit === undefined ? {} : { limit }) }),
  ]);
  const [count = 0, rows = 0, cols = 0] = images.shape;
  if (labels.shape[0] !== count) {
    throw new EsperError('ESPER_DATASET_CORRUPT', `Fashion-MNIST ${split}: ${count} images in ${imagesPath} but ${labels.shape[0]} labels in ${labelsPath}`, {
      details: { images: imagesPath, labels: labelsPath },
    });
  }
  const n = count; // already cut to `limit` by the reader
  const pixels = rows * cols;
  const features = new Float32Array(n * pixels);
  const source = images.data;
  for (let i = 0; i < features.length; i++) features[i] = (source[i] as number) / 255;
  const labelValues = new Uint8Array(labels.data.buffer, labels.data.byteOffset, n).slice();
  for (let i = 0; i < n; i++) {
    if ((labelValues[i] as number) >= FASHION_MNIST_CLASSES.length) {
      throw new EsperError('ESPER_DATASET_CORRUPT', `Fashion-MNIST ${split}: label ${labelValues[i]} at index ${i} of ${labelsPath} is not a class (0–9)`, {
        details: { labels: labelsPath, index: i },
      });
    }
  }
  return createDataset({
    name: `fashion-mnist/${split}`,
    features,
    labels: labelValues,
    featureShape: options.layout === 'flat' ? [pixels] : [rows, cols, 1],
    numClasses: FASHION_MNIST_CLASSES.length,
  });
}
