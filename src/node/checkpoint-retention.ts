/**
 * Which of a run's boundary artifacts may be deleted (pure; the run registry
 * lists and deletes, `run-service.ts` calls it after each commit).
 *
 * What can still read a run's checkpoint artifacts:
 * - a node that takes the run over (crash, handover) loads the record's
 *   checkpoint pointer — that one and nothing older;
 * - operator rollback (`run.<id>.rollback`, optional checkpoint id) restores
 *   one of the last `KEPT_CHECKPOINTS` (3) checkpoints the run loop holds
 *   in memory (bytes included) — it never reads the artifact store, and a
 *   resumed loop starts with an empty window;
 * - `esper run --nats` and the tests read `results.json`, never checkpoints.
 *
 * So a run needs the committed checkpoint only; everything older goes once a
 * newer one is committed. The rule is relative to the checkpoint the caller
 * has just committed, so it also sweeps up what an earlier deletion missed
 * (a failure, a crash between commit and deletion, another owner's pass).
 *
 * Boundary artifacts are `runs/<runId>/<checkpointId>.<suffix>` (`.r<resumes>.ckpt`,
 * `.r<resumes>.state.json`) and the run loop numbers checkpoint ids
 * `<runId>-ckpt-<n>` across resumes (its checkpoint counter is part of the
 * loop state), which orders them. A key that does not parse is never
 * deleted, nor is `results.json`.
 */
/** Committed checkpoints whose artifacts a live run keeps (the record's current one). */
export const RETAINED_CHECKPOINTS = 1;

/** The part of a run record retention looks at. */
export interface RetentionRecord {
  runId: string;
  /** The committed checkpoint pointer (null: no boundary committed yet). */
  checkpoint: { checkpointId: string; tensors: { key: string }; state: { key: string } } | null;
  /** The run is completed, failed or stopped: nothing will write or read newer checkpoints. */
  terminal: boolean;
}

/** Folder of a run's artifacts in the store. */
export function runArtifactPrefix(runId: string): string {
  return `runs/${runId}/`;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The run loop's sequence number of `checkpointId` (`<runId>-ckpt-<n>`), undefined for another form. */
export function checkpointSequence(runId: string, checkpointId: string): number | undefined {
  const match = new RegExp(`^${escape(runId)}-ckpt-(\\d+)$`).exec(checkpointId);
  return match === null ? undefined : Number(match[1]);
}

/** The checkpoint a boundary artifact key belongs to, undefined for any other key of the run (results.json, unknown forms). */
export function boundaryArtifactOf(runId: string, key: string): { checkpointId: string; sequence: number } | undefined {
  const match = new RegExp(`^${escape(`runs/${runId}/`)}(${escape(runId)}-ckpt-(\\d+))\\.[A-Za-z0-9_.-]+$`).exec(key);
  if (match === null) return undefined;
  return { checkpointId: match[1]!, sequence: Number(match[2]) };
}

/**
 * The keys of `stored` (a listing of {@link runArtifactPrefix}) to delete
 * once `record` has been committed:
 * - a live run (running, paused, pending): the boundary artifacts of
 *   checkpoints older than the `keep` most recent ones up to the committed
 *   one; newer ones are left alone (the next boundary being written, or a
 *   newer owner's should this caller have been fenced off without knowing);
 *   nothing before the first commit;
 * - a finished run: every boundary artifact except the committed
 *   checkpoint's — the final checkpoint and results.json stay.
 *
 * Call it only with a record this caller has just written by
 * compare-and-set: a node that lost the compare-and-set deletes nothing.
 */
export function checkpointKeysToDelete(record: RetentionRecord, stored: readonly string[], keep: number = RETAINED_CHECKPOINTS): string[] {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, not ${keep}`);
  const pointer = record.checkpoint;
  const current = pointer === null ? undefined : checkpointSequence(record.runId, pointer.checkpointId);
  if (!record.terminal && current === undefined) return [];
  const kept = new Set(pointer === null ? [] : [pointer.tensors.key, pointer.state.key]);
  return stored.filter((key) => {
    if (kept.has(key)) return false;
    const artifact = boundaryArtifactOf(record.runId, key);
    if (artifact === undefined) return false;
    if (pointer !== null && artifact.checkpointId === pointer.checkpointId) return false;
    if (record.terminal) return true;
    return artifact.sequence <= (current as number) - keep;
  });
}
