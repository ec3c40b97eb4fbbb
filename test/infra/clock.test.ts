import { expect } from 'chai';
import { ManualClock, MAX_TIMER_MS, settlesWithin, systemClock } from '../../src/infra/clock.ts';

describe('infra/clock', () => {
  describe('ManualClock', () => {
    it('moves only when advanced, firing due timers in time order (ties in creation order)', () => {
      const clock = new ManualClock(100);
      const fired: string[] = [];
      clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
      clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
      const cancelled = clock.setTimeout(() => fired.push('never'), 5);
      clock.clearTimeout(cancelled);
      expect(clock.pending).to.equal(3);
      clock.advance(15);
      expect(fired).to.deep.equal(['a@110']);
      expect(clock.now()).to.equal(115);
      clock.advance(5);
      expect(fired).to.deep.equal(['a@110', 'b@120', 'c@120']);
      expect(clock.pending).to.equal(0);
    });

    it('runs timers scheduled by a firing timer when they fall inside the advanced span', () => {
      const clock = new ManualClock();
      const fired: number[] = [];
      clock.setTimeout(() => {
        fired.push(clock.now());
        clock.setTimeout(() => fired.push(clock.now()), 10);
      }, 10);
      clock.advance(25);
      expect(fired).to.deep.equal([10, 20]);
      expect(clock.now()).to.equal(25);
    });
  });

  describe('systemClock', () => {
    it('reads Date.now and fires a delay beyond the Node timer limit late, not at once', async () => {
      expect(Math.abs(systemClock.now() - Date.now())).to.be.below(50);
      let fired = false;
      const handle = systemClock.setTimeout(() => (fired = true), MAX_TIMER_MS * 2);
      await new Promise((resolve) => setTimeout(resolve, 20));
      systemClock.clearTimeout(handle);
      expect(fired).to.equal(false);
    });
  });

  describe('settlesWithin', () => {
    it('is true when the work settles in time (a rejection counts), false when the time runs out', async () => {
      const clock = new ManualClock();
      expect(await settlesWithin(clock, Promise.resolve(1), 10)).to.equal(true);
      expect(await settlesWithin(clock, Promise.reject(new Error('x')), 10)).to.equal(true);
      const late = settlesWithin(clock, new Promise(() => undefined), 10);
      clock.advance(10);
      expect(await late).to.equal(false);
    });
  });
});
