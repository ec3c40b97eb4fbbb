import { expect } from 'chai';
import type { SlotInterface } from '../../../src/contracts/common.ts';
import { BlueprintIRSchema, type BlueprintIR, type BlueprintNode } from '../../../src/contracts/karn.ts';
import {
  MUTANT_TAG,
  MUTATION_ACTIVATIONS,
  MUTATION_KINDS,
  WIDTH_ROLE_TAG,
  analyzeBlueprint,
  catalogBlueprint,
  catalogFor,
  catalogWidthBlueprint,
  widthInterface,
  mutantFamily,
  mutate,
  type MutationKind,
  type MutationResult,
} from '../../../src/actors/karn/index.ts';
import { Rng } from '../../../src/tensor/rng.ts';
import { CONV_14, DENSE_64 } from './support.ts';

function nodeOf(ir: BlueprintIR, id: string): BlueprintNode {
  const node = ir.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node ${id}`);
  return node;
}

function identityOf(ir: BlueprintIR, iface: SlotInterface): boolean {
  const analysis = analyzeBlueprint(ir, { interface: iface });
  if (!analysis.ok) throw new Error(`${ir.name} fails analysis: ${analysis.errors.map((e) => e.code).join(', ')}`);
  return analysis.report.startsAsIdentity;
}

describe('Karn mutation', () => {
  it('500 seeded mutations of catalog blueprints (and their mutants) all pass analysis, keep identity and cover every kind', () => {
    const interfaces = [DENSE_64, CONV_14];
    const rng = new Rng(2024);
    const kinds: Record<MutationKind, number> = { width: 0, rank: 0, activation: 0, depth: 0 };
    let removals = 0;
    let lineage: { ir: BlueprintIR; iface: SlotInterface } | undefined;
    for (let i = 0; i < 500; i++) {
      // Every fifth mutation starts again from a catalog blueprint; the others mutate the previous child (lineages up to 5 deep).
      if (i % 5 === 0 || lineage === undefined) {
        const iface = interfaces[i % 2] as SlotInterface;
        const catalog = catalogFor(iface);
        lineage = { ir: catalog[Math.floor(i / 2) % catalog.length] as BlueprintIR, iface };
      }
      const parent = lineage.ir;
      const parentIdentity = identityOf(parent, lineage.iface);
      const result = mutate(parent, rng, { parentId: `bp-parent-${i}` });
      expect(result, `mutation ${i} of ${parent.name}`).to.not.equal(null);
      const { ir, report, mutation, parentId } = result as MutationResult;
      // Independently re-checked: the child passes analysis for the same interface, and is a new IR.
      const analysis = analyzeBlueprint(ir, { interface: lineage.iface });
      expect(analysis.ok, `mutation ${i}: ${mutation.summary}`).to.equal(true);
      if (!analysis.ok) continue;
      expect(analysis.report.irHash).to.equal(report.irHash);
      expect(report.irHash).to.not.equal(blueprintHash(parent));
      if (parentIdentity) expect(analysis.report.startsAsIdentity, `mutation ${i} lost identity: ${mutation.summary}`).to.equal(true);
      expect(ir.interface).to.deep.equal(lineage.iface);
      expect(parentId).to.equal(`bp-parent-${i}`);
      expect(ir.tags).to.include(MUTANT_TAG);
      expect(ir.name).to.match(/^[a-z0-9][a-z0-9_-]*-[0-9a-f]{8}$/);
      expect(mutantFamily(ir.name)).to.equal(mutantFamily(parent.name));
      expect(BlueprintIRSchema.safeParse(ir).success).to.equal(true);
      kinds[mutation.kind]++;
      if (mutation.kind === 'depth' && mutation.summary.startsWith('remove')) removals++;
      lineage = { ir, iface: lineage.iface };
    }
    for (const kind of MUTATION_KINDS) expect(kinds[kind], `${kind} mutations`).to.be.greaterThan(10);
    expect(removals, 'depth removals').to.be.greaterThan(0);
  });

  it('is deterministic: the same seed gives the same mutations, another seed other ones', () => {
    const run = (seed: number): (MutationResult | null)[] => {
      const rng = new Rng(seed);
      return catalogFor(CONV_14).map((ir) => mutate(ir, rng));
    };
    const a = run(11);
    expect(run(11)).to.deep.equal(a);
    const b = run(12);
    expect(b.map((r) => r?.report.irHash)).to.not.deep.equal(a.map((r) => r?.report.irHash));
  });

  it('width doubles or halves a dense layer inside the branch, never the one the residual needs at the slot width', () => {
    const parent = catalogBlueprint('mlp_small', DENSE_64);
    for (let seed = 0; seed < 20; seed++) {
      const result = mutate(parent, new Rng(seed), { kinds: ['width'] });
      expect(result).to.not.equal(null);
      const { ir, mutation } = result as MutationResult;
      expect(mutation.kind).to.equal('width');
      expect(mutation.nodeId).to.equal('up');
      expect(mutation.from).to.equal(128);
      expect([64, 256]).to.include(mutation.to);
      const up = nodeOf(ir, 'up');
      expect(up.op === 'dense' && up.params.units).to.equal(mutation.to);
      const down = nodeOf(ir, 'down');
      expect(down.op === 'dense' && down.params.units).to.equal(64);
    }
  });

  it('respects the width bounds', () => {
    const parent = catalogBlueprint('mlp_small', DENSE_64);
    const result = mutate(parent, new Rng(1), { kinds: ['width'], maxWidth: 128 });
    expect(result?.mutation.to).to.equal(64);
    expect(mutate(parent, new Rng(1), { kinds: ['width'], maxWidth: 128, minWidth: 100 })).to.equal(null);
  });

  it('rank doubles or halves a low-rank adapter', () => {
    const parent = catalogBlueprint('lora_r4', DENSE_64);
    const seen = new Set<number | string>();
    for (let seed = 0; seed < 20; seed++) {
      const { ir, mutation } = mutate(parent, new Rng(seed), { kinds: ['rank'] }) as MutationResult;
      expect(mutation).to.include({ kind: 'rank', nodeId: 'lora', from: 4 });
      const lora = nodeOf(ir, 'lora');
      expect(lora.op === 'low_rank' && lora.params.rank).to.equal(mutation.to);
      seen.add(mutation.to);
    }
    expect([...seen].sort()).to.deep.equal([2, 8]);
  });

  it('activation swaps among relu, gelu and tanh', () => {
    const parent = catalogBlueprint('bottleneck', CONV_14);
    for (let seed = 0; seed < 20; seed++) {
      const { ir, mutation } = mutate(parent, new Rng(seed), { kinds: ['activation'] }) as MutationResult;
      expect(mutation.from).to.equal('relu');
      expect(MUTATION_ACTIVATIONS).to.include(mutation.to);
      expect(mutation.to).to.not.equal('relu');
      const node = nodeOf(ir, mutation.nodeId);
      expect(node.op === 'activation' && node.params.fn).to.equal(mutation.to);
    }
  });

  it('depth inserts a shape-keeping dense → activation pair inside the residual branch', () => {
    const parent = catalogBlueprint('conv_light', CONV_14);
    const { ir, mutation } = mutate(parent, new Rng(5), { kinds: ['depth'] }) as MutationResult;
    expect(mutation).to.include({ kind: 'depth', from: 2, to: 4 });
    expect(ir.nodes).to.have.length(4);
    const dense = nodeOf(ir, mutation.nodeId);
    expect(dense.op === 'dense' && dense.params.units).to.equal(16);
    // The skip path still carries the slot input.
    expect(nodeOf(ir, 'out').inputs[0]).to.equal('input');
    expect(identityOf(ir, CONV_14)).to.equal(true);
  });

  it('depth removes a removable dense → activation pair', () => {
    const base = catalogBlueprint('lora_r4', DENSE_64);
    const parent: BlueprintIR = {
      ...base,
      nodes: [
        { id: 'd', op: 'dense', inputs: ['input'], params: { units: 64, useBias: true, init: 'he_normal' } },
        { id: 'a', op: 'activation', inputs: ['d'], params: { fn: 'relu' } },
        { id: 'lora', op: 'low_rank', inputs: ['a'], params: { rank: 4, units: 64, init: 'zeros' } },
        { id: 'out', op: 'residual', inputs: ['input', 'lora'], params: {} },
      ],
    };
    let removed: MutationResult | undefined;
    for (let seed = 0; seed < 40 && removed === undefined; seed++) {
      const result = mutate(parent, new Rng(seed), { kinds: ['depth'] });
      if (result?.mutation.summary.startsWith('remove') === true) removed = result;
    }
    expect(removed, 'a removal among 40 seeds').to.not.equal(undefined);
    const { ir, mutation } = removed as MutationResult;
    expect(mutation).to.include({ nodeId: 'd', from: 4, to: 2 });
    expect(ir.nodes.map((n) => n.id)).to.deep.equal(['lora', 'out']);
    expect(nodeOf(ir, 'lora').inputs).to.deep.equal(['input']);
  });

  it('never trades away identity at initialisation, but a non-identity parent may lose its branch', () => {
    // out = x + relu(dense(x)): removing the pair leaves x + x, valid in shape but not the identity.
    const pairBranch = (init: 'zeros' | 'he_normal'): BlueprintIR => ({
      ...catalogBlueprint('lora_r4', DENSE_64),
      nodes: [
        { id: 'd', op: 'dense', inputs: ['input'], params: { units: 64, useBias: true, init } },
        { id: 'a', op: 'activation', inputs: ['d'], params: { fn: 'relu' } },
        { id: 'out', op: 'residual', inputs: ['input', 'a'], params: {} },
      ],
    });
    const identity = pairBranch('zeros');
    const other = pairBranch('he_normal');
    expect(identityOf(identity, DENSE_64)).to.equal(true);
    expect(identityOf(other, DENSE_64)).to.equal(false);
    const removals = (parent: BlueprintIR): number => {
      let count = 0;
      for (let seed = 0; seed < 40; seed++) {
        const result = mutate(parent, new Rng(seed), { kinds: ['depth'] });
        expect(result).to.not.equal(null);
        if (result?.mutation.summary.startsWith('remove') === true) count++;
        if (identityOf(parent, DENSE_64)) expect(identityOf((result as MutationResult).ir, DENSE_64)).to.equal(true);
      }
      return count;
    };
    expect(removals(identity)).to.equal(0);
    expect(removals(other)).to.be.greaterThan(0);
  });

  it('returns null when no valid mutation exists within the attempts', () => {
    const conv = catalogBlueprint('conv_light', CONV_14);
    // No low-rank node and no activation node: nothing to mutate of these kinds.
    expect(mutate(conv, new Rng(1), { kinds: ['rank', 'activation'] })).to.equal(null);
    // Every width change of conv_light's only conv breaks the residual's shape.
    expect(mutate(conv, new Rng(1), { kinds: ['width'] })).to.equal(null);
    // A parent over the limits has no valid child.
    expect(mutate(catalogBlueprint('mlp_large', DENSE_64), new Rng(1), { limits: { maxParams: 100 } })).to.equal(null);
  });

  describe('width blueprints', () => {
    const WIDEN = widthInterface(784, 10);
    const parent = catalogWidthBlueprint('widen_x2', WIDEN, 16);

    function zeroAndShape(ir: BlueprintIR): void {
      const analysis = analyzeBlueprint(ir, { interface: WIDEN });
      if (!analysis.ok) throw new Error(analysis.errors.map((e) => e.code).join(', '));
      expect(analysis.report.startsAsZero).to.equal(true);
      expect(analysis.report.outputShape).to.deep.equal([10]);
    }

    it("change only k (Ψ's units, ×2 or ÷2) and stay valid, zero at init and dense(k) → relu → dense(outputs, zeros)", () => {
      const rng = new Rng(7);
      const seen = new Set<number | string>();
      let lineage = parent;
      for (let i = 0; i < 40; i++) {
        // Every kind is allowed; a width blueprint only ever gets a width edit of Ψ.
        const result = mutate(lineage, rng, { maxWidth: 256 });
        expect(result, `mutation ${i}`).to.not.equal(null);
        const { ir, mutation } = result as MutationResult;
        expect(mutation).to.include({ kind: 'width', nodeId: 'psi' });
        expect([Number(mutation.from) * 2, Math.floor(Number(mutation.from) / 2)]).to.include(mutation.to);
        seen.add(mutation.to);
        expect(ir.nodes.map((n) => [n.id, n.op])).to.deep.equal([
          ['psi', 'dense'],
          ['act', 'activation'],
          ['omega', 'dense'],
        ]);
        const psi = nodeOf(ir, 'psi');
        expect(psi.op === 'dense' && psi.params).to.deep.equal({ units: mutation.to, useBias: true, init: 'he_normal' });
        expect(nodeOf(ir, 'act')).to.deep.include({ params: { fn: 'relu' } });
        const omega = nodeOf(ir, 'omega');
        expect(omega.op === 'dense' && omega.params).to.deep.equal({ units: 10, useBias: true, init: 'zeros' });
        expect(ir.output).to.equal('omega');
        expect(ir.tags).to.include.members([WIDTH_ROLE_TAG, 'init:gradient', MUTANT_TAG]);
        expect(mutantFamily(ir.name)).to.equal('widen_x2');
        zeroAndShape(ir);
        lineage = i % 4 === 3 ? parent : ir;
      }
      expect(seen.size).to.be.greaterThan(2);
    });

    it('other kinds give no child, and the default widest k is 8 × the wider side of the interface', () => {
      expect(mutate(parent, new Rng(1), { kinds: ['activation', 'depth', 'rank'] })).to.equal(null);
      // 8 × max(784, 10) = 6,272: k = 32 may double; k = 4,096 may only halve.
      const wide = catalogWidthBlueprint('widen_x8', WIDEN, 512);
      for (let seed = 0; seed < 10; seed++) {
        expect((mutate(wide, new Rng(seed)) as MutationResult).mutation.to).to.equal(2048);
        expect([16, 64]).to.include((mutate(parent, new Rng(seed)) as MutationResult).mutation.to);
      }
    });

    it('a zero-start parent never gets a child that is not zero at init', () => {
      // x → dense(10, he) → relu → dense(10, zeros) → tanh, not tagged as a width blueprint: every kind applies.
      const iface = widthInterface(10, 10);
      const free: BlueprintIR = {
        ...parent,
        tags: ['width'],
        interface: iface,
        nodes: [
          { id: 'a1', op: 'dense', inputs: ['input'], params: { units: 10, useBias: true, init: 'he_normal' } },
          { id: 'r', op: 'activation', inputs: ['a1'], params: { fn: 'relu' } },
          { id: 'z', op: 'dense', inputs: ['r'], params: { units: 10, useBias: true, init: 'zeros' } },
          { id: 't', op: 'activation', inputs: ['z'], params: { fn: 'tanh' } },
        ],
        output: 't',
      };
      // Removing the zero layer's pair (z → t) is valid in shape but leaves relu(dense(x)): not zero.
      const without = analyzeBlueprint({ ...free, nodes: free.nodes.slice(0, 2), output: 'r' });
      expect(without.ok && without.report.startsAsZero).to.equal(false);
      expect(without.ok).to.equal(true);
      let removals = 0;
      for (let seed = 0; seed < 40; seed++) {
        const result = mutate(free, new Rng(seed), { kinds: ['depth'] });
        if (result === null) continue;
        expect(result.mutation.nodeId, result.mutation.summary).to.not.equal('z');
        if (result.mutation.summary.startsWith('remove')) removals++;
        const analysis = analyzeBlueprint(result.ir);
        expect(analysis.ok && analysis.report.startsAsZero, result.mutation.summary).to.equal(true);
      }
      // The other pair (a1 → r) is removable and keeps the zero start.
      expect(removals).to.be.greaterThan(0);
    });
  });

  it('gives children that reach the same graph the same IR (so duplicates are detectable)', () => {
    const parent = catalogBlueprint('lora_r4', DENSE_64);
    const up = mutate(parent, new Rng(1), { kinds: ['rank'] }) as MutationResult;
    // Find a seed giving the other direction, then come back: 4 → 8 → 4 twice reaches the same graph.
    const back = (from: MutationResult, seed: number): MutationResult | null => mutate(from.ir, new Rng(seed), { kinds: ['rank'] });
    const results: string[] = [];
    for (let seed = 0; seed < 30; seed++) {
      const r = back(up, seed);
      if (r !== null && r.mutation.to === 4) results.push(r.report.irHash);
    }
    expect(results.length).to.be.greaterThan(1);
    expect(new Set(results).size).to.equal(1);
  });
});

function blueprintHash(ir: BlueprintIR): string {
  const analysis = analyzeBlueprint(ir);
  return analysis.ok ? analysis.report.irHash : '';
}
