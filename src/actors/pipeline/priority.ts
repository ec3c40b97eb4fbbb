/**
 * Lowers the CPU priority (raises the nice value) of a kernel pool worker, so
 * that the training thread wins the CPU whenever both want it (issue 12,
 * "zero stalls"). Runs inside the worker.
 *
 * On Linux nice values are per thread: `setpriority(PRIO_PROCESS, tid)` — what
 * `os.setPriority(tid, n)` calls — renices one thread, and a new thread
 * inherits the nice value of the thread that creates it.
 * - `scope: 'process'` (a pool child process): every thread of the process is
 *   reniced — its JavaScript thread and the threads V8 and libuv started
 *   before it ran (GC helpers, background JIT, the threadpool) — and every
 *   thread started afterwards inherits it.
 * - `scope: 'thread'` (a pool worker thread): only the calling thread. The
 *   V8 platform threads are shared with the rest of the process (the trainer
 *   too), so the worker's GC and JIT helpers keep the normal priority.
 * Elsewhere, `'process'` renices the process (`setpriority(PRIO_PROCESS, 0)`
 * applies to the whole process on macOS/BSD); `'thread'` is not supported.
 *
 * At nice 19 a process-scope worker also enters Linux's SCHED_IDLE class
 * (`chrt --idle`): nice 19 still gets a share of a busy core (weight 15
 * against a normal thread's 1024), and on the 2-core machine that share
 * showed in the training step's p99 (1.3–1.7× with jobs running).
 *
 * Never throws: what was refused is in the report (the pool logs a warning).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { ownThreadId, taskStatField } from './proc-stat.ts';

/** What a pool worker did to its priority (sent to the pool in its `ready` message). */
export interface PriorityReport {
  /** The nice value asked for (0 = leave it). */
  requested: number;
  scope: 'thread' | 'process';
  /** True when every thread it covers runs at `requested` now (0: nothing was asked). */
  applied: boolean;
  /** Threads reniced (Linux; 1 for a process reniced as a whole elsewhere). */
  threads: number;
  /** Lowest and highest nice value of the threads covered after the change, read back from /proc (Linux) or getpriority; null when unknown. */
  niceMin: number | null;
  niceMax: number | null;
  /** Why it was not applied (the OS refused, unsupported platform). */
  error?: string;
  /**
   * Whether every thread also runs in Linux's SCHED_IDLE class (process scope
   * at nice 19 only): it gets a core only when no normal thread wants it, and
   * a training thread that wakes preempts it at once. False where `chrt`
   * (util-linux) is missing or refused; nice 19 still applies then.
   */
  idleClass?: boolean;
}

/** Scheduling policy of thread `tid` of process `pid` (field 41 of /proc/<pid>/task/<tid>/stat; 5 = SCHED_IDLE). */
export function threadPolicy(tid: number, pid: number | 'self' = 'self'): number {
  return Number(taskStatField(41, tid, pid));
}

/** SCHED_IDLE's number in /proc stat. */
export const SCHED_IDLE = 5;

/**
 * Puts every thread of this process in SCHED_IDLE with util-linux's `chrt`
 * (Node has no sched_setscheduler); threads started later inherit it. True
 * when every thread reads back as SCHED_IDLE.
 */
function enterIdleClass(): boolean {
  const run = spawnSync('chrt', ['--idle', '--all-tasks', '--pid', '0', String(process.pid)], { stdio: 'ignore', timeout: 5000 });
  if (run.status !== 0) return false;
  try {
    return readdirSync('/proc/self/task').every((tid) => {
      try {
        return threadPolicy(Number(tid)) === SCHED_IDLE;
      } catch {
        return true; // exited meanwhile
      }
    });
  } catch {
    return false;
  }
}

/** Nice value of thread `tid` of this process, from /proc/self/task/<tid>/stat (field 19). */
export function threadNice(tid: number, pid: number | 'self' = 'self'): number {
  return Number(taskStatField(19, tid, pid));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Lowers the priority of the calling thread or of this whole process to `nice` (0–19). */
export function lowerPriority(nice: number, scope: 'thread' | 'process'): PriorityReport {
  const requested = Math.max(0, Math.min(19, Math.round(nice)));
  const report: PriorityReport = { requested, scope, applied: false, threads: 0, niceMin: null, niceMax: null };
  if (process.platform !== 'linux') {
    if (scope === 'thread') return { ...report, error: `per-thread priority is Linux-only (platform ${process.platform})` };
    try {
      if (requested > 0) setPriority(requested);
      const now = getPriority();
      return { ...report, applied: now === requested, threads: 1, niceMin: now, niceMax: now };
    } catch (error) {
      return { ...report, error: message(error) };
    }
  }
  let error: string | undefined;
  const done = new Set<number>();
  try {
    // Threads may start while this runs (each inherits its creator's value): repeat until none is new.
    for (let pass = 0; pass < 5; pass++) {
      const tids = scope === 'thread' ? [ownThreadId()] : readdirSync('/proc/self/task').map(Number);
      const fresh = tids.filter((tid) => !done.has(tid));
      if (fresh.length === 0) break;
      for (const tid of fresh) {
        done.add(tid);
        if (requested === 0) continue;
        try {
          setPriority(tid, requested);
        } catch (cause) {
          // A thread that exited meanwhile (ESRCH) is not a refusal.
          if ((cause as NodeJS.ErrnoException).code !== 'ESRCH') error ??= message(cause);
        }
      }
    }
    const nices: number[] = [];
    for (const tid of done) {
      try {
        nices.push(threadNice(tid));
      } catch {
        // exited
      }
    }
    const niceMin = nices.length === 0 ? null : Math.min(...nices);
    const niceMax = nices.length === 0 ? null : Math.max(...nices);
    const applied = error === undefined && (requested === 0 || (niceMin === requested && niceMax === requested));
    const idleClass = scope === 'process' && requested === 19 && applied ? enterIdleClass() : undefined;
    return { ...report, applied, threads: done.size, niceMin, niceMax, ...(error === undefined ? {} : { error }), ...(idleClass === undefined ? {} : { idleClass }) };
  } catch (cause) {
    return { ...report, threads: done.size, error: message(cause) };
  }
}
