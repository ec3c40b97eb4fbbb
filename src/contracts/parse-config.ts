/**
 * The one way a configuration becomes a value: validate it against its zod
 * schema (filling the defaults), list every problem at once in one
 * ESPER_CONFIG_INVALID, and freeze the result all the way down so no caller
 * can change a config another caller holds.
 */
import type { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import { formatZodIssues } from './zod-issues.ts';

/** Freezes `value` and every object and array inside it; returns `value`. Typed arrays are left as they are (they cannot be frozen). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Options of {@link parseFrozen}. */
export interface ParseFrozenOptions {
  /**
   * Problems the caller found before parsing (an unreadable file, a malformed
   * flag): listed first, and the parse fails on them even when the schema
   * accepts the input.
   */
  readonly problems?: readonly string[];
}

/**
 * Parses `input` with `schema` and deep-freezes the result. On any problem
 * throws a ConfigError (ESPER_CONFIG_INVALID) `invalid <what> (<n> problems)`
 * whose `details.issues` lists every problem as `path: message`.
 *
 * @example
 * export const parseGateConfig = (input: unknown = {}): GateConfig => parseFrozen(GateConfigSchema, input, 'seed gate configuration');
 */
export function parseFrozen<S extends z.ZodType>(schema: S, input: unknown, what: string, options: ParseFrozenOptions = {}): z.output<S> {
  const parsed = schema.safeParse(input);
  const problems = [...(options.problems ?? []), ...(parsed.success ? [] : formatZodIssues(parsed.error))];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(`invalid ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems);
  }
  return deepFreeze(parsed.data);
}
