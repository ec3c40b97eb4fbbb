/**
 * Waits for a process's run state as /proc shows it: stopped by SIGSTOP
 * ('T') or not (the pool gate's tests).
 */
import { processState } from '../../src/actors/pipeline/proc-stat.ts';
import { until } from './until.ts';

/** Resolves once process `pid` is stopped ('T' in /proc/<pid>/stat), or with `stopped` false once it is not; throws after `timeoutMs`. */
export async function untilStopped(pid: number, stopped = true, timeoutMs = 3000): Promise<void> {
  await until(() => Promise.resolve((processState(pid) === 'T') === stopped ? true : undefined), timeoutMs, 10);
}
