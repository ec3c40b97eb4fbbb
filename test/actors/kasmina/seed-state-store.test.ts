import { expect } from 'chai';
import { MemoryBus } from '../../../src/actors/oona/index.ts';
import { KvSeedStateStore, MemorySeedStateStore, type SeedLifecycleState } from '../../../src/actors/kasmina/index.ts';
import { HEALTHY, freshSeed, germinateEvent, run, tick } from './support.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

function someState(): SeedLifecycleState {
  return tick(run(freshSeed(), [germinateEvent({ blend: { curve: 'cosine', tempoEpochs: 8 } })]), 2, HEALTHY);
}

describe('seed state stores', () => {
  describe('KvSeedStateStore', () => {
    it('round-trips a state through the MemoryBus KV', async () => {
      const bus = new MemoryBus();
      try {
        const store = new KvSeedStateStore(bus);
        expect(await store.load('run-1', 'seed-a')).to.equal(null);
        const state = someState();
        await store.save(state);
        expect(await store.load('run-1', 'seed-a')).to.deep.equal(state);
        expect(await store.load('run-1', 'seed-b')).to.equal(null);
        expect(await store.load('run-2', 'seed-a')).to.equal(null);

        // A second store over the same bus (a restarted actor) sees the latest save.
        const later = tick(state, 1, HEALTHY);
        await store.save(later);
        expect(await new KvSeedStateStore(bus).load('run-1', 'seed-a')).to.deep.equal(later);
        const kv = await bus.kv('kasmina-seeds');
        expect(await kv.keys()).to.deep.equal(['run-1.seed-a']);
      } finally {
        await bus.close();
      }
    });

    it('refuses a corrupt entry with ESPER_SCHEMA_VIOLATION rather than resuming from it', async () => {
      const bus = new MemoryBus();
      try {
        const kv = await bus.kv('seeds-x');
        await kv.put(KvSeedStateStore.key('run-1', 'seed-a'), { ...someState(), alpha: 7 });
        const store = new KvSeedStateStore(bus, { bucket: 'seeds-x' });
        const caught = await rejectsWith(store.load('run-1', 'seed-a'), 'ESPER_SCHEMA_VIOLATION');
        expect(caught.message).to.match(/seeds-x\/run-1\.seed-a/);
      } finally {
        await bus.close();
      }
    });

    it('treats a deleted key as no state', async () => {
      const bus = new MemoryBus();
      try {
        const store = new KvSeedStateStore(bus);
        await store.save(someState());
        await (await bus.kv('kasmina-seeds')).delete('run-1.seed-a');
        expect(await store.load('run-1', 'seed-a')).to.equal(null);
      } finally {
        await bus.close();
      }
    });
  });

  describe('MemorySeedStateStore', () => {
    it('stores copies', async () => {
      const store = new MemorySeedStateStore();
      const state = someState();
      await store.save(state);
      state.epochsInStage = 99;
      const loaded = await store.load('run-1', 'seed-a');
      expect(loaded?.epochsInStage).to.equal(2);
      expect(store.all()).to.have.length(1);
    });
  });
});
