import { expect } from 'chai';
import type { BlueprintNode } from '../../src/contracts/karn.ts';
import { BLUEPRINT_OPS } from '../../src/contracts/karn.ts';
import {
  LAYER_SPECS,
  convOutputSize,
  inferLayer,
  layerAtInit,
  weightCount,
  type LayerFacts,
  type Shape,
} from '../../src/blueprint/layer-specs.ts';
import { SAMPLE_NODES } from '../actors/karn/support.ts';

function facts(node: BlueprintNode, ...inputs: Shape[]): LayerFacts {
  const result = inferLayer(node, inputs.length > 0 ? inputs : [[64]]);
  if (!result.ok) throw new Error(`unexpected shape problem: ${result.problem.message}`);
  return result.facts;
}

function problem(node: BlueprintNode, ...inputs: Shape[]): string {
  const result = inferLayer(node, inputs);
  if (result.ok) throw new Error(`expected a shape problem, got ${JSON.stringify(result.facts.outputShape)}`);
  return result.problem.message;
}

const DENSE: Shape = [64];
const CONV: Shape = [14, 14, 16];

describe('layer-specs', () => {
  it('has one entry per op of the vocabulary', () => {
    expect(Object.keys(LAYER_SPECS).sort()).to.deep.equal([...BLUEPRINT_OPS].sort());
    for (const op of BLUEPRINT_OPS) expect(LAYER_SPECS[op].op).to.equal(op);
  });

  describe('shape inference and parameters, on dense and conv2d inputs', () => {
    it('dense maps the last axis: [64] → [8], [14,14,16] → [14,14,8]', () => {
      const onDense = facts(SAMPLE_NODES.dense, DENSE);
      expect(onDense.outputShape).to.deep.equal([8]);
      expect(weightCount(onDense.weights)).to.equal(64 * 8 + 8);
      expect(onDense.flops).to.equal(2 * 64 * 8 + 8);
      const onConv = facts(SAMPLE_NODES.dense, CONV);
      expect(onConv.outputShape).to.deep.equal([14, 14, 8]);
      expect(weightCount(onConv.weights)).to.equal(16 * 8 + 8);
      expect(onConv.flops).to.equal(196 * (2 * 16 * 8 + 8));
      const noBias = facts({ ...SAMPLE_NODES.dense, params: { ...SAMPLE_NODES.dense.params, useBias: false } }, DENSE);
      expect(weightCount(noBias.weights)).to.equal(64 * 8);
    });

    it('low_rank maps the last axis through the rank, without bias', () => {
      expect(facts(SAMPLE_NODES.low_rank, DENSE).outputShape).to.deep.equal([8]);
      expect(weightCount(facts(SAMPLE_NODES.low_rank, DENSE).weights)).to.equal(64 * 2 + 2 * 8);
      expect(facts(SAMPLE_NODES.low_rank, CONV).outputShape).to.deep.equal([14, 14, 8]);
      expect(weightCount(facts(SAMPLE_NODES.low_rank, CONV).weights)).to.equal(16 * 2 + 2 * 8);
    });

    it('activation keeps the shape and has no parameters', () => {
      for (const shape of [DENSE, CONV]) {
        const f = facts(SAMPLE_NODES.activation, shape);
        expect(f.outputShape).to.deep.equal(shape);
        expect(f.weights).to.deep.equal([]);
        expect(f.flops).to.be.greaterThan(0);
      }
    });

    it('norm keeps the shape; layer norm has γ, β; batch norm adds non-trainable moving statistics', () => {
      expect(facts(SAMPLE_NODES.norm, DENSE).outputShape).to.deep.equal([64]);
      expect(weightCount(facts(SAMPLE_NODES.norm, DENSE).weights)).to.equal(128);
      const batch = facts({ ...SAMPLE_NODES.norm, params: { kind: 'batch', epsilon: 0.001 } }, CONV);
      expect(batch.outputShape).to.deep.equal([14, 14, 16]);
      expect(weightCount(batch.weights)).to.equal(4 * 16);
      expect(weightCount(batch.weights, true)).to.equal(2 * 16);
    });

    it('residual needs two equal shapes', () => {
      expect(facts(SAMPLE_NODES.residual, DENSE, DENSE).outputShape).to.deep.equal([64]);
      expect(facts(SAMPLE_NODES.residual, CONV, CONV).outputShape).to.deep.equal([14, 14, 16]);
      expect(problem(SAMPLE_NODES.residual, DENSE, [32])).to.match(/same shape/);
      expect(problem(SAMPLE_NODES.residual, CONV, [14, 14, 8])).to.match(/same shape/);
      expect(problem(SAMPLE_NODES.residual, DENSE)).to.match(/takes 2 input/);
    });

    it('squeeze-excitation keeps the shape: c·m + m + m·c + c with m = c / reduction', () => {
      expect(facts(SAMPLE_NODES.attention, DENSE).outputShape).to.deep.equal([64]);
      expect(weightCount(facts(SAMPLE_NODES.attention, DENSE).weights)).to.equal(64 * 16 + 16 + 16 * 64 + 64);
      expect(facts(SAMPLE_NODES.attention, CONV).outputShape).to.deep.equal([14, 14, 16]);
      expect(weightCount(facts(SAMPLE_NODES.attention, CONV).weights)).to.equal(16 * 4 + 4 + 4 * 16 + 16);
    });

    it('self-attention keeps the shape: 4·c·(h·d) + 3·h·d + c parameters; too many heads is a shape problem', () => {
      const self: BlueprintNode = { id: 'n', op: 'attention', inputs: ['input'], params: { kind: 'self', heads: 4 } };
      expect(facts(self, DENSE).outputShape).to.deep.equal([64]);
      expect(weightCount(facts(self, DENSE).weights)).to.equal(4 * 64 * 64 + 4 * 64);
      expect(facts(self, CONV).outputShape).to.deep.equal([14, 14, 16]);
      expect(weightCount(facts(self, CONV).weights)).to.equal(4 * 16 * 16 + 4 * 16);
      // 196 tokens: the scores grow with the square of the positions.
      expect(facts(self, CONV).flops).to.be.greaterThan(2 * 196 * 196 * 16);
      expect(problem({ ...self, params: { kind: 'self', heads: 32 } }, [16])).to.match(/needs at least 32 features/);
    });

    it('conv follows tfjs output sizes and needs a spatial input', () => {
      const same = facts(SAMPLE_NODES.conv, CONV);
      expect(same.outputShape).to.deep.equal([14, 14, 8]);
      expect(weightCount(same.weights)).to.equal(3 * 3 * 16 * 8 + 8);
      expect(same.flops).to.equal(196 * (2 * 9 * 16 * 8 + 8));
      const strided = facts({ ...SAMPLE_NODES.conv, params: { ...SAMPLE_NODES.conv.params, stride: 2 } }, CONV);
      expect(strided.outputShape).to.deep.equal([7, 7, 8]);
      const valid = facts({ ...SAMPLE_NODES.conv, params: { ...SAMPLE_NODES.conv.params, padding: 'valid' } }, CONV);
      expect(valid.outputShape).to.deep.equal([12, 12, 8]);
      expect(problem({ ...SAMPLE_NODES.conv, params: { ...SAMPLE_NODES.conv.params, kernelSize: 15, padding: 'valid' } }, CONV)).to.match(/does not fit/);
      expect(problem(SAMPLE_NODES.conv, DENSE)).to.match(/conv2d input/);
      expect(convOutputSize(15, 3, 2, 'same')).to.equal(8);
      expect(convOutputSize(15, 3, 2, 'valid')).to.equal(7);
    });

    it('depthwise multiplies the channels, always has a bias, and needs a spatial input', () => {
      const f = facts(SAMPLE_NODES.depthwise, CONV);
      expect(f.outputShape).to.deep.equal([14, 14, 32]);
      expect(weightCount(f.weights)).to.equal(3 * 3 * 16 * 2 + 32);
      expect(problem(SAMPLE_NODES.depthwise, DENSE)).to.match(/conv2d input/);
    });
  });

  it('FLOPs grow with width for every op', () => {
    for (const op of BLUEPRINT_OPS) {
      const node: BlueprintNode = SAMPLE_NODES[op];
      const spatial = op === 'conv' || op === 'depthwise';
      const narrow: Shape = spatial ? [14, 14, 16] : [64];
      const wide: Shape = spatial ? [14, 14, 32] : [128];
      const args = (s: Shape): Shape[] => (op === 'residual' ? [s, s] : [s]);
      expect(facts(node, ...args(wide)).flops, op).to.be.greaterThan(facts(node, ...args(narrow)).flops);
    }
  });

  describe('value at initialisation', () => {
    const zeroDense: BlueprintNode = { ...SAMPLE_NODES.dense, params: { ...SAMPLE_NODES.dense.params, init: 'zeros' } };

    it('a zero-initialised kernel gives zero; any layer maps zero to zero', () => {
      expect(layerAtInit(zeroDense, ['identity'])).to.equal('zero');
      expect(layerAtInit(SAMPLE_NODES.dense, ['identity'])).to.equal('other');
      expect(layerAtInit(SAMPLE_NODES.dense, ['zero'])).to.equal('zero');
      expect(layerAtInit(SAMPLE_NODES.low_rank, ['identity'])).to.equal('zero');
      expect(layerAtInit(SAMPLE_NODES.norm, ['identity'])).to.equal('other');
      expect(layerAtInit(SAMPLE_NODES.norm, ['zero'])).to.equal('zero');
      expect(layerAtInit(SAMPLE_NODES.attention, ['identity'])).to.equal('other');
    });

    it('activations: identity passes through, sigmoid(0) is not zero', () => {
      expect(layerAtInit({ id: 'a', op: 'activation', inputs: ['input'], params: { fn: 'identity' } }, ['identity'])).to.equal('identity');
      expect(layerAtInit({ id: 'a', op: 'activation', inputs: ['input'], params: { fn: 'gelu' } }, ['zero'])).to.equal('zero');
      expect(layerAtInit({ id: 'a', op: 'activation', inputs: ['input'], params: { fn: 'sigmoid' } }, ['zero'])).to.equal('other');
    });

    it('residual of zero and v is v; x + x is not the identity', () => {
      expect(layerAtInit(SAMPLE_NODES.residual, ['identity', 'zero'])).to.equal('identity');
      expect(layerAtInit(SAMPLE_NODES.residual, ['zero', 'identity'])).to.equal('identity');
      expect(layerAtInit(SAMPLE_NODES.residual, ['identity', 'identity'])).to.equal('other');
      expect(layerAtInit(SAMPLE_NODES.residual, ['zero', 'zero'])).to.equal('zero');
    });
  });
});
