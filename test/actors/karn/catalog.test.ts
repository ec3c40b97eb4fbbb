import { expect } from 'chai';
import type { SlotInterface } from '../../../src/contracts/common.ts';
import { BlueprintIRSchema } from '../../../src/contracts/karn.ts';
import { analyzeBlueprint, type BlueprintReport } from '../../../src/blueprint/blueprint-analysis.ts';
import {
  BLUEPRINT_CATALOG,
  CATALOG_NAMES,
  catalogBlueprint,
  catalogEntry,
  catalogFor,
  shapePreservingInterface,
} from '../../../src/actors/karn/catalog.ts';
import { CONV_14, DENSE_128, DENSE_64 } from './support.ts';

function report(name: string, iface: SlotInterface): BlueprintReport {
  const analysis = analyzeBlueprint(catalogBlueprint(name, iface));
  if (!analysis.ok) throw new Error(`${name} at ${iface.kind}: ${analysis.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  return analysis.report;
}

const REPRESENTATIVE: readonly SlotInterface[] = [DENSE_64, DENSE_128, CONV_14];

describe('blueprint catalog', () => {
  it('has at least eight blueprints covering the digest catalog, for both slot kinds', () => {
    expect(CATALOG_NAMES.length).to.be.at.least(8);
    expect(CATALOG_NAMES).to.include.members(['norm', 'mlp_small', 'mlp_large', 'lora_r4', 'lora_r16', 'attention_se', 'conv_light', 'depthwise', 'bottleneck']);
    expect(new Set(CATALOG_NAMES).size).to.equal(CATALOG_NAMES.length);
    expect(catalogFor(DENSE_128).length).to.be.at.least(6);
    expect(catalogFor(CONV_14).length).to.equal(BLUEPRINT_CATALOG.length);
  });

  for (const iface of REPRESENTATIVE) {
    const label = `${iface.kind} ${iface.inputShape.join('x')}`;
    it(`every blueprint for ${label} parses, passes analysis, preserves the shape and has the documented identity flag`, () => {
      for (const entry of BLUEPRINT_CATALOG.filter((e) => e.kinds.includes(iface.kind))) {
        const ir = catalogBlueprint(entry.name, iface);
        expect(BlueprintIRSchema.safeParse(ir).success, entry.name).to.equal(true);
        const r = report(entry.name, iface);
        expect(r.outputShape, entry.name).to.deep.equal(iface.outputShape);
        expect(r.startsAsIdentity, entry.name).to.equal(entry.startsAsIdentity);
        expect(r.paramCount, entry.name).to.be.greaterThan(0);
        expect(r.flops, entry.name).to.be.greaterThan(0);
      }
    });
  }

  it('starts as the identity, except squeeze-excitation', () => {
    expect(BLUEPRINT_CATALOG.filter((e) => !e.startsAsIdentity).map((e) => e.name)).to.deep.equal(['attention_se']);
  });

  it('matches hand-computed parameter counts', () => {
    // 2×: 128·256 + 256 + 256·128 + 128
    expect(report('mlp_small', DENSE_128).paramCount).to.equal(65_920);
    // 4×: 128·512 + 512 + 512·128 + 128
    expect(report('mlp_large', DENSE_128).paramCount).to.equal(131_712);
    expect(report('lora_r4', DENSE_128).paramCount).to.equal(2 * 128 * 4);
    expect(report('lora_r16', DENSE_64).paramCount).to.equal(2 * 64 * 16);
    // layer norm 2·128 + rank-1 gate 128 + 128
    expect(report('norm', DENSE_128).paramCount).to.equal(512);
    // batch norm 4·16 (2·16 trainable) + 1×1 depthwise gate 16 + bias 16
    expect(report('norm', CONV_14).paramCount).to.equal(96);
    expect(report('norm', CONV_14).trainableParamCount).to.equal(64);
    // 3×3·16·16 + 16
    expect(report('conv_light', CONV_14).paramCount).to.equal(2_320);
    // depthwise 3×3·16 + 16, pointwise 16·16 + 16
    expect(report('depthwise', CONV_14).paramCount).to.equal(432);
    // 16→4 (64 + 4), 3×3·4·4 + 4, 4→16 (64 + 16)
    expect(report('bottleneck', CONV_14).paramCount).to.equal(296);
    // SE, reduction 4: 16·4 + 4 + 4·16 + 16
    expect(report('attention_se', CONV_14).paramCount).to.equal(148);
  });

  it('matches the digest catalog sizes at C = 64 (conv) and d = 384 (dense)', () => {
    const c64 = shapePreservingInterface([8, 8, 64]);
    expect(report('conv_light', c64).paramCount).to.equal(36_928);
    expect(report('depthwise', c64).paramCount).to.equal(4_800);
    expect(report('attention_se', c64).paramCount).to.equal(2_128);
    expect(report('bottleneck', c64).paramCount).to.be.within(4_000, 5_000);
    const d384 = shapePreservingInterface([384]);
    expect(report('mlp_small', d384).paramCount).to.equal(590_976);
    expect(report('mlp_large', d384).paramCount).to.equal(1_181_568);
  });

  it('FLOPs grow with the width or channels of the slot', () => {
    for (const entry of BLUEPRINT_CATALOG) {
      if (entry.kinds.includes('dense')) {
        expect(report(entry.name, DENSE_128).flops, entry.name).to.be.greaterThan(report(entry.name, DENSE_64).flops);
      }
      const wide = shapePreservingInterface([14, 14, 32]);
      expect(report(entry.name, wide).flops, entry.name).to.be.greaterThan(report(entry.name, CONV_14).flops);
    }
  });

  it('gives different irHashes to different blueprints and slots', () => {
    const hashes = REPRESENTATIVE.flatMap((iface) => catalogFor(iface).map((ir) => report(ir.name, iface).irHash));
    expect(new Set(hashes).size).to.equal(hashes.length);
  });

  it('refuses unknown names and slot kinds a blueprint cannot fill', () => {
    expect(() => catalogBlueprint('nope', DENSE_128)).to.throw(RangeError, /no blueprint 'nope'/);
    expect(() => catalogBlueprint('conv_light', DENSE_128)).to.throw(RangeError, /does not fit a dense slot/);
    expect(catalogEntry('norm')?.kinds).to.deep.equal(['dense', 'conv2d']);
  });
});
