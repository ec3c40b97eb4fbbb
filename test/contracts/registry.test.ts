import { expect } from 'chai';
import { z } from 'zod';
import {
  EnvelopeSchema,
  MESSAGE_EXAMPLES,
  MESSAGE_NAMESPACES,
  MESSAGE_TYPES,
  MESSAGE_TYPE_NAMES,
  createEnvelope,
  createMessage,
  formatIssuePath,
  formatZodIssues,
  isMessageType,
  parseMessage,
  safeParseMessage,
  type AnyMessage,
} from '../../src/contracts/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { throwsWith } from '../helpers/rejects-with.ts';

function envelope(type: string, data: unknown, v = 1): unknown {
  return createEnvelope({ type, data, v, source: 'node-a/test', runId: 'r1', now: () => new Date('2025-06-01T12:00:00.000Z') });
}

describe('contracts/registry', () => {
  it('registers namespaced, unique types with positive integer versions and distinct schemas', () => {
    const typeRegex = EnvelopeSchema.shape.type;
    const schemas = new Set<z.ZodType>();
    for (const type of MESSAGE_TYPE_NAMES) {
      const spec = MESSAGE_TYPES[type];
      expect(typeRegex.safeParse(type).success, type).to.equal(true);
      expect(MESSAGE_NAMESPACES, type).to.include(type.split('.')[0]);
      expect(Number.isInteger(spec.v) && spec.v > 0, type).to.equal(true);
      expect(spec.summary.length, type).to.be.greaterThan(0);
      schemas.add(spec.schema);
    }
    expect(new Set(MESSAGE_TYPE_NAMES.map((t) => t.toLowerCase())).size).to.equal(MESSAGE_TYPE_NAMES.length);
    expect(schemas.size).to.equal(MESSAGE_TYPE_NAMES.length);
    for (const required of [
      'kasmina.seed.transitioned',
      'tolaria.epoch.completed',
      'tolaria.run.rolled_back',
      'tamiyo.decision.made',
      'tamiyo.field_report',
      'karn.blueprint.submitted',
      'tezzeret.kernel.compiled',
      'urabrask.kernel.validated',
      'supervision.breaker.state',
    ]) {
      expect(isMessageType(required), required).to.equal(true);
    }
    expect(isMessageType('toString')).to.equal(false);
    expect(isMessageType(42)).to.equal(false);
  });

  it('parses a valid envelope into a typed message', () => {
    const message: AnyMessage = parseMessage(envelope('kasmina.seed.transitioned', MESSAGE_EXAMPLES['kasmina.seed.transitioned']));
    expect(message.type).to.equal('kasmina.seed.transitioned');
    if (message.type === 'kasmina.seed.transitioned') {
      expect(message.data.to).to.equal('BLENDING');
    }
    expect(message.runId).to.equal('r1');
  });

  it('parses every example through its envelope', () => {
    for (const type of MESSAGE_TYPE_NAMES) {
      const result = safeParseMessage(envelope(type, MESSAGE_EXAMPLES[type]));
      expect(result.ok, `${type}: ${result.ok ? '' : JSON.stringify(result.error.details)}`).to.equal(true);
    }
  });

  it("validates data by type: another type's data is a schema violation with data paths", () => {
    const error = throwsWith(() => parseMessage(envelope('tolaria.epoch.completed', MESSAGE_EXAMPLES['kasmina.seed.transitioned'])));
    expect(error).to.be.instanceOf(InputError);
    expect(error.code).to.equal('ESPER_SCHEMA_VIOLATION');
    expect(error.retryable).to.equal(false);
    const issues = error.details?.['issues'] as string[];
    expect(issues).to.include.members(['data.runId: Invalid input: expected string, received undefined']);
    expect(issues.every((issue) => issue.startsWith('data'))).to.equal(true);
    expect(error.details?.['type']).to.equal('tolaria.epoch.completed');
  });

  it('reports non-finite numbers inside data at their path', () => {
    const data = { ...MESSAGE_EXAMPLES['tolaria.state.published'], validationLoss: Number.NaN };
    const result = safeParseMessage(envelope('tolaria.state.published', data));
    expect(result.ok).to.equal(false);
    if (!result.ok) expect((result.error.details?.['issues'] as string[])[0]).to.match(/^data\.validationLoss: /);
  });

  it('answers ESPER_UNKNOWN_TYPE for an unregistered type or version', () => {
    const unknown = throwsWith(() => parseMessage(envelope('kasmina.seed.exploded', {})));
    expect(unknown).to.be.instanceOf(InputError);
    expect(unknown.code).to.equal('ESPER_UNKNOWN_TYPE');
    expect(unknown.details).to.deep.include({ type: 'kasmina.seed.exploded' });
    const proto = throwsWith(() => parseMessage(envelope('object.constructor', {})));
    expect(proto.code).to.equal('ESPER_UNKNOWN_TYPE');
    const version = throwsWith(() => parseMessage(envelope('tolaria.epoch.completed', MESSAGE_EXAMPLES['tolaria.epoch.completed'], 2)));
    expect(version.code).to.equal('ESPER_UNKNOWN_TYPE');
    expect(version.details).to.deep.include({ v: 2, supportedVersions: [1] });
  });

  it('answers ESPER_SCHEMA_VIOLATION for a malformed envelope, listing every issue', () => {
    for (const bad of [null, 'text', 42, [], {}]) {
      const result = safeParseMessage(bad);
      expect(result.ok, JSON.stringify(bad)).to.equal(false);
      if (!result.ok) expect(result.error.code).to.equal('ESPER_SCHEMA_VIOLATION');
    }
    const result = safeParseMessage({ ...(envelope('tolaria.epoch.completed', {}) as object), type: 'flat', v: 0, extra: 1 });
    expect(result.ok).to.equal(false);
    if (!result.ok) {
      const issues = result.error.details?.['issues'] as string[];
      expect(issues.some((i) => i.startsWith('type: '))).to.equal(true);
      expect(issues.some((i) => i.startsWith('v: '))).to.equal(true);
      expect(issues.some((i) => i.startsWith('(root): ') && i.includes('extra'))).to.equal(true);
    }
  });

  it('creates messages with the registered version and validated data', () => {
    const message = createMessage('tolaria.epoch.completed', MESSAGE_EXAMPLES['tolaria.epoch.completed'], { source: 'node-a/tolaria', runId: 'r1' });
    expect(message.v).to.equal(MESSAGE_TYPES['tolaria.epoch.completed'].v);
    expect(parseMessage(message).type).to.equal('tolaria.epoch.completed');
    const error = throwsWith(() =>
      createMessage('tolaria.epoch.completed', { ...MESSAGE_EXAMPLES['tolaria.epoch.completed'], epochMs: -1 }, { source: 's' }),
    );
    expect(error.code).to.equal('ESPER_SCHEMA_VIOLATION');
  });

  describe('formatZodIssues', () => {
    it('renders path and message of every issue', () => {
      const schema = z.object({ a: z.array(z.object({ b: z.number() })), 'odd key': z.string(), n: z.number() }).strict();
      const result = schema.safeParse({ a: [{ b: 'x' }], 'odd key': 1, n: 1, extra: true });
      expect(result.success).to.equal(false);
      if (!result.success) {
        expect(formatZodIssues(result.error)).to.deep.equal([
          'a[0].b: Invalid input: expected number, received string',
          '["odd key"]: Invalid input: expected string, received number',
          '(root): Unrecognized key: "extra"',
        ]);
        expect(formatZodIssues(result.error, ['data'])[2]).to.equal('data: Unrecognized key: "extra"');
      }
    });

    it('formats paths', () => {
      expect(formatIssuePath([])).to.equal('(root)');
      expect(formatIssuePath(['data', 'seeds', 0, 'alpha'])).to.equal('data.seeds[0].alpha');
      expect(formatIssuePath(['metrics', 'val.acc'])).to.equal('metrics["val.acc"]');
    });
  });
});
