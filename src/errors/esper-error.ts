import { ERROR_CODES, isErrorCode, type ErrorCode } from './codes.ts';

/** An error as it travels on the bus (DESIGN §4): plain data, never a stack. */
export interface WireError {
  code: string;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown> | undefined;
}

/** Options shared by every Esper error. */
export interface EsperErrorOptions {
  /** Structured context (ids, numbers, issues); must be JSON-serialisable. */
  details?: Record<string, unknown>;
  /** Overrides the code's default retryability. */
  retryable?: boolean;
  cause?: unknown;
}

/**
 * Base of every error Esper throws on purpose. The `code` is stable and listed
 * in docs/errors.md; supervision policies and callers branch on `code` and
 * `retryable`, never on the message text.
 */
export class EsperError extends Error {
  override readonly name: string = 'EsperError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: EsperErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.details = options.details;
  }

  /** The error as data, ready to cross the bus. */
  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) wire.details = this.details;
    return wire;
  }

  /** Rebuilds an error received from the bus; unknown codes become ESPER_REMOTE_ERROR with the original code in details. */
  static fromWire(wire: WireError): EsperError {
    if (isErrorCode(wire.code)) {
      return new EsperError(wire.code, wire.message, {
        retryable: wire.retryable,
        ...(wire.details === undefined ? {} : { details: wire.details }),
      });
    }
    return new EsperError('ESPER_REMOTE_ERROR', wire.message, {
      retryable: wire.retryable,
      details: { ...(wire.details ?? {}), remoteCode: wire.code },
    });
  }
}

/** Any thrown value as an EsperError: Esper errors pass through, others become ESPER_INTERNAL (the original as `cause`). */
export function toEsperError(value: unknown): EsperError {
  if (value instanceof EsperError) return value;
  if (value instanceof Error) {
    return new EsperError('ESPER_INTERNAL', value.message, { cause: value, details: { name: value.name } });
  }
  return new EsperError('ESPER_INTERNAL', String(value));
}

/** The error as wire data, whatever was thrown. */
export function toWireError(value: unknown): WireError {
  return toEsperError(value).toWire();
}
