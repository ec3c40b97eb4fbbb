export { ERROR_CODES, isErrorCode, type ErrorCode } from './codes.ts';
export { EsperError, toEsperError, toWireError, type EsperErrorOptions, type WireError } from './esper-error.ts';
export { BusError, ConfigError, InputError, SupervisionError } from './kinds.ts';
