/** Exit codes of the `esper` command (DESIGN §9); scripts depend on them. */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** The job or request failed (an error reply, a failed run). */
  FAILED: 1,
  /** Bad usage or configuration; every problem is printed. */
  USAGE: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
