/**
 * Strict parsing of what a browser (or anyone) sends the dashboard: the
 * request target (path and query string) and a JSON body read under a size
 * limit. Every problem is an {@link HttpError} with a code and a 4xx status;
 * nothing here throws anything else, whatever the bytes.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.ts';

/** Longest request target accepted (path + query). */
export const MAX_TARGET_LENGTH = 2048;
/** Most query parameters accepted. */
export const MAX_QUERY_PARAMS = 32;
/** Default limit of a request body (operator actions are tiny). */
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024;

/** A parsed request target. */
export interface RequestTarget {
  /** Decoded path segments, e.g. `['api', 'runs', 'r1', 'pause']` for `/api/runs/r1/pause`. */
  readonly segments: readonly string[];
  /** The path as sent (not decoded). */
  readonly path: string;
  /** Query parameters; each name at most once. */
  readonly query: ReadonlyMap<string, string>;
}

const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const QUERY_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function bad(message: string, details?: Record<string, unknown>): HttpError {
  return new HttpError(400, 'ESPER_SCHEMA_VIOLATION', message, details === undefined ? undefined : { details });
}

function decode(component: string, what: string): string {
  try {
    // `+` is a space in query strings (application/x-www-form-urlencoded).
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw bad(`malformed percent-encoding in ${what}`, { component: component.slice(0, 100) });
  }
}

/**
 * Parses a request target (`req.url`): an absolute path of plain segments
 * (letters, digits, `.`, `_`, `~`, `-`; no empty, `.` or `..` segment) and an
 * optional query string of distinct `name=value` pairs with names of letters,
 * digits, `_` and `-`, values percent-decoded and free of control characters.
 */
export function parseTarget(raw: string | undefined): RequestTarget {
  if (raw === undefined || raw === '') throw bad('empty request target');
  if (raw.length > MAX_TARGET_LENGTH) throw new HttpError(414, 'ESPER_PAYLOAD_TOO_LARGE', `request target longer than ${MAX_TARGET_LENGTH} characters`);
  if (!raw.startsWith('/')) throw bad('request target must be an absolute path');
  const hash = raw.indexOf('#');
  if (hash >= 0) throw bad('request target must not carry a fragment');
  const questionMark = raw.indexOf('?');
  const path = questionMark < 0 ? raw : raw.slice(0, questionMark);
  const queryText = questionMark < 0 ? '' : raw.slice(questionMark + 1);
  const segments: string[] = [];
  if (path !== '/') {
    const parts = path.slice(1).split('/');
    for (const [index, part] of parts.entries()) {
      if (part === '' && index === parts.length - 1 && index > 0) continue; // one trailing slash is fine
      if (!SEGMENT.test(part) || part === '.' || part === '..') throw bad(`malformed path segment ${JSON.stringify(part.slice(0, 64))}`);
      segments.push(part);
    }
  }
  const query = new Map<string, string>();
  if (queryText !== '') {
    const pairs = queryText.split('&');
    if (pairs.length > MAX_QUERY_PARAMS) throw bad(`more than ${MAX_QUERY_PARAMS} query parameters`);
    for (const pair of pairs) {
      if (pair === '') throw bad('empty query parameter');
      const eq = pair.indexOf('=');
      const name = decode(eq < 0 ? pair : pair.slice(0, eq), 'a query parameter name');
      const value = eq < 0 ? '' : decode(pair.slice(eq + 1), `query parameter ${JSON.stringify(name.slice(0, 64))}`);
      if (!QUERY_NAME.test(name)) throw bad(`malformed query parameter name ${JSON.stringify(name.slice(0, 64))}`);
      if (query.has(name)) throw bad(`query parameter ${name} given twice`);
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(value)) throw bad(`query parameter ${name} contains control characters`);
      query.set(name, value);
    }
  }
  return { segments, path, query };
}

/** Allowed query parameters of a route: throws ESPER_SCHEMA_VIOLATION naming any other. */
export function allowQuery(target: RequestTarget, allowed: readonly string[]): void {
  const unknown = [...target.query.keys()].filter((name) => !allowed.includes(name));
  if (unknown.length > 0) throw bad(`unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}${allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : ''}`);
}

/**
 * Reads a JSON body of at most `limitBytes`: 413 ESPER_PAYLOAD_TOO_LARGE past
 * the limit (announced by Content-Length or counted while reading), 415 for a
 * content type other than `application/json`, 400 ESPER_INVALID_JSON for
 * bytes that are not UTF-8 JSON. An empty body reads as `{}`.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number = DEFAULT_BODY_LIMIT_BYTES): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > limitBytes)) {
    req.resume(); // discard, so the connection can answer
    throw new HttpError(413, 'ESPER_PAYLOAD_TOO_LARGE', `request body larger than ${limitBytes} bytes`, { details: { limitBytes } });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      req.resume();
      throw new HttpError(413, 'ESPER_PAYLOAD_TOO_LARGE', `request body larger than ${limitBytes} bytes`, { details: { limitBytes } });
    }
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'ESPER_SCHEMA_VIOLATION', 'request body must be application/json');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'ESPER_INVALID_JSON', 'request body is not UTF-8 text');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, 'ESPER_INVALID_JSON', `request body is not JSON: ${(error as Error).message}`);
  }
}
