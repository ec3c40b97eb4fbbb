import { createHash } from 'node:crypto';
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { analyzeBlueprint } from '../../../src/blueprint/blueprint-analysis.ts';
import {
  BLUEPRINT_CATALOG,
  catalogBlueprint,
  catalogWidthBlueprint,
  convWidthInterface,
  shapePreservingInterface,
  widthInterface,
  type CatalogEntry,
  type ConvWidthGeometry,
} from '../../../src/actors/karn/catalog.ts';
import { COMPILER_VERSION, compileKernel } from '../../../src/actors/tezzeret/compiler.ts';
import { decodeKernelArtifact, encodeKernelArtifact, kernelIdFor } from '../../../src/blueprint/kernel-artifact.ts';
import { loadKernel, readKernelHeader } from '../../../src/tensor/kernel-loader.ts';
import { KernelMetadataSchema } from '../../../src/contracts/tezzeret.ts';
import type { SlotInterface } from '../../../src/contracts/common.ts';
import type { BlueprintIR } from '../../../src/contracts/karn.ts';
import { selectBackend } from '../../../src/tensor/backend.ts';
import { rejectsWith, throwsWith } from '../../helpers/rejects-with.ts';

const DENSE = shapePreservingInterface([16]);
const CONV = shapePreservingInterface([6, 6, 4]);
/** A width slot on a 4-unit layer between 16 features and 5 outputs. */
const WIDEN = widthInterface(16, 5);

/** A conv width slot on a 3×3 block of 4 channels reading [6, 6, 2], flattened (3×3×4) into 5 outputs. */
const CONV_FLATTEN: ConvWidthGeometry = { kernelSize: 3, next: { kind: 'flatten', height: 3, width: 3 } };
const CONV_WIDEN = convWidthInterface([6, 6, 2], 5, CONV_FLATTEN);

/** The catalog IR of an entry at this file's interfaces (width blueprints at {@link WIDEN} or {@link CONV_WIDEN}, base width 4). */
function entryIr(entry: CatalogEntry): { ir: BlueprintIR; iface: SlotInterface } {
  if (entry.role === 'width' && entry.kinds.includes('conv2d')) return { ir: catalogWidthBlueprint(entry.name, CONV_WIDEN, 4, CONV_FLATTEN), iface: CONV_WIDEN };
  if (entry.role === 'width') return { ir: catalogWidthBlueprint(entry.name, WIDEN, 4), iface: WIDEN };
  const iface = entry.kinds.includes('dense') ? DENSE : CONV;
  return { ir: catalogBlueprint(entry.name, iface), iface };
}

function maxAbsOutput(module: ReturnType<typeof loadKernel>, batch = 3): number {
  return tf.tidy(() => {
    const x = tf.randomNormal([batch, ...module.interface.inputShape], 0, 1, 'float32', 42);
    return tf.max(tf.abs(module.forward(x))).dataSync()[0] ?? Number.NaN;
  });
}

function maxAbsDeviation(module: ReturnType<typeof loadKernel>, batch = 3): number {
  return tf.tidy(() => {
    const x = tf.randomNormal([batch, ...module.interface.inputShape], 0, 1, 'float32', 42);
    return tf.max(tf.abs(tf.sub(module.forward(x), x))).dataSync()[0] ?? Number.NaN;
  });
}

describe('Tezzeret compiler', function () {
  this.timeout(60_000);

  before(async () => {
    await selectBackend('wasm');
  });

  for (const entry of BLUEPRINT_CATALOG) {
    const { ir, iface } = entryIr(entry);
    it(`compiles catalog '${entry.name}' (${entry.role}, ${iface.kind}) into a loadable kernel whose module matches the analysis`, async () => {
      const analysis = analyzeBlueprint(ir);
      if (!analysis.ok) throw analysis.errors[0] ?? new Error('analysis failed');
      const before = tf.memory().numTensors;
      const compiled = await compileKernel({ ir, interface: iface, tier: 'fast', blueprintId: entry.name });
      expect(KernelMetadataSchema.safeParse(compiled.metadata).success).to.equal(true);
      const m = compiled.metadata;
      expect(m.status).to.equal('PENDING_VALIDATION');
      expect(m.irHash).to.equal(analysis.report.irHash);
      expect(m.paramCount).to.equal(analysis.report.paramCount);
      expect(m.flops).to.equal(analysis.report.flops);
      expect(m.blueprintId).to.equal(entry.name);
      expect(m.artifactRef.sizeBytes).to.equal(compiled.artifact.length);
      expect(m.artifactRef.sha256).to.equal(createHash('sha256').update(compiled.artifact).digest('hex'));
      expect(compiled.warmup).to.equal(undefined);
      const stats = readKernelHeader(compiled.artifact).stats;
      expect([stats.startsAsIdentity, stats.startsAsZero]).to.deep.equal([entry.startsAsIdentity, entry.startsAsZero]);
      const module = loadKernel(compiled.artifact);
      try {
        expect(module.paramCount).to.equal(analysis.report.paramCount);
        if (entry.startsAsZero) expect(maxAbsOutput(module)).to.equal(0);
        else if (entry.startsAsIdentity) expect(maxAbsDeviation(module)).to.be.at.most(1e-6);
        else expect(maxAbsDeviation(module)).to.be.greaterThan(1e-3);
      } finally {
        module.dispose();
      }
      expect(tf.memory().numTensors).to.equal(before);
    });
  }

  it('is content-addressed: the same IR twice gives the same kernel id and byte-identical artifacts; another tier another id', async () => {
    const ir = catalogBlueprint('mlp_small', CONV);
    const a = await compileKernel({ ir, tier: 'fast' });
    const b = await compileKernel({ ir: JSON.parse(JSON.stringify(ir)) as unknown, tier: 'fast' });
    expect(b.metadata.kernelId).to.equal(a.metadata.kernelId);
    expect(Buffer.from(b.artifact).equals(Buffer.from(a.artifact))).to.equal(true);
    const o1 = await compileKernel({ ir, tier: 'optimized', warmupPasses: 2 });
    const o2 = await compileKernel({ ir, tier: 'optimized', warmupPasses: 2 });
    expect(o1.metadata.kernelId).to.not.equal(a.metadata.kernelId);
    expect(o2.metadata.kernelId).to.equal(o1.metadata.kernelId);
    expect(Buffer.from(o2.artifact).equals(Buffer.from(o1.artifact))).to.equal(true);
    // Same IR, same initial weights: only the header differs between tiers.
    const wa = decodeKernelArtifact(a.artifact).weights;
    const wo = decodeKernelArtifact(o1.artifact).weights;
    expect(wo.map((w) => Array.from(w))).to.deep.equal(wa.map((w) => Array.from(w)));
    // The warm-up ran and was timed (beside the artifact, not in it).
    expect(o1.warmup?.passes).to.equal(2);
    expect(o1.warmup?.firstMs).to.be.greaterThan(0);
    expect(o1.warmup?.steadyMs).to.be.greaterThan(0);
    // A different IR (another width) is another kernel.
    const other = await compileKernel({ ir: catalogBlueprint('mlp_small', shapePreservingInterface([6, 6, 8])), tier: 'fast' });
    expect(other.metadata.kernelId).to.not.equal(a.metadata.kernelId);
  });

  it('derives the kernel id as documented: sha256("esper-kernel\\n" + irHash + "\\n" + version + "\\n" + backend + "\\n" + tier)', async () => {
    const ir = catalogBlueprint('lora_r4', DENSE);
    const { metadata } = await compileKernel({ ir, tier: 'fast' });
    const expected = createHash('sha256').update(`esper-kernel\n${metadata.irHash}\n${COMPILER_VERSION}\nwasm\nfast`).digest('hex');
    expect(metadata.backend).to.equal('wasm');
    expect(metadata.kernelId).to.equal(expected);
    expect(kernelIdFor(metadata.irHash, COMPILER_VERSION, 'wasm', 'fast')).to.equal(expected);
    expect(kernelIdFor(metadata.irHash, COMPILER_VERSION, 'cpu', 'fast')).to.not.equal(expected);
    expect(kernelIdFor(metadata.irHash, 'tezzeret-9', 'wasm', 'fast')).to.not.equal(expected);
  });

  it('compiles for the interface the job names (it replaces the IR’s own)', async () => {
    const ir = catalogBlueprint('lora_r4', DENSE);
    const wide = shapePreservingInterface([32]);
    const { metadata, artifact } = await compileKernel({ ir: { ...ir, nodes: catalogBlueprint('lora_r4', wide).nodes }, interface: wide, tier: 'fast' });
    expect(metadata.interface).to.deep.equal(wide);
    expect(readKernelHeader(artifact).interface).to.deep.equal(wide);
  });

  it('rejects a corrupt artifact with ESPER_KERNEL_CORRUPT (flipped weight byte, flipped header byte, truncated, forged header)', async () => {
    const { artifact } = await compileKernel({ ir: catalogBlueprint('mlp_small', DENSE), tier: 'fast' });
    const flip = (at: number): Uint8Array => {
      const copy = artifact.slice();
      copy[at] = (copy[at] ?? 0) ^ 0x01;
      return copy;
    };
    throwsWith(() => loadKernel(flip(artifact.length - 40)), 'ESPER_KERNEL_CORRUPT'); // a weight
    throwsWith(() => loadKernel(flip(20)), 'ESPER_KERNEL_CORRUPT'); // the header
    throwsWith(() => loadKernel(flip(artifact.length - 1)), 'ESPER_KERNEL_CORRUPT'); // the digest
    throwsWith(() => loadKernel(artifact.slice(0, artifact.length - 8)), 'ESPER_KERNEL_CORRUPT');
    throwsWith(() => loadKernel(new Uint8Array(10)), 'ESPER_KERNEL_CORRUPT');
    // A re-hashed artifact whose header lies about its IR hash is caught by re-analysis.
    const { header, weights } = decodeKernelArtifact(artifact);
    const forged = encodeKernelArtifact({ ...header, irHash: 'f'.repeat(64) }, weights);
    throwsWith(() => loadKernel(forged), 'ESPER_KERNEL_CORRUPT');
    const renamed = encodeKernelArtifact({ ...header, kernelId: 'e'.repeat(64) }, weights);
    throwsWith(() => loadKernel(renamed), 'ESPER_KERNEL_CORRUPT');
    // The untouched artifact still loads, also as an unaligned view into a larger buffer (a Buffer slab, a network frame).
    loadKernel(artifact).dispose();
    const frame = new Uint8Array(artifact.length + 9);
    frame.set(artifact, 5);
    loadKernel(frame.subarray(5, 5 + artifact.length)).dispose();
  });

  it('writes startsAsZero into the header stats, and still reads a header written without it', async () => {
    const widen = await compileKernel({ ir: catalogWidthBlueprint('widen_x2', WIDEN, 4), tier: 'fast' });
    expect(readKernelHeader(widen.artifact).stats).to.include({ startsAsZero: true, startsAsIdentity: false });
    const { artifact } = await compileKernel({ ir: catalogBlueprint('lora_r4', DENSE), tier: 'fast' });
    const { header, weights } = decodeKernelArtifact(artifact);
    expect(header.stats.startsAsZero).to.equal(false);
    const { startsAsZero: _dropped, ...oldStats } = header.stats;
    const old = encodeKernelArtifact({ ...header, stats: oldStats }, weights);
    expect(decodeKernelArtifact(old).header.stats).to.not.have.property('startsAsZero');
    const module = loadKernel(old);
    try {
      expect(module.report.startsAsZero).to.equal(false);
      expect(maxAbsDeviation(module)).to.be.at.most(1e-6);
    } finally {
      module.dispose();
    }
  });

  it('refuses a blueprint that fails analysis with its coded, non-retryable error', async () => {
    const ir = catalogBlueprint('mlp_small', DENSE);
    const error = await rejectsWith(compileKernel({ ir: { ...ir, output: 'up' }, tier: 'fast' }));
    expect(error.code).to.match(/^ESPER_BLUEPRINT_/);
    expect(error.retryable).to.equal(false);
    await rejectsWith(compileKernel({ ir, tier: 'fast', limits: { maxParams: 10 } }), 'ESPER_BLUEPRINT_LIMIT');
  });
});
