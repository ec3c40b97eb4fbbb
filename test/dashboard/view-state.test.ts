import { expect } from 'chai';
import { createMessage, type AnyMessage } from '../../src/contracts/registry.ts';
import type { NodeStatus } from '../../src/contracts/control.ts';
import { ViewState, VIEW_LIMITS } from '../../src/dashboard/view-state.ts';

function epoch(runId: string, n: number, accuracy: number): AnyMessage {
  return createMessage('tolaria.epoch.completed', { runId, epoch: n, globalStep: n * 10, trainingLoss: 0.5, validationLoss: 0.6, validationAccuracy: accuracy, epochMs: 100, paramCount: 29 }, { source: 't/tolaria', runId });
}

function node(now: number, overrides: Partial<NodeStatus> = {}): NodeStatus {
  return {
    nodeId: 'n1', name: 'n1', incarnationId: 'i1', roles: ['trainer'], version: '0.1.0', startedAt: new Date(now).toISOString(), uptimeMs: 1,
    load: { eventLoopLagMs: 1, rssBytes: 1 }, runs: [], status: 'ready', lastHeartbeatAt: new Date(now).toISOString(), heartbeatMs: 1000, ...overrides,
  };
}

describe('ViewState', () => {
  it('grows a run curve per epoch event and tells the listener each point', () => {
    const view = new ViewState({ mode: 'cluster' });
    const heard: string[] = [];
    view.listen((event) => heard.push(event));
    view.applyEvent(epoch('r1', 1, 0.5), 1);
    view.applyEvent(epoch('r1', 2, 0.6), 2);
    expect(view.run('r1')?.points.map((p) => p.epoch)).to.deep.equal([1, 2]);
    expect(view.run('r1')?.epoch).to.equal(2);
    expect(heard.filter((e) => e === 'run.point')).to.have.length(2);
    // A rolled-back run repeats an epoch: the curve is rewound, not doubled.
    view.applyEvent(epoch('r1', 2, 0.55), 3);
    expect(view.run('r1')?.points.map((p) => p.validationAccuracy)).to.deep.equal([0.5, 0.55]);
  });

  it('a run record written before a state change and delivered after it does not undo it (the bucket and the stream are not ordered)', () => {
    const view = new ViewState({ mode: 'cluster' });
    const record = (state: 'running' | 'paused', updatedAt: string) => ({ runId: 'r1', state, epoch: 3, updatedAt });
    view.putRun(record('running', '2026-12-03T10:00:00.000Z'));
    view.applyEvent(createMessage('tolaria.run.state_changed', { runId: 'r1', from: 'running', to: 'paused', epoch: 3, nodeId: 'n1' }, { source: 'n1/tolaria', runId: 'r1', now: () => new Date('2026-12-03T10:00:02.000Z') }));
    expect(view.run('r1')?.state).to.equal('paused');
    view.putRun(record('running', '2026-12-03T10:00:01.000Z')); // the epoch-end write, delivered late
    expect(view.run('r1')?.state).to.equal('paused');
    expect(view.run('r1')?.epoch).to.equal(3);
    view.putRun(record('running', '2026-12-03T10:00:05.000Z')); // a resume, written after the pause
    expect(view.run('r1')?.state).to.equal('running');
    // An event older than the record the page shows does not win either.
    view.applyEvent(createMessage('tolaria.run.state_changed', { runId: 'r1', from: 'running', to: 'paused', epoch: 3, nodeId: 'n1' }, { source: 'n1/tolaria', runId: 'r1', now: () => new Date('2026-12-03T10:00:04.000Z') }));
    expect(view.run('r1')?.state).to.equal('running');
  });

  it('records seed stage changes, decisions with reasons, rollbacks, and graft drops while blending', () => {
    const view = new ViewState({ mode: 'cluster' });
    const runId = 'r1';
    view.applyEvent(epoch(runId, 1, 0.8));
    view.applyEvent(createMessage('kasmina.seed.transitioned', { seedId: 's1', slotId: 'h1', from: 'HOLDING', to: 'BLENDING', epoch: 1, cause: { reason: 'gate G2 passed' } }, { source: 'k', runId }));
    expect(view.run(runId)?.seeds).to.deep.include({ seedId: 's1', slotId: 'h1', stage: 'BLENDING', alpha: 0, epoch: 1, reason: 'gate G2 passed' });
    view.applyEvent(epoch(runId, 2, 0.6));
    expect(view.run(runId)?.graftDrops).to.deep.equal([{ epoch: 2, dropPct: 25.000000000000007, slots: ['h1'] }]);
    expect(view.run(runId)?.maxGraftDropPct).to.be.closeTo(25, 1e-9);
    view.applyEvent(createMessage('tamiyo.decision.made', { packetId: 'p1', runId, epoch: 2, commands: [], policy: 'heuristic@1', reason: 'plateau 3 epochs', fallback: false }, { source: 't', runId }));
    expect(view.run(runId)?.decisions[0]).to.include({ policy: 'heuristic@1', reason: 'plateau 3 epochs' });
    expect(view.snapshot().events.at(-1)?.summary).to.equal('heuristic@1: plateau 3 epochs');
  });

  it('shows a node late after one and a half missed heartbeats and down after three, like the cluster', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const view = new ViewState({ mode: 'cluster', now: () => now });
    const heard: Array<{ status: string; late: boolean }> = [];
    view.listen((event, data) => {
      if (event === 'node') heard.push({ status: (data as { status: string }).status, late: (data as { late: boolean }).late });
    });
    view.putNode(node(now));
    now += 1400;
    view.tick();
    now += 200;
    view.tick();
    now += 1500;
    view.tick();
    expect(heard).to.deep.equal([{ status: 'ready', late: false }, { status: 'ready', late: true }, { status: 'down', late: true }]);
  });

  it("shows a node's jetstream breaker from its breaker events and from its membership record (a page opened during an outage)", () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const view = new ViewState({ mode: 'cluster', now: () => now });
    const nats = { connected: true, disconnectedMs: 0, reconnects: 0, replicas: 3, eventBacklog: 0 };
    const breakersOfN1 = (): unknown => view.snapshot().nodes.find((n) => n.nodeId === 'n1')?.breakers.map((b) => `${b.name} ${b.state}`);
    view.putNode(node(now, { nats: { ...nats, degraded: true, degradedSince: new Date(now - 2000).toISOString(), breaker: 'open' } }));
    expect(breakersOfN1()).to.deep.equal(['jetstream open']);
    expect(view.snapshot().nodes[0]?.breakers[0]?.at).to.equal(new Date(now - 2000).toISOString());
    view.applyEvent(createMessage('supervision.breaker.state', { name: 'jetstream', from: 'open', to: 'half_open', at: new Date(now).toISOString(), reason: 'on probation' }, { source: 'n1/nats' }));
    expect(breakersOfN1()).to.deep.equal(['jetstream half_open']);
    // The next heartbeat says the same: the event's detail is kept.
    view.putNode(node(now, { nats: { ...nats, degraded: false, breaker: 'half_open' } }));
    expect(view.snapshot().nodes[0]?.breakers[0]?.reason).to.equal('on probation');
    view.putNode(node(now, { nats: { ...nats, degraded: false, breaker: 'closed' } }));
    expect(breakersOfN1()).to.deep.equal(['jetstream closed']);
  });

  it('keeps its series bounded', () => {
    const view = new ViewState({ mode: 'cluster' });
    for (let i = 1; i <= VIEW_LIMITS.events + 50; i++) view.applyEvent(epoch('r1', i, 0.5));
    expect(view.snapshot().events).to.have.length(VIEW_LIMITS.events);
    expect(view.snapshot().events[0]?.seq).to.equal(51);
  });
});
