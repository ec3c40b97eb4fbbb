/**
 * Helpers the suites share around a running bus: wait until a probe yields a
 * value, send a raw JSON request the way `nats req` does, and delete the
 * streams a test's nodes created.
 */
import type { NatsConnection } from 'nats';

/**
 * Calls `probe` every `intervalMs` until it resolves to something other than
 * undefined, and returns that; a probe that throws counts as "not yet" (a
 * service may be restarting). Throws after `timeoutMs`.
 */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 120_000, intervalMs = 150): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A request with a raw JSON payload (a string is sent as is), as `nats req` sends it; the decoded reply. */
export async function requestJson<R>(nc: NatsConnection, subject: string, payload: unknown = {}, timeoutMs = 10_000): Promise<R> {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const message = await nc.request(subject, new TextEncoder().encode(text), { timeout: timeoutMs });
  return JSON.parse(new TextDecoder().decode(message.data)) as R;
}

/**
 * Like {@link until}, for in-process tests: `probe` may be synchronous, is
 * polled every 20 ms, and an error it throws fails the test at once (nothing
 * is restarting here, so an error is a bug, not "not yet").
 */
export async function untilDefined<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Deletes the streams a node with subject prefix `prefix` creates for runs (membership and runs buckets, events, artifacts) and `extra` ones; missing ones are fine. */
export async function deleteRunStreams(nc: NatsConnection, prefix: string, extra: readonly string[] = []): Promise<void> {
  const jsm = await nc.jetstreamManager();
  for (const stream of [`KV_${prefix}_nodes`, `KV_${prefix}_runs`, `${prefix}_events`, `OBJ_${prefix}_artifacts`, ...extra]) await jsm.streams.delete(stream).catch(() => undefined);
}
