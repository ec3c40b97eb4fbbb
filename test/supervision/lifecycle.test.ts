import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { EsperError } from '../../src/errors/index.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { startSupervisor, watch, type Supervisor, type Terminated } from '../../src/supervision/index.ts';
import { Journal, probe, sleep, tree, worker, type ProbeMsg, type ProbeState } from './support.ts';
import { rejectsWith } from '../helpers/rejects-with.ts';

describe('supervisor lifecycle', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('starts children in spec order, each init completing before the next starts', async () => {
    const journal = new Journal();
    // Slower inits first: were they started concurrently, c would finish first.
    root = await startSupervisor(
      tree('root', 'one_for_one', [
        worker('a', probe('a', journal, { initDelayMs: 30 })),
        tree('inner', 'one_for_one', [worker('b', probe('b', journal, { initDelayMs: 20 }))]),
        worker('c', probe('c', journal, { initDelayMs: 1 })),
      ]),
    );
    expect(journal.kinds('init:')).to.deep.equal(['init:a', 'init:b', 'init:c']);
    expect(root.children().map((c) => `${c.id}:${c.kind}:${c.status}`)).to.deep.equal(['a:worker:running', 'inner:supervisor:running', 'c:worker:running']);
  });

  it('shuts down in reverse start order', async () => {
    const journal = new Journal();
    const supervisor = await startSupervisor(
      tree('root', 'one_for_one', [worker('a', probe('a', journal)), tree('inner', 'one_for_one', [worker('b1', probe('b1', journal)), worker('b2', probe('b2', journal))]), worker('c', probe('c', journal))]),
    );
    await supervisor.startChild(worker('d', probe('d', journal)));
    const terminated = await supervisor.stop();
    expect(journal.kinds('terminate:')).to.deep.equal(['terminate:d:shutdown', 'terminate:c:shutdown', 'terminate:b2:shutdown', 'terminate:b1:shutdown', 'terminate:a:shutdown']);
    expect(terminated).to.deep.equal({ type: 'Terminated', id: 'root', path: 'root', reason: 'shutdown' });
    expect(supervisor.alive).to.equal(false);
  });

  it('kills a child that ignores shutdown after its timeout (ESPER_SHUTDOWN_TIMEOUT logged)', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _e, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('stuck', probe('stuck', journal), { shutdownTimeoutMs: 50 }), worker('ok', probe('ok', journal))]), { logger });
    const stuck = root.ref<ProbeMsg>('stuck')!;
    const seen: Terminated[] = [];
    watch(stuck, (t) => seen.push(t));
    stuck.dispatch({ type: 'hang' });
    const inFlight = stuck.query({ type: 'get' }, 5000).then(
      () => 'answered',
      (e: EsperError) => e.code,
    );
    await sleep(5);
    const started = performance.now();
    await root.stop();
    const elapsed = performance.now() - started;
    expect(elapsed).to.be.within(45, 500);
    expect(seen.map((t) => t.reason)).to.deep.equal(['killed']);
    expect(await inFlight).to.equal('ESPER_ACTOR_STOPPED');
    await sleep(5);
    expect(lines.some((line) => line.includes('ESPER_SHUTDOWN_TIMEOUT') && line.includes('root/stuck'))).to.equal(true);
    expect(journal.kinds('terminate:ok')).to.deep.equal(['terminate:ok:shutdown']);
  });

  it('a terminate hook that never returns is abandoned after the shutdown timeout', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('t', probe('t', journal, { hangOnTerminate: true }), { shutdownTimeoutMs: 40 })]));
    const started = performance.now();
    await root.stopChild('t');
    expect(performance.now() - started).to.be.within(35, 500);
  });

  it('fails the start when an init throws, stopping the children already started in reverse', async () => {
    const journal = new Journal();
    await rejectsWith(
      startSupervisor(
        tree('root', 'one_for_one', [worker('a', probe('a', journal)), worker('b', probe('b', journal)), worker('c', probe('c', journal, { failInit: () => true })), worker('d', probe('d', journal))]),
      ),
      'ESPER_START_FAILED',
    );
    expect(journal.kinds('init:')).to.deep.equal(['init:a', 'init:b']);
    expect(journal.kinds('terminate:')).to.deep.equal(['terminate:b:shutdown', 'terminate:a:shutdown']);
  });

  it('starts and stops children dynamically; rejects duplicate ids and unknown ones', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('kasmina', 'one_for_one', []));
    const seeds = [];
    for (const slot of ['s0', 's1', 's2']) seeds.push(await root.startChild(worker(slot, probe(slot, journal), { restart: 'transient' })));
    expect(root.children().map((c) => c.id)).to.deep.equal(['s0', 's1', 's2']);
    seeds[1]!.dispatch({ type: 'inc' });
    expect((await seeds[1]!.query<ProbeState>({ type: 'get' }, 1000)).count).to.equal(1);
    await rejectsWith(root.startChild(worker('s1', probe('s1', journal))), 'ESPER_START_FAILED');
    await root.stopChild('s1');
    expect(root.children().map((c) => c.id)).to.deep.equal(['s0', 's2']);
    expect(seeds[1]!.alive).to.equal(false);
    await rejectsWith(root.stopChild('nope'), 'ESPER_NOT_FOUND');
    // A failed dynamic start leaves nothing behind.
    await rejectsWith(root.startChild(worker('s3', probe('s3', journal, { failInit: () => true }))), 'ESPER_START_FAILED');
    expect(root.children().map((c) => c.id)).to.deep.equal(['s0', 's2']);
  });

  it('rejects an invalid spec with every issue listed', async () => {
    const error = await rejectsWith(
      startSupervisor(
        tree('root', 'one_for_one', [worker('a', probe('a', new Journal())), worker('a', probe('a', new Journal()))], {
          intensity: { maxRestarts: -1, periodMs: 0 },
        }),
      ),
      'ESPER_CONFIG_INVALID',
    );
    expect(error.details?.['issues']).to.have.length(3);
  });

  it('stopping a nested supervisor directly goes through its parent, which does not restart it', async () => {
    const journal = new Journal();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('a', probe('a', journal)), tree('inner', 'one_for_one', [worker('b', probe('b', journal))])]));
    const inner = root.supervisor('inner')!;
    const terminated = await inner.stop();
    expect(terminated).to.deep.equal({ type: 'Terminated', id: 'inner', path: 'root/inner', reason: 'shutdown' });
    await sleep(5);
    expect(root.children().map((c) => c.id)).to.deep.equal(['a']);
    expect(journal.inits('b')).to.equal(1);
    expect(inner.alive).to.equal(false);
  });
});
