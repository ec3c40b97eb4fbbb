/**
 * Whoever writes, ensures (issue 13): a node that publishes to a durable
 * stream makes sure the stream exists with the contract's configuration
 * first, whatever its roles — a cluster of trainer nodes without a library
 * node must not lose its events for want of a stream. Ensuring is idempotent
 * and done once per bus and stream; a publish that finds the stream gone
 * (deleted by an operator) ensures it again and publishes once more.
 */
import type { Bus, DurablePublishOptions, Payload, PublishAck, StreamConfig } from './bus.ts';
import { isNoStream } from './message.ts';

const ensured = new WeakMap<Bus, Map<string, Promise<void>>>();

/** Ensures `config` on `bus` once (a failure is forgotten, so the next call tries again). */
export function ensureStreamOnce(bus: Bus, config: StreamConfig): Promise<void> {
  let streams = ensured.get(bus);
  if (streams === undefined) {
    streams = new Map();
    ensured.set(bus, streams);
  }
  const known = streams.get(config.name);
  if (known !== undefined) return known;
  const ensuring = bus.ensureStream(config);
  streams.set(config.name, ensuring);
  ensuring.catch(() => {
    if (streams.get(config.name) === ensuring) streams.delete(config.name);
  });
  return ensuring;
}

/** Forgets that `name` was ensured on `bus` (it went missing). */
function forget(bus: Bus, name: string): void {
  ensured.get(bus)?.delete(name);
}

/** Publishes durably to `stream`, ensuring it first (see the module comment). */
export async function publishEnsured(bus: Bus, stream: StreamConfig, subject: string, payload: Payload, options?: DurablePublishOptions): Promise<PublishAck> {
  await ensureStreamOnce(bus, stream);
  try {
    return await bus.publishDurable(subject, payload, options);
  } catch (error) {
    if (!isNoStream(error)) throw error;
    forget(bus, stream.name);
    await ensureStreamOnce(bus, stream);
    return bus.publishDurable(subject, payload, options);
  }
}
