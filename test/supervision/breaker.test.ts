import { expect } from 'chai';
import { EsperError } from '../../src/errors/index.ts';
import { Metrics } from '../../src/infra/metrics.ts';
import { createBreaker, type Breaker, type BreakerEvent } from '../../src/supervision/index.ts';
import { sleep } from './support.ts';
import { rejectsWith } from '../helpers/rejects-with.ts';

async function gauge(metrics: Metrics, name: string): Promise<number | undefined> {
  const metric = await metrics.registry.getSingleMetric('esper_breaker_state')?.get();
  return metric?.values.find((v) => v.labels['name'] === name)?.value;
}

describe('circuit breaker', () => {
  const breakers: Pick<Breaker<never, unknown>, 'dispose'>[] = [];
  afterEach(() => {
    for (const breaker of breakers.splice(0)) breaker.dispose();
  });

  function flaky() {
    const control = { healthy: false, calls: 0 };
    const action = async (x: number): Promise<number> => {
      control.calls++;
      await Promise.resolve();
      if (!control.healthy) throw new EsperError('ESPER_BUS_UNAVAILABLE', 'down');
      return x * 2;
    };
    return { control, action };
  }

  it('opens after N consecutive failures, then fails fast without calling the action; half-open → closed after a success', async () => {
    const metrics = new Metrics();
    const events: BreakerEvent[] = [];
    const { control, action } = flaky();
    const breaker = createBreaker('urza.storage', action, { timeoutMs: 1000, failureThreshold: 3, resetTimeoutMs: 80, emit: (e) => events.push(e), metrics });
    breakers.push(breaker);
    expect(await gauge(metrics, 'urza.storage')).to.equal(0);

    for (let i = 0; i < 3; i++) await rejectsWith(breaker.call(i), 'ESPER_BUS_UNAVAILABLE');
    expect(breaker.state).to.equal('open');
    expect(await gauge(metrics, 'urza.storage')).to.equal(2);
    const callsWhenOpened = control.calls;
    control.healthy = true;
    const started = performance.now();
    await rejectsWith(breaker.call(1), 'ESPER_BREAKER_OPEN');
    expect(performance.now() - started).to.be.below(20);
    expect(control.calls).to.equal(callsWhenOpened); // nothing reached the action

    await sleep(120);
    expect(breaker.state).to.equal('half_open');
    expect(await gauge(metrics, 'urza.storage')).to.equal(1);
    expect(await breaker.call(21)).to.equal(42);
    expect(breaker.state).to.equal('closed');
    expect(await gauge(metrics, 'urza.storage')).to.equal(0);
    expect(events.map((e) => `${e.from}->${e.to}`)).to.deep.equal(['closed->open', 'open->half_open', 'half_open->closed']);
    expect(events.every((e) => e.type === 'supervision.breaker.state' && e.name === 'urza.storage' && !Number.isNaN(Date.parse(e.at)))).to.equal(true);
  });

  it('runs the fallback while open (the action is not called) and on failures', async () => {
    const { control, action } = flaky();
    const seen: string[] = [];
    const breaker = createBreaker('tamiyo.decide', action, {
      timeoutMs: 1000,
      failureThreshold: 2,
      resetTimeoutMs: 10_000,
      fallback: (error, x) => {
        seen.push(`${error.code}:${x}`);
        return -1;
      },
    });
    breakers.push(breaker);
    expect(await breaker.call(1)).to.equal(-1);
    expect(await breaker.call(2)).to.equal(-1);
    expect(breaker.state).to.equal('open');
    control.healthy = true;
    expect(await breaker.call(3)).to.equal(-1);
    expect(control.calls).to.equal(2);
    expect(seen).to.deep.equal(['ESPER_BUS_UNAVAILABLE:1', 'ESPER_BUS_UNAVAILABLE:2', 'ESPER_BREAKER_OPEN:3']);
  });

  it('counts consecutive failures only: a success resets the count', async () => {
    const { control, action } = flaky();
    const breaker = createBreaker('x', action, { timeoutMs: 1000, failureThreshold: 3, resetTimeoutMs: 10_000 });
    breakers.push(breaker);
    await breaker.call(1).catch(() => undefined);
    await breaker.call(1).catch(() => undefined);
    control.healthy = true;
    await breaker.call(1);
    control.healthy = false;
    await breaker.call(1).catch(() => undefined);
    await breaker.call(1).catch(() => undefined);
    expect(breaker.state).to.equal('closed');
    expect(breaker.consecutiveFailures).to.equal(2);
    await breaker.call(1).catch(() => undefined);
    expect(breaker.state).to.equal('open');
  });

  it('times slow calls out with ESPER_TIMEOUT, counted as failures; a failed half-open trial reopens', async () => {
    const events: BreakerEvent[] = [];
    let delayMs = 200;
    const breaker = createBreaker('tezzeret.submit', () => sleep(delayMs).then(() => 'done'), { timeoutMs: 20, failureThreshold: 1, resetTimeoutMs: 50, emit: (e) => events.push(e) });
    breakers.push(breaker);
    await rejectsWith(breaker.call(), 'ESPER_TIMEOUT');
    expect(breaker.state).to.equal('open');
    await sleep(80);
    await rejectsWith(breaker.call(), 'ESPER_TIMEOUT');
    expect(breaker.state).to.equal('open');
    await sleep(80);
    delayMs = 1;
    expect(await breaker.call()).to.equal('done');
    expect(events.map((e) => e.to)).to.deep.equal(['open', 'half_open', 'open', 'half_open', 'closed']);
  });
});
