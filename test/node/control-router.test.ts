import { expect } from 'chai';
import { z } from 'zod';
import { ControlRouter, route } from '../../src/node/control-router.ts';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

function router(): ControlRouter {
  return new ControlRouter({ prefix: 'esper', maxPayloadBytes: 64 }).add(
    route({
      pattern: 'node.:nodeId.status',
      summary: 'status',
      schema: z.object({}).strict(),
      handle: (_input, params) => ({ node: params['nodeId'] }),
    }),
    route({
      pattern: 'node.:nodeId.drain',
      summary: 'drain',
      schema: z.object({ timeoutMs: z.number().int().positive().optional() }).strict(),
      handle: (input) => ({ timeoutMs: input.timeoutMs ?? null }),
    }),
    route({
      pattern: 'cluster.boom',
      summary: 'throws',
      schema: z.object({}),
      handle: () => {
        throw new Error('handler exploded');
      },
    }),
  );
}

describe('ControlRouter', () => {
  it('routes by pattern, capturing params, and treats an empty payload as {}', async () => {
    expect(await router().handle('esper.ctl.node.n1.status', encode(''))).to.deep.equal({ ok: true, data: { node: 'n1' } });
    expect(await router().handle('esper.ctl.node.n1.drain', encode('{"timeoutMs":5}'))).to.deep.equal({ ok: true, data: { timeoutMs: 5 } });
  });

  const cases: [string, string, string][] = [
    ['esper.ctl.node.n1.explode', '', 'ESPER_UNKNOWN_VERB'],
    ['esper.ctl.node.n1.status.extra', '', 'ESPER_UNKNOWN_VERB'],
    ['other.ctl.node.n1.status', '', 'ESPER_UNKNOWN_VERB'],
    ['esper.ctl.node.n1.status', '{not json', 'ESPER_INVALID_JSON'],
    ['esper.ctl.node.n1.drain', '{"timeoutMs":"soon"}', 'ESPER_SCHEMA_VIOLATION'],
    ['esper.ctl.node.n1.status', '{"unexpected":1}', 'ESPER_SCHEMA_VIOLATION'],
    ['esper.ctl.node.n1.status', 'x'.repeat(65), 'ESPER_PAYLOAD_TOO_LARGE'],
    ['esper.ctl.cluster.boom', '', 'ESPER_INTERNAL'],
  ];
  for (const [subject, payload, code] of cases) {
    it(`answers ${code} for ${subject} ${JSON.stringify(payload.slice(0, 20))}`, async () => {
      const reply = await router().handle(subject, encode(payload));
      expect(reply.ok).to.equal(false);
      if (!reply.ok) expect(reply.error.code).to.equal(code);
    });
  }

  it('answers invalid UTF-8 with ESPER_INVALID_JSON', async () => {
    const reply = await router().handle('esper.ctl.node.n1.status', new Uint8Array([0xff, 0xfe, 0x7b]));
    expect(reply.ok ? 'ok' : reply.error.code).to.equal('ESPER_INVALID_JSON');
  });

  it('lists every schema issue in details.issues', async () => {
    const r = new ControlRouter({ prefix: 'esper', maxPayloadBytes: 1024 }).add(
      route({ pattern: 'x', summary: 'x', schema: z.object({ a: z.number(), b: z.string() }).strict(), handle: () => 1 }),
    );
    const reply = await r.handle('esper.ctl.x', encode('{"a":"1","b":2}'));
    expect(reply.ok).to.equal(false);
    if (!reply.ok) expect((reply.error.details?.['issues'] as string[]).length).to.equal(2);
  });
});
