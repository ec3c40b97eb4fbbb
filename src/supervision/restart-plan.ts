/**
 * The pure arithmetic of restarts: which siblings a strategy restarts, and
 * the sliding intensity window.
 */
import type { Intensity, Strategy } from './types.ts';

/**
 * The children to restart when `failed` must be restarted, in start order:
 * - `one_for_one`: only `failed`;
 * - `one_for_all`: every child;
 * - `rest_for_one`: `failed` and every child started after it.
 */
export function restartSet<T>(strategy: Strategy, children: readonly T[], failed: T): T[] {
  switch (strategy) {
    case 'one_for_one':
      return [failed];
    case 'one_for_all':
      return [...children];
    case 'rest_for_one': {
      const index = children.indexOf(failed);
      return index < 0 ? [failed] : children.slice(index);
    }
  }
}

/** A restart remembered for the intensity window. */
export interface WindowEntry {
  readonly at: number;
  readonly id: string;
  readonly code: string;
}

/** Keeps the entries younger than `periodMs` at `now` (an entry exactly `periodMs` old has left the window). */
export function pruneWindow(entries: readonly WindowEntry[], now: number, periodMs: number): WindowEntry[] {
  const horizon = now - periodMs;
  return entries.filter((entry) => entry.at > horizon);
}

/** True when `restarts` within the period is more than the intensity allows. */
export function exceedsIntensity(restarts: number, intensity: Intensity): boolean {
  return restarts > intensity.maxRestarts;
}

/** Problems with an intensity, as readable strings (empty when valid). */
export function intensityIssues(intensity: Intensity): string[] {
  const issues: string[] = [];
  if (!Number.isInteger(intensity.maxRestarts) || intensity.maxRestarts < 0) issues.push('intensity.maxRestarts must be an integer ≥ 0');
  if (!(intensity.periodMs > 0)) issues.push('intensity.periodMs must be > 0');
  return issues;
}
