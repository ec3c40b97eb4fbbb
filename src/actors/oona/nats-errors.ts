/**
 * nats.js errors as Esper's coded errors, so callers branch on `code`
 * whatever the transport. The original error is kept as `cause`.
 */
import { ErrorCode, NatsError } from 'nats';
import { BusError, EsperError } from '../../errors/index.ts';

/** The JetStream API error codes Oona reacts to. */
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_CONSUMER_NOT_FOUND = 10014;

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
