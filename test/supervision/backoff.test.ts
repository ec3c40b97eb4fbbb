import { expect } from 'chai';
import { backoffDelay, backoffIssues, ManualClock, startSupervisor, type Supervisor } from '../../src/supervision/index.ts';
import { flush, Journal, probe, tree, worker, type ProbeMsg, type ProbeState } from './support.ts';

describe('backoff', () => {
  const spec = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 };

  it('grows exponentially and is bounded by maxMs', () => {
    const delays = [1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(spec, n));
    expect(delays).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('jitter only shortens the wait, by at most its fraction, and never exceeds maxMs', () => {
    const jittered = { ...spec, jitter: 0.5 };
    expect(backoffDelay(jittered, 3, () => 0)).to.equal(400);
    expect(backoffDelay(jittered, 3, () => 0.999999)).to.be.closeTo(200, 0.01);
    for (let n = 1; n < 40; n++) {
      const delay = backoffDelay(jittered, n, Math.random);
      expect(delay).to.be.at.most(1000).and.at.least(Math.min(1000, 100 * 2 ** (n - 1)) / 2);
    }
  });

  it('a zero initial wait restarts at once', () => {
    expect(backoffDelay({ initialMs: 0, maxMs: 0, factor: 2, jitter: 0.3 }, 7)).to.equal(0);
  });

  it('reports invalid specs', () => {
    expect(backoffIssues(spec)).to.deep.equal([]);
    expect(backoffIssues({ initialMs: -1, maxMs: 5, factor: 0.5, jitter: 2 })).to.have.length(3);
  });

  describe('observed restarts', () => {
    let root: Supervisor | undefined;
    afterEach(async () => {
      await root?.stop();
      root = undefined;
    });

    it('waits backoff(n) before the nth restart within the period, queueing messages meanwhile', async () => {
      const clock = new ManualClock(1_000_000);
      const journal = new Journal();
      root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))], { backoff: spec }), { clock });
      const ref = root.ref<ProbeMsg>('w')!;

      ref.dispatch({ type: 'crash' });
      await flush();
      expect(journal.inits('w')).to.equal(1);
      expect(root.children()[0]!.restarting).to.equal(true);
      const answer = ref.query<ProbeState>({ type: 'get' }, 10_000); // queued, not lost
      clock.advance(99);
      await flush();
      expect(journal.inits('w')).to.equal(1);
      clock.advance(1);
      await flush();
      expect(journal.inits('w')).to.equal(2);
      expect((await answer).count).to.equal(0);

      ref.dispatch({ type: 'crash' }); // second restart within the period: 200 ms
      await flush();
      clock.advance(199);
      await flush();
      expect(journal.inits('w')).to.equal(2);
      clock.advance(1);
      await flush();
      expect(journal.inits('w')).to.equal(3);
    });
  });
});
