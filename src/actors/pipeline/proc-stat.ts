/**
 * Readers of Linux's /proc stat files (proc(5)) the kernel pool uses: the
 * nice value and scheduling policy of a thread (priority.ts), a thread's
 * identity and liveness (the pool gate's holders, pool-gate.ts) and a
 * process's run state ('T' when stopped by SIGSTOP). Linux only: each
 * throws where /proc is missing.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Fields of a stat file from field 3 (state) on, so that field `n` of proc(5)
 * is at index `n - 3`. The command name (field 2) may contain spaces and
 * parentheses: the fields start after its last ')'.
 */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Field `n` (proc(5) numbering) of /proc/<pid>/task/<tid>/stat. */
export function taskStatField(n: number, tid: number, pid: number | 'self' = 'self'): string {
  return statFields(`/proc/${pid}/task/${tid}/stat`)[n - 3] ?? '';
}

/** Run state of process `pid` (field 3 of /proc/<pid>/stat): 'R', 'S', 'D', 'T' (stopped), 'Z'… */
export function processState(pid: number): string {
  return statFields(`/proc/${pid}/stat`)[0] ?? '';
}

/** Kernel thread id of the calling thread. */
export function ownThreadId(): number {
  return Number(readlinkSync('/proc/thread-self').split('/').pop());
}

/** Start time of thread `tid` of this process (field 22, clock ticks since boot): with the tid, it names the thread even if the tid is reused. */
export function threadStartTime(tid: number): number {
  return Number(taskStatField(22, tid));
}

/** Whether thread `tid` of this process still runs, and (given `startTime`) is the thread that had that start time. */
export function threadAlive(tid: number, startTime?: number): boolean {
  if (!existsSync(`/proc/self/task/${tid}`)) return false;
  if (startTime === undefined) return true;
  try {
    return threadStartTime(tid) === startTime;
  } catch {
    return false; // exited meanwhile
  }
}
