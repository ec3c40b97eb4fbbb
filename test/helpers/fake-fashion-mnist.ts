/**
 * A fake Fashion-MNIST directory for tests: small 4×3 "images" (or any
 * `[height, width]`, e.g. the real 28×28) in the four IDX files (train and
 * t10k), labels 0–9, learnable from the pixels (each image's brightness
 * follows its label).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdx } from '../../src/tensor/datasets/index.ts';

/** Writes `train` training and `test` test examples of shape `size` (default 4×3) into `dir`. */
export function writeFakeFashionMnist(dir: string, counts: { train: number; test: number }, size: readonly [number, number] = [4, 3]): void {
  const pixels = size[0] * size[1];
  const part = (n: number, offset: number): { images: Uint8Array; labels: Uint8Array } => {
    const labels = Uint8Array.from({ length: n }, (_, i) => (i + offset) % 10);
    const images = new Uint8Array(n * pixels);
    for (let i = 0; i < images.length; i++) images[i] = ((labels[Math.floor(i / pixels)] ?? 0) * 25 + (i % pixels) * 3) % 256;
    return { images, labels };
  };
  const write = (prefix: string, data: { images: Uint8Array; labels: Uint8Array }): void => {
    const n = data.labels.length;
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx({ type: 'ubyte', shape: [n, size[0], size[1]], data: data.images }));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx({ type: 'ubyte', shape: [n], data: data.labels }));
  };
  write('train', part(counts.train, 0));
  write('t10k', part(counts.test, 3));
}
