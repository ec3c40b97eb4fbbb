/**
 * `<prefix>.ctl.karn.submit` (DESIGN §9): an operator submits a blueprint IR
 * with plain NATS, e.g.
 *
 *     nats req esper.ctl.karn.submit '{"ir": {...}, "interface": {...}, "tags": ["experiment"]}'
 *
 * The request ({@link KarnSubmitRequestSchema}) is checked by `serve()` (not
 * JSON → ESPER_INVALID_JSON, wrong shape → ESPER_SCHEMA_VIOLATION, too big →
 * ESPER_PAYLOAD_TOO_LARGE), then handed to the Karn actor, which analyses the
 * IR (coded rejection with its numbers, e.g. ESPER_BLUEPRINT_LIMIT
 * `{limit, value, max}`), stores and announces it. The reply is
 * `{ blueprintId, irHash, status, paramCount, startsAsIdentity, duplicate }`;
 * the same IR again answers `duplicate: true` with the same id.
 *
 * FieldReports reach a running Karn from the run event stream
 * ({@link registerKarnFieldReports}); the library files them too, so a Karn
 * that starts later rebuilds its statistics from there.
 */
import { EnvelopeSchema } from '../../contracts/envelope.ts';
import { KarnSubmitRequestSchema, type KarnSubmitReply } from '../../contracts/karn.ts';
import { FIELD_REPORT_EVENT_TYPE, FieldReportSchema } from '../../contracts/tamiyo.ts';
import { subjects } from '../../contracts/subjects.ts';
import type { Logger } from '../../infra/logger.ts';
import type { ActorRef } from '../../supervision/index.ts';
import type { Bus, Subscription } from '../oona/index.ts';
import { serve } from '../oona/index.ts';
import type { KarnMessage } from './karn.actor.ts';

/** How long a submission may wait for the Karn actor. @default 10_000 ms */
export const DEFAULT_KARN_SUBMIT_TIMEOUT_MS = 10_000;
/** Queue group of the submit endpoint: one Karn answers each request. */
export const KARN_SUBMIT_QUEUE = 'karn';

/** Options of {@link registerKarnSubmit}. */
export interface KarnSubmitServiceOptions {
  /** @default {@link DEFAULT_KARN_SUBMIT_TIMEOUT_MS} */
  timeoutMs?: number;
  /** @default {@link KARN_SUBMIT_QUEUE} */
  queue?: string;
  /** Request size limit. @default 1 MiB */
  maxBytes?: number;
  logger?: Logger;
}

/** Serves `<prefix>.ctl.karn.submit` with the Karn actor behind `karn`. */
export function registerKarnSubmit(
  bus: Bus,
  prefix: string,
  karn: Pick<ActorRef<KarnMessage>, 'query'>,
  options: KarnSubmitServiceOptions = {},
): Subscription {
  const timeoutMs = options.timeoutMs ?? DEFAULT_KARN_SUBMIT_TIMEOUT_MS;
  return serve(
    bus,
    subjects(prefix).karnSubmit,
    {
      schema: KarnSubmitRequestSchema,
      queue: options.queue ?? KARN_SUBMIT_QUEUE,
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    },
    (request) => karn.query<KarnSubmitReply>({ type: 'submit', request }, timeoutMs),
  );
}

/**
 * Feeds the Karn actor every FieldReport published on the run event stream
 * (`<prefix>.evt.<runId>.tamiyo.field_report`, core subscription: every Karn
 * gets every report; one counted twice is counted once by Karn). A malformed
 * event or a Karn that does not answer is logged and skipped — the library
 * keeps the report, and Karn reloads from it when it restarts.
 */
export function registerKarnFieldReports(
  bus: Bus,
  prefix: string,
  karn: Pick<ActorRef<KarnMessage>, 'query'>,
  options: Pick<KarnSubmitServiceOptions, 'timeoutMs' | 'logger'> = {},
): Subscription {
  const timeoutMs = options.timeoutMs ?? DEFAULT_KARN_SUBMIT_TIMEOUT_MS;
  return bus.subscribe(subjects(prefix).eventsOfType(FIELD_REPORT_EVENT_TYPE), async (message) => {
    const decoded = message.json();
    const envelope = decoded.ok ? EnvelopeSchema.safeParse(decoded.value) : undefined;
    const report = envelope?.success === true ? FieldReportSchema.safeParse(envelope.data.data) : undefined;
    if (report?.success !== true) {
      options.logger?.warn({ subject: message.subject }, 'field report event does not match its schema; skipped');
      return;
    }
    try {
      await karn.query({ type: 'fieldReport', report: report.data }, timeoutMs);
    } catch (error) {
      options.logger?.warn({ err: error, commandId: report.data.commandId }, 'karn did not take a field report; it reloads reports from the library when it restarts');
    }
  });
}
