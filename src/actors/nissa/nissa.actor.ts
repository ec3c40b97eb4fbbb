/**
 * Nissa as a node subsystem (DESIGN §2): consumes the events stream and
 * appends every event to the PostgreSQL event store (Urza's `events` table:
 * append-only, de-duplicated by id, ordered per run by a gapless seq). One
 * event unacked at a time (on the server, not only in this process), so the
 * store's order is the stream's even when a delivery is lost. When the
 * database is unavailable the event is redelivered later — the stream is the
 * outbox — and training never waits for it.
 */
import { EnvelopeSchema } from '../../contracts/envelope.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Behaviour, WorkerSpec } from '../../supervision/index.ts';
import type { Bus, Consumer, DurableMessage } from '../oona/index.ts';
import type { UrzaLibrary } from '../urza/index.ts';
import { ensureEventsStream } from './event-stream.ts';

export interface NissaRecorderOptions {
  bus: Bus;
  prefix: string;
  library: () => Promise<UrzaLibrary>;
  logger: Logger;
  /** Redelivery delay after a failed write, ms. @default 1000 */
  retryMs?: number;
}

/** Durable consumer name shared by every node that records events. */
export const NISSA_CONSUMER = 'nissa-event-store';

/** Starts consuming the events stream into the event store. */
export async function startEventRecorder(options: NissaRecorderOptions): Promise<Consumer> {
  const stream = await ensureEventsStream(options.bus, options.prefix);
  const log = options.logger;
  return options.bus.consume(
    // Ack wait long enough for a slow database write; max deliveries unbounded: an event is never dropped for a database outage.
    // One unacked event at a time on the server too: an event whose delivery was lost (its server killed) or that was naked
    // (the database down) is redelivered before any later one, so the store's order stays the stream's.
    { stream, durable: NISSA_CONSUMER, ackWaitMs: 30_000, maxInFlight: 1, maxAckPending: 1, maxDeliver: -1 },
    async (message: DurableMessage) => {
      const decoded = message.json();
      const parsed = decoded.ok ? EnvelopeSchema.safeParse(decoded.value) : undefined;
      if (parsed === undefined || !parsed.success) {
        log.warn({ subject: message.subject }, 'nissa: an event that is not a valid envelope was dropped');
        message.term('not an envelope');
        return;
      }
      try {
        const library = await options.library();
        await library.appendEvents([parsed.data]);
        await message.ack();
      } catch (error) {
        log.warn({ err: error, eventId: parsed.data.id }, 'nissa: event store unavailable; the event will be redelivered');
        message.nak(options.retryMs ?? 1000);
      }
    },
  );
}

type RecorderState = { consumer: Consumer };

/** The `nissa` subsystem of a node with storage. */
export function nissaWorkerSpec(options: NissaRecorderOptions): WorkerSpec {
  const behaviour: Behaviour<RecorderState, { type: 'status' }> = {
    init: async () => ({ consumer: await startEventRecorder(options) }),
    handle: (state, _message, ctx) => {
      ctx.reply({ subsystem: 'nissa', implemented: true });
      return state;
    },
    terminate: async (state) => {
      await state.consumer.stop();
    },
  };
  return { id: 'nissa', restart: 'permanent', shutdownTimeoutMs: 10_000, subsystem: 'nissa', behaviour };
}
