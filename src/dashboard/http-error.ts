/**
 * Errors the dashboard's HTTP server answers with: an Esper error code (the
 * same table as the bus, docs/errors.md) plus the HTTP status it maps to. The
 * body is the §4 reply shape, `{ ok: false, error: { code, message, retryable } }`.
 */
import { EsperError, type ErrorCode, type EsperErrorOptions } from '../errors/index.ts';

export class HttpError extends EsperError {
  override readonly name = 'HttpError';
  /** HTTP status code of the answer (4xx for the caller's mistakes, 5xx for ours or upstream's). */
  readonly status: number;

  constructor(status: number, code: ErrorCode, message: string, options?: EsperErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}

/** The HTTP status an Esper error code maps to when it comes back from a control request. */
export function statusOfCode(code: string): number {
  switch (code) {
    case 'ESPER_INVALID_JSON':
    case 'ESPER_SCHEMA_VIOLATION':
    case 'ESPER_UNKNOWN_VERB':
      return 400;
    case 'ESPER_UNAUTHORIZED':
      return 401;
    case 'ESPER_NOT_FOUND':
      return 404;
    case 'ESPER_PAYLOAD_TOO_LARGE':
      return 413;
    case 'ESPER_CONFLICT':
    case 'ESPER_INVALID_TRANSITION':
    case 'ESPER_GATE_FAILED':
      return 409;
    case 'ESPER_UNAVAILABLE':
    case 'ESPER_NO_RESPONDERS':
    case 'ESPER_BUS_UNAVAILABLE':
    case 'ESPER_BUS_CLOSED':
      return 503;
    case 'ESPER_TIMEOUT':
      return 504;
    default:
      return 502;
  }
}
