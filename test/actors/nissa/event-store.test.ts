import { expect } from 'chai';
import { createEnvelope } from '../../../src/contracts/envelope.ts';
import { EventRecorder, EventStore } from '../../../src/actors/nissa/index.ts';

describe('nissa event store (PGlite in memory)', function () {
  this.timeout(30_000);
  let store: EventStore;
  before(async () => {
    store = await EventStore.open({});
  });
  after(async () => {
    await store.close();
  });

  it('buffers events, writes them on flush in order, de-duplicates by id', async () => {
    const recorder = new EventRecorder(store);
    const make = (id: string): ReturnType<typeof createEnvelope> => createEnvelope({ id, type: 'tolaria.epoch.completed', source: 'test', runId: 'run-es', data: { id } });
    recorder.sink(make('a'));
    recorder.sink(make('b'));
    expect(recorder.pending).to.equal(2);
    expect(await store.events('run-es')).to.have.length(0);
    expect(await recorder.flush()).to.equal(true);
    recorder.sink(make('b'));
    recorder.sink(make('c'));
    await recorder.flush();
    expect((await store.events('run-es')).map((e) => e.id)).to.deep.equal(['a', 'b', 'c']);
    expect(await store.events('unknown')).to.deep.equal([]);
  });

  it('a failed flush is reported, keeps its events and never throws', async () => {
    const broken = await EventStore.open({});
    await broken.close();
    const recorder = new EventRecorder(broken);
    recorder.sink(createEnvelope({ type: 'tolaria.epoch.completed', source: 'test', runId: 'run-x', data: {} }));
    expect(await recorder.flush()).to.equal(false);
    expect(recorder.failures).to.equal(1);
    expect(recorder.pending).to.equal(1);
  });
});
