/**
 * Spec validation: every problem of a supervision tree's spec, found at once
 * and reported in one ESPER_CONFIG_INVALID error (style rule 8).
 */
import { ConfigError } from '../errors/index.ts';
import { backoffIssues } from './backoff.ts';
import { intensityIssues } from './restart-plan.ts';
import { isWorkerSpec, type ChildSpec, type SupervisorSpec } from './types.ts';

const RESTART_TYPES: readonly string[] = ['permanent', 'transient', 'temporary'];
const STRATEGIES: readonly string[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

/** Problems of one child spec (a supervisor's include its subtree), each prefixed with the child's position. */
export function childSpecIssues(spec: ChildSpec, where: string): string[] {
  const issues: string[] = [];
  // Ids become path segments: a '/' would make paths ambiguous.
  if (typeof spec.id !== 'string' || spec.id === '' || spec.id.includes('/')) issues.push(`${where}: id must be a non-empty string without '/'`);
  if (spec.restart !== undefined && !RESTART_TYPES.includes(spec.restart)) issues.push(`${where}: restart must be one of ${RESTART_TYPES.join(', ')}`);
  if (isWorkerSpec(spec)) {
    if (!(spec.shutdownTimeoutMs >= 0)) issues.push(`${where}: shutdownTimeoutMs must be ≥ 0`);
    return issues;
  }
  if (!STRATEGIES.includes(spec.strategy)) issues.push(`${where}: strategy must be one of ${STRATEGIES.join(', ')}`);
  issues.push(...[...intensityIssues(spec.intensity), ...backoffIssues(spec.backoff)].map((issue) => `${where}: ${issue}`));
  const ids = new Set<string>();
  for (const child of spec.children) {
    if (ids.has(child.id)) issues.push(`${where}: duplicate child id ${child.id}`);
    ids.add(child.id);
    issues.push(...childSpecIssues(child, `${where}/${child.id}`));
  }
  return issues;
}

/** Throws ESPER_CONFIG_INVALID listing every problem of `spec`. */
export function validateChildSpec(spec: ChildSpec | SupervisorSpec): void {
  const issues = childSpecIssues(spec, spec.id);
  if (issues.length > 0) throw new ConfigError(`invalid supervision spec ${spec.id}`, issues);
}
