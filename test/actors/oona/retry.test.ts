/** Issue 13: riding through a leader election — transient failures are retried with backoff, others fail at once. */
import { expect } from 'chai';
import { isTransientBusError, noteTransientFailure, retryTransient, type RetryObserver } from '../../../src/actors/oona/index.ts';
import { BusError, EsperError } from '../../../src/errors/index.ts';
import { createLogger } from '../../../src/infra/logger.ts';
import { rejectsWith } from '../../helpers/rejects-with.ts';

const logger = createLogger({ level: 'silent' });
const fast = { initialMs: 1, maxMs: 5, factor: 2, jitter: 0 };

describe('retryTransient', () => {
  it('retries no responders, timeouts and "temporarily unavailable" until the call succeeds, and tells the observer', async () => {
    const failures = [
      new BusError('ESPER_NO_RESPONDERS', 'put x in bucket esper_nodes: no responders'),
      new BusError('ESPER_TIMEOUT', 'keys in bucket esper_runs timed out'),
      new BusError('ESPER_STREAM_ERROR', 'ensure stream esper_events failed: JetStream system temporarily unavailable'),
    ];
    const seen: string[] = [];
    const observer: RetryObserver = {
      failing: (what, _error, attempt) => void seen.push(`failing ${what} ${attempt}`),
      settled: (what, ok, attempts) => void seen.push(`settled ${what} ${ok} ${attempts}`),
    };
    const value = await retryTransient(
      (attempt) => {
        const failure = failures[attempt - 1];
        return failure === undefined ? Promise.resolve(attempt) : Promise.reject(failure);
      },
      { what: 'op', logger, backoff: fast, observer },
    );
    expect(value).to.equal(4);
    expect(seen).to.deep.equal(['failing op 1', 'failing op 2', 'failing op 3', 'settled op true 4']);
  });

  it('fails at once on an error that is not transient (a conflict, a missing stream)', async () => {
    let calls = 0;
    const conflict = new EsperError('ESPER_CONFLICT', 'wrong last sequence');
    await rejectsWith(
      retryTransient(() => {
        calls++;
        return Promise.reject(conflict);
      }, { what: 'op', logger, backoff: fast }),
      EsperError,
    );
    expect(calls).to.equal(1);
    expect(isTransientBusError(new BusError('ESPER_STREAM_ERROR', 'no stream captures subject esper.evt.r1.x', { details: { reason: 'no_stream' } }))).to.equal(false);
  });

  it('gives up after its budget, or when cancelled, with the last error', async () => {
    const started = Date.now();
    const error = await retryTransient(() => Promise.reject(new BusError('ESPER_TIMEOUT', 'timed out')), { what: 'op', logger, backoff: fast, budgetMs: 50 }).catch((e: unknown) => e);
    expect((error as EsperError).code).to.equal('ESPER_TIMEOUT');
    expect(Date.now() - started).to.be.within(50, 2000);
    let calls = 0;
    await retryTransient(() => {
      calls++;
      return Promise.reject(new BusError('ESPER_TIMEOUT', 'timed out'));
    }, { what: 'op', logger, backoff: fast, cancelled: () => calls >= 3 }).catch(() => undefined);
    expect(calls).to.equal(3);
  });

  it('noteTransientFailure tells the observer of transient failures only', () => {
    const seen: string[] = [];
    const observer: RetryObserver = { failing: () => undefined, settled: () => undefined, failedOnce: (what) => void seen.push(what) };
    noteTransientFailure(observer, 'ack', new BusError('ESPER_TIMEOUT', 'ack x#1 timed out'));
    noteTransientFailure(observer, 'put', new EsperError('ESPER_CONFLICT', 'wrong last sequence'));
    noteTransientFailure(undefined, 'get', new BusError('ESPER_TIMEOUT', 'timed out'));
    expect(seen).to.deep.equal(['ack']);
  });
});
