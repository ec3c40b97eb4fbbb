/**
 * Issue 13, "a node that cannot reach any server logs once per interval, not
 * in a tight loop": the pull loop of a durable consumer (Nissa's events
 * consumer, the job services) over a simulated 60 s outage — on a manual
 * clock, with a fake JetStream consumer whose pulls fail until the outage
 * ends — logs when it starts failing, then once per 10 s, then once when
 * answered again; the node's health is told of every failed pull and of the
 * recovery.
 */
import { expect } from 'chai';
import type { Consumer as NatsConsumer, ConsumerMessages, NatsConnection } from 'nats';
import type { RetryObserver } from '../../../src/actors/oona/index.ts';
import type { BusInstruments } from '../../../src/actors/oona/message.ts';
import { PULL_FAILURE_LOG_MS, PULL_RETRY_MS, PullMember, type ConsumerHost } from '../../../src/actors/oona/nats-consumer.ts';
import { ManualClock } from '../../../src/infra/clock.ts';
import { capturingLogger } from '../../helpers/log-sink.ts';

const OUTAGE_MS = 60_000;

/** Lets the pull loop run to its next wait (fetch, catch, log, schedule the retry). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A batch that yields nothing and ends when its pull expires (5 s on the clock) or is stopped. */
function quietBatch(clock: ManualClock): ConsumerMessages {
  let end: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (end = resolve));
  clock.setTimeout(() => end(), 5000);
  return {
    stop: () => end(),
    [Symbol.asyncIterator]: () => ({ next: () => ended.then(() => ({ done: true, value: undefined })) }),
  } as unknown as ConsumerMessages;
}

describe('PullMember while pulls fail (issue 13)', () => {
  it('logs a 60 s outage once at its start, then once per 10 s, then once when answered: not once per failed pull', async () => {
    const clock = new ManualClock(1_000_000);
    const start = clock.now();
    const { logger, lines } = capturingLogger('info');
    const observed: string[] = [];
    const observer: RetryObserver = {
      failing: (what, _error, attempt) => void observed.push(`failing ${what} ${attempt}`),
      settled: (what, ok, attempts) => void observed.push(`settled ${what} ${ok} ${attempts}`),
    };
    let pulls = 0;
    const consumer = {
      fetch: () => {
        pulls++;
        if (clock.now() - start < OUTAGE_MS) return Promise.reject(new Error('503 no responders'));
        return Promise.resolve(quietBatch(clock));
      },
    } as unknown as NatsConsumer;
    const host: ConsumerHost = {
      instruments: { logger } as unknown as BusInstruments,
      connection: { subscribe: () => ({ unsubscribe: () => undefined }), isClosed: () => false } as unknown as NatsConnection,
      observer,
      clock,
      deadLetterSubject: () => 'x.dlq',
      publishDeadLetter: () => undefined,
      onMaxDeliveries: () => Promise.resolve(),
    };
    const member = new PullMember(host, consumer, { stream: 'x_events', durable: 'nissa-event-store' }, false, () => undefined);

    for (let t = 0; t <= OUTAGE_MS; t += PULL_RETRY_MS) {
      await settle();
      clock.advance(PULL_RETRY_MS);
    }
    await settle();
    await member.stop();

    const failedPulls = OUTAGE_MS / PULL_RETRY_MS;
    expect(pulls, 'a pull per second through the outage, then a good one').to.be.at.least(failedPulls + 1);
    const warnings = lines.filter((line) => line.msg.startsWith('pull failed'));
    expect(warnings, 'one line at the start, then one per 10 s').to.have.length(OUTAGE_MS / PULL_FAILURE_LOG_MS);
    expect(warnings.map((line) => line.failures)).to.deep.equal([1, 11, 21, 31, 41, 51]);
    expect(lines.filter((line) => line.msg === 'pull answered again')).to.have.length(1);
    expect(lines, 'nothing else logged').to.have.length(OUTAGE_MS / PULL_FAILURE_LOG_MS + 1);
    // The node's health hears every failed pull (its breaker stays open) and the recovery once.
    expect(observed.filter((entry) => entry.startsWith('failing pull x_events/nissa-event-store'))).to.have.length(failedPulls);
    expect(observed.filter((entry) => entry.startsWith('settled'))).to.deep.equal([`settled pull x_events/nissa-event-store true ${failedPulls + 1}`]);
  });
});
