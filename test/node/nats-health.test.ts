/** A node's NATS health (issue 13): status view, metrics, the `jetstream` breaker, and one log line per interval while no server is reachable. */
import { expect } from 'chai';
import { createLogger } from '../../src/infra/logger.ts';
import { Metrics } from '../../src/infra/metrics.ts';
import { NatsHealth, type ConnectionHealth } from '../../src/node/nats-health.ts';
import type { BreakerEvent } from '../../src/supervision/index.ts';
import { capturingLogger, type LoggedLine } from '../helpers/log-sink.ts';

describe('NatsHealth', () => {
  let now = 0;
  let connection: ConnectionHealth;
  let lines: LoggedLine[];
  let health: NatsHealth;
  let metrics: Metrics;
  let events: BreakerEvent[];

  beforeEach(() => {
    now = 1_000_000;
    connection = { connected: true, server: '127.0.0.1:4301', disconnectedMs: 0, reconnects: 0 };
    metrics = new Metrics();
    events = [];
    const sink = capturingLogger('warn');
    lines = sink.lines;
    const { logger } = sink;
    health = new NatsHealth({ logger, metrics, replicas: 3, connection: () => connection, eventBacklog: () => 7, now: () => now, unreachableAfterMs: 10_000, probationMs: 5000, emit: (event) => void events.push(event) });
  });

  it('shows retried JetStream operations as degraded until they settle, in the view and the metrics', async () => {
    expect(health.view()).to.deep.equal({ connected: true, server: '127.0.0.1:4301', disconnectedMs: 0, reconnects: 0, replicas: 3, degraded: false, breaker: 'closed', eventBacklog: 7 });
    health.failing('commit run r1 epoch 3', new Error('no responders'), 1, 200);
    health.failing('commit run r1 epoch 3', new Error('no responders'), 2, 400);
    expect(health.view()).to.include({ degraded: true, degradedSince: new Date(now).toISOString() });
    let text = await metrics.text();
    expect(text).to.match(/esper_jetstream_degraded 1/);
    expect(text).to.match(/esper_jetstream_retries_total 2/);
    health.settled('commit run r1 epoch 3', true, 3, 600);
    expect(health.view().degraded).to.equal(false);
    text = await metrics.text();
    expect(text).to.match(/esper_jetstream_degraded 0/);
    expect(text).to.match(/esper_jetstream_recoveries_total 1/);
  });

  it('logs "no NATS server reachable" once per interval past the bound, not on every sample', async () => {
    connection = { connected: false, server: undefined, disconnectedMs: 5_000, reconnects: 0 };
    health.sample();
    expect(lines.filter((line) => line.msg.startsWith('no NATS server reachable'))).to.have.length(0);
    for (let i = 0; i < 30; i++) {
      now += 1000;
      connection = { ...connection, disconnectedMs: connection.disconnectedMs + 1000 };
      health.sample();
    }
    // 35 s unreachable, bound 10 s: lines at 11 s, 21 s, 31 s.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(lines.map((line) => line.msg).filter((msg) => msg.startsWith('no NATS server reachable'))).to.have.length(3);
    expect(health.view()).to.include({ connected: false, degraded: true, disconnectedMs: 35_000 });
    const text = await metrics.text();
    expect(text).to.match(/esper_nats_connected 0/);
    expect(text).to.match(/esper_nats_disconnected_seconds 35/);
    expect(text).to.match(/esper_event_backlog 7/);
  });

  it('reports the degradation as the jetstream breaker: open while retried, half-open on the first success, closed after the probation', async () => {
    const breakerGauge = async (): Promise<string | undefined> => /esper_breaker_state\{name="jetstream"\} (\d)/.exec(await metrics.text())?.[1];
    expect(await breakerGauge(), 'reported closed from the start').to.equal('0');
    health.failing('membership heartbeat', new Error('timeout'), 1, 1000);
    health.failing('pull x_jobs/tezzeret', new Error('503'), 1, 1000);
    expect(health.view().breaker).to.equal('open');
    expect(await breakerGauge()).to.equal('2');
    now += 3000;
    health.settled('membership heartbeat', true, 4, 3000);
    expect(health.view().breaker, 'a pull still fails').to.equal('open');
    health.settled('pull x_jobs/tezzeret', true, 4, 3000);
    expect(health.view().breaker).to.equal('half_open');
    expect(await breakerGauge()).to.equal('1');
    now += 4000;
    health.sample();
    expect(health.view().breaker, 'still on probation').to.equal('half_open');
    now += 1000;
    health.sample();
    expect(health.view().breaker).to.equal('closed');
    expect(await breakerGauge()).to.equal('0');
    expect(events.map((e) => `${e.name} ${e.from}→${e.to}`)).to.deep.equal(['jetstream closed→open', 'jetstream open→half_open', 'jetstream half_open→closed']);
    expect(events[0]?.reason).to.equal('failing: membership heartbeat');
    expect(events[0]?.at).to.equal(new Date(1_000_000).toISOString());
  });

  it('opens the jetstream breaker while no server is reachable (seen at the next sample)', () => {
    connection = { connected: false, server: undefined, disconnectedMs: 1000, reconnects: 0 };
    health.sample();
    expect(health.view().breaker).to.equal('open');
    expect(events.at(-1)).to.include({ to: 'open', reason: 'no NATS server reachable' });
    connection = { connected: true, server: '127.0.0.1:4302', disconnectedMs: 0, reconnects: 1 };
    health.sample();
    expect(health.view().breaker).to.equal('half_open');
  });

  it('counts a failure its caller does not retry (an ack, a read) for a moment: degraded and open, then on probation', async () => {
    health = new NatsHealth({ logger: createLogger({ level: 'silent' }), metrics, replicas: 3, connection: () => connection, eventBacklog: () => 0, now: () => now, failureMemoryMs: 3000, probationMs: 5000, emit: (event) => void events.push(event) });
    health.failedOnce('ack x_jobs/tezzeret', new Error('timeout'));
    now += 1000;
    health.failedOnce('ack x_jobs/tezzeret', new Error('timeout'));
    expect(health.view()).to.include({ degraded: true, degradedSince: new Date(1_000_000).toISOString(), breaker: 'open' });
    expect(await metrics.text()).to.match(/esper_jetstream_failures_total 2/);
    now += 2999;
    health.sample();
    expect(health.view().breaker, '3 s after the last failure, not before').to.equal('open');
    now += 1;
    health.sample();
    expect(health.view()).to.include({ degraded: false, breaker: 'half_open' });
    expect(await metrics.text()).to.match(/esper_jetstream_degraded 0/);
    now += 5000;
    health.sample();
    expect(health.view().breaker).to.equal('closed');
    expect(events.map((e) => e.to)).to.deep.equal(['open', 'half_open', 'closed']);
    expect(events[0]?.reason).to.equal('failing: ack x_jobs/tezzeret');
  });
});
