import { expect } from 'chai';
import {
  BLUEPRINT_OPS,
  BlueprintIRSchema,
  BlueprintNodeSchema,
  BlueprintRecordSchema,
  BlueprintSubmittedSchema,
  EXAMPLE_DENSE_BLUEPRINT,
  EXAMPLE_SE_BLUEPRINT,
  KarnSubmitRequestSchema,
  MAX_BLUEPRINT_NODES,
  MESSAGE_EXAMPLES,
  type BlueprintIRInput,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, issuePaths, patched } from './issues.ts';

const conv = { kind: 'conv2d', inputShape: [8, 8, 32], outputShape: [8, 8, 32], dtype: 'float32' } as const;

/** A minimal valid node of every op (on a conv2d slot). */
const NODES: Record<(typeof BLUEPRINT_OPS)[number], Record<string, unknown>> = {
  dense: { op: 'dense', inputs: ['input'], params: { units: 32 } },
  low_rank: { op: 'low_rank', inputs: ['input'], params: { rank: 4, units: 32 } },
  activation: { op: 'activation', inputs: ['input'], params: { fn: 'relu' } },
  norm: { op: 'norm', inputs: ['input'], params: { kind: 'batch' } },
  residual: { op: 'residual', inputs: ['input', 'input'], params: {} },
  attention: { op: 'attention', inputs: ['input'], params: { kind: 'self', heads: 4 } },
  conv: { op: 'conv', inputs: ['input'], params: { filters: 32, kernelSize: 3 } },
  depthwise: { op: 'depthwise', inputs: ['input'], params: { kernelSize: 3 } },
};

function single(node: Record<string, unknown>, iface: unknown = conv): BlueprintIRInput {
  return { irVersion: 1, name: 'one', interface: iface, nodes: [{ id: 'n', ...node }], output: 'n' } as BlueprintIRInput;
}

describe('contracts/karn', () => {
  describe('BlueprintIR', () => {
    it('parses the catalog examples unchanged', () => {
      expect(BlueprintIRSchema.parse(EXAMPLE_SE_BLUEPRINT)).to.deep.equal(EXAMPLE_SE_BLUEPRINT);
      expect(BlueprintIRSchema.parse(EXAMPLE_DENSE_BLUEPRINT)).to.deep.equal(EXAMPLE_DENSE_BLUEPRINT);
    });

    it('accepts a one-node blueprint of every op and fills defaults in', () => {
      for (const op of BLUEPRINT_OPS) expectValid(BlueprintIRSchema, single(NODES[op]));
      const parsed = BlueprintIRSchema.parse(single(NODES.conv));
      expect(parsed.tags).to.deep.equal([]);
      expect(parsed.nodes[0]).to.deep.equal({
        id: 'n',
        op: 'conv',
        inputs: ['input'],
        params: { filters: 32, kernelSize: 3, stride: 1, padding: 'same', useBias: true, init: 'glorot_uniform' },
      });
      const lowRank = BlueprintIRSchema.parse(single(NODES.low_rank)).nodes[0];
      expect(lowRank?.op === 'low_rank' && lowRank.params.init).to.equal('zeros');
      const se = BlueprintNodeSchema.parse({ id: 'se', op: 'attention', inputs: ['input'], params: { kind: 'squeeze_excitation' } });
      expect(se.params).to.deep.equal({ kind: 'squeeze_excitation', reduction: 16 });
    });

    it('rejects an op outside the vocabulary', () => {
      expectIssueAt(BlueprintIRSchema, single({ op: 'lambda', inputs: ['input'], params: { code: 'x => x' } }), 'nodes[0].op');
      expectIssueAt(BlueprintIRSchema, single({ op: 'Dense', inputs: ['input'], params: { units: 3 } }), 'nodes[0].op');
    });

    it("validates each op's params", () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ op: 'dense', inputs: ['input'], params: { units: 0 } }, 'nodes[0].params.units'],
        [{ op: 'dense', inputs: ['input'], params: { units: 1e9 } }, 'nodes[0].params.units'],
        [{ op: 'dense', inputs: ['input'], params: { units: 8, init: 'ones' } }, 'nodes[0].params.init'],
        [{ op: 'dense', inputs: ['input'], params: { units: 8, activation: 'relu' } }, 'nodes[0].params'],
        [{ op: 'low_rank', inputs: ['input'], params: { units: 8 } }, 'nodes[0].params.rank'],
        [{ op: 'activation', inputs: ['input'], params: { fn: 'swish' } }, 'nodes[0].params.fn'],
        [{ op: 'norm', inputs: ['input'], params: { kind: 'group' } }, 'nodes[0].params.kind'],
        [{ op: 'norm', inputs: ['input'], params: { kind: 'layer', epsilon: 0 } }, 'nodes[0].params.epsilon'],
        [{ op: 'residual', inputs: ['input'], params: {} }, 'nodes[0].inputs'],
        [{ op: 'residual', inputs: ['input', 'input'], params: { scale: 2 } }, 'nodes[0].params'],
        [{ op: 'attention', inputs: ['input'], params: { kind: 'self' } }, 'nodes[0].params.heads'],
        [{ op: 'attention', inputs: ['input'], params: { kind: 'cross', heads: 2 } }, 'nodes[0].params.kind'],
        [{ op: 'attention', inputs: ['input'], params: { kind: 'squeeze_excitation', reduction: 0 } }, 'nodes[0].params.reduction'],
        [{ op: 'conv', inputs: ['input'], params: { filters: 8, kernelSize: 99 } }, 'nodes[0].params.kernelSize'],
        [{ op: 'conv', inputs: ['input'], params: { filters: 8, kernelSize: 3, padding: 'causal' } }, 'nodes[0].params.padding'],
        [{ op: 'conv', inputs: ['input'], params: { kernelSize: 3 } }, 'nodes[0].params.filters'],
        [{ op: 'depthwise', inputs: ['input'], params: { kernelSize: 3, multiplier: 99 } }, 'nodes[0].params.multiplier'],
        [{ op: 'depthwise', inputs: ['input'], params: { kernelSize: 3, stride: 1.5 } }, 'nodes[0].params.stride'],
        [{ op: 'activation', inputs: ['input', 'input'], params: { fn: 'relu' } }, 'nodes[0].inputs'],
      ];
      for (const [node, path] of cases) expectIssueAt(BlueprintIRSchema, single(node), path);
    });

    it('checks references: unknown or later inputs, duplicate ids, the reserved input id, the output', () => {
      const base = structuredClone(EXAMPLE_DENSE_BLUEPRINT) as unknown as { nodes: Array<Record<string, unknown>> } & Record<string, unknown>;
      const withNodes = (nodes: unknown[]): unknown => ({ ...base, nodes });
      const [ln, up, act, down, out] = base.nodes;
      expectIssueAt(BlueprintIRSchema, withNodes([ln, { ...up, inputs: ['nope'] }, act, down, out]), 'nodes[1].inputs[0]');
      expectIssueAt(BlueprintIRSchema, withNodes([ln, { ...up, inputs: ['down'] }, act, down, out]), 'nodes[1].inputs[0]');
      expectIssueAt(BlueprintIRSchema, withNodes([ln, up, { ...act, id: 'up' }, down, out]), 'nodes[2].id');
      expectIssueAt(BlueprintIRSchema, withNodes([{ ...ln, id: 'input' }, up, act, down, out]), 'nodes[0].id');
      expectIssueAt(BlueprintIRSchema, { ...base, output: 'missing' }, 'output');
    });

    it('rejects a cycle (a node reading itself) and nodes that do not feed the output', () => {
      expectIssueAt(BlueprintIRSchema, single({ op: 'activation', inputs: ['n'], params: { fn: 'relu' } }), 'nodes[0].inputs[0]');
      const dead = patched(EXAMPLE_DENSE_BLUEPRINT, {
        nodes: [...EXAMPLE_DENSE_BLUEPRINT.nodes, { id: 'stray', op: 'activation', inputs: ['input'], params: { fn: 'tanh' } }],
      });
      expectIssueAt(BlueprintIRSchema, dead, 'nodes[5].id');
    });

    it('keeps spatial ops to conv2d slots', () => {
      const dense = { kind: 'dense', inputShape: [64], outputShape: [64], dtype: 'float32' };
      expectIssueAt(BlueprintIRSchema, single(NODES.conv, dense), 'nodes[0].op');
      expectIssueAt(BlueprintIRSchema, single(NODES.depthwise, dense), 'nodes[0].op');
      expectValid(BlueprintIRSchema, single(NODES.dense, dense));
    });

    it('bounds the graph, the name, tags and description; pins irVersion; is strict', () => {
      const chain = Array.from({ length: MAX_BLUEPRINT_NODES + 1 }, (_, i) => ({
        id: `a${i}`,
        op: 'activation',
        inputs: [i === 0 ? 'input' : `a${i - 1}`],
        params: { fn: 'identity' },
      }));
      const big = { ...single(NODES.activation), nodes: chain, output: `a${MAX_BLUEPRINT_NODES}` };
      expectIssueAt(BlueprintIRSchema, big, 'nodes');
      expectValid(BlueprintIRSchema, { ...big, nodes: chain.slice(0, MAX_BLUEPRINT_NODES), output: `a${MAX_BLUEPRINT_NODES - 1}` });
      expectIssueAt(BlueprintIRSchema, { ...single(NODES.dense), nodes: [] }, 'nodes');
      expectIssueAt(BlueprintIRSchema, { ...single(NODES.dense), irVersion: 2 }, 'irVersion');
      expectIssueAt(BlueprintIRSchema, { ...single(NODES.dense), name: 'Has Spaces' }, 'name');
      expectIssueAt(BlueprintIRSchema, { ...single(NODES.dense), description: 'x'.repeat(2001) }, 'description');
      expectIssueAt(BlueprintIRSchema, { ...single(NODES.dense), tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 'tags');
      expectIssueAt(BlueprintIRSchema, { ...single(NODES.dense), code: 'rm -rf /' }, '(root)');
      expectIssueAt(BlueprintIRSchema, { ...single(NODES.dense), interface: undefined }, 'interface');
    });

    it('rejects an oversize array before looking at its elements', () => {
      const junk = Array.from({ length: 100_000 }, () => ({}));
      const paths = issuePaths(BlueprintIRSchema, { ...single(NODES.dense), nodes: junk });
      expect(paths).to.deep.equal(['nodes']);
    });
  });

  it('validates BlueprintSubmitted, BlueprintRecord and the submit request', () => {
    const submitted = MESSAGE_EXAMPLES['karn.blueprint.submitted'];
    expectValid(BlueprintSubmittedSchema, submitted);
    expectIssueAt(BlueprintSubmittedSchema, patched(submitted, { irHash: 'x' }), 'irHash');
    expectIssueAt(BlueprintSubmittedSchema, patched(submitted, { ir: { ...submitted.ir, nodes: [] } }), 'ir.nodes');
    const record = {
      blueprintId: 'bp1',
      name: 'attention_se',
      irHash: submitted.irHash,
      status: 'INVALID',
      tags: [],
      interface: conv,
      submittedBy: 'karn',
      invalidReasons: ['params 2.1M exceed the 1M budget'],
      createdAt: '2025-06-01T12:00:00.000Z',
      updatedAt: '2025-06-01T12:00:00.000Z',
    };
    expectValid(BlueprintRecordSchema, record);
    expectIssueAt(BlueprintRecordSchema, { ...record, status: 'UNVALIDATED' }, 'status');
    expect(KarnSubmitRequestSchema.parse({ ir: EXAMPLE_DENSE_BLUEPRINT }).submittedBy).to.equal('operator');
    expectIssueAt(KarnSubmitRequestSchema, {}, 'ir');
  });
});
