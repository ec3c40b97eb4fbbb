import { expect } from 'chai';
import { SupervisionError, InputError, type EsperError } from '../../src/errors/index.ts';
import { ManualClock, startSupervisor, watch, type ActorRef, type Supervisor, type Terminated } from '../../src/supervision/index.ts';
import { flush, Journal, probe, tree, worker, type ProbeMsg, type ProbeState } from './support.ts';

/** A small seeded generator (mulberry32), so a failing sequence can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const errors = [
  () => new SupervisionError('ESPER_ACTOR_CRASHED', 'retryable'),
  () => new InputError('ESPER_SCHEMA_VIOLATION', 'non-retryable'),
  () => new TypeError('unknown: escalates'),
];

describe('no wedged children', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`after random crashes, stops and escalations every child is running or stopped-and-reported (seed ${seed})`, async () => {
      const random = seeded(seed);
      const clock = new ManualClock(0);
      const journal = new Journal();
      const backoff = { initialMs: 10, maxMs: 200, factor: 2, jitter: 0.5 };
      const givenUp: EsperError[] = [];
      const counts: Record<string, number> = {};
      const root: Supervisor = await startSupervisor(
        tree(
          'root',
          'one_for_one',
          [
            tree('s1', 'rest_for_one', [worker('w1', probe('w1', journal)), worker('w2', probe('w2', journal), { restart: 'transient' }), worker('w3', probe('w3', journal))], {
              intensity: { maxRestarts: 3, periodMs: 500 },
              backoff,
            }),
            tree('s2', 'one_for_all', [worker('w4', probe('w4', journal)), worker('w5', probe('w5', journal), { restart: 'temporary' })], { intensity: { maxRestarts: 2, periodMs: 300 }, backoff }),
            worker('w6', probe('w6', journal), { restart: 'transient' }),
          ],
          { intensity: { maxRestarts: 8, periodMs: 1000 }, backoff },
        ),
        { clock, random, onGiveUp: (e) => givenUp.push(e), emit: (e) => (counts[e.type] = (counts[e.type] ?? 0) + 1) },
      );
      const refs = new Map<string, ActorRef<ProbeMsg>>();
      refs.set('w1', root.supervisor('s1')!.ref<ProbeMsg>('w1')!);
      refs.set('w2', root.supervisor('s1')!.ref<ProbeMsg>('w2')!);
      refs.set('w3', root.supervisor('s1')!.ref<ProbeMsg>('w3')!);
      refs.set('w4', root.supervisor('s2')!.ref<ProbeMsg>('w4')!);
      refs.set('w5', root.supervisor('s2')!.ref<ProbeMsg>('w5')!);
      refs.set('w6', root.ref<ProbeMsg>('w6')!);
      const deaths = new Map<string, Terminated[]>();
      for (const [id, ref] of refs) {
        deaths.set(id, []);
        watch(ref, (t) => deaths.get(id)!.push(t));
      }
      const ids = [...refs.keys()];

      for (let step = 0; step < 60; step++) {
        const ref = refs.get(ids[Math.floor(random() * ids.length)]!)!;
        const roll = random();
        if (roll < 0.55) ref.dispatch({ type: 'crash', error: errors[Math.floor(random() * errors.length)]!() });
        else if (roll < 0.65) ref.dispatch({ type: 'stop' });
        else ref.dispatch({ type: 'inc' });
        if (random() < 0.5) await flush(random() < 0.5 ? 1 : 5);
        clock.advance(Math.floor(random() * 120));
      }
      // Let every pending backoff fire and every restart finish.
      for (let i = 0; i < 50; i++) {
        await flush(5);
        clock.advance(250);
      }
      await flush();

      const live: string[] = [];
      for (const [id, ref] of refs) {
        const died = deaths.get(id)!;
        if (ref.alive) {
          expect(died, `${id} alive but reported dead`).to.deep.equal([]);
          const state = await ref.query<ProbeState>({ type: 'get' }, 1_000_000);
          expect(state.instance).to.be.a('number');
          live.push(id);
        } else {
          expect(died, `${id} stopped without exactly one Terminated`).to.have.length(1);
        }
      }
      const walk = (supervisor: Supervisor): void => {
        for (const child of supervisor.children()) {
          expect(child.status, `${child.path}`).to.equal('running');
          expect(child.restarting, `${child.path}`).to.equal(false);
          const nested = supervisor.supervisor(child.id);
          if (nested !== undefined) walk(nested);
        }
      };
      if (givenUp.length === 0) {
        expect(root.status).to.equal('running');
        walk(root);
      } else {
        expect(root.status).to.equal('stopped');
        expect(live).to.deep.equal([]);
      }
      // The sequence really exercised restarts and escalations.
      expect(counts['supervision.child.restarted'] ?? 0).to.be.above(0);
      expect(counts['supervision.escalated'] ?? 0).to.be.above(0);
      expect(clock.pending).to.equal(0);
      await root.stop();
      for (const [id, ref] of refs) {
        expect(ref.alive, id).to.equal(false);
        expect(deaths.get(id), id).to.have.length(1);
      }
    });
  }
});
