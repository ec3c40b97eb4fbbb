import { expect } from 'chai';
import type { EsperError } from '../../src/errors/index.ts';
import { ManualClock, startSupervisor, type ActorRef, type SupervisionEvent, type Supervisor } from '../../src/supervision/index.ts';
import { flush, Journal, probe, tree, waitFor, worker, type ProbeMsg } from './support.ts';
import { rejectsWith } from '../helpers/rejects-with.ts';

async function crashAndWaitRestart(ref: ActorRef<ProbeMsg>, journal: Journal, name: string): Promise<void> {
  const before = journal.inits(name);
  ref.dispatch({ type: 'crash' });
  await waitFor(() => journal.inits(name) === before + 1, 2000, `restart of ${name}`);
}

describe('restart intensity', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('the (N+1)th crash within the period escalates to the parent, which restarts the subtree', async () => {
    const journal = new Journal();
    const events: SupervisionEvent[] = [];
    const inner = tree('inner', 'one_for_one', [worker('w', probe('w', journal)), worker('x', probe('x', journal))], {
      intensity: { maxRestarts: 2, periodMs: 10_000 },
    });
    root = await startSupervisor(tree('root', 'one_for_one', [inner]), { emit: (event) => events.push(event) });
    const w = root.supervisor('inner')!.ref<ProbeMsg>('w')!;

    await crashAndWaitRestart(w, journal, 'w');
    await crashAndWaitRestart(w, journal, 'w');
    expect(events.filter((e) => e.type === 'supervision.escalated')).to.have.length(0);
    expect(root.supervisor('inner')!.incarnation).to.equal(1);

    // Third crash: inner gives up; root restarts inner, so both its children restart (x too).
    await crashAndWaitRestart(w, journal, 'w');
    await waitFor(() => journal.inits('x') === 2, 2000, 'x restarted with its supervisor');
    const escalated = events.find((e) => e.type === 'supervision.escalated');
    expect(escalated).to.deep.include({ supervisor: 'root/inner', child: 'w', restarts: 3, periodMs: 10_000 });
    expect(escalated?.type === 'supervision.escalated' && escalated.error.code).to.equal('ESPER_RESTART_INTENSITY');
    const restartedInner = events.find((e) => e.type === 'supervision.child.restarted' && e.supervisor === 'root' && e.child === 'inner');
    expect(restartedInner?.type === 'supervision.child.restarted' && restartedInner.error.code).to.equal('ESPER_RESTART_INTENSITY');
    expect(root.supervisor('inner')!.incarnation).to.equal(2);
    expect(root.status).to.equal('running');
    // The ref survived the subtree restart, and the fresh supervisor has a fresh window.
    await crashAndWaitRestart(w, journal, 'w');
    expect(root.supervisor('inner')!.incarnation).to.equal(2);
  });

  it('crashes spread wider than the period never escalate (sliding window)', async () => {
    const clock = new ManualClock(0);
    const journal = new Journal();
    const events: SupervisionEvent[] = [];
    const inner = tree('inner', 'one_for_one', [worker('w', probe('w', journal))], { intensity: { maxRestarts: 2, periodMs: 1000 } });
    root = await startSupervisor(tree('root', 'one_for_one', [inner]), { clock, emit: (event) => events.push(event) });
    const w = root.supervisor('inner')!.ref<ProbeMsg>('w')!;
    for (let i = 0; i < 8; i++) {
      await crashAndWaitRestart(w, journal, 'w');
      clock.advance(600); // at most two restarts are ever inside one 1000 ms window
    }
    await flush();
    expect(events.filter((e) => e.type === 'supervision.escalated')).to.deep.equal([]);
    expect(root.supervisor('inner')!.incarnation).to.equal(1);
    expect(journal.inits('w')).to.equal(9);
  });

  it('the same crashes packed inside the period do escalate (control for the test above)', async () => {
    const clock = new ManualClock(0);
    const journal = new Journal();
    const events: SupervisionEvent[] = [];
    const inner = tree('inner', 'one_for_one', [worker('w', probe('w', journal))], { intensity: { maxRestarts: 2, periodMs: 1000 } });
    root = await startSupervisor(tree('root', 'one_for_one', [inner]), { clock, emit: (event) => events.push(event) });
    const w = root.supervisor('inner')!.ref<ProbeMsg>('w')!;
    for (let i = 0; i < 3; i++) {
      await crashAndWaitRestart(w, journal, 'w');
      clock.advance(300);
    }
    expect(events.filter((e) => e.type === 'supervision.escalated')).to.have.length(1);
  });

  it('a root that gives up stops its tree and calls onGiveUp with ESPER_RESTART_INTENSITY', async () => {
    const journal = new Journal();
    const givenUp: EsperError[] = [];
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', journal)), worker('v', probe('v', journal))], { intensity: { maxRestarts: 1, periodMs: 10_000 } }), {
      onGiveUp: (error) => givenUp.push(error),
    });
    const w = root.ref<ProbeMsg>('w')!;
    const v = root.ref<ProbeMsg>('v')!;
    await crashAndWaitRestart(w, journal, 'w');
    w.dispatch({ type: 'crash' });
    await waitFor(() => givenUp.length === 1, 2000, 'onGiveUp');
    expect(givenUp[0]!.code).to.equal('ESPER_RESTART_INTENSITY');
    expect(root.status).to.equal('stopped');
    expect(w.alive).to.equal(false);
    expect(v.alive).to.equal(false);
    expect(journal.kinds('terminate:v')).to.deep.equal(['terminate:v:shutdown']);
    await rejectsWith(v.query({ type: 'get' }, 1000), 'ESPER_ACTOR_STOPPED');
  });

  it('an unknown error escalates under the default policy: the parent restarts the whole subtree', async () => {
    const journal = new Journal();
    const inner = tree('inner', 'one_for_one', [worker('w', probe('w', journal)), worker('x', probe('x', journal))]);
    root = await startSupervisor(tree('root', 'one_for_one', [inner, worker('y', probe('y', journal))]));
    root.supervisor('inner')!.ref<ProbeMsg>('w')!.dispatch({ type: 'crash', error: new TypeError('undefined is not a function') });
    await waitFor(() => journal.inits('x') === 2, 2000, 'sibling restarted by escalation');
    expect(journal.inits('w')).to.equal(2);
    expect(journal.inits('y')).to.equal(1);
    expect(root.supervisor('inner')!.incarnation).to.equal(2);
  });
});
