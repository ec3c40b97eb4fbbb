/**
 * nats.js errors as Esper's coded errors, so callers branch on `code`
 * whatever the transport. The original error is kept as `cause`.
 */
import { ErrorCode, NatsError } from 'nats';
import { BusError, EsperError } from '../../errors/index.ts';
import { isNoStream } from './message.ts';

export { NO_STREAM, isNoStream } from './message.ts';

/** The JetStream API error codes Oona reacts to. */
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_CONSUMER_NOT_FOUND = 10014;

/**
 * JetStream API errors of a cluster that is electing or missing a leader:
 * 10008 "JetStream system temporarily unavailable", 10009 "JetStream cluster
 * can not handle request" (not the leader), 10005 "no suitable peers for
 * placement" (a server is down), 10023 "insufficient resources" (idem).
 */
const TRANSIENT_API_CODES = new Set([10005, 10008, 10009, 10023]);
const TRANSIENT_TEXT = /temporarily unavailable|not ready|no suitable peers|can not handle request|no responders|timed? ?out|leader|stream not current|cluster not available/i;

/**
 * True when `error` is what a NATS cluster answers while a server is lost or
 * JetStream elects a leader (no responders, timeouts, a server unreachable,
 * "JetStream not ready"…): worth retrying with backoff, not a crash. No
 * stream capturing a subject is not transient: the writer ensures the stream.
 */
export function isTransientBusError(error: unknown): boolean {
  if (isNoStream(error)) return false;
  if (error instanceof EsperError) {
    if (['ESPER_NO_RESPONDERS', 'ESPER_TIMEOUT', 'ESPER_BUS_UNAVAILABLE', 'ESPER_BREAKER_OPEN'].includes(error.code)) return true;
    if (error.code !== 'ESPER_STREAM_ERROR' && error.code !== 'ESPER_STORAGE_UNAVAILABLE') return false;
    return error.cause === undefined ? TRANSIENT_TEXT.test(error.message) : isTransientBusError(error.cause) || TRANSIENT_TEXT.test(error.message);
  }
  if (error instanceof NatsError) {
    const api = error.api_error?.err_code;
    if (api !== undefined) return TRANSIENT_API_CODES.has(api);
    const code = error.code as ErrorCode;
    if ([ErrorCode.NoResponders, ErrorCode.Timeout, ErrorCode.JetStream408RequestTimeout, ErrorCode.ConnectionRefused, ErrorCode.ConnectionTimeout, ErrorCode.Disconnect].includes(code)) return true;
    return TRANSIENT_TEXT.test(error.message);
  }
  return error instanceof Error && TRANSIENT_TEXT.test(error.message);
}

/** True when a JetStream API call failed with `errCode` (e.g. {@link JS_STREAM_NOT_FOUND}). */
export function isApiError(error: unknown, errCode: number): boolean {
  return error instanceof NatsError && error.api_error?.err_code === errCode;
}

/** What was being done, for the message and the fallback code. */
export interface NatsErrorContext {
  /** e.g. `request to esper.ctl.cluster.nodes` */
  what: string;
  /** Used when the error is none of the well-known ones. */
  fallback: 'ESPER_STREAM_ERROR' | 'ESPER_BUS_UNAVAILABLE';
  details?: Record<string, unknown>;
}

/**
 * Maps a nats.js error: no responders → ESPER_NO_RESPONDERS, timeout →
 * ESPER_TIMEOUT, closed or draining → ESPER_BUS_CLOSED, connection trouble →
 * ESPER_BUS_UNAVAILABLE, anything else → the context's fallback. A bad
 * subject is a programming error and becomes a RangeError, as on the memory bus.
 */
export function mapNatsError(error: unknown, context: NatsErrorContext): Error {
  if (error instanceof EsperError || error instanceof RangeError) return error;
  const options = { cause: error, ...(context.details === undefined ? {} : { details: context.details }) };
  if (!(error instanceof NatsError)) {
    const message = error instanceof Error ? error.message : String(error);
    return new BusError(context.fallback, `${context.what} failed: ${message}`, options);
  }
  switch (error.code as ErrorCode) {
    case ErrorCode.NoResponders:
      return new BusError('ESPER_NO_RESPONDERS', `${context.what}: no responders`, options);
    case ErrorCode.Timeout:
    case ErrorCode.JetStream408RequestTimeout:
      return new BusError('ESPER_TIMEOUT', `${context.what} timed out`, options);
    case ErrorCode.ConnectionClosed:
    case ErrorCode.ConnectionDraining:
    case ErrorCode.SubClosed:
    case ErrorCode.SubDraining:
      return new BusError('ESPER_BUS_CLOSED', `${context.what}: bus is ${(error.code as ErrorCode) === ErrorCode.ConnectionClosed ? 'closed' : 'draining'}`, options);
    case ErrorCode.ConnectionRefused:
    case ErrorCode.ConnectionTimeout:
    case ErrorCode.Disconnect:
      return new BusError('ESPER_BUS_UNAVAILABLE', `${context.what}: server unreachable (${error.message})`, options);
    case ErrorCode.BadSubject:
      return new RangeError(`${context.what}: ${error.message}`, { cause: error });
    default:
      return new BusError(context.fallback, `${context.what} failed: ${error.message}`, options);
  }
}
