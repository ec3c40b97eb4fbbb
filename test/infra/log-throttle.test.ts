/** One log line per interval while something keeps failing (issue 13). */
import { expect } from 'chai';
import { LogThrottle } from '../../src/infra/log-throttle.ts';

describe('LogThrottle', () => {
  it('lets the first line through, then one per interval; a reset starts a new episode', () => {
    let now = 5_000;
    const throttle = new LogThrottle(10_000, () => now);
    const allowedAt: number[] = [];
    for (; now < 40_000; now += 1000) if (throttle.allow()) allowedAt.push(now);
    expect(allowedAt).to.deep.equal([5_000, 15_000, 25_000, 35_000]);
    throttle.reset();
    expect(throttle.allow(), 'a new episode is logged at once').to.equal(true);
    expect(throttle.allow()).to.equal(false);
  });
});
