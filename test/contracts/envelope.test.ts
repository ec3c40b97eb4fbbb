import { expect } from 'chai';
import {
  DEFAULT_SUBJECT_PREFIX,
  EXAMPLE_ENVELOPE,
  EnvelopeSchema,
  MESSAGE_EXAMPLES,
  SeedTransitionedSchema,
  assertSubjectToken,
  createEnvelope,
  envelopeOf,
  subjects,
} from '../../src/contracts/index.ts';

describe('contracts/envelope', () => {
  const now = (): Date => new Date('2025-06-01T12:00:00.000Z');

  it('starts a conversation: correlationId is its own id, no causation', () => {
    const first = createEnvelope({ type: 'tolaria.epoch.completed', data: {}, source: 'node-a/tolaria', now });
    expect(first.correlationId).to.equal(first.id);
    expect(first.causationId).to.equal(undefined);
    expect(first.v).to.equal(1);
    expect(first.ts).to.equal('2025-06-01T12:00:00.000Z');
    expect(EnvelopeSchema.safeParse(first).success).to.equal(true);
  });

  it('continues a conversation with causedBy: inherits correlation, points causation at the parent', () => {
    const root = createEnvelope({ type: 'tolaria.state.published', data: {}, source: 'a', now });
    const child = createEnvelope({ type: 'tamiyo.decision.made', data: {}, source: 'b', causedBy: root, now });
    const grandchild = createEnvelope({ type: 'tamiyo.command.issued', data: {}, source: 'c', causedBy: child, now });
    expect(child.correlationId).to.equal(root.id);
    expect(child.causationId).to.equal(root.id);
    expect(grandchild.correlationId).to.equal(root.id);
    expect(grandchild.causationId).to.equal(child.id);
    expect(new Set([root.id, child.id, grandchild.id]).size).to.equal(3);
  });

  it('types data with envelopeOf and rejects bad data and extra fields', () => {
    const schema = envelopeOf(SeedTransitionedSchema);
    expect(schema.safeParse(EXAMPLE_ENVELOPE).success).to.equal(true);
    expect(schema.safeParse({ ...EXAMPLE_ENVELOPE, data: { ...MESSAGE_EXAMPLES['kasmina.seed.transitioned'], to: 'X' } }).success).to.equal(false);
    expect(EnvelopeSchema.safeParse({ ...EXAMPLE_ENVELOPE, priority: 1 }).success).to.equal(false);
    expect(EnvelopeSchema.safeParse({ ...EXAMPLE_ENVELOPE, type: 'Kasmina.Seed' }).success).to.equal(false);
  });
});

describe('contracts/subjects', () => {
  const s = subjects();

  it('builds the DESIGN §4 subjects under the default prefix', () => {
    expect(DEFAULT_SUBJECT_PREFIX).to.equal('esper');
    expect(s.node('node-a', 'status')).to.equal('esper.ctl.node.node-a.status');
    expect(s.cluster('nodes')).to.equal('esper.ctl.cluster.nodes');
    expect(s.run('r1', 'rollback')).to.equal('esper.ctl.run.r1.rollback');
    expect(s.seed('r1', 's3', 'prune')).to.equal('esper.ctl.seed.r1.s3.prune');
    expect(s.event('r1', 'kasmina.seed.transitioned')).to.equal('esper.evt.r1.kasmina.seed.transitioned');
    expect(s.telemetry('r1', 'epoch')).to.equal('esper.tel.r1.epoch');
    expect(subjects('acme.esper').urzaKernels).to.equal('acme.esper.ctl.urza.kernels');
  });

  it('rejects tokens with dots, wildcards, spaces or nothing', () => {
    for (const bad of ['a.b', '*', '>', 'a b', '', 'r1>', 'x*']) {
      expect(() => assertSubjectToken(bad, 'runId'), bad).to.throw(RangeError);
      expect(() => s.seed('r1', bad === '*' ? 'a.b' : bad, 'status'), bad).to.throw(RangeError);
    }
    expect(() => s.node('node.a', 'status')).to.throw(RangeError, /nodeId/);
    expect(() => s.telemetry('r*', 'epoch')).to.throw(RangeError);
    expect(() => subjects('esper..x')).to.throw(RangeError);
    expect(() => subjects('esper.>')).to.throw(RangeError);
  });
});
