import { expect } from 'chai';
import type { SlotInterface } from '../../../src/contracts/common.ts';
import { BlueprintIRSchema } from '../../../src/contracts/karn.ts';
import { analyzeBlueprint, type BlueprintReport } from '../../../src/blueprint/blueprint-analysis.ts';
import {
  BLUEPRINT_CATALOG,
  CATALOG_NAMES,
  WIDTH_ROLE_TAG,
  catalogBlueprint,
  catalogEntry,
  catalogFits,
  catalogFor,
  catalogWidthBlueprint,
  catalogWidthFor,
  convWidthInterface,
  shapePreservingInterface,
  widthInterface,
  type CatalogEntry,
  type ConvWidthGeometry,
} from '../../../src/actors/karn/catalog.ts';
import { mutate } from '../../../src/actors/karn/mutation.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { CONV_14, DENSE_128, DENSE_64 } from './support.ts';

function report(name: string, iface: SlotInterface): BlueprintReport {
  const analysis = analyzeBlueprint(catalogBlueprint(name, iface));
  if (!analysis.ok) throw new Error(`${name} at ${iface.kind}: ${analysis.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  return analysis.report;
}

const REPRESENTATIVE: readonly SlotInterface[] = [DENSE_64, DENSE_128, CONV_14];
const DEPTH = BLUEPRINT_CATALOG.filter((e) => e.role === 'depth');
/** The dense width family (MLP hidden layers and a CNN's dense layers). */
const WIDTH = BLUEPRINT_CATALOG.filter((e) => e.role === 'width' && e.kinds.includes('dense'));
/** The conv width family (channels of a conv block). */
const CONV_WIDTH = BLUEPRINT_CATALOG.filter((e) => e.role === 'width' && e.kinds.includes('conv2d'));
/** A width slot on a 16-unit hidden layer between 784 inputs and 10 classes. */
const WIDEN_784 = widthInterface(784, 10);

function widthReport(name: string, iface: SlotInterface, baseWidth: number): BlueprintReport {
  const analysis = analyzeBlueprint(catalogWidthBlueprint(name, iface, baseWidth));
  if (!analysis.ok) throw new Error(`${name}: ${analysis.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  return analysis.report;
}

describe('blueprint catalog', () => {
  it('has at least eight blueprints covering the digest catalog, for both slot kinds', () => {
    expect(CATALOG_NAMES.length).to.be.at.least(8);
    expect(CATALOG_NAMES).to.include.members(['norm', 'mlp_small', 'mlp_large', 'lora_r4', 'lora_r16', 'attention_se', 'conv_light', 'depthwise', 'bottleneck']);
    expect(new Set(CATALOG_NAMES).size).to.equal(CATALOG_NAMES.length);
    expect(catalogFor(DENSE_128).length).to.be.at.least(6);
    expect(catalogFor(CONV_14).length).to.equal(DEPTH.length);
  });

  for (const iface of REPRESENTATIVE) {
    const label = `${iface.kind} ${iface.inputShape.join('x')}`;
    it(`every blueprint for ${label} parses, passes analysis, preserves the shape and has the documented identity flag`, () => {
      for (const entry of DEPTH.filter((e) => e.kinds.includes(iface.kind))) {
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
    expect(DEPTH.filter((e) => !e.startsAsIdentity).map((e) => e.name)).to.deep.equal(['attention_se']);
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
    for (const entry of DEPTH) {
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

  describe('width family', () => {
    it('has widen_x1, _x2, _x4, _x8 (gradient-aimed) and widen_random_x2, role width, dense only, starting as zero', () => {
      expect(WIDTH.map((e) => e.name)).to.deep.equal(['widen_x1', 'widen_x2', 'widen_x4', 'widen_x8', 'widen_random_x2']);
      expect(DEPTH.map((e) => e.name)).to.include.members(['norm', 'mlp_small', 'bottleneck']);
      expect(DEPTH.length + WIDTH.length + CONV_WIDTH.length).to.equal(BLUEPRINT_CATALOG.length);
      for (const entry of WIDTH) {
        expect(entry.kinds, entry.name).to.deep.equal(['dense']);
        expect(entry.startsAsZero, entry.name).to.equal(true);
        expect(entry.startsAsIdentity, entry.name).to.equal(false);
        expect(entry.tags, entry.name).to.include(entry.name === 'widen_random_x2' ? 'init:random' : 'init:gradient');
      }
      for (const entry of DEPTH) expect(entry.startsAsZero, entry.name).to.equal(false);
      expect(WIDTH.map((e) => (e.role === 'width' ? e.factor : 0))).to.deep.equal([1, 2, 4, 8, 2]);
      expect(catalogEntry('widen_x4')?.role).to.equal('width');
      expect(catalogEntry('mlp_small')?.role).to.equal('depth');
    });

    it('builds dense(k = factor × base width, he) → relu → dense(outputs, zeros) for dense [inputs] → [outputs], starting as zero', () => {
      for (const entry of WIDTH) {
        if (entry.role !== 'width') continue;
        const ir = catalogWidthBlueprint(entry.name, WIDEN_784, 16);
        expect(BlueprintIRSchema.safeParse(ir).success, entry.name).to.equal(true);
        expect(ir.interface).to.deep.equal({ kind: 'dense', inputShape: [784], outputShape: [10], dtype: 'float32' });
        expect(ir.tags).to.include.members([WIDTH_ROLE_TAG, 'slot:dense', 'width']);
        const k = entry.factor * 16;
        expect(ir.nodes).to.deep.equal([
          { id: 'psi', op: 'dense', inputs: ['input'], params: { units: k, useBias: true, init: 'he_normal' } },
          { id: 'act', op: 'activation', inputs: ['psi'], params: { fn: 'relu' } },
          { id: 'omega', op: 'dense', inputs: ['act'], params: { units: 10, useBias: true, init: 'zeros' } },
        ]);
        expect(ir.output).to.equal('omega');
        const r = widthReport(entry.name, WIDEN_784, 16);
        expect(r.startsAsZero, entry.name).to.equal(true);
        expect(r.startsAsIdentity, entry.name).to.equal(false);
        expect(r.outputShape).to.deep.equal([10]);
        expect(r.paramCount, entry.name).to.equal(784 * k + k + k * 10 + 10);
      }
    });

    it('k = max(1, factor × base width); a depth-shaped interface works too (inputs = outputs)', () => {
      const units = (name: string, iface: SlotInterface, base: number): unknown => catalogWidthBlueprint(name, iface, base).nodes[0]?.params;
      expect(units('widen_x1', widthInterface(2, 3), 1)).to.include({ units: 1 });
      expect(units('widen_x8', widthInterface(2, 3), 4)).to.include({ units: 32 });
      expect(units('widen_random_x2', DENSE_64, 64)).to.include({ units: 128 });
      expect(widthReport('widen_x2', DENSE_64, 8).startsAsZero).to.equal(true);
      // Different base widths, interfaces and names are different blueprints (different kernels), even at the same k.
      const reports = [widthReport('widen_x2', WIDEN_784, 16), widthReport('widen_x2', WIDEN_784, 32), widthReport('widen_x2', widthInterface(784, 12), 16), widthReport('widen_x4', WIDEN_784, 8)];
      expect(new Set(reports.map((r) => r.irHash)).size).to.equal(4);
      expect(reports[0]?.paramCount).to.equal(reports[3]?.paramCount);
    });

    it('catalogFits matches role, kind and (for depth) a shape-preserving interface', () => {
      const entry = (name: string): CatalogEntry => catalogEntry(name) as CatalogEntry;
      expect(catalogFits(entry('widen_x2'), 'width', WIDEN_784)).to.equal(true);
      expect(catalogFits(entry('widen_x2'), 'width', DENSE_64)).to.equal(true);
      expect(catalogFits(entry('widen_x2'), 'depth', DENSE_64)).to.equal(false);
      expect(catalogFits(entry('widen_x2'), 'width', CONV_14)).to.equal(false);
      expect(catalogFits(entry('mlp_small'), 'depth', DENSE_64)).to.equal(true);
      expect(catalogFits(entry('mlp_small'), 'depth', WIDEN_784)).to.equal(false);
      expect(catalogFits(entry('mlp_small'), 'width', WIDEN_784)).to.equal(false);
      expect(catalogFits(entry('conv_light'), 'depth', CONV_14)).to.equal(true);
      expect(catalogFor(WIDEN_784)).to.deep.equal([]);
      expect(catalogWidthFor(WIDEN_784, 16).map((ir) => ir.name)).to.deep.equal(WIDTH.map((e) => e.name));
      expect(catalogWidthFor(CONV_14, 16).map((ir) => ir.name)).to.deep.equal(CONV_WIDTH.map((e) => e.name));
    });

    it('refuses a width blueprint in catalogBlueprint, a depth one in catalogWidthBlueprint, conv slots and bad base widths', () => {
      expect(() => catalogBlueprint('widen_x2', DENSE_64)).to.throw(RangeError, /width blueprint; build it with catalogWidthBlueprint/);
      expect(() => catalogWidthBlueprint('mlp_small', WIDEN_784, 16)).to.throw(RangeError, /depth blueprint; build it with catalogBlueprint/);
      expect(() => catalogWidthBlueprint('widen_x2', CONV_14, 16)).to.throw(RangeError, /does not fit a conv2d slot/);
      expect(() => catalogWidthBlueprint('nope', WIDEN_784, 16)).to.throw(RangeError, /no blueprint 'nope'/);
      for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => catalogWidthBlueprint('widen_x2', WIDEN_784, bad)).to.throw(RangeError, /base width/);
    });
  });

  describe('conv width family', () => {
    // A CNN on 28×28×1 images: block 1 (3×3, 4 channels) then block 2 (5×5, 8 channels), or block 1 flattened into 10 logits.
    const TO_CONV: ConvWidthGeometry = { kernelSize: 3, next: { kind: 'conv', kernelSize: 5 } };
    const TO_DENSE: ConvWidthGeometry = { kernelSize: 3, next: { kind: 'flatten', height: 14, width: 14 } };

    it('has widen_conv_x1, _x2, _x4, _x8: role width, conv2d only, gradient-chosen, starting as zero', () => {
      expect(CONV_WIDTH.map((e) => e.name)).to.deep.equal(['widen_conv_x1', 'widen_conv_x2', 'widen_conv_x4', 'widen_conv_x8']);
      for (const entry of CONV_WIDTH) {
        expect(entry.kinds, entry.name).to.deep.equal(['conv2d']);
        expect(entry.startsAsZero, entry.name).to.equal(true);
        expect(entry.tags, entry.name).to.include.members(['width', 'init:gradient']);
        expect(entry.summary, entry.name).to.match(/no pool/);
      }
      expect(CONV_WIDTH.map((e) => (e.role === 'width' ? e.factor : 0))).to.deep.equal([1, 2, 4, 8]);
    });

    it('conv width interfaces read the block input; Ω gives the next conv block, or the valid window of the pooled map for a flatten', () => {
      expect(convWidthInterface([28, 28, 1], 8, TO_CONV)).to.deep.equal({ kind: 'conv2d', inputShape: [28, 28, 1], outputShape: [28, 28, 8], dtype: 'float32' });
      expect(convWidthInterface([28, 28, 1], 10, TO_DENSE)).to.deep.equal({ kind: 'conv2d', inputShape: [28, 28, 1], outputShape: [15, 15, 10], dtype: 'float32' });
      expect(() => convWidthInterface([33, 33, 1], 10, { kernelSize: 3, next: { kind: 'flatten', height: 16, width: 16 } })).to.throw(RangeError, /at most 15/);
      expect(() => convWidthInterface([28, 26, 1], 10, { kernelSize: 3, next: { kind: 'flatten', height: 14, width: 13 } })).to.throw(RangeError, /not a square/);
    });

    it('builds conv(k, the block kernel, he) → relu → conv(outputs, zeros, no bias) holding exactly the seed parameters', () => {
      for (const entry of CONV_WIDTH) {
        if (entry.role !== 'width') continue;
        const k = entry.factor * 4;
        const toConv = catalogWidthBlueprint(entry.name, convWidthInterface([28, 28, 1], 8, TO_CONV), 4, TO_CONV);
        expect(BlueprintIRSchema.safeParse(toConv).success, entry.name).to.equal(true);
        expect(toConv.tags).to.include.members([WIDTH_ROLE_TAG, 'slot:conv2d', 'width']);
        expect(toConv.nodes).to.deep.equal([
          { id: 'psi', op: 'conv', inputs: ['input'], params: { filters: k, kernelSize: 3, stride: 1, padding: 'same', useBias: true, init: 'he_normal' } },
          { id: 'act', op: 'activation', inputs: ['psi'], params: { fn: 'relu' } },
          { id: 'omega', op: 'conv', inputs: ['act'], params: { filters: 8, kernelSize: 5, padding: 'same', stride: 1, useBias: false, init: 'zeros' } },
        ]);
        const a = analyzeBlueprint(toConv);
        if (!a.ok) throw new Error(a.errors.map((e) => e.message).join('; '));
        expect(a.report.startsAsZero, entry.name).to.equal(true);
        expect(a.report.outputShape).to.deep.equal([28, 28, 8]);
        // Ψ [3, 3, 1, k] + b [k] + Ω [5, 5, k, 8]: the width seed's own parameters.
        expect(a.report.paramCount, entry.name).to.equal(9 * k + k + 25 * k * 8);
        const toDense = catalogWidthBlueprint(entry.name, convWidthInterface([28, 28, 1], 10, TO_DENSE), 4, TO_DENSE);
        expect(toDense.nodes[2]).to.deep.equal({ id: 'omega', op: 'conv', inputs: ['act'], params: { filters: 10, kernelSize: 14, padding: 'valid', stride: 1, useBias: false, init: 'zeros' } });
        const b = analyzeBlueprint(toDense);
        if (!b.ok) throw new Error(b.errors.map((e) => e.message).join('; '));
        expect(b.report.startsAsZero, entry.name).to.equal(true);
        // Ω is the flatten dense [14·14·k, 10].
        expect(b.report.paramCount, entry.name).to.equal(9 * k + k + 14 * 14 * k * 10);
      }
    });

    it('Karn mutates only k (Ψ\'s filters) of a conv width blueprint, keeping the zero start', () => {
      const ir = catalogWidthBlueprint('widen_conv_x2', convWidthInterface([28, 28, 1], 10, TO_DENSE), 2, TO_DENSE);
      for (let s = 0; s < 6; s++) {
        const child = mutate(ir, new Rng(s));
        expect(child?.mutation).to.deep.include({ kind: 'width', nodeId: 'psi' });
        expect(child?.report.startsAsZero).to.equal(true);
        expect(child?.ir.nodes.slice(1)).to.deep.equal(ir.nodes.slice(1));
      }
    });

    it('defaults to 3×3 blocks one after another, and refuses a conv geometry on a dense slot or one no window holds', () => {
      expect(catalogWidthBlueprint('widen_conv_x2', CONV_14, 16).nodes.map((n) => n.params)).to.deep.include({ filters: 16, kernelSize: 3, padding: 'same', stride: 1, useBias: false, init: 'zeros' });
      expect(catalogFits(catalogEntry('widen_conv_x2') as CatalogEntry, 'width', CONV_14)).to.equal(true);
      expect(catalogFits(catalogEntry('widen_conv_x2') as CatalogEntry, 'width', WIDEN_784)).to.equal(false);
      expect(catalogFits(catalogEntry('widen_conv_x2') as CatalogEntry, 'depth', CONV_14)).to.equal(false);
      expect(() => catalogWidthBlueprint('widen_conv_x2', WIDEN_784, 16)).to.throw(RangeError, /does not fit a dense slot/);
      expect(() => catalogWidthBlueprint('widen_x2', WIDEN_784, 16, TO_CONV)).to.throw(RangeError, /conv geometry for a dense slot/);
      expect(() => catalogWidthBlueprint('widen_conv_x2', CONV_14, 16, { kernelSize: 3, next: { kind: 'flatten', height: 7, width: 6 } })).to.throw(RangeError, /not a square/);
      expect(catalogFor(CONV_14).map((ir) => ir.name)).to.not.include('widen_conv_x2');
    });
  });
});
