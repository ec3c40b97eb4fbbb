/**
 * The errors the supervision layer raises, built in one place so their codes,
 * messages and details stay consistent.
 */
import { EsperError, SupervisionError } from '../errors/index.ts';

function describe(error: unknown): { message: string; name?: string } {
  if (error instanceof Error) return { message: error.message, name: error.name };
  return { message: String(error) };
}

/**
 * The error a query sees when its handler crashed: an `EsperError` passes
 * through unchanged (same code); anything else becomes `ESPER_ACTOR_CRASHED`
 * with the original message in `details.error`.
 */
export function crashError(error: unknown, path: string): EsperError {
  if (error instanceof EsperError) return error;
  const { message, name } = describe(error);
  return new SupervisionError('ESPER_ACTOR_CRASHED', `actor ${path} crashed: ${message}`, {
    cause: error,
    details: { actor: path, error: message, ...(name === undefined ? {} : { name }) },
  });
}

/** A child's `init` threw. Retryable unless the cause is a non-retryable `EsperError`. */
export function startFailed(error: unknown, path: string): SupervisionError {
  const { message } = describe(error);
  return new SupervisionError('ESPER_START_FAILED', `actor ${path} failed to start: ${message}`, {
    cause: error,
    retryable: error instanceof EsperError ? error.retryable : true,
    details: { actor: path, error: message, ...(error instanceof EsperError ? { code: error.code } : {}) },
  });
}

/** A message reached an actor that is stopped for good. */
export function actorStopped(path: string): SupervisionError {
  return new SupervisionError('ESPER_ACTOR_STOPPED', `actor ${path} is stopped`, { details: { actor: path } });
}

/** A query got no reply in time. */
export function queryTimeout(path: string, timeoutMs: number): SupervisionError {
  return new SupervisionError('ESPER_TIMEOUT', `query to ${path} got no reply within ${timeoutMs} ms`, {
    details: { actor: path, timeoutMs },
  });
}

/** A child did not stop within its shutdown timeout and was killed. */
export function shutdownTimeout(path: string, timeoutMs: number): SupervisionError {
  return new SupervisionError('ESPER_SHUTDOWN_TIMEOUT', `actor ${path} did not stop within ${timeoutMs} ms and was killed`, {
    details: { actor: path, timeoutMs },
  });
}

/** A query's handler returned without replying or deferring the reply: a bug in the behaviour. */
export function noReply(path: string): EsperError {
  return new EsperError('ESPER_INTERNAL', `actor ${path} handled a query without replying`, { details: { actor: path } });
}

/** A supervisor saw more than `maxRestarts` restarts within `periodMs`. */
export function restartIntensity(path: string, restarts: number, periodMs: number, child: string): SupervisionError {
  return new SupervisionError(
    'ESPER_RESTART_INTENSITY',
    `supervisor ${path} gave up: ${restarts} restarts within ${periodMs} ms (last: ${child})`,
    { details: { supervisor: path, restarts, periodMs, child } },
  );
}

/** A supervisor fails because its policy escalated a child's error. */
export function escalated(path: string, child: string, error: unknown): SupervisionError {
  const { message } = describe(error);
  return new SupervisionError('ESPER_ACTOR_CRASHED', `supervisor ${path} escalates: child ${child} failed: ${message}`, {
    cause: error,
    details: {
      supervisor: path,
      child,
      error: message,
      ...(error instanceof EsperError ? { code: error.code } : {}),
    },
  });
}
