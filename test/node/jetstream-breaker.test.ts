/** The node's `jetstream` breaker as a pure function of what it observes (issue 13). */
import { expect } from 'chai';
import { nextJetStreamBreaker, type JetStreamBreaker } from '../../src/node/jetstream-breaker.ts';

describe('nextJetStreamBreaker', () => {
  const closed: JetStreamBreaker = { state: 'closed', since: 0 };
  const healthy = (now: number) => ({ failing: 0, connected: true, now });

  it('stays closed (the same object) while nothing fails', () => {
    expect(nextJetStreamBreaker(closed, healthy(1000))).to.equal(closed);
  });

  it('opens while an operation is retried or no server is reachable, and stays open (since unchanged)', () => {
    const open = nextJetStreamBreaker(closed, { failing: 1, connected: true, now: 1000 });
    expect(open).to.deep.equal({ state: 'open', since: 1000 });
    expect(nextJetStreamBreaker(open, { failing: 3, connected: true, now: 2000 })).to.equal(open);
    expect(nextJetStreamBreaker(closed, { failing: 0, connected: false, now: 1500 })).to.deep.equal({ state: 'open', since: 1500 });
  });

  it('is half-open once nothing is retried, closes after the probation, and reopens on a failure during it', () => {
    const open: JetStreamBreaker = { state: 'open', since: 1000 };
    const half = nextJetStreamBreaker(open, healthy(4000), 5000);
    expect(half).to.deep.equal({ state: 'half_open', since: 4000 });
    expect(nextJetStreamBreaker(half, healthy(8999), 5000)).to.equal(half);
    expect(nextJetStreamBreaker(half, healthy(9000), 5000)).to.deep.equal({ state: 'closed', since: 9000 });
    expect(nextJetStreamBreaker(half, { failing: 1, connected: true, now: 6000 }, 5000)).to.deep.equal({ state: 'open', since: 6000 });
  });
});
