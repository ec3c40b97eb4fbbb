import { expect } from 'chai';
import type { z } from 'zod';
import {
  CLUSTER_CONTROL_REPLIES,
  CLUSTER_CONTROL_REQUESTS,
  CLUSTER_VERBS,
  DrainRequestSchema,
  NODE_CONTROL_EXAMPLES,
  NODE_CONTROL_REPLIES,
  NODE_CONTROL_REQUESTS,
  NODE_ROLES,
  NODE_VERBS,
  NodeRoleConfigSchema,
  NodeStatusSchema,
  RUN_CONTROL_REPLIES,
  RUN_CONTROL_REQUESTS,
  RUN_VERBS,
  RollbackRequestSchema,
  SEED_CONTROL_REPLIES,
  SEED_CONTROL_REQUESTS,
  SEED_VERBS,
  ShutdownRequestSchema,
  expandRoles,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

/** Verbs whose request is all-optional: they must accept `{}`. */
const EMPTY_OK: Record<string, readonly string[]> = {
  node: ['status', 'drain', 'shutdown'],
  cluster: ['nodes', 'runs'],
  run: ['status', 'pause', 'resume', 'stop', 'checkpoint'],
  seed: ['status', 'advance', 'fossilize'], // germinate needs a blueprintId or a kernelId
};

describe('contracts/control', () => {
  const tables: Array<[string, readonly string[], Record<string, z.ZodType>, Record<string, z.ZodType>]> = [
    ['node', NODE_VERBS, NODE_CONTROL_REQUESTS, NODE_CONTROL_REPLIES],
    ['cluster', CLUSTER_VERBS, CLUSTER_CONTROL_REQUESTS, CLUSTER_CONTROL_REPLIES],
    ['run', RUN_VERBS, RUN_CONTROL_REQUESTS, RUN_CONTROL_REPLIES],
    ['seed', SEED_VERBS, SEED_CONTROL_REQUESTS, SEED_CONTROL_REPLIES],
  ];

  it('has a request and a reply schema for every verb of every control subject', () => {
    for (const [scope, verbs, requests, replies] of tables) {
      expect(Object.keys(requests).sort(), scope).to.deep.equal([...verbs].sort());
      expect(Object.keys(replies).sort(), scope).to.deep.equal([...verbs].sort());
    }
  });

  it('accepts {} for verbs without required input and rejects unknown fields everywhere', () => {
    for (const [scope, verbs, requests] of tables) {
      for (const verb of verbs) {
        const schema = requests[verb]!;
        expect(schema.safeParse({}).success, `${scope}.${verb} {}`).to.equal(EMPTY_OK[scope]!.includes(verb));
        expectIssueAt(schema, { reason: 'x', unexpected: true }, '(root)');
      }
    }
  });

  it('requires a reason to prune or roll back', () => {
    expectIssueAt(SEED_CONTROL_REQUESTS.prune, {}, 'reason');
    expectIssueAt(SEED_CONTROL_REQUESTS.prune, { reason: '' }, 'reason');
    expectValid(SEED_CONTROL_REQUESTS.prune, { reason: 'manual' });
    expectIssueAt(RollbackRequestSchema, { checkpointId: 'ckpt-1' }, 'reason');
    expectValid(RollbackRequestSchema, { reason: 'regression' });
    expectIssueAt(RollbackRequestSchema, { checkpointId: 'a.b', reason: 'x' }, 'checkpointId');
  });

  it('bounds drain and shutdown timeouts', () => {
    expectValid(DrainRequestSchema, { timeoutMs: 30_000 });
    expectIssueAt(DrainRequestSchema, { timeoutMs: 0 }, 'timeoutMs');
    expectIssueAt(DrainRequestSchema, { timeoutMs: Infinity }, 'timeoutMs');
    expectIssueAt(ShutdownRequestSchema, { timeoutMs: '10s' }, 'timeoutMs');
    expectIssueAt(SEED_CONTROL_REQUESTS.germinate, { blend: { curve: 'linear', tempoEpochs: 10 } }, 'blend.tempoEpochs');
  });

  describe('NodeStatus', () => {
    const node = NODE_CONTROL_EXAMPLES.status.reply;

    it('parses a node status', () => {
      expectValid(NodeStatusSchema, node);
    });

    it("rejects 'all' as a reported role, an unknown status and a bad load", () => {
      expectIssueAt(NodeStatusSchema, patched(node, { roles: ['all'] }), 'roles[0]');
      expectIssueAt(NodeStatusSchema, patched(node, { status: 'sleeping' }), 'status');
      expectIssueAt(NodeStatusSchema, patched(node, { load: { eventLoopLagMs: Number.NaN, rssBytes: 1 } }), 'load.eventLoopLagMs');
      expectIssueAt(NodeStatusSchema, patched(node, { load: { eventLoopLagMs: 1 } }), 'load.rssBytes');
      expectIssueAt(NodeStatusSchema, patched(node, { incarnationId: undefined }), 'incarnationId');
    });
  });

  it("expands 'all' and keeps configured roles in canonical order", () => {
    expect(expandRoles(['all'])).to.deep.equal([...NODE_ROLES]);
    expect(expandRoles(['library', 'trainer', 'trainer'])).to.deep.equal(['trainer', 'library']);
    expect(NodeRoleConfigSchema.safeParse('all').success).to.equal(true);
    expect(NodeRoleConfigSchema.safeParse('gpu').success).to.equal(false);
  });
});
