import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { catalogBlueprint, shapePreservingInterface } from '../../src/actors/karn/catalog.ts';
import { compileKernel } from '../../src/actors/tezzeret/compiler.ts';
import { EsperError } from '../../src/errors/index.ts';
import { quietCpuBackend, selectBackend } from '../../src/tensor/backend.ts';
import type { BlueprintModule } from '../../src/tensor/blueprint-module.ts';
import { Rng } from '../../src/tensor/rng.ts';
import { seedModuleFrom } from '../../src/tensor/seed-module-source.ts';

describe('seedModuleFrom (what a germinating seed is built from)', () => {
  before(async () => {
    quietCpuBackend();
    await selectBackend('cpu');
  });

  it('loads a compiled kernel with the artifact’s own initial weights, the same every time', async () => {
    const { metadata, artifact } = await compileKernel({ ir: catalogBlueprint('mlp_small', shapePreservingInterface([6])), tier: 'fast' });
    const a = seedModuleFrom({ kernel: { kernelId: metadata.kernelId, artifact } }, 'h1', [6], new Rng(1)) as BlueprintModule;
    const b = seedModuleFrom({ kernel: { kernelId: metadata.kernelId, artifact } }, 'h1', [6], new Rng(2)) as BlueprintModule;
    expect(a.kind).to.equal('blueprint');
    expect(a.paramCount).to.equal(metadata.paramCount);
    expect(a.ir).to.deep.include({ name: 'mlp_small' });
    expect(a.readWeights().map((w) => [...w])).to.deep.equal(b.readWeights().map((w) => [...w]));
    // An identity-start kernel contributes nothing at first.
    const contribution = tf.tidy(() => a.apply(tf.ones([2, 6])).abs().max().dataSync()[0]);
    expect(contribution).to.equal(0);
    a.dispose();
    b.dispose();
  });

  it('refuses an artifact that is not the kernel named, or that does not fit the slot', async () => {
    const { metadata, artifact } = await compileKernel({ ir: catalogBlueprint('lora_r4', shapePreservingInterface([6])), tier: 'fast' });
    const before = tf.memory().numTensors;
    expect(() => seedModuleFrom({ kernel: { kernelId: 'f'.repeat(64), artifact } }, 'h1', [6], new Rng(1))).to.throw(EsperError).with.property('code', 'ESPER_KERNEL_CORRUPT');
    expect(() => seedModuleFrom({ kernel: { kernelId: metadata.kernelId, artifact } }, 'h1', [8], new Rng(1)))
      .to.throw(EsperError, /carries \[8\]/)
      .with.property('code', 'ESPER_CONFIG_INVALID');
    const damaged = artifact.slice();
    damaged[damaged.length - 40] = (damaged[damaged.length - 40] ?? 0) ^ 0xff;
    expect(() => seedModuleFrom({ kernel: { kernelId: metadata.kernelId, artifact: damaged } }, 'h1', [6], new Rng(1))).to.throw(EsperError).with.property('code', 'ESPER_KERNEL_CORRUPT');
    expect(tf.memory().numTensors, 'nothing leaked').to.equal(before);
  });

  it('builds built-in modules with fresh weights from the seed’s Rng, and refuses unknown kinds', () => {
    const a = seedModuleFrom({ kind: 'residual-dense', config: { hidden: 4 } }, 'h1', [3], new Rng(1));
    const b = seedModuleFrom({ kind: 'residual-dense', config: { hidden: 4 } }, 'h1', [3], new Rng(2));
    expect(a.paramCount).to.equal(3 * 4 + 4 + 4 * 3 + 3);
    expect([...(a.params[0]?.dataSync() ?? [])]).not.to.deep.equal([...(b.params[0]?.dataSync() ?? [])]);
    a.dispose();
    b.dispose();
    expect(() => seedModuleFrom({ kind: 'nope', config: {} }, 'h1', [3], new Rng(1))).to.throw(EsperError).with.property('code', 'ESPER_CONFIG_INVALID');
  });
});
