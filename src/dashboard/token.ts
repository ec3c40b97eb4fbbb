/**
 * The operator token check. The token never reaches the page: the operator
 * types it, the page keeps it in memory and sends it in the
 * {@link TOKEN_HEADER} header of each action. The comparison takes the same
 * time whatever the guess (both sides are hashed to 32 bytes first, so even
 * the length does not leak).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Request header carrying the operator token. */
export const TOKEN_HEADER = 'x-esper-token';

/** Longest token accepted (longer headers are refused before hashing). */
export const MAX_TOKEN_LENGTH = 1024;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * True when `given` equals `expected`, compared in constant time. False when
 * no token is configured (the dashboard is read-only), when none is given,
 * or when the given one is longer than {@link MAX_TOKEN_LENGTH}.
 */
export function tokenMatches(expected: string | undefined, given: string | readonly string[] | undefined): boolean {
  if (expected === undefined || expected === '') return false;
  if (typeof given !== 'string' || given === '' || given.length > MAX_TOKEN_LENGTH) return false;
  return timingSafeEqual(digest(expected), digest(given));
}
