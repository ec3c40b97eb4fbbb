import { expect } from 'chai';
import { startSupervisor, watch, type Supervisor, type Terminated } from '../../src/supervision/index.ts';
import { flush, Journal, probe, tree, waitFor, worker, type ProbeMsg } from './support.ts';

describe('restart types', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  async function start(restart: 'permanent' | 'transient' | 'temporary') {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('c', probe('c', journal), { restart })]));
    const ref = root.ref<ProbeMsg>('c')!;
    const deaths: Terminated[] = [];
    watch(ref, (t) => deaths.push(t));
    return { journal, ref, deaths, root };
  }

  it('a transient child that stops normally stays stopped', async () => {
    const { journal, ref, deaths, root } = await start('transient');
    ref.dispatch({ type: 'stop' });
    await waitFor(() => deaths.length === 1, 2000, 'Terminated');
    await flush();
    expect(journal.inits('c')).to.equal(1);
    expect(ref.alive).to.equal(false);
    expect(deaths[0]).to.deep.include({ id: 'c', path: 'root/c', reason: 'normal' });
    expect(root.children()).to.deep.equal([]);
    expect(journal.kinds('terminate:')).to.deep.equal(['terminate:c:normal']);
  });

  it('a transient child that crashes is restarted', async () => {
    const { journal, ref, deaths } = await start('transient');
    ref.dispatch({ type: 'crash' });
    await waitFor(() => journal.inits('c') === 2, 2000, 'restart');
    expect(ref.alive).to.equal(true);
    expect(deaths).to.deep.equal([]);
  });

  it('a temporary child is never restarted, even after a crash', async () => {
    const { journal, ref, deaths, root } = await start('temporary');
    ref.dispatch({ type: 'crash' });
    await waitFor(() => deaths.length === 1, 2000, 'Terminated');
    await flush();
    expect(journal.inits('c')).to.equal(1);
    expect(deaths[0]!.reason).to.equal('error');
    expect(deaths[0]!.error?.code).to.equal('ESPER_ACTOR_CRASHED');
    expect(root.children()).to.deep.equal([]);
  });

  it('a permanent child is restarted after a normal stop too', async () => {
    const { journal, ref, deaths } = await start('permanent');
    ref.dispatch({ type: 'stop' });
    await waitFor(() => journal.inits('c') === 2, 2000, 'restart');
    expect(ref.alive).to.equal(true);
    expect(deaths).to.deep.equal([]);
  });
});
