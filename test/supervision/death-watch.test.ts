import { expect } from 'chai';
import { startSupervisor, watch, type Behaviour, type Supervisor, type Terminated } from '../../src/supervision/index.ts';
import { flush, Journal, probe, tree, waitFor, worker, type ProbeMsg } from './support.ts';

describe('death watch', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('delivers Terminated exactly once, and not on restarts that keep the actor alive', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal), { restart: 'transient' })]));
    const ref = root.ref<ProbeMsg>('w')!;
    const seen: Terminated[] = [];
    watch(ref, (t) => seen.push(t));
    for (let i = 0; i < 3; i++) {
      ref.dispatch({ type: 'crash' });
      await waitFor(() => journal.inits('w') === i + 2, 2000, 'restart');
    }
    await flush();
    expect(seen).to.deep.equal([]);
    ref.dispatch({ type: 'stop' });
    await waitFor(() => seen.length > 0, 2000, 'Terminated');
    await root.stop();
    await flush();
    expect(seen).to.deep.equal([{ type: 'Terminated', id: 'w', path: 'root/w', reason: 'normal' }]);
  });

  it('delivers Terminated at once when watching an actor already dead', async () => {
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', new Journal()))]));
    const ref = root.ref<ProbeMsg>('w')!;
    await root.stopChild('w');
    const seen: Terminated[] = [];
    watch(ref, (t) => seen.push(t));
    expect(seen).to.deep.equal([{ type: 'Terminated', id: 'w', path: 'root/w', reason: 'shutdown' }]);
  });

  it('sends Terminated as a message to a watching actor', async () => {
    const received: Terminated[] = [];
    const watcher: Behaviour<null, Terminated> = {
      init: () => null,
      handle: (state, msg) => {
        received.push(msg);
        return state;
      },
    };
    root = await startSupervisor(
      tree('root', 'one_for_one', [
        { id: 'watcher', restart: 'permanent', shutdownTimeoutMs: 100, subsystem: 'test', behaviour: watcher },
        worker('w', probe('w', new Journal()), { restart: 'temporary' }),
      ]),
    );
    watch(root.ref<ProbeMsg>('w')!, root.ref<Terminated>('watcher')!);
    root.ref<ProbeMsg>('w')!.dispatch({ type: 'crash' });
    await waitFor(() => received.length === 1, 2000, 'Terminated message');
    expect(received[0]).to.deep.include({ type: 'Terminated', id: 'w', reason: 'error' });
    expect(received[0]!.error?.code).to.equal('ESPER_ACTOR_CRASHED');
  });

  it('an unwatched watcher hears nothing; a supervisor can be watched too', async () => {
    root = await startSupervisor(tree('root', 'one_for_one', [tree('inner', 'one_for_one', [worker('w', probe('w', new Journal()))])]));
    const ref = root.supervisor('inner')!.ref<ProbeMsg>('w')!;
    const seen: string[] = [];
    const unwatch = watch(ref, () => seen.push('w'));
    watch(root.supervisor('inner')!, (t) => seen.push(`inner:${t.reason}`));
    unwatch();
    await root.stopChild('inner');
    expect(seen).to.deep.equal(['inner:shutdown']);
    expect(ref.alive).to.equal(false);
  });
});
