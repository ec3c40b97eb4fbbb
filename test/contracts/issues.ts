/** Helpers for contract tests: run a schema and list the issue paths it reports. */
import { expect } from 'chai';
import type { z } from 'zod';
import { formatIssuePath } from '../../src/contracts/index.ts';

/** The formatted paths of every issue `schema` reports for `value` ([] when it parses). */
export function issuePaths(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => formatIssuePath(issue.path));
}

/** Asserts that `value` parses. */
export function expectValid(schema: z.ZodType, value: unknown): void {
  const result = schema.safeParse(value);
  expect(result.success, result.success ? '' : JSON.stringify(result.error.issues)).to.equal(true);
}

/** Asserts that `value` is rejected with an issue at `path` (formatted, e.g. `seeds[0].alpha`, `(root)`). */
export function expectIssueAt(schema: z.ZodType, value: unknown, path: string): void {
  const paths = issuePaths(schema, value);
  expect(paths, `expected an issue at ${path}`).to.include(path);
}

/** A deep copy of `value` with `patch` applied at the top level (undefined removes a key). */
export function patched<T extends object>(value: T, patch: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(value) as Record<string, unknown>;
  for (const [key, v] of Object.entries(patch)) {
    if (v === undefined) delete copy[key];
    else copy[key] = v;
  }
  return copy;
}
