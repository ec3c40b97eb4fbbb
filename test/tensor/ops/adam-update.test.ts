import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { quietCpuBackend, selectBackend, type BackendName } from '../../../src/tensor/backend.ts';
import { ADAM_FUSED_MAX_ELEMENTS, adamUpdate, adamUpdateColumns, columnConstants, type AdamStep, type ColumnClock } from '../../../src/tensor/ops/adam-update.ts';
import { Rng } from '../../../src/tensor/rng.ts';

function random(rng: Rng, n: number, scale: number, positive = false): tf.Tensor {
  return tf.tensor1d(Float32Array.from({ length: n }, () => (positive ? Math.abs(rng.normal()) : rng.normal()) * scale));
}

function bits(t: tf.Tensor): Uint32Array {
  return new Uint32Array((t.dataSync() as Float32Array).slice().buffer);
}

const STEPS: AdamStep[] = [
  { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, learningRate: 0.002, step: 1 },
  { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, learningRate: 0.002, step: 37 },
  { beta1: 0.8, beta2: 0.99, epsilon: 1e-6, learningRate: 0.1, step: 5000 },
];

for (const backend of ['wasm', 'cpu'] as const satisfies readonly BackendName[]) {
  describe(`adamUpdate: the fused kernel on ${backend}`, () => {
    before(async () => {
      quietCpuBackend();
      await selectBackend(backend);
    });
    after(async () => {
      await selectBackend('wasm');
    });

    it('is bit-identical to the op-by-op update, for every output, size and step', () => {
      const rng = new Rng(11);
      for (const n of [1, 7, 1000, 12_544]) {
        for (const a of STEPS) {
          tf.tidy(() => {
            // Moments of very different magnitudes, a zero gradient and a zero second moment (ε decides) included.
            const p = random(rng, n, 1);
            const m = random(rng, n, 0.01);
            const v = n > 1 ? tf.concat([tf.zeros([1]), random(rng, n - 1, 1e-4, true)]) : tf.zeros([1]);
            const g = n > 1 ? tf.concat([tf.zeros([1]), random(rng, n - 1, 0.1)]) : tf.zeros([1]);
            const fused = adamUpdate(p, m, v, g, a, 'fused');
            const ops = adamUpdate(p, m, v, g, a, 'ops');
            for (const key of ['param', 'm', 'v'] as const) expect(bits(fused[key]), `${key}, n = ${n}, step ${a.step}`).to.deep.equal(bits(ops[key]));
            expect(fused.param.shape).to.deep.equal([n]);
          });
        }
      }
    });

    it('per column (resident seeds): each column updates exactly as it would alone on its own clock; a frozen one keeps everything', () => {
      const rng = new Rng(12);
      const hyper = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
      const clocks: ColumnClock[] = [STEPS[1] as AdamStep, { step: 3, learningRate: 0.0007 }, 'frozen'];
      const owners = [0, 0, 0, 1, 1, 2];
      for (const [outer, inner] of [[9, 1], [1, 7], [3, 4]] as const) {
        tf.tidy(() => {
          const shape = [outer, owners.length, inner];
          const [p, m, v, g] = [1, 0.01, 1e-4, 0.1].map((scale, i) => tf.reshape(random(rng, outer * owners.length * inner, scale, i === 2), shape)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          const layout = { outer, inner, owners };
          const fused = adamUpdateColumns(p, m, v, g, hyper, layout, clocks, 'fused');
          const ops = adamUpdateColumns(p, m, v, g, hyper, layout, clocks, 'ops');
          owners.forEach((owner, c) => {
            const column = (t: tf.Tensor): tf.Tensor => tf.slice(t, [0, c, 0], [outer, 1, inner]);
            const clock = clocks[owner] as ColumnClock;
            const alone = clock === 'frozen' ? { param: column(p), m: column(m), v: column(v) } : adamUpdate(column(p), column(m), column(v), column(g), { ...hyper, ...clock }, 'ops');
            for (const key of ['param', 'm', 'v'] as const) {
              expect(bits(column(fused[key])), `fused ${key}, column ${c}, [${outer}, ·, ${inner}]`).to.deep.equal(bits(alone[key]));
              expect(bits(column(ops[key])), `ops ${key}, column ${c}`).to.deep.equal(bits(alone[key]));
            }
          });
        });
      }
    });

    it('moves a parameter against its gradient, and keeps the shape of a matrix', () => {
      tf.tidy(() => {
        const p = tf.tensor2d([[1, 2], [3, 4]]);
        const z = tf.zerosLike(p);
        const out = adamUpdate(p, z, z, tf.tensor2d([[1, -1], [0.5, 0]]), STEPS[0] as AdamStep, 'fused');
        expect(out.param.shape).to.deep.equal([2, 2]);
        // First Adam step: the update is lr · sign(g) (bias-corrected m / √v = g / |g|), and 0 where g = 0.
        const got = Array.from(out.param.dataSync());
        expect(got[0]).to.be.closeTo(1 - 0.002, 1e-6);
        expect(got[1]).to.be.closeTo(2 + 0.002, 1e-6);
        expect(got[2]).to.be.closeTo(3 - 0.002, 1e-6);
        expect(got[3]).to.equal(4);
      });
    });

    it('leaks no tensor', () => {
      const p = tf.ones([10]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        tf.tidy(() => {
          adamUpdate(p, p, p, p, STEPS[1] as AdamStep);
        });
      }
      expect(tf.memory().numTensors).to.equal(before);
      p.dispose();
    });
  });
}

describe('columnConstants', () => {
  const hyper = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

  it('gives each column its clock\'s bias corrections, learning rate and activity, written into the buffer it is given', () => {
    const out = new Float32Array(12).fill(Number.NaN);
    const k = columnConstants(hyper, [1, 0, 1], [{ step: 2, learningRate: 0.01 }, 'frozen'], out);
    expect(k).to.equal(out);
    const f = Math.fround;
    expect([...k]).to.deep.equal([1, f(1 - 0.9 ** 2), 1, 1, f(1 - 0.999 ** 2), 1, 0, f(0.01), 0, 0, 1, 0]);
  });

  it('refuses a buffer of the wrong size and a column naming no clock', () => {
    expect(() => columnConstants(hyper, [0, 0], [{ step: 1, learningRate: 0.1 }], new Float32Array(7))).to.throw(RangeError, /2 columns need 8 constants/);
    expect(() => columnConstants(hyper, [0, 1], [{ step: 1, learningRate: 0.1 }])).to.throw(RangeError, /column 1 names clock 1, there are 1/);
  });
});

describe('adamUpdate: which path runs', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('uses one kernel for a small tensor on wasm and the op-by-op update above the size limit', async () => {
    const kernels = async (n: number): Promise<string[]> => {
      const p = tf.ones([n]);
      const info = await tf.profile(() => {
        tf.tidy(() => {
          adamUpdate(p, p, p, p, STEPS[0] as AdamStep);
        });
      });
      p.dispose();
      return info.kernels.map((k) => k.name);
    };
    expect(await kernels(ADAM_FUSED_MAX_ELEMENTS)).to.deep.equal(['EsperAdamUpdate']);
    const large = await kernels(ADAM_FUSED_MAX_ELEMENTS + 1);
    expect(large).to.not.include('EsperAdamUpdate');
    expect(large.length).to.be.greaterThan(10);
  });
});
