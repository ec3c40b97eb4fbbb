/**
 * The one rendering of zod issues as text: `path: message`, with paths such as
 * `data.seeds[0].alpha`, `metrics["a b"]` or `(root)`. Every ESPER_SCHEMA_VIOLATION
 * and ESPER_CONFIG_INVALID lists its problems in `details.issues` this way.
 */
import type { z } from 'zod';

/** Minimal shape of a zod error (a `ZodError` or anything with its `issues`). */
export interface IssueList {
  readonly issues: readonly z.core.$ZodIssue[];
}

/** Renders an issue path: `data.seeds[0].alpha`, `metrics["a b"]`, or `(root)`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol') out += `[${String(key)}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * Every issue of a zod error as `path: message` (the bus and the config loader
 * put these in `details.issues`). `prefix` is prepended to each path, e.g.
 * `['data']` when the error came from validating an envelope's data.
 */
export function formatZodIssues(error: IssueList, prefix: readonly PropertyKey[] = []): string[] {
  return error.issues.map((issue) => `${formatIssuePath([...prefix, ...issue.path])}: ${issue.message}`);
}
