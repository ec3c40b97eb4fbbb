/**
 * The bus contract on a real NATS server (JetStream on), plus what only NATS
 * has: work-queue removal seen from the server, connection failures.
 */
import { expect } from 'chai';
import { connect, type NatsConnection } from 'nats';
import { createBus, NatsBus } from '../../../src/actors/oona/index.ts';
import { NATS_URL, requireService } from '../../helpers/services.ts';
import { rejectsWith, runBusContract, sleep, uid, waitFor } from '../../actors/oona/bus-contract.ts';

describe('NatsBus (integration)', function () {
  before(async function () {
    await requireService(this, 'nats');
  });

  runBusContract('NatsBus', ({ metrics }) => NatsBus.connect({ servers: NATS_URL }, metrics === undefined ? {} : { metrics }));

  describe('NATS specifics', () => {
    let bus: NatsBus;
    let nc: NatsConnection;
    const streams: string[] = [];

    beforeEach(async () => {
      bus = await NatsBus.connect({ servers: NATS_URL });
      nc = await connect({ servers: NATS_URL });
    });

    afterEach(async () => {
      for (const name of streams.splice(0)) await bus.deleteStream(name).catch(() => undefined);
      await bus.close();
      await nc.close();
    });

    it('createBus connects to NATS when given a URL', async () => {
      const other = await createBus({ natsUrl: NATS_URL });
      expect(other.kind).to.equal('nats');
      await other.close();
    });

    it('fails to connect with ESPER_BUS_UNAVAILABLE', async () => {
      await rejectsWith(NatsBus.connect({ servers: 'nats://127.0.0.1:1', reconnect: false, timeout: 1000 }), 'ESPER_BUS_UNAVAILABLE');
    });

    it('removes acked and dead-lettered messages from a work-queue stream', async () => {
      const name = `T_${uid()}`;
      const subject = `test.${uid()}`;
      streams.push(name);
      await bus.ensureStream({ name, subjects: [`${subject}.>`], workQueue: true });
      const jsm = await nc.jetstreamManager();
      const letters: string[] = [];
      bus.subscribe(`esper.dlq.${name}`, (m) => void letters.push(m.text()));
      await bus.flush();
      const consumer = await bus.consume({ stream: name, durable: 'w', ackWaitMs: 300, maxDeliver: 1 }, async (m) => {
        if (m.text() === '"ok"') await m.ack();
      });
      await bus.publishDurable(`${subject}.a`, 'ok');
      await bus.publishDurable(`${subject}.a`, 'poison');
      await waitFor(() => letters.length === 1, 5000, 'dead letter');
      await sleep(200);
      expect((await jsm.streams.info(name)).state.messages).to.equal(0);
      await consumer.stop();
    });

    it('updates a durable whose settings changed', async () => {
      const name = `T_${uid()}`;
      streams.push(name);
      await bus.ensureStream({ name, subjects: [`test.${uid()}.>`] });
      const first = await bus.consume({ stream: name, durable: 'd', ackWaitMs: 400, maxDeliver: 3 }, () => undefined);
      await first.stop();
      const second = await bus.consume({ stream: name, durable: 'd', ackWaitMs: 800, maxDeliver: 4 }, () => undefined);
      const info = await (await nc.jetstreamManager()).consumers.info(name, 'd');
      expect(info.config.ack_wait).to.equal(800 * 1_000_000);
      expect(info.config.max_deliver).to.equal(4);
      await second.stop();
    });

    it('a stream duplicate window is sent in nanoseconds', async () => {
      const name = `T_${uid()}`;
      streams.push(name);
      await bus.ensureStream({ name, subjects: [`test.${uid()}`], duplicateWindowMs: 5000 });
      const jsm = await nc.jetstreamManager();
      expect((await jsm.streams.info(name)).config.duplicate_window).to.equal(5000 * 1_000_000);
    });
  });
});
