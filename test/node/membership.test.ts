/** Membership liveness (issue 13): silence that overlaps the observer's own outage is no evidence. */
import { expect } from 'chai';
import { judgeMember, type MemberRecord } from '../../src/node/membership.ts';

function member(lastHeartbeatAt: number): MemberRecord {
  return {
    nodeId: 'n1',
    name: 'n1',
    incarnationId: 'i1',
    roles: ['trainer'],
    version: '0.1.0',
    startedAt: new Date(0).toISOString(),
    uptimeMs: 1,
    load: { eventLoopLagMs: 0, rssBytes: 1 },
    runs: [],
    status: 'ready',
    lastHeartbeatAt: new Date(lastHeartbeatAt).toISOString(),
    heartbeatMs: 1000,
  };
}

describe('judgeMember', () => {
  it('reports a node down after three missed heartbeats', () => {
    expect(judgeMember(member(10_000), 12_900).status).to.equal('ready');
    expect(judgeMember(member(10_000), 13_100).status).to.equal('down');
  });

  it('does not count silence before the end of the observer\'s own outage (a leader election): three more heartbeats of grace', () => {
    // The observer's own heartbeats failed until 20 s: the member's last beat at 10 s says nothing yet.
    expect(judgeMember(member(10_000), 21_000, 20_000).status).to.equal('ready');
    expect(judgeMember(member(10_000), 23_100, 20_000).status).to.equal('down');
  });
});
