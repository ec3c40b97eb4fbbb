import { EsperError, type EsperErrorOptions } from './esper-error.ts';
import type { ErrorCode } from './codes.ts';

/*
 * The error hierarchy. Each family narrows the codes it may carry, so a
 * `catch (e) { if (e instanceof InputError) … }` is a real category check,
 * while callers that need precision still switch on `code`.
 */

type CodesOf<P extends string> = Extract<ErrorCode, `ESPER_${P}`>;

/** Bad input from outside: the caller must fix the request; never retryable. */
export class InputError extends EsperError {
  override readonly name = 'InputError';
  constructor(
    code: CodesOf<'INVALID_JSON' | 'SCHEMA_VIOLATION' | 'UNKNOWN_VERB' | 'UNKNOWN_TYPE' | 'PAYLOAD_TOO_LARGE' | 'NOT_FOUND' | 'UNAVAILABLE'>,
    message: string,
    options?: EsperErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** A failure of the message bus or its durable streams / key-value stores. */
export class BusError extends EsperError {
  override readonly name = 'BusError';
  constructor(
    code: CodesOf<'NO_RESPONDERS' | 'TIMEOUT' | 'BUS_CLOSED' | 'BUS_UNAVAILABLE' | 'DEAD_LETTER' | 'STREAM_ERROR'>,
    message: string,
    options?: EsperErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** A failure reported by the actor/supervision layer. */
export class SupervisionError extends EsperError {
  override readonly name = 'SupervisionError';
  constructor(
    code: CodesOf<'ACTOR_CRASHED' | 'ACTOR_STOPPED' | 'RESTART_INTENSITY' | 'SHUTDOWN_TIMEOUT' | 'START_FAILED' | 'BREAKER_OPEN' | 'TIMEOUT'>,
    message: string,
    options?: EsperErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** Invalid configuration; `details.issues` lists every problem at once. */
export class ConfigError extends EsperError {
  override readonly name = 'ConfigError';
  constructor(message: string, issues: readonly string[], options: Omit<EsperErrorOptions, 'details'> = {}) {
    super('ESPER_CONFIG_INVALID', message, { ...options, details: { issues: [...issues] } });
  }
}
