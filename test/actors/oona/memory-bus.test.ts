import { expect } from 'chai';
import { createBus, MemoryBus } from '../../../src/actors/oona/index.ts';
import { ManualClock } from '../../../src/infra/clock.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';
import type { DurableMessage } from '../../../src/actors/oona/bus.ts';
import { runBusContract, sleep, waitFor } from './bus-contract.ts';

runBusContract('MemoryBus', ({ metrics }) => Promise.resolve(new MemoryBus(metrics === undefined ? {} : { metrics })));

describe('MemoryBus', () => {
  it('createBus gives the in-process bus without a NATS URL', async () => {
    const bus = await createBus({ natsUrl: '  ' });
    expect(bus).to.be.instanceOf(MemoryBus);
    expect(bus.kind).to.equal('memory');
    await bus.close();
  });

  it('runs ack waits, timeouts and TTLs on the injected clock', async () => {
    const clock = new ManualClock();
    const bus = new MemoryBus({ clock });
    await bus.ensureStream({ name: 'clocked', subjects: ['c.>'] });
    const got: DurableMessage[] = [];
    await bus.consume({ stream: 'clocked', durable: 'w', ackWaitMs: 60_000 }, (m) => void got.push(m));
    await bus.publishDurable('c.job', 1);
    await waitFor(() => got.length === 1);
    clock.advance(59_999);
    await sleep(20);
    expect(got).to.have.length(1);
    clock.advance(1);
    await waitFor(() => got.length === 2);
    expect(got[1]!.deliveryCount).to.equal(2);

    const kv = await bus.kv('clocked', { ttlMs: 1000 });
    await kv.put('k', 1);
    clock.advance(999);
    expect(await kv.get('k')).to.not.equal(null);
    clock.advance(1);
    expect(await kv.get('k')).to.equal(null);

    bus.subscribe('silent', () => undefined);
    const pending = bus.request('silent', {}, { timeoutMs: 10_000 });
    clock.advance(10_000);
    await rejectsWith(pending, 'ESPER_TIMEOUT');
    await bus.close();
  });

  it('refuses overlapping stream subjects and invalid subjects', async () => {
    const bus = new MemoryBus();
    await bus.ensureStream({ name: 'one', subjects: ['o.>'] });
    await rejectsWith(bus.ensureStream({ name: 'two', subjects: ['o.x'] }), 'ESPER_STREAM_ERROR');
    expect(() => bus.publish('a.*', 1)).to.throw(RangeError);
    expect(() => bus.subscribe('a.>.b', () => undefined)).to.throw(RangeError);
    await bus.close();
  });

  it('rejects pending requests when closed', async () => {
    const bus = new MemoryBus();
    bus.subscribe('never', () => undefined);
    const pending = bus.request('never', {}, { timeoutMs: 10_000 });
    await bus.close();
    await rejectsWith(pending, 'ESPER_BUS_CLOSED');
  });
});
