/**
 * NATS subject matching, pure and transport-free, for the in-process bus.
 *
 * A subject is dot-separated tokens (`esper.ctl.run.r1.status`). A pattern
 * may use `*` for exactly one token and `>` (last token only) for one or more
 * tokens — the same rules as the NATS server, so a subscription behaves the
 * same on both buses.
 */

/** Splits a subject or pattern into tokens. */
export function tokenize(subject: string): string[] {
  return subject.split('.');
}

function tokensWellFormed(tokens: readonly string[]): boolean {
  for (const token of tokens) {
    // NATS forbids empty tokens and whitespace inside a token.
    if (token === '' || /\s/.test(token)) return false;
  }
  return true;
}

/** True when `subject` can be published to: non-empty tokens, no whitespace, no wildcards. */
export function isValidSubject(subject: string): boolean {
  if (subject === '') return false;
  const tokens = tokenize(subject);
  if (!tokensWellFormed(tokens)) return false;
  return tokens.every((token) => token !== '*' && token !== '>');
}

/** True when `pattern` can be subscribed to: like a subject, where `*` may be any token and `>` only the last. */
export function isValidPattern(pattern: string): boolean {
  if (pattern === '') return false;
  const tokens = tokenize(pattern);
  if (!tokensWellFormed(tokens)) return false;
  const full = tokens.indexOf('>');
  return full === -1 || full === tokens.length - 1;
}

/** True when the pattern contains a wildcard token. */
export function hasWildcard(pattern: string): boolean {
  return tokenize(pattern).some((token) => token === '*' || token === '>');
}

/**
 * Matches already-split tokens; the hot path of the memory bus keeps pattern
 * tokens per subscription so a publish splits the subject once.
 */
export function matchTokens(pattern: readonly string[], subject: readonly string[]): boolean {
  const n = pattern.length;
  for (let i = 0; i < n; i++) {
    const p = pattern[i];
    if (p === '>') return subject.length > i; // '>' needs at least one token
    if (i >= subject.length) return false;
    if (p !== '*' && p !== subject[i]) return false;
  }
  return subject.length === n;
}

/** True when `subject` (no wildcards) is matched by `pattern` (`*` and `>` allowed). */
export function matchSubject(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  return matchTokens(tokenize(pattern), tokenize(subject));
}

/**
 * True when some subject could match both patterns (used to decide whether
 * two stream subject filters overlap, as the NATS server does).
 */
export function patternsOverlap(a: string, b: string): boolean {
  const ta = tokenize(a);
  const tb = tokenize(b);
  const n = Math.max(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === '>' || y === '>') return x !== undefined && y !== undefined;
    if (x === undefined || y === undefined) return false;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
  return true;
}
