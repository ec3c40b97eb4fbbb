import { expect } from 'chai';
import { EsperError } from '../../src/errors/index.ts';
import { alwaysRestart, startSupervisor, type Behaviour, type Replier, type Supervisor } from '../../src/supervision/index.ts';
import { Journal, probe, sleep, tree, waitFor, worker, type ProbeMsg, type ProbeState } from './support.ts';
import { rejectsWith } from '../helpers/rejects-with.ts';

describe('ActorRef.query', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('rejects at once with the crash error code when the handler throws on that query', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))]));
    const ref = root.ref<ProbeMsg>('w')!;
    const thrown = new EsperError('ESPER_BUS_UNAVAILABLE', 'bus went away');
    const started = performance.now();
    const error = await rejectsWith(ref.query({ type: 'crash', error: thrown }, 5000));
    const elapsed = performance.now() - started;
    expect(elapsed).to.be.below(200);
    expect(error.code).to.equal('ESPER_BUS_UNAVAILABLE');
    expect(error).to.equal(thrown);
    await waitFor(() => journal.inits('w') === 2, 2000, 'restart');
    expect((await ref.query<ProbeState>({ type: 'get' }, 1000)).count).to.equal(0);
  });

  it('turns a non-Esper crash into ESPER_ACTOR_CRASHED with the original message', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))], { policy: alwaysRestart }));
    const started = performance.now();
    const error = await rejectsWith(root.ref<ProbeMsg>('w')!.query({ type: 'crash', error: new RangeError('index out of range') }, 5000));
    expect(performance.now() - started).to.be.below(200);
    expect(error.code).to.equal('ESPER_ACTOR_CRASHED');
    expect(error.details).to.deep.include({ error: 'index out of range', name: 'RangeError', actor: 'root/w' });
  });

  it('rejects with ESPER_TIMEOUT when no reply comes in time', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))]));
    const ref = root.ref<ProbeMsg>('w')!;
    ref.dispatch({ type: 'slow', ms: 300 });
    const started = performance.now();
    const error = await rejectsWith(ref.query({ type: 'get' }, 40));
    expect(error.code).to.equal('ESPER_TIMEOUT');
    expect(performance.now() - started).to.be.within(30, 250);
  });

  it('rejects a query the handler neither answered nor deferred (ESPER_INTERNAL), without crashing', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))]));
    const ref = root.ref<ProbeMsg>('w')!;
    expect((await rejectsWith(ref.query({ type: 'inc' }, 1000))).code).to.equal('ESPER_INTERNAL');
    expect((await ref.query<ProbeState>({ type: 'get' }, 1000)).count).to.equal(1);
    expect(journal.inits('w')).to.equal(1);
  });

  it('answers deferred replies after the handler returned', async () => {
    type Msg = { type: 'ask' } | { type: 'answer'; value: number };
    const behaviour: Behaviour<Replier[], Msg> = {
      init: () => [],
      handle(waiting, msg, ctx) {
        if (msg.type === 'ask') return [...waiting, ctx.deferReply()!];
        for (const replier of waiting) replier.resolve(msg.value);
        return [];
      },
    };
    root = await startSupervisor(tree('root', 'one_for_one', [{ id: 'd', restart: 'permanent', shutdownTimeoutMs: 100, subsystem: 'test', behaviour }]));
    const ref = root.ref<Msg>('d')!;
    const answers = Promise.all([ref.query<number>({ type: 'ask' }, 1000), ref.query<number>({ type: 'ask' }, 1000)]);
    await sleep(5);
    ref.dispatch({ type: 'answer', value: 42 });
    expect(await answers).to.deep.equal([42, 42]);
  });

  it('keeps the order of messages queued across a restart', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))], { backoff: { initialMs: 30, maxMs: 30, factor: 1, jitter: 0 } }));
    const ref = root.ref<ProbeMsg>('w')!;
    ref.dispatch({ type: 'crash' });
    for (let i = 0; i < 5; i++) ref.dispatch({ type: 'inc' });
    const state = await ref.query<ProbeState>({ type: 'get' }, 2000);
    expect(state.count).to.equal(5);
    expect(journal.inits('w')).to.equal(2);
  });

  it('rejects at once when an async handler fails on that query', async () => {
    type Msg = { type: 'fail' };
    const behaviour: Behaviour<null, Msg> = {
      init: () => null,
      handle: async () => {
        await sleep(1);
        throw new EsperError('ESPER_STREAM_ERROR', 'stream gone');
      },
    };
    root = await startSupervisor(tree('root', 'one_for_one', [{ id: 'a', restart: 'permanent', shutdownTimeoutMs: 100, subsystem: 'test', behaviour }]));
    const started = performance.now();
    const error = await rejectsWith(root.ref<Msg>('a')!.query({ type: 'fail' }, 5000));
    expect(error.code).to.equal('ESPER_STREAM_ERROR');
    expect(performance.now() - started).to.be.below(200);
  });

  it('treats a timeout beyond Node\'s timer range as very long, not as immediate (nact wraps it to ~1 ms)', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))]));
    const ref = root.ref<ProbeMsg>('w')!;
    ref.dispatch({ type: 'slow', ms: 20 });
    expect((await ref.query<ProbeState>({ type: 'get' }, 3_000_000_000)).count).to.equal(0);
  });

  it('rejects queries still queued when the tree shuts down, instead of leaving them to time out', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal))]));
    const ref = root.ref<ProbeMsg>('w')!;
    ref.dispatch({ type: 'slow', ms: 20 });
    const queued = Array.from({ length: 3 }, () => rejectsWith(ref.query({ type: 'get' }, 60_000)));
    await sleep(2);
    const started = performance.now();
    await root.stop();
    const codes = (await Promise.all(queued)).map((e) => e.code);
    expect(codes).to.deep.equal(['ESPER_ACTOR_STOPPED', 'ESPER_ACTOR_STOPPED', 'ESPER_ACTOR_STOPPED']);
    expect(performance.now() - started).to.be.below(500);
  });
});
