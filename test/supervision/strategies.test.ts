import { expect } from 'chai';
import { startSupervisor, type ActorRef, type Supervisor } from '../../src/supervision/index.ts';
import { Journal, probe, tree, waitFor, worker, type ProbeMsg, type ProbeState } from './support.ts';

async function instanceOf(ref: ActorRef<ProbeMsg>): Promise<number> {
  return (await ref.query<ProbeState>({ type: 'get' }, 1000)).instance;
}

async function instances(root: Supervisor, ids: readonly string[]): Promise<number[]> {
  return Promise.all(ids.map((id) => instanceOf(root.ref<ProbeMsg>(id)!)));
}

describe('supervision strategies', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  const ids = ['a', 'b', 'c', 'd'] as const;

  async function crashAndSettle(strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one', journal: Journal, expectedInits: number) {
    root = await startSupervisor(tree('root', strategy, ids.map((id) => worker(id, probe(id, journal)))));
    const before = await instances(root, ids);
    root.ref<ProbeMsg>('b')!.dispatch({ type: 'crash' });
    await waitFor(() => journal.lines.filter((l) => l.startsWith('init:')).length === expectedInits, 2000, 'restarts');
    await waitFor(() => root!.children().every((c) => c.status === 'running' && !c.restarting));
    const after = await instances(root, ids);
    return { before, after };
  }

  it('one_for_one restarts only the failed child', async () => {
    const journal = new Journal();
    const { before, after } = await crashAndSettle('one_for_one', journal, 5);
    expect(after[0]).to.equal(before[0]);
    expect(after[1]).to.not.equal(before[1]);
    expect(after[2]).to.equal(before[2]);
    expect(after[3]).to.equal(before[3]);
    expect(journal.kinds('terminate:')).to.deep.equal(['terminate:b:crash']);
  });

  it('one_for_all restarts every child, terminating the others in reverse and starting all in order', async () => {
    const journal = new Journal();
    const { before, after } = await crashAndSettle('one_for_all', journal, 8);
    for (let i = 0; i < ids.length; i++) expect(after[i]).to.not.equal(before[i]);
    expect(journal.kinds('terminate:')).to.deep.equal(['terminate:b:crash', 'terminate:d:shutdown', 'terminate:c:shutdown', 'terminate:a:shutdown']);
    expect(journal.kinds('init:').slice(4)).to.deep.equal(['init:a', 'init:b', 'init:c', 'init:d']);
  });

  it('rest_for_one restarts the failed child and those started after it, in start order, leaving earlier ones untouched', async () => {
    const journal = new Journal();
    const { before, after } = await crashAndSettle('rest_for_one', journal, 7);
    expect(after[0]).to.equal(before[0]);
    expect(after[1]).to.not.equal(before[1]);
    expect(after[2]).to.not.equal(before[2]);
    expect(after[3]).to.not.equal(before[3]);
    expect(journal.kinds('init:').slice(4)).to.deep.equal(['init:b', 'init:c', 'init:d']);
    expect(journal.kinds('terminate:')).to.deep.equal(['terminate:b:crash', 'terminate:d:shutdown', 'terminate:c:shutdown']);
  });

  it('keeps state of untouched children and resets restarted ones', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('a', probe('a', journal)), worker('b', probe('b', journal))]));
    const a = root.ref<ProbeMsg>('a')!;
    const b = root.ref<ProbeMsg>('b')!;
    a.dispatch({ type: 'inc' });
    b.dispatch({ type: 'inc' });
    b.dispatch({ type: 'crash' });
    b.dispatch({ type: 'inc' }); // queued behind the crash: delivered to the new incarnation
    const stateB = await b.query<ProbeState>({ type: 'get' }, 1000);
    const stateA = await a.query<ProbeState>({ type: 'get' }, 1000);
    expect(stateA.count).to.equal(1);
    expect(stateB.count).to.equal(1);
    expect(journal.inits('b')).to.equal(2);
  });
});
