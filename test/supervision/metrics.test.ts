import { expect } from 'chai';
import { Metrics } from '../../src/infra/metrics.ts';
import { publishMailboxDepth, startSupervisor, type Supervisor } from '../../src/supervision/index.ts';
import { Journal, probe, sleep, tree, waitFor, worker, type ProbeMsg } from './support.ts';

async function value(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('supervision metrics', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('tracks live actors and restarts by subsystem', async () => {
    const metrics = new Metrics();
    const journal = new Journal();
    root = await startSupervisor(
      tree('root', 'one_for_one', [worker('a', probe('a', journal), { subsystem: 'tamiyo' }), worker('b', probe('b', journal), { subsystem: 'kasmina' }), worker('c', probe('c', journal), { subsystem: 'kasmina' })]),
      { metrics },
    );
    expect(await value(metrics, 'esper_actors', { subsystem: 'kasmina' })).to.equal(2);
    expect(await value(metrics, 'esper_actors', { subsystem: 'tamiyo' })).to.equal(1);
    root.ref<ProbeMsg>('b')!.dispatch({ type: 'crash' });
    await waitFor(() => journal.inits('b') === 2);
    await sleep(1);
    expect(await value(metrics, 'esper_actor_restarts_total', { subsystem: 'kasmina' })).to.equal(1);
    expect(await value(metrics, 'esper_actors', { subsystem: 'kasmina' })).to.equal(2); // a restart is not a new actor
    await root.stopChild('c');
    expect(await value(metrics, 'esper_actors', { subsystem: 'kasmina' })).to.equal(1);
  });

  it('reports mailbox depth (dispatched but not yet handled)', async () => {
    const metrics = new Metrics();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', new Journal()), { subsystem: 'urza' })]), { metrics });
    const ref = root.ref<ProbeMsg>('w')!;
    ref.dispatch({ type: 'slow', ms: 50 });
    await sleep(5);
    for (let i = 0; i < 7; i++) ref.dispatch({ type: 'inc' });
    publishMailboxDepth(metrics);
    expect(await value(metrics, 'esper_mailbox_depth', { subsystem: 'urza' })).to.equal(7);
    await sleep(80);
    publishMailboxDepth(metrics);
    expect(await value(metrics, 'esper_mailbox_depth', { subsystem: 'urza' })).to.equal(0);
  });
});
