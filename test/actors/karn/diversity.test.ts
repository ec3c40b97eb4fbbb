import { expect } from 'chai';
import type { SlotInterface } from '../../../src/contracts/common.ts';
import {
  BlueprintRegistry,
  DIVERSITY_WEIGHTS,
  analyzeBlueprint,
  blueprintFeatures,
  catalogBlueprint,
  catalogFor,
  diversity,
  featureDistance,
  novelty,
  spread,
  type BlueprintFeatures,
  type BlueprintReport,
} from '../../../src/actors/karn/index.ts';
import { CONV_14, DENSE_64 } from './support.ts';
import { throwsWith } from '../../helpers/rejects-with.ts';

function report(ir: unknown, iface?: SlotInterface): BlueprintReport {
  const analysis = analyzeBlueprint(ir, iface === undefined ? {} : { interface: iface });
  if (!analysis.ok) throw new Error(analysis.errors.map((e) => e.message).join('; '));
  return analysis.report;
}

const catalogFeatures = (iface: SlotInterface): BlueprintFeatures[] => catalogFor(iface).map((ir) => blueprintFeatures(report(ir)));

describe('Karn diversity', () => {
  describe('registry', () => {
    const lora = report(catalogBlueprint('lora_r4', DENSE_64));
    const mlp = report(catalogBlueprint('mlp_small', DENSE_64));
    const entry = (blueprintId: string, r: BlueprintReport): Parameters<BlueprintRegistry['add']>[0] => ({
      blueprintId,
      irHash: r.irHash,
      interfaceKey: r.interfaceKey,
      features: blueprintFeatures(r),
    });

    it('rejects a second blueprint with the same IR hash, naming the existing one', () => {
      const registry = new BlueprintRegistry();
      registry.add(entry('bp-a', lora));
      const error = throwsWith(() => registry.add(entry('bp-b', lora)));
      expect(error.code).to.equal('ESPER_BLUEPRINT_DUPLICATE');
      expect(error.details).to.deep.equal({ irHash: lora.irHash, existingId: 'bp-a' });
      expect(registry.size).to.equal(1);
      expect(registry.get(lora.irHash)?.blueprintId).to.equal('bp-a');
    });

    it('rejects an id held by another IR, and lists by interface', () => {
      const registry = new BlueprintRegistry();
      registry.add(entry('bp-a', lora));
      expect(throwsWith(() => registry.add(entry('bp-a', mlp))).code).to.equal('ESPER_CONFLICT');
      registry.add(entry('bp-m', mlp));
      const conv = report(catalogBlueprint('conv_light', CONV_14));
      registry.add(entry('bp-c', conv));
      expect(registry.list(lora.interfaceKey).map((e) => e.blueprintId)).to.deep.equal(['bp-a', 'bp-m']);
      expect(registry.byId('bp-c')?.irHash).to.equal(conv.irHash);
      expect(registry.has(mlp.irHash)).to.equal(true);
      expect(registry.diversity(conv.interfaceKey)).to.equal(0);
      expect(registry.diversity(lora.interfaceKey)).to.be.greaterThan(0);
    });
  });

  describe('measure', () => {
    it('is a distance in [0, 1]: zero to itself, symmetric, 1 for opposite features', () => {
      const features = catalogFeatures(CONV_14);
      for (const a of features) {
        expect(featureDistance(a, a)).to.equal(0);
        for (const b of features) {
          const d = featureDistance(a, b);
          expect(d).to.be.within(0, 1);
          expect(featureDistance(b, a)).to.be.closeTo(d, 1e-12);
        }
      }
      const zeroOps = { dense: 0, low_rank: 0, activation: 0, norm: 0, residual: 0, attention: 0, conv: 0, depthwise: 0 };
      const tiny: BlueprintFeatures = { ops: { ...zeroOps, dense: 1 }, logParams: 0, logDepth: 0, identity: 0 };
      const huge: BlueprintFeatures = { ops: { ...zeroOps, conv: 1 }, logParams: 7, logDepth: 2, identity: 1 };
      expect(featureDistance(tiny, huge)).to.be.closeTo(1, 1e-12);
      // Only the identity flag differs: its weight.
      expect(featureDistance(tiny, { ...tiny, identity: 1 })).to.be.closeTo(DIVERSITY_WEIGHTS.identity, 1e-12);
    });

    it('describes a blueprint by its op histogram, log parameters, log depth and identity flag', () => {
      const r = report(catalogBlueprint('mlp_small', DENSE_64));
      const f = blueprintFeatures(r);
      expect(f.ops.dense).to.be.closeTo(0.5, 1e-12);
      expect(f.ops.activation).to.be.closeTo(0.25, 1e-12);
      expect(f.ops.residual).to.be.closeTo(0.25, 1e-12);
      expect(f.logParams).to.be.closeTo(Math.log10(1 + r.paramCount), 1e-12);
      expect(f.logDepth).to.be.closeTo(Math.log10(1 + r.depth), 1e-12);
      expect(f.identity).to.equal(1);
    });

    it('gives 0 for a set of identical blueprints (and for fewer than two)', () => {
      const one = blueprintFeatures(report(catalogBlueprint('depthwise', CONV_14)));
      expect(diversity([one, one, one, one])).to.equal(0);
      expect(diversity([one])).to.equal(0);
      expect(diversity([])).to.equal(0);
    });

    it('scores the catalog about 0.1: different ops, but near-twins that differ only in size', () => {
      // Measured 0.098 (dense, 6 blueprints) and 0.132 (conv2d, 9). Each member counts its NEAREST
      // neighbour, and lora_r4/lora_r16 (0.027 apart) and mlp_small/mlp_large (0.013) are near-twins;
      // attention_se (the only non-identity blueprint, 0.35 from anything) and norm lift the mean.
      expect(diversity(catalogFeatures(DENSE_64))).to.be.within(0.08, 0.12);
      expect(diversity(catalogFeatures(CONV_14))).to.be.within(0.11, 0.16);
      // Dropping one of each pair of twins makes the set far more diverse.
      const names = ['norm', 'mlp_small', 'lora_r4', 'attention_se', 'conv_light', 'depthwise'];
      const distinct = names.map((name) => blueprintFeatures(report(catalogBlueprint(name, CONV_14))));
      expect(diversity(distinct)).to.be.greaterThan(0.2);
    });

    it('spreads the catalog over more than 0.3 (mean pairwise distance)', () => {
      // Most catalog pairs share only the residual op (histogram distance ½–¾) and sizes span 100 to 33,000 parameters.
      for (const iface of [DENSE_64, CONV_14]) expect(spread(catalogFeatures(iface)), iface.kind).to.be.within(0.3, 0.4);
      const one = blueprintFeatures(report(catalogBlueprint('norm', DENSE_64)));
      expect(spread([one, one, one])).to.equal(0);
    });

    it('drops when a clone of any catalog blueprint is added; the clone has novelty 0', () => {
      for (const iface of [DENSE_64, CONV_14]) {
        const features = catalogFeatures(iface);
        const before = diversity(features);
        for (const member of features) {
          expect(diversity([...features, member])).to.be.lessThan(before);
          expect(novelty(member, features)).to.equal(0);
        }
      }
    });

    it('drops when an outlier of a tight set is cloned, where the spread rises', () => {
      const a = blueprintFeatures(report(catalogBlueprint('lora_r4', DENSE_64)));
      const far = blueprintFeatures(report(catalogBlueprint('attention_se', DENSE_64)));
      const tight = [a, a, a, far];
      expect(diversity([...tight, far])).to.be.lessThan(diversity(tight));
      expect(spread([...tight, far])).to.be.greaterThan(spread(tight));
      expect(novelty(far, tight)).to.equal(0);
      expect(novelty(far, [])).to.equal(1);
    });
  });
});
