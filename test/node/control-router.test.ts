import { expect } from 'chai';
import { z } from 'zod';
import { MemoryBus } from '../../src/actors/oona/index.ts';
import { ControlRouter, route, serveRoutes } from '../../src/node/control-router.ts';

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

describe('ControlRouter: route owners', () => {
  const r = new ControlRouter({ prefix: 'esper', maxPayloadBytes: 1024 }).add(
    route({ pattern: 'node.:nodeId.status', owner: { kind: 'node' }, summary: 's', schema: z.object({}), handle: () => 1 }),
    route({ pattern: 'cluster.nodes', summary: 'n', schema: z.object({}), handle: () => 1 }),
    route({ pattern: 'run.start', owner: { kind: 'role', role: 'trainer' }, summary: 'start', schema: z.object({}), handle: () => 1 }),
    route({ pattern: 'run.:runId.status', owner: { kind: 'run' }, summary: 'run', schema: z.object({}), handle: () => 1 }),
    route({ pattern: 'seed.:runId.:seedId.status', owner: { kind: 'run' }, summary: 'seed', schema: z.object({}), handle: () => 1 }),
    route({ pattern: 'urza.kernels', owner: { kind: 'role', role: 'library' }, summary: 'kernels', schema: z.object({}), handle: () => 1 }),
  );

  it('names the owner of a routed subject, with its params', () => {
    expect(r.ownerOf('esper.ctl.run.r1.status')).to.deep.equal({ owner: { kind: 'run' }, params: { runId: 'r1' } });
    expect(r.ownerOf('esper.ctl.seed.r1.h1.status')).to.deep.equal({ owner: { kind: 'run' }, params: { runId: 'r1', seedId: 'h1' } });
    expect(r.ownerOf('esper.ctl.run.start')).to.deep.equal({ owner: { kind: 'role', role: 'trainer' }, params: {} });
    expect(r.ownerOf('esper.ctl.urza.kernels')).to.deep.equal({ owner: { kind: 'role', role: 'library' }, params: {} });
    expect(r.ownerOf('esper.ctl.node.n2.status')).to.deep.equal({ owner: { kind: 'node' }, params: { nodeId: 'n2' } });
    expect(r.ownerOf('esper.ctl.cluster.nodes')).to.deep.equal({ owner: { kind: 'any' }, params: {} });
  });

  it("gives an unknown verb of a run or a node to that run's or node's listeners, and nothing else", () => {
    // A run's listeners take `run.<id>.*` and `seed.<id>.*.*`; a node's own listener takes `node.<id>.>`.
    expect(r.ownerOf('esper.ctl.run.r1.explode')).to.deep.equal({ owner: { kind: 'run' }, params: { runId: 'r1' } });
    expect(r.ownerOf('esper.ctl.seed.r1.h1.graft')).to.deep.equal({ owner: { kind: 'run' }, params: { runId: 'r1', seedId: 'h1' } });
    expect(r.ownerOf('esper.ctl.node.n2.reboot')).to.deep.equal({ owner: { kind: 'node' }, params: { nodeId: 'n2' } });
    expect(r.ownerOf('esper.ctl.node.n2.a.b')).to.deep.equal({ owner: { kind: 'node' }, params: { nodeId: 'n2' } });
    for (const subject of ['esper.ctl.run.r1', 'esper.ctl.run.r1.a.b', 'esper.ctl.seed.r1.h1', 'esper.ctl.urza.bogus', 'esper.ctl.cluster.bogus', 'esper.ctl.node.n2', 'other.ctl.run.r1.status']) {
      expect(r.ownerOf(subject), subject).to.equal(undefined);
    }
  });

  it('lists the known verbs of the same family in an unknown-verb error', async () => {
    const reply = await r.handle('esper.ctl.node.n1.reboot', encode(''));
    expect(reply.ok ? [] : reply.error.details?.['known']).to.deep.equal(['esper.ctl.node.:nodeId.status']);
    const other = await r.handle('esper.ctl.bogus', encode(''));
    expect(other.ok ? [] : (other.error.details?.['known'] as string[]).length).to.equal(6);
  });
});

describe('serveRoutes', () => {
  it('answers each request on the bus with the router reply, once per queue group, and ignores plain publishes', async () => {
    const bus = new MemoryBus();
    let calls = 0;
    const r = new ControlRouter({ prefix: 'esper', maxPayloadBytes: 1024 }).add(
      route({ pattern: 'run.:runId.status', summary: 'run', schema: z.object({}).strict(), handle: (_input, params) => ({ run: params['runId'], calls: ++calls }) }),
    );
    const subs = [serveRoutes(bus, 'esper.ctl.run.*.*', r, { queue: 'q' }), serveRoutes(bus, 'esper.ctl.run.*.*', r, { queue: 'q' })];
    const replies: string[] = [];
    const tap = bus.subscribe('_INBOX.>', (message) => {
      replies.push(message.text());
    });
    try {
      bus.publish('esper.ctl.run.r1.status', encode('')); // handled (a call), nobody to answer
      const reply = await bus.request('esper.ctl.run.r1.status', encode(''));
      expect(JSON.parse(reply.text())).to.deep.equal({ ok: true, data: { run: 'r1', calls: 2 } });
      const bad = await bus.request('esper.ctl.run.r1.status', encode('{"x":1}'));
      expect((JSON.parse(bad.text()) as { error: { code: string } }).error.code).to.equal('ESPER_SCHEMA_VIOLATION');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(calls).to.equal(2);
      expect(replies).to.have.length(2);
    } finally {
      for (const sub of [...subs, tap]) sub.unsubscribe();
      await bus.close();
    }
  });
});
