import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { analyzeBlueprint } from '../../src/blueprint/blueprint-analysis.ts';
import {
  BLUEPRINT_CATALOG,
  catalogBlueprint,
  catalogWidthBlueprint,
  convWidthInterface,
  DEFAULT_CONV_WIDTH_GEOMETRY,
  shapePreservingInterface,
  widthInterface,
  type CatalogEntry,
} from '../../src/actors/karn/catalog.ts';
import type { SlotInterface } from '../../src/contracts/common.ts';
import type { BlueprintIR, BlueprintIRInput } from '../../src/contracts/karn.ts';
import { EsperError } from '../../src/errors/index.ts';
import { selectBackend } from '../../src/tensor/backend.ts';
import { blueprintModule, fromWeights, initialWeights, planBlueprint } from '../../src/tensor/blueprint-module.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { SeedSlot } from '../../src/tensor/seed-slot.ts';
import { throwsWith } from '../helpers/rejects-with.ts';

const DENSE = shapePreservingInterface([16]);
const CONV = shapePreservingInterface([6, 6, 4]);

function maxAbs(t: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0] ?? Number.NaN);
}

function randomInput(iface: SlotInterface, batch: number, seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const shape = [batch, ...iface.inputShape];
  const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
  return tf.tensor(values, shape);
}

/** Width blueprints: a 4-unit layer between 16 features and 5 outputs. */
const WIDEN = widthInterface(16, 5);
/** Conv width blueprints: a 3×3 block of 4 channels reading [6, 6, 4], followed by a 3×3 block of 5 channels. */
const CONV_WIDEN = convWidthInterface([6, 6, 4], 5, DEFAULT_CONV_WIDTH_GEOMETRY);

const CASES = BLUEPRINT_CATALOG.flatMap((entry): { entry: CatalogEntry; iface: SlotInterface; ir: BlueprintIR }[] =>
  entry.role === 'width'
    ? entry.kinds.map((kind) => (kind === 'conv2d' ? { entry, iface: CONV_WIDEN, ir: catalogWidthBlueprint(entry.name, CONV_WIDEN, 4) } : { entry, iface: WIDEN, ir: catalogWidthBlueprint(entry.name, WIDEN, 4) }))
    : entry.kinds.map((kind) => {
        const iface = kind === 'dense' ? DENSE : CONV;
        return { entry, iface, ir: catalogBlueprint(entry.name, iface) };
      }),
);

describe('blueprint module (interpreter)', function () {
  this.timeout(60_000);

  before(async () => {
    await selectBackend('wasm');
  });

  for (const { entry, iface, ir } of CASES) {
    it(`builds catalog '${entry.name}' on ${iface.kind}: param count = analysis, f(x) = x at init when identity-start (0 when zero-start), finite gradients`, () => {
      const analysis = analyzeBlueprint(ir);
      if (!analysis.ok) throw analysis.errors[0] ?? new Error('analysis failed');
      const before = tf.memory().numTensors;
      const module = blueprintModule(ir, iface, new Rng(7));
      try {
        expect(module.kind).to.equal('blueprint');
        expect(module.paramCount).to.equal(analysis.report.paramCount);
        expect(module.params.reduce((n, p) => n + p.size, 0)).to.equal(analysis.report.paramCount);
        expect(module.trainableParams.reduce((n, p) => n + p.size, 0)).to.equal(analysis.report.trainableParamCount);
        expect(module.irHash).to.equal(analysis.report.irHash);
        expect(module.weights.map((w) => w.shape)).to.deep.equal(module.params.map((p) => p.shape));
        tf.tidy(() => {
          const x = randomInput(iface, 3, 1);
          const y = module.forward(x);
          expect(y.shape).to.deep.equal([3, ...iface.outputShape]);
          if (entry.role === 'width') {
            // dense [16] → [5] (conv2d [6, 6, 4] → [6, 6, 5]): no seed contribution f(x) − x; the output is zero at init (Ω = 0).
            expect(analysis.report.startsAsZero).to.equal(true);
            expect(maxAbs(y)).to.equal(0);
            expect(() => module.apply(x)).to.throw(EsperError, /needs equal shapes/);
          } else {
            const s = module.apply(x);
            expect(s.shape).to.deep.equal(x.shape);
            // apply is f(x) − x
            expect(maxAbs(tf.sub(tf.add(x, s), y))).to.be.at.most(1e-5);
            const deviation = maxAbs(tf.sub(y, x));
            if (entry.startsAsIdentity) {
              expect(analysis.report.startsAsIdentity).to.equal(true);
              expect(deviation).to.be.at.most(1e-6);
              expect(maxAbs(s)).to.be.at.most(1e-6);
            } else {
              expect(deviation).to.be.greaterThan(1e-3);
            }
          }
          const { value, grads } = tf.variableGrads(() => tf.mean<tf.Scalar>(tf.square(tf.sub(module.forward(x), 1))), module.trainableParams);
          expect(Number.isFinite(value.dataSync()[0])).to.equal(true);
          const norms = Object.values(grads).map((g) => tf.sum(tf.square(g)).dataSync()[0] ?? Number.NaN);
          expect(norms.every((n) => Number.isFinite(n))).to.equal(true);
          expect(norms.some((n) => n > 0)).to.equal(true);
        });
      } finally {
        module.dispose();
      }
      expect(tf.memory().numTensors).to.equal(before);
    });
  }

  it('draws the same weights from the same Rng seed, and fromWeights rebuilds an identical function', () => {
    const ir = catalogBlueprint('mlp_small', DENSE);
    const plan = planBlueprint(ir, DENSE);
    const a = initialWeights(plan, new Rng(11));
    const b = initialWeights(plan, new Rng(11));
    expect(a.map((w) => Array.from(w))).to.deep.equal(b.map((w) => Array.from(w)));
    // Perturb the zero layer so the function is not the identity, then rebuild.
    const perturbed = a.map((w) => w.map((v, i) => v + 0.01 * ((i % 7) - 3)));
    const m1 = fromWeights(ir, DENSE, perturbed);
    const m2 = fromWeights(ir, DENSE, m1.readWeights());
    try {
      tf.tidy(() => {
        const x = randomInput(DENSE, 4, 2);
        expect(maxAbs(tf.sub(m1.forward(x), m2.forward(x)))).to.equal(0);
        expect(maxAbs(tf.sub(m1.forward(x), x))).to.be.greaterThan(1e-3);
      });
    } finally {
      m1.dispose();
      m2.dispose();
    }
  });

  it('rejects weights that do not fit the layout with ESPER_CHECKPOINT_MISMATCH', () => {
    const ir = catalogBlueprint('lora_r4', DENSE);
    const weights = initialWeights(planBlueprint(ir, DENSE), new Rng(1));
    throwsWith(() => fromWeights(ir, DENSE, weights.slice(1)), 'ESPER_CHECKPOINT_MISMATCH');
  });

  it('refuses an IR that fails analysis with its coded error', () => {
    const bad: BlueprintIRInput = {
      irVersion: 1,
      name: 'bad',
      interface: DENSE,
      nodes: [{ id: 'out', op: 'dense', inputs: ['input'], params: { units: 8 } }],
      output: 'out',
    };
    expect(() => blueprintModule(bad, DENSE, new Rng(1))).to.throw(EsperError).with.property('code', 'ESPER_BLUEPRINT_SHAPE_MISMATCH');
  });

  it('interprets every op: self-attention, batch norm, strided conv, layer norm, tanh, sigmoid, bias-free dense', () => {
    const ir: BlueprintIRInput = {
      irVersion: 1,
      name: 'all-ops',
      interface: CONV,
      nodes: [
        { id: 'bn', op: 'norm', inputs: ['input'], params: { kind: 'batch' } },
        { id: 'att', op: 'attention', inputs: ['bn'], params: { kind: 'self', heads: 2 } },
        { id: 'ln', op: 'norm', inputs: ['att'], params: { kind: 'layer' } },
        { id: 'down', op: 'conv', inputs: ['ln'], params: { filters: 8, kernelSize: 3, stride: 2, padding: 'same' } },
        { id: 't', op: 'activation', inputs: ['down'], params: { fn: 'tanh' } },
        { id: 'dw', op: 'depthwise', inputs: ['t'], params: { kernelSize: 3, multiplier: 2, padding: 'valid' } },
        { id: 's', op: 'activation', inputs: ['dw'], params: { fn: 'sigmoid' } },
        { id: 'se', op: 'attention', inputs: ['s'], params: { kind: 'squeeze_excitation', reduction: 4 } },
        { id: 'proj', op: 'dense', inputs: ['se'], params: { units: 4 * 36, useBias: false, init: 'lecun_normal' } },
        { id: 'lr', op: 'low_rank', inputs: ['proj'], params: { rank: 2, units: 4 * 36, init: 'glorot_uniform' } },
      ],
      output: 'lr',
    };
    // 6x6 → stride 2 → 3x3x8 → valid 3x3 depthwise ×2 → 1x1x16 → dense → 1x1x144: not the slot's shape, so
    // use an interface whose output is [1, 1, 144].
    const iface: SlotInterface = { kind: 'conv2d', inputShape: [6, 6, 4], outputShape: [1, 1, 144], dtype: 'float32' };
    const analysis = analyzeBlueprint(ir, { interface: iface });
    if (!analysis.ok) throw analysis.errors[0] ?? new Error('analysis failed');
    const module = blueprintModule(ir, iface, new Rng(3));
    try {
      expect(module.paramCount).to.equal(analysis.report.paramCount);
      expect(module.trainableParams.length).to.equal(module.params.length - 2); // batch-norm moving statistics
      tf.tidy(() => {
        const x = randomInput(iface, 2, 5);
        const y = module.forward(x);
        expect(y.shape).to.deep.equal([2, 1, 1, 144]);
        expect(tf.all(tf.isFinite(y)).dataSync()[0]).to.equal(1);
        // Not shape-preserving: no seed contribution.
        expect(() => module.apply(x)).to.throw(EsperError);
        const { grads } = tf.variableGrads(() => tf.mean<tf.Scalar>(tf.square(module.forward(x))), module.trainableParams);
        expect(Object.keys(grads).length).to.equal(module.trainableParams.length);
        for (const g of Object.values(grads)) expect(tf.all(tf.isFinite(g)).dataSync()[0]).to.equal(1);
      });
    } finally {
      module.dispose();
    }
  });

  it('matches a plain-JS reference: dense → gelu → layer norm → squeeze-excitation → residual', () => {
    const iface = shapePreservingInterface([3]);
    const ir: BlueprintIRInput = {
      irVersion: 1,
      name: 'reference',
      interface: iface,
      nodes: [
        { id: 'd', op: 'dense', inputs: ['input'], params: { units: 3, init: 'glorot_uniform' } },
        { id: 'g', op: 'activation', inputs: ['d'], params: { fn: 'gelu' } },
        { id: 'ln', op: 'norm', inputs: ['g'], params: { kind: 'layer', epsilon: 0.001 } },
        { id: 'se', op: 'attention', inputs: ['ln'], params: { kind: 'squeeze_excitation', reduction: 2 } },
        { id: 'out', op: 'residual', inputs: ['input', 'se'] },
      ],
      output: 'out',
    };
    const plan = planBlueprint(ir, iface);
    // Non-trivial values for every weight (biases, γ, β included).
    const rng = new Rng(21);
    const weights = plan.weights.map((w) => Float32Array.from({ length: w.size }, () => rng.normal() * 0.5));
    const module = fromWeights(ir, iface, weights);
    const [W, b, gamma, beta, w1, b1, w2, b2] = weights.map((w): number[] => Array.from(w));
    const erf = (z: number): number => {
      // Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7)
      const t = 1 / (1 + 0.3275911 * Math.abs(z));
      const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
      return z >= 0 ? y : -y;
    };
    const gelu = (z: number): number => 0.5 * z * (1 + erf(z / Math.SQRT2));
    const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
    const matvec = (x: number[], m: number[], cols: number, bias: number[]): number[] =>
      bias.map((bj, j) => x.reduce((acc, xi, i) => acc + xi * (m[i * cols + j] ?? 0), bj));
    const reference = (x: number[]): number[] => {
      const h = matvec(x, W!, 3, b!).map(gelu);
      const mean = h.reduce((a, v) => a + v, 0) / 3;
      const variance = h.reduce((a, v) => a + (v - mean) ** 2, 0) / 3;
      const n = h.map((v, i) => ((v - mean) / Math.sqrt(variance + 0.001)) * gamma![i]! + beta![i]!);
      const s = matvec(n, w1!, 1, b1!).map((v) => Math.max(0, v));
      const gate = matvec(s, w2!, 3, b2!).map(sigmoid);
      return x.map((xi, i) => xi + n[i]! * gate[i]!);
    };
    try {
      const xs = [
        [0.3, -1.2, 2.0],
        [-0.7, 0.1, 0.9],
      ];
      const got = tf.tidy(() => Array.from(module.forward(tf.tensor2d(xs)).dataSync()));
      const want = xs.flatMap(reference);
      got.forEach((v, i) => expect(v).to.be.closeTo(want[i]!, 1e-4));
    } finally {
      module.dispose();
    }
  });

  it('self-attention on a dense slot matches a hand computation (one token: softmax = 1, output = V·Wo)', () => {
    const iface = shapePreservingInterface([4]);
    const ir: BlueprintIRInput = {
      irVersion: 1,
      name: 'self-att',
      interface: iface,
      nodes: [{ id: 'out', op: 'attention', inputs: ['input'], params: { kind: 'self', heads: 2 } }],
      output: 'out',
    };
    const module = blueprintModule(ir, iface, new Rng(9));
    try {
      tf.tidy(() => {
        const x = randomInput(iface, 3, 4);
        // params: wq, bq, wk, bk, wv, bv, wo, bo
        const [wv, bv, wo, bo] = [4, 5, 6, 7].map((i) => module.params[i]!);
        const expected = tf.add(tf.matMul(tf.add(tf.matMul(x as tf.Tensor2D, wv as tf.Tensor2D), bv!), wo as tf.Tensor2D), bo!);
        expect(maxAbs(tf.sub(module.forward(x), expected))).to.be.below(1e-5);
      });
    } finally {
      module.dispose();
    }
  });

  it('works as a seed in a slot: TRAINING forward is the host, FOSSILIZED forward is f(h)', () => {
    const ir = catalogBlueprint('attention_se', DENSE);
    const module = blueprintModule(ir, DENSE, new Rng(5));
    const slot = new SeedSlot('s0', [16]);
    try {
      slot.attach(module);
      tf.tidy(() => {
        const h = randomInput(DENSE, 2, 8);
        slot.setMode('TRAINING');
        expect(maxAbs(tf.sub(slot.apply(h), h))).to.equal(0);
        slot.setMode('FOSSILIZED');
        expect(maxAbs(tf.sub(slot.apply(h), module.forward(h)))).to.be.below(1e-5);
      });
    } finally {
      slot.dispose();
    }
  });
});
