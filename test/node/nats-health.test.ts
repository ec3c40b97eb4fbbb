/** A node's NATS health (issue 13): status view, metrics, and one log line per interval while no server is reachable. */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../src/infra/logger.ts';
import { Metrics } from '../../src/infra/metrics.ts';
import { NatsHealth, type ConnectionHealth } from '../../src/node/nats-health.ts';

describe('NatsHealth', () => {
  let now = 0;
  let connection: ConnectionHealth;
  let lines: Array<{ msg: string }>;
  let health: NatsHealth;
  let metrics: Metrics;

  beforeEach(() => {
    now = 1_000_000;
    lines = [];
    connection = { connected: true, server: '127.0.0.1:4301', disconnectedMs: 0, reconnects: 0 };
    metrics = new Metrics();
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(JSON.parse(chunk.toString()) as { msg: string });
          callback();
        },
      }),
    });
    health = new NatsHealth({ logger, metrics, replicas: 3, connection: () => connection, eventBacklog: () => 7, now: () => now, unreachableAfterMs: 10_000 });
  });

  it('shows retried JetStream operations as degraded until they settle, in the view and the metrics', async () => {
    expect(health.view()).to.deep.equal({ connected: true, server: '127.0.0.1:4301', disconnectedMs: 0, reconnects: 0, replicas: 3, degraded: false, eventBacklog: 7 });
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
    expect(lines).to.have.length(0);
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
});
