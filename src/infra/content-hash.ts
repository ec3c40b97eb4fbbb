/**
 * Content addressing: canonical JSON (the one encoding every content hash in
 * Esper is taken over — blueprint IRs, kernel headers, checkpoint manifests,
 * library rows) and sha256.
 */
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level and no whitespace; `undefined`
 * members are dropped (and `undefined` array elements become `null`, as in
 * `JSON.stringify`). Throws a RangeError for non-finite numbers and for values
 * JSON cannot carry (functions, symbols, bigints, class instances such as
 * `Date` or `Map`).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`Error in canonicalJson: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype === Object.prototype || prototype === null) {
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
  }
  throw new RangeError(`Error in canonicalJson: a ${typeof value} is not JSON`);
}

/** sha256 (lowercase hex) of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
