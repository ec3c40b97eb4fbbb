/**
 * Lowers the scheduling priority of the calling thread. On Linux, nice values
 * are per thread: `setpriority(PRIO_PROCESS, tid)` with the thread's own id
 * (read from /proc/thread-self) renices only that thread. Background work
 * (compiling and validating kernels) uses it so the training thread wins the
 * CPU when both want it. Elsewhere it does nothing.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Renices the current thread to `nice` (0–19); returns false when the platform does not allow it. */
export function lowerThreadPriority(nice: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, Math.max(0, Math.min(19, nice)));
    return true;
  } catch {
    return false;
  }
}
