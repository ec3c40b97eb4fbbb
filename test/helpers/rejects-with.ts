/**
 * The one way a test waits for a failure: `rejectsWith` for a promise,
 * `throwsWith` for a function. Each asserts an EsperError — of a code, or of
 * a subclass, when one is given — and returns it for further checks;
 * `rejectionOf` returns whatever a promise rejected with, unchecked.
 */
import { expect } from 'chai';
import { EsperError } from '../../src/errors/index.ts';

/** A subclass of EsperError, e.g. `ConfigError`. */
export type EsperErrorClass<E extends EsperError> = abstract new (...args: never[]) => E;

/** What the failure must be: an error code (`'ESPER_TIMEOUT'`), an EsperError subclass, or nothing (any EsperError). */
export type Expected<E extends EsperError> = string | EsperErrorClass<E> | undefined;

function check<E extends EsperError>(error: unknown, expected: Expected<E>): E {
  expect(error, String(error)).to.be.instanceOf(EsperError);
  if (typeof expected === 'string') expect((error as EsperError).code, (error as Error).message).to.equal(expected);
  else if (expected !== undefined) expect(error, String(error)).to.be.instanceOf(expected);
  return error as E;
}

function describeExpected(expected: Expected<EsperError>): string {
  if (expected === undefined) return 'an EsperError';
  return typeof expected === 'string' ? expected : `a ${expected.name}`;
}

/** What `promise` rejects with, whatever it is; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail('expected a rejection');
}

/** Asserts that `promise` rejects with an EsperError (of `expected`'s code or class when given), and returns it. */
export async function rejectsWith<E extends EsperError = EsperError>(promise: Promise<unknown>, expected?: Expected<E>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return check(error, expected);
  }
  return expect.fail(`expected a rejection with ${describeExpected(expected)}`);
}

/** Asserts that `fn` throws an EsperError (of `expected`'s code or class when given), and returns it. */
export function throwsWith<E extends EsperError = EsperError>(fn: () => unknown, expected?: Expected<E>): E {
  try {
    fn();
  } catch (error) {
    return check(error, expected);
  }
  return expect.fail(`expected a throw of ${describeExpected(expected)}`);
}

/** The problems an error lists in `details.issues` (ESPER_CONFIG_INVALID, ESPER_SCHEMA_VIOLATION); empty when it lists none. */
export function issuesOf(error: EsperError): string[] {
  return (error.details?.['issues'] ?? []) as string[];
}
