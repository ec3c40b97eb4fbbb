import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tensor/backend.ts';
import {
  BatchCursor,
  createDataset,
  encodeIdx,
  FASHION_MNIST_DEFAULT_DIR,
  loadFashionMnist,
  parseIdx,
  readIdxFile,
  splitDataset,
  toTensors,
  twoSpirals,
  xor,
  type Batch,
  type Dataset,
} from '../../src/tensor/datasets/index.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { rejectsWith, throwsWith } from '../helpers/rejects-with.ts';

/** n fake 4×3 images whose pixels encode (image, position), and labels i mod 10. */
function fakeImages(n: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * 12);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7) % 256;
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return { images, labels };
}

function writeFakeFashionMnist(dir: string, n: number, gzip: boolean): { images: Uint8Array; labels: Uint8Array } {
  const data = fakeImages(n);
  const write = (name: string, bytes: Uint8Array): void => writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
  write('train-images-idx3-ubyte', encodeIdx({ type: 'ubyte', shape: [n, 4, 3], data: data.images }));
  write('train-labels-idx1-ubyte', encodeIdx({ type: 'ubyte', shape: [n], data: data.labels }));
  return data;
}

function batchOrder(batches: Batch[]): number[][] {
  return batches.map((b) => Array.from(b.features.filter((_, i) => i % 2 === 0)));
}

/** A dataset whose example i has features [i, -i] so batches reveal which examples they hold. */
function indexed(n: number): Dataset {
  const features = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    features[2 * i] = i;
    features[2 * i + 1] = -i;
  }
  return createDataset({ name: 'indexed', features, labels: Int32Array.from({ length: n }, (_, i) => i % 3), featureShape: [2], numClasses: 3 });
}

describe('datasets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'esper-idx-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('IDX reader', () => {
    it('round-trips every element type, big-endian', () => {
      const cases = [
        { type: 'ubyte', data: Uint8Array.from([0, 1, 255, 7, 8, 9]) },
        { type: 'byte', data: Int8Array.from([-128, -1, 0, 1, 2, 127]) },
        { type: 'short', data: Int16Array.from([-32768, -2, 0, 258, 3, 32767]) },
        { type: 'int', data: Int32Array.from([-2147483648, -1, 0, 65536, 5, 2147483647]) },
        { type: 'float', data: Float32Array.from([-1.5, 0, 0.25, 3e10, 1, -7]) },
        { type: 'double', data: Float64Array.from([-1.5, 0, Math.PI, 1e300, 1, -7]) },
      ] as const;
      for (const c of cases) {
        const bytes = encodeIdx({ type: c.type, shape: [2, 3], data: c.data });
        const parsed = parseIdx(bytes, c.type);
        expect(parsed.type).to.equal(c.type);
        expect(parsed.shape).to.deep.equal([2, 3]);
        expect(Array.from(parsed.data), c.type).to.deep.equal(Array.from(c.data));
      }
      // The header is big-endian: 0x00000803 then the dimensions.
      const header = encodeIdx({ type: 'ubyte', shape: [1, 2, 3], data: new Uint8Array(6) }).subarray(0, 16);
      expect(Buffer.from(header).toString('hex')).to.equal('00000803' + '00000001' + '00000002' + '00000003');
    });

    it('reads plain and gzipped files it wrote itself', async () => {
      const { images } = fakeImages(5);
      const bytes = encodeIdx({ type: 'ubyte', shape: [5, 4, 3], data: images });
      writeFileSync(join(dir, 'plain'), bytes);
      writeFileSync(join(dir, 'packed.gz'), gzipSync(bytes));
      for (const name of ['plain', 'packed.gz']) {
        const idx = await readIdxFile(join(dir, name), { type: 'ubyte', rank: 3 });
        expect(idx.shape).to.deep.equal([5, 4, 3]);
        expect(Array.from(idx.data)).to.deep.equal(Array.from(images));
      }
    });

    it('with a limit, returns only the first entries and reads only that prefix', async () => {
      const { images } = fakeImages(50);
      const bytes = encodeIdx({ type: 'ubyte', shape: [50, 4, 3], data: images });
      const prefix = 16 + 5 * 12;
      // Only the prefix is intact: the rest is garbage, which a limited read never looks at.
      const damaged = Uint8Array.from(bytes);
      damaged.fill(0xee, prefix + 12);
      writeFileSync(join(dir, 'plain'), damaged.subarray(0, damaged.length - 7));
      writeFileSync(join(dir, 'packed.gz'), gzipSync(damaged).subarray(0, 60)); // a cut-off gzip stream
      const idx = await readIdxFile(join(dir, 'plain'), { limit: 5 });
      expect(idx.shape).to.deep.equal([5, 4, 3]);
      expect(Array.from(idx.data)).to.deep.equal(Array.from(images.subarray(0, 60)));
      writeFileSync(join(dir, 'whole.gz'), gzipSync(bytes));
      const fromGzip = await readIdxFile(join(dir, 'whole.gz'), { limit: 5 });
      expect(Array.from(fromGzip.data)).to.deep.equal(Array.from(images.subarray(0, 60)));
      // A limit past the end keeps everything, and the whole file is checked again.
      expect((await readIdxFile(join(dir, 'whole.gz'), { limit: 500 })).shape).to.deep.equal([50, 4, 3]);
      expect((await rejectsWith(readIdxFile(join(dir, 'plain'), { limit: 500 }))).code).to.equal('ESPER_DATASET_CORRUPT');
      // A prefix cut short is still reported.
      expect((await rejectsWith(readIdxFile(join(dir, 'packed.gz'), { limit: 40 }))).code).to.equal('ESPER_DATASET_CORRUPT');
      writeFileSync(join(dir, 'short'), bytes.subarray(0, prefix - 1));
      expect((await rejectsWith(readIdxFile(join(dir, 'short'), { limit: 5 }))).message).to.match(/truncated/);
    });

    it('rejects corrupt files with ESPER_DATASET_CORRUPT', async () => {
      const good = encodeIdx({ type: 'ubyte', shape: [4, 3], data: new Uint8Array(12) });
      const badMagic = Uint8Array.from(good);
      badMagic[0] = 0x42;
      const badType = Uint8Array.from(good);
      badType[2] = 0x07;
      const cases: Array<[string, Uint8Array, RegExp]> = [
        ['bad magic', badMagic, /magic/],
        ['unknown type', badType, /element type/],
        ['truncated data', good.subarray(0, good.length - 1), /truncated/],
        ['trailing bytes', Uint8Array.from([...good, 0]), /trailing/],
        ['truncated header', good.subarray(0, 6), /header/],
        ['empty', new Uint8Array(0), /magic/],
      ];
      for (const [what, bytes, pattern] of cases) {
        const error = throwsWith(() => parseIdx(bytes, what));
        expect(error.code, what).to.equal('ESPER_DATASET_CORRUPT');
        expect(error.message, what).to.match(pattern);
      }
      expect(throwsWith(() => parseIdx(good, 'rank', { rank: 3 })).code).to.equal('ESPER_DATASET_CORRUPT');
      expect(throwsWith(() => parseIdx(good, 'type', { type: 'float' })).code).to.equal('ESPER_DATASET_CORRUPT');
      // A gzip header followed by garbage.
      writeFileSync(join(dir, 'broken.gz'), Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]));
      const error = await rejectsWith(readIdxFile(join(dir, 'broken.gz')));
      expect(error.code).to.equal('ESPER_DATASET_CORRUPT');
      expect(error.message).to.match(/gzip/);
    });

    it('reports a missing file as ESPER_DATASET_MISSING', async () => {
      const error = await rejectsWith(readIdxFile(join(dir, 'nope-idx1-ubyte')));
      expect(error.code).to.equal('ESPER_DATASET_MISSING');
    });
  });

  describe('Fashion-MNIST loader', () => {
    for (const gzip of [false, true]) {
      it(`loads ${gzip ? 'gzipped' : 'plain'} IDX files from a given directory, scaled to [0, 1], with a limit`, async () => {
        const { images, labels } = writeFakeFashionMnist(dir, 7, gzip);
        const all = await loadFashionMnist({ dir });
        expect(all.size).to.equal(7);
        expect(all.featureShape).to.deep.equal([4, 3, 1]);
        expect(all.numClasses).to.equal(10);
        expect(all.features[5]).to.be.closeTo(images[5]! / 255, 1e-7);
        expect(Math.max(...all.features)).to.be.at.most(1);
        expect(Array.from(all.labels)).to.deep.equal(Array.from(labels));
        const limited = await loadFashionMnist({ dir, limit: 3, layout: 'flat' });
        expect(limited.size).to.equal(3);
        expect(limited.featureShape).to.deep.equal([12]);
        expect(limited.features.length).to.equal(36);
      });
    }

    it('reports a missing directory as ESPER_DATASET_MISSING, saying how to get the data', async () => {
      const error = await rejectsWith(loadFashionMnist({ dir: join(dir, 'absent') }));
      expect(error.code).to.equal('ESPER_DATASET_MISSING');
      expect(error.message).to.include('apt-get install dataset-fashion-mnist');
      expect(error.message).to.include('train-images-idx3-ubyte');
    });

    it('reports a missing file in an existing directory as ESPER_DATASET_MISSING', async () => {
      writeFakeFashionMnist(dir, 3, true);
      const error = await rejectsWith(loadFashionMnist({ dir, split: 'test' }));
      expect(error.code).to.equal('ESPER_DATASET_MISSING');
      expect(error.message).to.include('t10k-images-idx3-ubyte');
    });

    it('rejects images and labels of different lengths as ESPER_DATASET_CORRUPT', async () => {
      writeFakeFashionMnist(dir, 4, false);
      writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ type: 'ubyte', shape: [3], data: new Uint8Array(3) }));
      expect((await rejectsWith(loadFashionMnist({ dir }))).code).to.equal('ESPER_DATASET_CORRUPT');
    });

    it('reads the installed dataset (Debian dataset-fashion-mnist) when present', async function () {
      if (!existsSync(join(FASHION_MNIST_DEFAULT_DIR, 't10k-labels-idx1-ubyte.gz')) && !existsSync(join(FASHION_MNIST_DEFAULT_DIR, 't10k-labels-idx1-ubyte'))) {
        // CI installs the dataset (.ci/run); a missing dataset fails there instead of skipping.
        if (process.env['ESPER_REQUIRE_SERVICES'] === '1') throw new Error(`Fashion-MNIST is not installed in ${FASHION_MNIST_DEFAULT_DIR} (apt-get install dataset-fashion-mnist)`);
        this.skip();
      }
      const test = await loadFashionMnist({ split: 'test', limit: 500 });
      expect(test.size).to.equal(500);
      expect(test.featureShape).to.deep.equal([28, 28, 1]);
      expect(test.features.length).to.equal(500 * 784);
      expect(new Set(test.labels).size).to.equal(10);
    });
  });

  describe('synthetic tasks', () => {
    for (const [name, make] of [
      ['two spirals', (rng: Rng): Dataset => twoSpirals(rng, { n: 200, noise: 0.05 })],
      ['XOR', (rng: Rng): Dataset => xor(rng, { n: 200 })],
    ] as const) {
      it(`${name}: deterministic for a seed, different across seeds, 2-D with 2 balanced-ish classes`, () => {
        const a = make(new Rng(1));
        const b = make(new Rng(1));
        const c = make(new Rng(2));
        expect(Array.from(a.features)).to.deep.equal(Array.from(b.features));
        expect(Array.from(a.labels)).to.deep.equal(Array.from(b.labels));
        expect(Array.from(a.features)).to.not.deep.equal(Array.from(c.features));
        expect(a.featureShape).to.deep.equal([2]);
        expect(a.numClasses).to.equal(2);
        expect(a.size).to.equal(200);
        const ones = Array.from(a.labels).filter((l) => l === 1).length;
        expect(ones).to.be.within(60, 140);
      });
    }

    it('XOR labels are 1 exactly when one coordinate is positive', () => {
      const data = xor(new Rng(3), { n: 100 });
      for (let i = 0; i < data.size; i++) {
        const x = data.features[2 * i]!;
        const y = data.features[2 * i + 1]!;
        expect(data.labels[i]).to.equal(x > 0 !== y > 0 ? 1 : 0);
      }
    });

    it('spiral arms are opposite: the classes differ by a half turn', () => {
      const data = twoSpirals(new Rng(4), { n: 400, noise: 0 });
      for (let i = 0; i < data.size; i++) expect(Math.hypot(data.features[2 * i]!, data.features[2 * i + 1]!)).to.be.at.most(1 + 1e-6);
      const meanOf = (label: number): number => {
        const xs = Array.from(data.labels).flatMap((l, i) => (l === label ? [data.features[2 * i]!] : []));
        return xs.reduce((s, v) => s + v, 0) / xs.length;
      };
      expect(Math.sign(meanOf(0))).to.equal(-Math.sign(meanOf(1)));
    });
  });

  describe('splits', () => {
    it('are disjoint, cover the dataset, and depend only on the seed', () => {
      const data = indexed(101);
      const split = splitDataset(data, new Rng(9), { validation: 0.2, test: 10 });
      expect(split.validation.size).to.equal(20);
      expect(split.test.size).to.equal(10);
      expect(split.train.size).to.equal(71);
      const ids = (d: Dataset): number[] => Array.from(d.features.filter((_, i) => i % 2 === 0));
      const all = [...ids(split.train), ...ids(split.validation), ...ids(split.test)];
      expect(new Set(all).size).to.equal(101);
      expect([...all].sort((p, q) => p - q)).to.deep.equal(Array.from({ length: 101 }, (_, i) => i));
      // Labels travel with their features.
      for (const part of [split.train, split.validation, split.test]) for (let i = 0; i < part.size; i++) expect(part.labels[i]).to.equal(part.features[2 * i]! % 3);
      const again = splitDataset(data, new Rng(9), { validation: 0.2, test: 10 });
      expect(ids(again.validation)).to.deep.equal(ids(split.validation));
      expect(ids(splitDataset(data, new Rng(10), { validation: 0.2, test: 10 }).validation)).to.not.deep.equal(ids(split.validation));
    });

    it('rejects parts larger than the dataset', () => {
      expect(() => splitDataset(indexed(10), new Rng(1), { validation: 6, test: 5 })).to.throw(RangeError, /exceed/);
    });
  });

  describe('BatchCursor', () => {
    it('yields every example once per epoch, shuffled, with the same order for the same seed', () => {
      const data = indexed(50);
      const a = new BatchCursor(data, { batchSize: 16, rng: new Rng(5) });
      const b = new BatchCursor(data, { batchSize: 16, rng: new Rng(5) });
      const epochA = [...a.epochBatches()];
      const epochB = [...b.epochBatches()];
      expect(epochA.map((x) => x.size)).to.deep.equal([16, 16, 16, 2]);
      expect(epochA.at(-1)!.last).to.equal(true);
      expect(batchOrder(epochA)).to.deep.equal(batchOrder(epochB));
      const seen = batchOrder(epochA).flat();
      expect([...seen].sort((p, q) => p - q)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      expect(seen).to.not.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      // The next epoch is a different permutation.
      const second = [...a.epochBatches()];
      expect(second[0]!.epoch).to.equal(1);
      expect(batchOrder(second).flat()).to.not.deep.equal(seen);
      expect(batchOrder([...new BatchCursor(data, { batchSize: 16, rng: new Rng(6) }).epochBatches()]).flat()).to.not.deep.equal(seen);
    });

    it('restored mid-epoch (through JSON) continues with identical batches, across the epoch boundary', () => {
      const data = indexed(45);
      const original = new BatchCursor(data, { batchSize: 8, rng: new Rng(11) });
      for (let i = 0; i < 9; i++) original.next(); // epoch 1, batch 3
      const saved = JSON.parse(JSON.stringify(original.state())) as ReturnType<BatchCursor['state']>;
      const expected = Array.from({ length: 12 }, () => original.next());
      const restored = BatchCursor.restore(data, saved);
      const actual = Array.from({ length: 12 }, () => restored.next());
      expect(batchOrder(actual)).to.deep.equal(batchOrder(expected));
      expect(actual.map((x) => [x.epoch, x.index])).to.deep.equal(expected.map((x) => [x.epoch, x.index]));
      expect(actual[0]!.epoch).to.equal(1);
      expect(actual.at(-1)!.epoch).to.equal(3);
    });

    it('drops the short last batch when asked and refuses state from another dataset', () => {
      const data = indexed(20);
      const cursor = new BatchCursor(data, { batchSize: 8, rng: new Rng(1), dropRemainder: true });
      expect([...cursor.epochBatches()].map((b) => b.size)).to.deep.equal([8, 8]);
      expect(cursor.batchesPerEpoch).to.equal(2);
      const error = throwsWith(() => BatchCursor.restore(indexed(21), cursor.state()));
      expect(error.code).to.equal('ESPER_CONFIG_INVALID');
    });

    it('feeds tensors inside tidy without leaking any', async () => {
      await selectBackend('wasm');
      const data = twoSpirals(new Rng(2), { n: 100 });
      const cursor = new BatchCursor(data, { batchSize: 32, rng: new Rng(3) });
      const w = tf.variable(tf.zeros([2, 2]));
      const before = tf.memory().numTensors;
      for (let epoch = 0; epoch < 2; epoch++) {
        for (const batch of cursor.epochBatches()) {
          tf.tidy(() => {
            const { xs, ys } = toTensors(batch);
            expect(xs.shape).to.deep.equal([batch.size, 2]);
            expect(ys.shape).to.deep.equal([batch.size, 2]);
            expect(Array.from(ys.argMax(1).dataSync())).to.deep.equal(Array.from(batch.labels));
            w.assign(tf.add(w, tf.matMul(xs, ys, true, false)));
          });
        }
      }
      expect(tf.memory().numTensors).to.equal(before);
      w.dispose();
    });
  });
});
