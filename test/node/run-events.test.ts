/**
 * Issue 13, "whoever writes, ensures" and "an event is never dropped": a
 * trainer node publishes its runs' events to the events stream whatever its
 * roles (no library node created the stream), and while the stream refuses
 * them (a NATS server lost, an election) the events wait with the run — the
 * run's end is recorded only once every event is in — then arrive exactly
 * once, in order. In process: memory bus, filesystem artifacts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemoryBus } from '../../src/actors/oona/memory-bus.ts';
import type { DurablePublishOptions, Payload, PublishAck } from '../../src/actors/oona/index.ts';
import { FsArtifactStore } from '../../src/actors/urza/artifact-store.ts';
import { eventsStreamName } from '../../src/actors/nissa/event-stream.ts';
import { runTraining } from '../../src/actors/tolaria/run-loop.ts';
import { RunSpecSchema, type RunSpec } from '../../src/contracts/run.ts';
import type { Envelope } from '../../src/contracts/envelope.ts';
import { BusError } from '../../src/errors/index.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { RunRegistry } from '../../src/node/run-registry.ts';
import { RunService } from '../../src/node/run-service.ts';
import { untilDefined } from '../helpers/until.ts';

function spiralsSpec(epochs: number): RunSpec {
  const raw = JSON.parse(readFileSync(new URL('../../examples/spirals-depth.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  return RunSpecSchema.parse({ ...raw, epochs, policy: { ...(raw['policy'] as object), minEpochBeforeGerminate: 1, plateauEpochs: 1, plateauDeltaPp: 50 } });
}

/** A memory bus whose durable publishes time out while `failing` (what a lost NATS server looks like). */
class FlakyBus extends MemoryBus {
  failing = false;
  refused = 0;
  override publishDurable(subject: string, payload: Payload, options?: DurablePublishOptions): Promise<PublishAck> {
    if (this.failing) {
      this.refused++;
      return Promise.reject(new BusError('ESPER_TIMEOUT', `durable publish to ${subject} timed out (test)`));
    }
    return super.publishDurable(subject, payload, options);
  }
}


describe('run service: events reach the stream without a library node, and are never dropped (issue 13)', function () {
  this.timeout(180_000);
  const prefix = 'ev';
  let dir: string;
  let bus: FlakyBus;
  let service: RunService;
  let registry: RunRegistry;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'esper-run-events-'));
    bus = new FlakyBus();
    registry = new RunRegistry(await bus.kv('runs'), () => Promise.resolve(new FsArtifactStore(dir)));
    service = new RunService({
      bus,
      prefix,
      nodeId: 'n1',
      incarnationId: 'i1',
      logger: createLogger({ level: 'silent' }),
      maxPayloadBytes: 1 << 20,
      registry: () => Promise.resolve(registry),
      liveNodes: () => Promise.resolve([{ nodeId: 'n1', incarnationId: 'i1' }]),
      sweepMs: 60_000,
      publishRetryMs: 100,
    });
  });

  afterEach(async () => {
    bus.failing = false;
    await service.drain().catch(() => undefined);
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Every event in the events stream, in stream order. */
  async function streamed(): Promise<Envelope[]> {
    const out: Envelope[] = [];
    const consumer = await bus.consume({ stream: eventsStreamName(prefix), durable: `check-${out.length}-${Date.now()}` }, async (message) => {
      const decoded = message.json();
      if (decoded.ok) out.push(decoded.value as Envelope);
      await message.ack();
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await consumer.stop();
    return out;
  }

  async function expectCompleteLog(runId: string, spec: RunSpec): Promise<void> {
    const events = (await streamed()).filter((event) => event.runId === runId);
    expect(new Set(events.map((event) => event.id)).size, 'no duplicate').to.equal(events.length);
    const epochs = events.filter((event) => event.type === 'tolaria.epoch.completed').map((event) => (event.data as { epoch: number }).epoch);
    expect(epochs, 'every epoch once, in order').to.deep.equal([...Array(spec.epochs).keys()].map((i) => i + 1));
    expect(events.filter((event) => event.type === 'tolaria.run.completed')).to.have.length(1);
    // As many events as the same run emits trained alone (the same types, in the same order).
    const reference: Envelope[] = [];
    await runTraining(spec, { runId, events: (event) => void reference.push(event) });
    expect(events.map((event) => event.type)).to.deep.equal(reference.map((event) => event.type));
  }

  it('creates the events stream itself and publishes every event of the run', async () => {
    const spec = spiralsSpec(4);
    await service.start(spec, 'solo');
    await untilDefined(async () => ((await registry.get('solo'))?.record.state === 'completed' ? true : undefined), 90_000);
    await expectCompleteLog('solo', spec);
  });

  it('keeps the events while the stream refuses them (backlog visible), records the end only once all are in, then has each exactly once', async () => {
    const spec = spiralsSpec(4);
    bus.failing = true;
    await service.start(spec, 'held');
    // The run trains on; its events wait with it (and with its checkpoints).
    await untilDefined(() => (service.statuses()[0]?.epoch === 4 && bus.refused > 0 ? true : undefined), 90_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(service.eventBacklog()).to.be.greaterThan(0);
    expect((await registry.get('held'))?.record.state, 'end not recorded while events are held').to.equal('running');
    bus.failing = false;
    await untilDefined(async () => ((await registry.get('held'))?.record.state === 'completed' ? true : undefined), 90_000);
    expect(service.eventBacklog()).to.equal(0);
    await expectCompleteLog('held', spec);
  });
});
