/**
 * The embedded stand-in that turns a blueprint id into a built-in seed
 * module: `_x<N>` / `_d<N>` say width and depth, and the parameter count it announces (budgets, Tamiyo's scoring) is
 * exactly what the tensor module holds.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { moduleForBlueprint } from '../../../src/actors/tolaria/run-loop.ts';
import { quietCpuBackend, selectBackend } from '../../../src/tensor/backend.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { builtinSeedModule } from '../../../src/tensor/seed-slot.ts';

describe('moduleForBlueprint (embedded seed modules of esper run)', () => {
  before(async () => {
    quietCpuBackend();
    await selectBackend('cpu');
  });

  it('keeps the existing mapping: mlp_small hidden = width, mlp_large 2 × width, lora_r<N> low-rank of rank N', () => {
    expect(moduleForBlueprint('mlp_small', 3)).to.deep.equal({ kind: 'residual-dense', config: { hidden: 3 }, paramCount: 24 });
    expect(moduleForBlueprint('mlp_large', 3)).to.deep.include({ kind: 'residual-dense', config: { hidden: 6 } });
    expect(moduleForBlueprint('lora_r16', 8)).to.deep.equal({ kind: 'low-rank', config: { rank: 16 }, paramCount: 2 * 8 * 16 });
  });

  it('reads an explicit expansion (_x<N>) and depth (_d<N>)', () => {
    expect(moduleForBlueprint('mlp_x8', 3)).to.deep.include({ kind: 'residual-dense', config: { hidden: 24 } });
    expect(moduleForBlueprint('mlp_x8_d2', 3)).to.deep.include({ kind: 'residual-dense', config: { hidden: 24, depth: 2 } });
    expect(moduleForBlueprint('mlp_large_d3', 2).config).to.deep.equal({ hidden: 4, depth: 3 });
  });

  it('announces exactly the parameter count of the module it builds', () => {
    for (const [blueprint, width] of [['mlp_small', 3], ['mlp_large', 4], ['mlp_x8', 3], ['mlp_x8_d2', 3], ['mlp_x4_d3', 5], ['lora_r4', 6]] as const) {
      const spec = moduleForBlueprint(blueprint, width);
      const module = builtinSeedModule(spec.kind, { ...spec.config, width }, new Rng(1));
      expect(module, blueprint).to.not.equal(undefined);
      expect(module?.paramCount, blueprint).to.equal(spec.paramCount);
      tf.tidy(() => {
        const out = module?.apply(tf.ones([2, width]));
        expect(out?.shape, blueprint).to.deep.equal([2, width]);
      });
      module?.dispose();
    }
  });
});
