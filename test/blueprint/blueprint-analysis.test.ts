import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { EsperError } from '../../src/errors/index.ts';
import {
  analyzeBlueprint,
  blueprintIrHash,
  DEFAULT_BLUEPRINT_LIMITS,
  type BlueprintAnalysis,
  type BlueprintReport,
} from '../../src/blueprint/blueprint-analysis.ts';
import { canonicalJson } from '../../src/infra/content-hash.ts';
import { CONV_14, DENSE_128, DENSE_64, ir } from '../actors/karn/support.ts';

function rejected(analysis: BlueprintAnalysis): EsperError[] {
  if (analysis.ok) throw new Error(`expected a rejection, got a report for '${analysis.report.name}'`);
  return analysis.errors;
}

function accepted(analysis: BlueprintAnalysis): BlueprintReport {
  if (!analysis.ok) throw new Error(`expected a report, got ${analysis.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  return analysis.report;
}

function codes(errors: readonly EsperError[]): string[] {
  return errors.map((e) => e.code);
}

const readExample = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../examples/blueprints/${name}`, import.meta.url), 'utf8')) as unknown;

/** A residual adapter for a dense slot, with every default written out. */
const ADAPTER = ir(DENSE_128, [
  { id: 'up', op: 'dense', inputs: ['input'], params: { units: 256, useBias: true, init: 'he_normal' } },
  { id: 'act', op: 'activation', inputs: ['up'], params: { fn: 'relu' } },
  { id: 'down', op: 'dense', inputs: ['act'], params: { units: 128, useBias: true, init: 'zeros' } },
  { id: 'out', op: 'residual', inputs: ['input', 'down'], params: {} },
]);

describe('analyzeBlueprint', () => {
  describe('accepted blueprints', () => {
    it('reports parameters, FLOPs, memory, depth, output shape and identity at init', () => {
      const report = accepted(analyzeBlueprint(ADAPTER));
      const params = 128 * 256 + 256 + 256 * 128 + 128;
      expect(report.paramCount).to.equal(params);
      expect(report.trainableParamCount).to.equal(params);
      expect(report.paramBytes).to.equal(params * 4);
      expect(report.flops).to.equal(2 * 128 * 256 + 256 + 256 + 2 * 256 * 128 + 128 + 128);
      expect(report.activationBytes).to.equal((256 + 256 + 128 + 128) * 4);
      expect(report.memoryBytes).to.equal(report.paramBytes + report.activationBytes);
      expect(report.depth).to.equal(4);
      expect(report.outputShape).to.deep.equal([128]);
      expect(report.startsAsIdentity).to.equal(true);
      expect(report.interfaceKey).to.equal('dense:128->128:float32');
      expect(report.perNode.map((n) => [n.id, n.atInit])).to.deep.equal([
        ['up', 'other'],
        ['act', 'other'],
        ['down', 'zero'],
        ['out', 'identity'],
      ]);
      expect(report.limits).to.deep.equal(DEFAULT_BLUEPRINT_LIMITS);
    });

    it('reports startsAsZero when the output is exactly zero at init (a width blueprint), exclusive of startsAsIdentity', () => {
      const widen = ir({ kind: 'dense', inputShape: [784], outputShape: [10], dtype: 'float32' }, [
        { id: 'psi', op: 'dense', inputs: ['input'], params: { units: 32, useBias: true, init: 'he_normal' } },
        { id: 'act', op: 'activation', inputs: ['psi'], params: { fn: 'relu' } },
        { id: 'omega', op: 'dense', inputs: ['act'], params: { units: 10, useBias: true, init: 'zeros' } },
      ]);
      const report = accepted(analyzeBlueprint(widen));
      expect(report.startsAsZero).to.equal(true);
      expect(report.startsAsIdentity).to.equal(false);
      expect(report.interfaceKey).to.equal('dense:784->10:float32');
      expect(report.paramCount).to.equal(784 * 32 + 32 + 32 * 10 + 10);
      expect(report.perNode.map((n) => n.atInit)).to.deep.equal(['other', 'other', 'zero']);
      // A zero layer followed by tanh is still zero; by sigmoid it is not.
      const squash = (fn: 'tanh' | 'sigmoid'): BlueprintReport =>
        accepted(analyzeBlueprint({ ...widen, nodes: [...widen.nodes, { id: 'sq', op: 'activation', inputs: ['omega'], params: { fn } }], output: 'sq' }));
      expect(squash('tanh').startsAsZero).to.equal(true);
      expect(squash('sigmoid').startsAsZero).to.equal(false);
      // A non-zero last layer is not zero; an identity start is not zero.
      const [psi, act, omega] = widen.nodes;
      const live = { ...widen, nodes: [psi, act, { ...omega, params: { units: 10, useBias: true, init: 'glorot_uniform' } }] };
      expect(accepted(analyzeBlueprint(live)).startsAsZero).to.equal(false);
      const adapter = accepted(analyzeBlueprint(ADAPTER));
      expect([adapter.startsAsIdentity, adapter.startsAsZero]).to.deep.equal([true, false]);
    });

    it('is not the identity when the branch does not end in zero', () => {
      const nodes = ADAPTER.nodes.map((n) => (n.id === 'down' ? { ...n, params: { units: 128, init: 'he_normal' as const } } : n));
      expect(accepted(analyzeBlueprint({ ...ADAPTER, nodes })).startsAsIdentity).to.equal(false);
    });

    it('checks the example residual adapter (16,832 parameters, identity at init)', () => {
      const report = accepted(analyzeBlueprint(readExample('residual-adapter.json')));
      expect(report.paramCount).to.equal(256 + (128 * 64 + 64) + (64 * 128 + 128));
      expect(report.startsAsIdentity).to.equal(true);
    });

    it('takes the interface from the options over the IR, and the IR may omit it', () => {
      const { interface: _omitted, ...bare } = readExample('residual-adapter.json') as Record<string, unknown>;
      expect(rejected(analyzeBlueprint(bare)).map((e) => e.code)).to.deep.equal(['ESPER_SCHEMA_VIOLATION']);
      const report = accepted(analyzeBlueprint(bare, { interface: DENSE_128 }));
      expect(report.interfaceKey).to.equal('dense:128->128:float32');
      // The override wins over the IR's own interface: its 128-unit layer no longer fits a 64-feature slot.
      const dense64 = rejected(analyzeBlueprint(readExample('residual-adapter.json'), { interface: DENSE_64 }));
      expect(dense64[0]?.details).to.deep.equal({ nodeId: 'out', op: 'residual', expected: [64], actual: [128] });
    });
  });

  describe('rejections happen before compilation, with codes and numbers', () => {
    it('rejects a parameter bomb with ESPER_BLUEPRINT_LIMIT {limit, value, max}', () => {
      const errors = rejected(analyzeBlueprint(readExample('param-bomb.json')));
      const params = errors.find((e) => e.details?.['limit'] === 'maxParams');
      expect(params?.code).to.equal('ESPER_BLUEPRINT_LIMIT');
      expect(params?.details).to.deep.include({ limit: 'maxParams', value: 128 * 65_536 + 65_536 + 65_536 * 128 + 128, max: 5_000_000 });
      expect(params?.message).to.contain('16,842,880').and.contain('5,000,000');
      // Every violated budget is reported, not only the first.
      expect(errors.map((e) => e.details?.['limit'])).to.include('maxMemoryBytes');
      expect(errors.every((e) => e.code === 'ESPER_BLUEPRINT_LIMIT')).to.equal(true);
    });

    it('rejects a dense layer with 100k units (over the schema maximum of 65,536) as a schema violation', () => {
      const bomb = ir(DENSE_128, [{ id: 'out', op: 'dense', inputs: ['input'], params: { units: 100_000 } }]);
      const errors = rejected(analyzeBlueprint(bomb));
      expect(codes(errors)).to.include('ESPER_SCHEMA_VIOLATION');
      expect(String(errors[0]?.details?.['issues'])).to.contain('nodes[0].params.units');
    });

    it('honours configured limits: params, memory, FLOPs and depth', () => {
      const errors = rejected(analyzeBlueprint(ADAPTER, { limits: { maxParams: 1000, maxDepth: 3, maxFlops: 10, maxMemoryBytes: 100 } }));
      expect(errors.map((e) => e.details?.['limit']).sort()).to.deep.equal(['maxDepth', 'maxFlops', 'maxMemoryBytes', 'maxParams']);
      expect(errors.find((e) => e.details?.['limit'] === 'maxDepth')?.details).to.deep.equal({ limit: 'maxDepth', value: 4, max: 3 });
      expect(codes(rejected(analyzeBlueprint(ADAPTER, { limits: { maxParams: -1 } })))).to.deep.equal(['ESPER_CONFIG_INVALID']);
    });

    it('rejects a residual over different shapes with ESPER_BLUEPRINT_SHAPE_MISMATCH naming the node and both shapes', () => {
      const bad = ir(DENSE_128, [
        { id: 'up', op: 'dense', inputs: ['input'], params: { units: 64 } },
        { id: 'out', op: 'residual', inputs: ['input', 'up'] },
      ]);
      const [error, ...rest] = rejected(analyzeBlueprint(bad));
      expect(rest).to.deep.equal([]);
      expect(error?.code).to.equal('ESPER_BLUEPRINT_SHAPE_MISMATCH');
      expect(error?.details).to.deep.equal({ nodeId: 'out', op: 'residual', expected: [128], actual: [64] });
    });

    it("rejects an output that is not the slot's output shape", () => {
      const bad = ir(DENSE_128, [{ id: 'proj', op: 'dense', inputs: ['input'], params: { units: 32 } }]);
      const [error] = rejected(analyzeBlueprint(bad));
      expect(error?.code).to.equal('ESPER_BLUEPRINT_SHAPE_MISMATCH');
      expect(error?.details).to.deep.include({ nodeId: 'proj', expected: [128], actual: [32] });
    });

    it('rejects spatial ops in a dense slot and strided convs that change the shape', () => {
      const convInDense = ir(DENSE_128, [{ id: 'c', op: 'conv', inputs: ['input'], params: { filters: 128, kernelSize: 3 } }]);
      const [error] = rejected(analyzeBlueprint(convInDense));
      expect(error?.code).to.equal('ESPER_BLUEPRINT_SHAPE_MISMATCH');
      expect(error?.details).to.deep.include({ nodeId: 'c', actual: [128] });
      const strided = ir(CONV_14, [{ id: 'c', op: 'conv', inputs: ['input'], params: { filters: 16, kernelSize: 3, stride: 2 } }]);
      expect(rejected(analyzeBlueprint(strided))[0]?.details).to.deep.include({ nodeId: 'c', expected: [14, 14, 16], actual: [7, 7, 16] });
    });

    it('rejects a cyclic graph given as raw JSON with ESPER_BLUEPRINT_CYCLE naming the cycle', () => {
      const cyclic: unknown = JSON.parse(`{
        "irVersion": 1, "name": "loop",
        "interface": { "kind": "dense", "inputShape": [16], "outputShape": [16], "dtype": "float32" },
        "nodes": [
          { "id": "a", "op": "dense", "inputs": ["c"], "params": { "units": 16 } },
          { "id": "b", "op": "activation", "inputs": ["a"], "params": { "fn": "relu" } },
          { "id": "c", "op": "residual", "inputs": ["input", "b"] }
        ],
        "output": "c"
      }`);
      const errors = rejected(analyzeBlueprint(cyclic));
      expect(codes(errors)).to.deep.equal(['ESPER_BLUEPRINT_CYCLE']);
      expect(errors[0]?.details?.['cycle']).to.deep.equal(['a', 'c', 'b', 'a']);
      expect(errors[0]?.details?.['nodeIds']).to.deep.equal(['a', 'b', 'c']);
      expect(errors[0]?.message).to.contain('a → c → b → a');
    });

    it('finds a self-loop and a cycle even when the schema also fails', () => {
      const raw = {
        irVersion: 2,
        name: 'x',
        nodes: [{ id: 'a', op: 'dense', inputs: ['a'], params: { units: 4 } }],
        output: 'a',
      };
      const errors = rejected(analyzeBlueprint(raw));
      expect(codes(errors)).to.have.members(['ESPER_SCHEMA_VIOLATION', 'ESPER_BLUEPRINT_CYCLE']);
    });

    it('reports every graph problem at once: duplicate and reserved ids, unknown inputs, misordered and dead nodes', () => {
      const bad = ir(DENSE_128, [
        { id: 'a', op: 'dense', inputs: ['later'], params: { units: 128 } },
        { id: 'a', op: 'dense', inputs: ['input'], params: { units: 128 } },
        { id: 'input', op: 'activation', inputs: ['input'], params: { fn: 'relu' } },
        { id: 'ghost', op: 'activation', inputs: ['nowhere'], params: { fn: 'relu' } },
        { id: 'dead', op: 'activation', inputs: ['input'], params: { fn: 'relu' } },
        { id: 'later', op: 'activation', inputs: ['input'], params: { fn: 'relu' } },
        { id: 'out', op: 'residual', inputs: ['a', 'ghost'] },
      ]);
      const errors = rejected(analyzeBlueprint(bad));
      expect(new Set(codes(errors))).to.deep.equal(new Set(['ESPER_BLUEPRINT_GRAPH']));
      const messages = errors.map((e) => e.message).join('\n');
      expect(messages).to.contain("duplicate node id 'a'");
      expect(messages).to.contain("the id 'input' is reserved");
      expect(messages).to.contain("input 'nowhere' is not a node");
      expect(messages).to.contain("reads 'later', which is listed after it");
      expect(errors.find((e) => Array.isArray(e.details?.['nodeIds']))?.details?.['nodeIds']).to.deep.equal(['dead']);
    });

    it('reports an unknown output', () => {
      const errors = rejected(analyzeBlueprint({ ...ADAPTER, output: 'missing' }));
      expect(codes(errors)).to.deep.equal(['ESPER_BLUEPRINT_GRAPH']);
      expect(errors[0]?.details).to.deep.equal({ output: 'missing' });
    });

    it('reports several independent shape errors and a limit in one pass', () => {
      const bad = ir(CONV_14, [
        { id: 'big', op: 'conv', inputs: ['input'], params: { filters: 4096, kernelSize: 15 } },
        { id: 'r1', op: 'residual', inputs: ['input', 'big'] },
        { id: 'p', op: 'dense', inputs: ['input'], params: { units: 8 } },
        { id: 'r2', op: 'residual', inputs: ['input', 'p'] },
        { id: 'out', op: 'residual', inputs: ['r1', 'r2'] },
      ]);
      const errors = rejected(analyzeBlueprint(bad));
      expect(codes(errors).slice(0, 2)).to.deep.equal(['ESPER_BLUEPRINT_SHAPE_MISMATCH', 'ESPER_BLUEPRINT_SHAPE_MISMATCH']);
      expect(errors.slice(0, 2).map((e) => e.details?.['nodeId'])).to.deep.equal(['r1', 'r2']);
      // Shapes failed, so the parameter count is a lower bound (the 15×15 conv alone); it is still over budget.
      const params = errors.find((e) => e.details?.['limit'] === 'maxParams');
      expect(params?.code).to.equal('ESPER_BLUEPRINT_LIMIT');
      expect(params?.details).to.deep.include({ limit: 'maxParams', value: 15 * 15 * 16 * 4096 + 4096 + 16 * 8 + 8, max: 5_000_000, lowerBound: true });
    });

    it('never throws on garbage', () => {
      const chain = Array.from({ length: 50_000 }, (_, i) => ({ id: `n${i}`, op: 'activation', inputs: [i === 49_999 ? 'input' : `n${i + 1}`], params: { fn: 'relu' } }));
      for (const raw of [null, 42, 'text', [], {}, { nodes: 'x' }, { nodes: [null, { id: 3 }] }, { nodes: chain, output: 'n0' }]) {
        expect(codes(rejected(analyzeBlueprint(raw)))).to.include('ESPER_SCHEMA_VIOLATION');
      }
    });
  });

  describe('irHash', () => {
    it('is the sha256 of the canonical JSON of the parsed IR: stable across key order and defaults', () => {
      const a = accepted(analyzeBlueprint(ADAPTER));
      const reordered: unknown = JSON.parse(
        `{"output":"out","nodes":[` +
          `{"params":{"init":"he_normal","units":256},"inputs":["input"],"op":"dense","id":"up"},` +
          `{"inputs":["up"],"id":"act","params":{"fn":"relu"},"op":"activation"},` +
          `{"op":"dense","params":{"units":128,"init":"zeros","useBias":true},"id":"down","inputs":["act"]},` +
          `{"id":"out","op":"residual","inputs":["input","down"]}],` +
          `"interface":{"dtype":"float32","outputShape":[128],"inputShape":[128],"kind":"dense"},"name":"test_bp","irVersion":1}`,
      );
      const b = accepted(analyzeBlueprint(reordered));
      expect(b.irHash).to.equal(a.irHash).and.match(/^[0-9a-f]{64}$/);
    });

    it('differs for a different IR', () => {
      const a = accepted(analyzeBlueprint(ADAPTER)).irHash;
      const nodes = ADAPTER.nodes.map((n) => (n.id === 'up' ? { ...n, params: { units: 255 } } : n));
      expect(accepted(analyzeBlueprint({ ...ADAPTER, nodes })).irHash).to.not.equal(a);
      expect(accepted(analyzeBlueprint({ ...ADAPTER, name: 'other' })).irHash).to.not.equal(a);
    });

    it('canonicalJson sorts keys at every level and drops undefined members', () => {
      expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: undefined } })).to.equal('{"a":{"d":[1,{"e":3,"f":2}]},"b":1}');
      const analysis = analyzeBlueprint(ADAPTER);
      if (!analysis.ok) throw new Error('expected a report');
      expect(blueprintIrHash(analysis.ir)).to.equal(analysis.report.irHash);
    });
  });
});
