/**
 * Run events on the bus (DESIGN §4): `<prefix>.evt.<runId>.<type>`, kept in a
 * JetStream stream and de-duplicated by message id (the envelope id), so a
 * trainer that publishes an event again after a crash stores it once. The
 * stream is also the outbox of the PostgreSQL event store: Nissa's consumer
 * acks an event only once it is in the database.
 */
import { publishEnsured, type Bus, type StreamConfig } from '../oona/index.ts';
import type { Envelope } from '../../contracts/envelope.ts';
import { subjects } from '../../contracts/subjects.ts';

/** Name of the events stream for a subject prefix. */
export function eventsStreamName(prefix: string): string {
  return `${prefix.replace(/\./g, '_')}_events`;
}

/** How long the stream de-duplicates a republished event id. */
export const EVENT_DUPLICATE_WINDOW_MS = 30 * 60_000;
/** How long events stay in the stream (the database keeps them for good). */
export const EVENT_RETENTION_MS = 7 * 24 * 3_600_000;

/** The events stream's configuration: what every writer and the recorder ensure. */
export function eventsStreamConfig(prefix: string): StreamConfig {
  return { name: eventsStreamName(prefix), subjects: [subjects(prefix).eventsAll], duplicateWindowMs: EVENT_DUPLICATE_WINDOW_MS, maxAgeMs: EVENT_RETENTION_MS };
}

/** Creates the events stream when missing (idempotent). */
export async function ensureEventsStream(bus: Bus, prefix: string): Promise<string> {
  const config = eventsStreamConfig(prefix);
  await bus.ensureStream(config);
  return config.name;
}

/**
 * Publishes events in order, each acknowledged by the stream before the next
 * (so stream order is emission order). The publisher ensures the events
 * stream (once per bus), whatever its roles: a cluster without a library node
 * keeps its events in the stream until one records them. Returns how many
 * the stream already had (duplicates). Throws on the first event the stream
 * does not take; publishing the same events again is safe (de-duplicated by
 * id within {@link EVENT_DUPLICATE_WINDOW_MS}).
 */
export async function publishRunEvents(bus: Bus, prefix: string, events: readonly Envelope[]): Promise<{ published: number; duplicates: number }> {
  const s = subjects(prefix);
  const stream = eventsStreamConfig(prefix);
  let duplicates = 0;
  for (const event of events) {
    const ack = await publishEnsured(bus, stream, s.event(event.runId ?? 'none', event.type), event, { msgId: event.id });
    if (ack.duplicate) duplicates++;
  }
  return { published: events.length - duplicates, duplicates };
}
