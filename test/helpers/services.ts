/**
 * Integration tests talk to real services. Without ESPER_REQUIRE_SERVICES=1 a
 * missing service skips the suite (a laptop without NATS); with it (CI) a
 * missing service fails the suite.
 */
import { connect as netConnect } from 'node:net';

export const NATS_URL = process.env['ESPER_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
export const PG_URL = process.env['ESPER_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port === '' ? defaultPort : Number(parsed.port) };
}

/** True when a TCP connection to host:port succeeds within 1 s. */
export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Call from a suite's `before`: skips the suite when `service` is down, or
 * throws when ESPER_REQUIRE_SERVICES=1.
 */
export async function requireService(ctx: Mocha.Context, service: 'nats' | 'postgres'): Promise<void> {
  const { host, port } = service === 'nats' ? hostPort(NATS_URL, 4222) : hostPort(PG_URL, 5432);
  if (await tcpReachable(host, port)) return;
  const message = `${service} is not reachable at ${host}:${port}`;
  if (process.env['ESPER_REQUIRE_SERVICES'] === '1') throw new Error(`${message} (ESPER_REQUIRE_SERVICES=1)`);
  ctx.skip();
}
