import { expect } from 'chai';
import { EsperError, InputError, toEsperError, toWireError } from '../../src/errors/index.ts';

describe('EsperError', () => {
  it('carries its code default retryability and details onto the wire', () => {
    const error = new InputError('ESPER_SCHEMA_VIOLATION', 'bad', { details: { issues: ['x'] } });
    expect(error.toWire()).to.deep.equal({ code: 'ESPER_SCHEMA_VIOLATION', message: 'bad', retryable: false, details: { issues: ['x'] } });
    expect(error).to.be.instanceOf(EsperError).and.instanceOf(Error);
    expect(error.name).to.equal('InputError');
  });

  it('rehydrates known codes and wraps unknown ones as ESPER_REMOTE_ERROR', () => {
    const known = EsperError.fromWire({ code: 'ESPER_TIMEOUT', message: 'slow', retryable: true });
    expect(known.code).to.equal('ESPER_TIMEOUT');
    expect(known.retryable).to.equal(true);
    const unknown = EsperError.fromWire({ code: 'OTHER_THING', message: 'm', retryable: false });
    expect(unknown.code).to.equal('ESPER_REMOTE_ERROR');
    expect(unknown.details).to.deep.equal({ remoteCode: 'OTHER_THING' });
  });

  it('turns foreign throws into ESPER_INTERNAL keeping the cause', () => {
    const cause = new TypeError('boom');
    const error = toEsperError(cause);
    expect(error.code).to.equal('ESPER_INTERNAL');
    expect(error.cause).to.equal(cause);
    expect(toWireError('text').code).to.equal('ESPER_INTERNAL');
  });
});
