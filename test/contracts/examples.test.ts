import { expect } from 'chai';
import {
  CLUSTER_CONTROL_EXAMPLES,
  CLUSTER_CONTROL_REPLIES,
  CLUSTER_CONTROL_REQUESTS,
  EXAMPLE_ENVELOPE,
  KarnSubmitReplySchema,
  KarnSubmitRequestSchema,
  LIBRARY_CONTROL_EXAMPLES,
  MESSAGE_EXAMPLES,
  MESSAGE_TYPES,
  MESSAGE_TYPE_NAMES,
  NODE_CONTROL_EXAMPLES,
  NODE_CONTROL_REPLIES,
  NODE_CONTROL_REQUESTS,
  RUN_CONTROL_EXAMPLES,
  RUN_CONTROL_REPLIES,
  RUN_CONTROL_REQUESTS,
  SEED_CONTROL_EXAMPLES,
  SEED_CONTROL_REPLIES,
  SEED_CONTROL_REQUESTS,
  parseMessage,
} from '../../src/contracts/index.ts';
import type { z } from 'zod';
import { expectValid } from './issues.ts';

describe('contracts/examples', () => {
  it('has one example per registered type, each parsing unchanged', () => {
    expect(Object.keys(MESSAGE_EXAMPLES).sort()).to.deep.equal([...MESSAGE_TYPE_NAMES].sort());
    for (const type of MESSAGE_TYPE_NAMES) {
      const schema: z.ZodType = MESSAGE_TYPES[type].schema;
      const result = schema.safeParse(MESSAGE_EXAMPLES[type]);
      expect(result.success, `${type}: ${result.success ? '' : JSON.stringify(result.error.issues)}`).to.equal(true);
      // Canonical examples spell every defaulted field out, so parsing changes nothing.
      if (result.success) expect(result.data, type).to.deep.equal(MESSAGE_EXAMPLES[type]);
    }
  });

  it('survives a JSON round trip (what the wire does)', () => {
    const wire: unknown = JSON.parse(JSON.stringify(EXAMPLE_ENVELOPE));
    expect(parseMessage(wire)).to.deep.equal(EXAMPLE_ENVELOPE);
  });

  it('has a parsing request and reply for every control verb, on the subject of that verb', () => {
    const tables: Array<[string, Record<string, { subject: string; request: unknown; reply: unknown }>, Record<string, z.ZodType>, Record<string, z.ZodType>]> = [
      ['node', NODE_CONTROL_EXAMPLES, NODE_CONTROL_REQUESTS, NODE_CONTROL_REPLIES],
      ['cluster', CLUSTER_CONTROL_EXAMPLES, CLUSTER_CONTROL_REQUESTS, CLUSTER_CONTROL_REPLIES],
      ['run', RUN_CONTROL_EXAMPLES, RUN_CONTROL_REQUESTS, RUN_CONTROL_REPLIES],
      ['seed', SEED_CONTROL_EXAMPLES, SEED_CONTROL_REQUESTS, SEED_CONTROL_REPLIES],
    ];
    for (const [scope, examples, requests, replies] of tables) {
      expect(Object.keys(examples).sort(), scope).to.deep.equal(Object.keys(requests).sort());
      for (const [verb, example] of Object.entries(examples)) {
        expect(example.subject, `${scope}.${verb}`).to.match(new RegExp(`^esper\\.ctl\\.${scope}\\..*\\b${verb}$`));
        expectValid(requests[verb]!, example.request);
        expectValid(replies[verb]!, example.reply);
      }
    }
    expectValid(KarnSubmitRequestSchema, LIBRARY_CONTROL_EXAMPLES.karnSubmit.request);
    expectValid(KarnSubmitReplySchema, LIBRARY_CONTROL_EXAMPLES.karnSubmit.reply);
  });
});
