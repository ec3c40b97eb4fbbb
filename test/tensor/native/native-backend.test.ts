import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { backendReport, quietCpuBackend, selectBackend } from '../../../src/tensor/backend.ts';
import { nativeThreadsFromEnv } from '../../../src/tensor/native/native-backend.ts';
import { adamUpdate, adamUpdateColumns, type ColumnClock } from '../../../src/tensor/ops/adam-update.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { requireNativeBackend } from '../../helpers/test-backend.ts';

/** Random float32 data (seeded), some of it negative, zero or tiny, so the unary ops see their edge cases. */
function data(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, (_, i) => (i % 17 === 0 ? 0 : rng.normal()));
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor of `shape` with data(seed), on the active backend. */
function input(seed: number, shape: number[]): tf.Tensor {
  return tf.tensor(data(seed, size(shape)), shape);
}

interface Result {
  shape: number[];
  values: Float32Array;
}

/** Runs `f` on `backend` and returns its outputs' shapes and values (copied); disposes everything. */
async function runOn(backend: 'native' | 'cpu', f: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await selectBackend(backend);
  return tf.tidy(() => {
    const out = f();
    return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: [...t.shape], values: (t.dataSync() as Float32Array).slice() }));
  });
}

/** Largest |native − cpu| relative to max(1, max |cpu|) over each output; NaNs must match. */
function expectClose(native: Result[], cpu: Result[], tolerance = 1e-5): void {
  expect(native.length).to.equal(cpu.length);
  native.forEach((n, k) => {
    const c = cpu[k]!;
    expect(n.shape).to.deep.equal(c.shape);
    let scale = 1;
    for (const v of c.values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < c.values.length; i++) {
      const a = n.values[i]!;
      const b = c.values[i]!;
      if (Number.isNaN(b) || Number.isNaN(a)) {
        expect(Number.isNaN(a), `output ${k}[${i}]: native ${a}, cpu ${b}`).to.equal(Number.isNaN(b));
      } else if (!Number.isFinite(b)) {
        expect(a, `output ${k}[${i}]`).to.equal(b);
      } else {
        expect(Math.abs(a - b) / scale, `output ${k}[${i}]: native ${a}, cpu ${b}`).to.be.at.most(tolerance);
      }
    }
  });
}

async function agree(f: () => tf.Tensor | tf.Tensor[], tolerance?: number): Promise<void> {
  expectClose(await runOn('native', f), await runOn('cpu', f), tolerance);
}

describe('native backend (OpenBLAS addon)', function () {
  before(function () {
    requireNativeBackend(this);
    quietCpuBackend();
  });
  after(async () => {
    await selectBackend('wasm');
  });

  describe('BatchMatMul', () => {
    const cases: [string, number[], number[], boolean, boolean][] = [
      ['plain', [5, 7], [7, 3], false, false],
      ['transposeA', [7, 5], [7, 3], true, false],
      ['transposeB', [5, 7], [3, 7], false, true],
      ['both transposed, odd sizes', [33, 17], [9, 33], true, true],
      ['batched', [4, 5, 6], [4, 6, 3], false, false],
      ['batch broadcast of b', [3, 4, 5], [5, 6], false, false],
      ['batch broadcast of a (rank 4 against rank 3)', [1, 1, 4, 5], [2, 5, 6], false, false],
      ['mixed broadcast (falls back to the cpu kernel)', [2, 1, 4, 5], [3, 5, 6], false, false],
      ['large (784 inner)', [128, 784], [784, 64], false, false],
    ];
    for (const [name, a, b, ta, tb] of cases) {
      it(name, async () => agree(() => tf.matMul(input(1, a), input(2, b), ta, tb)));
    }
  });

  describe('_FusedMatMul', () => {
    for (const activation of ['linear', 'relu', 'elu'] as const) {
      it(`bias + ${activation}${activation === 'elu' ? ' (falls back)' : ''}`, async () =>
        agree(() => tf.fused.matMul({ a: input(3, [6, 9]), b: input(4, [9, 5]), bias: input(5, [5]), activation })));
    }
    it('transposed, without bias', async () => agree(() => tf.fused.matMul({ a: input(3, [9, 6]), b: input(4, [5, 9]), transposeA: true, transposeB: true, activation: 'relu' })));
  });

  describe('Conv2D and its gradients', () => {
    const cases: [string, number[], number[], number, 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]]][] = [
      ['3×3 same stride 1', [2, 9, 9, 3], [3, 3, 3, 4], 1, 'same'],
      ['3×3 valid stride 1', [2, 9, 9, 3], [3, 3, 3, 4], 1, 'valid'],
      ['3×3 same stride 2, odd size', [3, 7, 8, 2], [3, 3, 2, 5], 2, 'same'],
      ['2×3 valid stride 2', [2, 9, 7, 3], [2, 3, 3, 4], 2, 'valid'],
      ['5×5 same, one channel (the CNN host first layer)', [4, 12, 12, 1], [5, 5, 1, 6], 1, 'same'],
      ['explicit padding', [2, 6, 6, 2], [3, 3, 2, 3], 1, [[0, 0], [1, 2], [2, 1], [0, 0]]],
    ];
    for (const [name, xs, ws, stride, pad] of cases) {
      it(`${name}: forward, dx and dw`, async () =>
        agree(() => {
          const x = input(6, xs) as tf.Tensor4D;
          const w = input(7, ws) as tf.Tensor4D;
          const y = tf.conv2d(x, w, stride, pad);
          const r = input(8, y.shape);
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), r)))([x, w]);
          return [y, dx!, dw!];
        }));
    }
    it('dilated (falls back to the cpu kernel)', async () => agree(() => tf.conv2d(input(6, [1, 8, 8, 2]) as tf.Tensor4D, input(7, [3, 3, 2, 2]) as tf.Tensor4D, 1, 'same', 'NHWC', 2)));
  });

  describe('max pooling and its gradient', () => {
    const cases: [string, number[], number, number, 'same' | 'valid'][] = [
      ['2×2 stride 2 valid (the hosts)', [3, 8, 8, 5], 2, 2, 'valid'],
      ['2×2 stride 2 valid, odd size', [2, 7, 9, 3], 2, 2, 'valid'],
      ['3×3 stride 2 same (overlapping windows)', [2, 7, 7, 4], 3, 2, 'same'],
      ['3×3 stride 1 same', [1, 5, 6, 2], 3, 1, 'same'],
    ];
    for (const [name, shape, filter, stride, pad] of cases) {
      it(name, async () =>
        agree(() => {
          const x = input(22, shape) as tf.Tensor4D;
          const y = tf.maxPool(x, filter, stride, pad);
          const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, filter, stride, pad), input(23, y.shape))))(x);
          return [y, dx];
        }));
    }
    it('ties go to the first maximum, as on the cpu backend', async () =>
      agree(() => {
        const x = tf.tensor4d([1, 1, 1, 1, 2, 2, 0, 2, Number.NaN, 3, 3, Number.NaN, -1, -1, -1, -1], [1, 4, 4, 1]);
        return [tf.maxPool(x, 2, 2, 'valid'), tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x)];
      }));
  });

  describe('elementwise', () => {
    const shapes: [string, number[], number[]][] = [
      ['same shape', [4, 5], [4, 5]],
      ['scalar right', [4, 5], []],
      ['scalar left', [], [4, 5]],
      ['bias row', [6, 7], [7]],
      ['bias row, many short rows (grouped natively, with a remainder)', [70, 7], [7]],
      ['conv bias [2,5,5,16] + [16]', [2, 5, 5, 16], [16]],
      ['row on the left, short rows', [16], [2, 5, 5, 16]],
      ['column', [6, 7], [6, 1]],
      ['outer (column ∘ row)', [6, 1], [1, 7]],
      ['trailing block [2,3,4] ∘ [3,4]', [2, 3, 4], [3, 4]],
      ['middle broadcast (falls back)', [2, 3, 4], [2, 1, 4]],
    ];
    const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
      ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div], ['maximum', tf.maximum], ['minimum', tf.minimum], ['squaredDifference', tf.squaredDifference],
    ];
    for (const [name, a, b] of shapes) {
      it(`binary ops, ${name}`, async () => agree(() => ops.map(([, op]) => op(input(9, a), input(10, b)))));
    }
    it('int32 add (falls back)', async () => agree(() => tf.cast(tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32')), 'float32')));
    it('unary ops, including negatives, zeros and NaN', async () =>
      agree(() => {
        const x = tf.concat([input(11, [50]), tf.tensor1d([Number.NaN, -0, 1e-30, 80])]);
        return [tf.neg(x), tf.sqrt(x), tf.rsqrt(x), tf.square(x), tf.exp(x), tf.log(x), tf.relu(x), tf.step(x, 0.3), tf.abs(x), tf.reciprocal(x), tf.sigmoid(x)];
      }));
  });

  describe('reductions and transpose', () => {
    const reductions: [string, number[], number | number[], boolean][] = [
      ['last axis', [5, 7], -1, false],
      ['first axis (bias gradient)', [128, 33], 0, false],
      ['middle block, keepDims', [3, 4, 5, 2], [1, 2], true],
      ['around a size-1 axis', [3, 1, 4], [0, 1], false],
      ['all axes', [3, 4], [0, 1], false],
      ['non-contiguous axes (falls back)', [2, 3, 4], [0, 2], false],
    ];
    for (const [name, shape, axis, keepDims] of reductions) {
      it(`sum, mean, max, min over ${name}`, async () =>
        agree(() => {
          const x = input(12, shape);
          return [tf.sum(x, axis, keepDims), tf.mean(x, axis, keepDims), tf.max(x, axis, keepDims), tf.min(x, axis, keepDims)];
        }));
    }
    const perms: [number[], number[]][] = [
      [[5, 7], [1, 0]],
      [[2, 3, 4], [0, 2, 1]],
      [[2, 3, 4], [2, 0, 1]],
      [[2, 1, 4], [2, 1, 0]],
      [[35, 70], [1, 0]],
      [[2, 3, 4], [1, 0, 2]],
    ];
    for (const [shape, perm] of perms) {
      it(`transpose ${JSON.stringify(shape)} by ${JSON.stringify(perm)}`, async () => agree(() => tf.transpose(input(13, shape), perm)));
    }
  });

  it('fused Adam update is bit-identical to the op-by-op update (native) and to the cpu backend', async () => {
    const step = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, learningRate: 0.002, step: 37 };
    const make = (): tf.Tensor[] => [input(14, [300]), tf.abs(input(15, [300])), tf.square(input(16, [300])), input(17, [300])];
    const run = (mode: 'fused' | 'ops') => () => {
      const [p, m, v, g] = make() as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const next = adamUpdate(p, m, v, g, step, mode);
      return [next.param, next.m, next.v];
    };
    const fused = await runOn('native', run('fused'));
    const ops = await runOn('native', run('ops'));
    const cpu = await runOn('cpu', run('ops'));
    for (const other of [ops, cpu]) fused.forEach((r, i) => expect(Array.from(r.values)).to.deep.equal(Array.from(other[i]!.values)));
  });

  for (const [outer, inner] of [[30, 1], [1, 12], [4, 5]] as const) {
    it(`per-column Adam update [${outer}, 5, ${inner}] (resident seeds) is bit-identical to the op-by-op update and to the cpu backend`, async () => {
      const hyper = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
      const clocks: ColumnClock[] = [{ step: 37, learningRate: 0.002 }, { step: 2, learningRate: 0.0005 }, 'frozen'];
      const layout = { outer, inner, owners: [0, 0, 1, 2, 1] };
      const n = outer * 5 * inner;
      const run = (mode: 'fused' | 'ops') => () => {
        const [p, m, v, g] = [input(24, [n]), tf.abs(input(25, [n])), tf.square(input(26, [n])), input(27, [n])] as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const next = adamUpdateColumns(p, m, v, g, hyper, layout, clocks, mode);
        return [next.param, next.m, next.v];
      };
      const fused = await runOn('native', run('fused'));
      const ops = await runOn('native', run('ops'));
      const cpu = await runOn('cpu', run('fused'));
      for (const other of [ops, cpu]) fused.forEach((r, i) => expect(Array.from(r.values)).to.deep.equal(Array.from(other[i]!.values)));
    });
  }

  it("'auto' picks native and reports it", async () => {
    expect(await selectBackend('auto')).to.equal('native');
    expect(backendReport()).to.deep.equal({ requested: 'auto', active: 'native' });
  });

  it('a view taken by a JS kernel survives the disposal of its source (the buffer pool does not recycle it)', async () => {
    await selectBackend('native');
    const source = tf.add(input(18, [64, 128]), 1); // a native output, pooled on disposal unless it escaped
    const view = tf.slice(source, [0, 0], [1, 128]); // the cpu Slice returns a subarray of source's buffer
    const before = (view.dataSync() as Float32Array).slice();
    source.dispose();
    const churn = tf.tidy(() => tf.sum(tf.mul(tf.add(input(19, [64, 128]), 2), 3)).dataSync()[0]);
    expect(churn).to.be.a('number');
    expect(Array.from(view.dataSync())).to.deep.equal(Array.from(before));
    view.dispose();
  });

  it('an array read with dataSync is not overwritten after its tensor is disposed', async () => {
    await selectBackend('native');
    const t = tf.mul(input(20, [64, 128]), 2);
    const read = t.dataSync() as Float32Array;
    const copy = read.slice();
    t.dispose();
    tf.tidy(() => tf.mul(input(21, [64, 128]), 5).dataSync());
    expect(Array.from(read)).to.deep.equal(Array.from(copy));
  });
});

describe('native backend: OpenBLAS threads', () => {
  it('takes ESPER_NATIVE_THREADS, defers to OPENBLAS_NUM_THREADS, else leaves one core free', () => {
    expect(nativeThreadsFromEnv({ ESPER_NATIVE_THREADS: '3' }, 2)).to.equal(3);
    expect(nativeThreadsFromEnv({ OPENBLAS_NUM_THREADS: '4' }, 8)).to.equal(undefined);
    expect(nativeThreadsFromEnv({}, 8)).to.equal(7);
    expect(nativeThreadsFromEnv({}, 2)).to.equal(1);
    expect(nativeThreadsFromEnv({}, 1)).to.equal(1);
    expect(() => nativeThreadsFromEnv({ ESPER_NATIVE_THREADS: 'two' }, 2)).to.throw(RangeError, /ESPER_NATIVE_THREADS/);
    expect(() => nativeThreadsFromEnv({ ESPER_NATIVE_THREADS: '0' }, 2)).to.throw(RangeError, /positive integer/);
  });
});
