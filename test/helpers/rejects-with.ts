import { expect } from 'chai';
import { EsperError } from '../../src/errors/index.ts';

/** Asserts that `promise` rejects with an EsperError of `code`, and returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<EsperError> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(EsperError);
    expect((error as EsperError).code, (error as Error).message).to.equal(code);
    return error as EsperError;
  }
  throw new Error(`expected a rejection with ${code}`);
}
