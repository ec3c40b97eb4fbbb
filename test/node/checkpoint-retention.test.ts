/**
 * Which boundary artifacts of a run may go once a record is committed: older
 * checkpoints while the run lives, everything but the final checkpoint and
 * results once it is finished; never a key that does not parse, never a
 * checkpoint newer than the committed one of a live run.
 */
import { expect } from 'chai';
import { boundaryArtifactOf, checkpointKeysToDelete, checkpointSequence, runArtifactPrefix, type RetentionRecord } from '../../src/node/checkpoint-retention.ts';

const keysOf = (runId: string, n: number): string[] => [`runs/${runId}/${runId}-ckpt-${n}.ckpt`, `runs/${runId}/${runId}-ckpt-${n}.state.json`];
const pointer = (runId: string, n: number): NonNullable<RetentionRecord['checkpoint']> => {
  const [tensors, state] = keysOf(runId, n) as [string, string];
  return { checkpointId: `${runId}-ckpt-${n}`, tensors: { key: tensors }, state: { key: state } };
};
const live = (runId: string, n: number | null): RetentionRecord => ({ runId, checkpoint: n === null ? null : pointer(runId, n), terminal: false });
const finished = (runId: string, n: number | null): RetentionRecord => ({ ...live(runId, n), terminal: true });

describe('checkpoint retention', () => {
  it('parses checkpoint ids and boundary artifact keys of the run only', () => {
    expect(runArtifactPrefix('r1')).to.equal('runs/r1/');
    expect(checkpointSequence('r1', 'r1-ckpt-12')).to.equal(12);
    expect(checkpointSequence('r1', 'r10-ckpt-12')).to.equal(undefined);
    expect(checkpointSequence('r1', 'r1-ckpt-x')).to.equal(undefined);
    expect(checkpointSequence('a.b', 'aXb-ckpt-1')).to.equal(undefined); // the run id is matched literally
    expect(boundaryArtifactOf('r1', 'runs/r1/r1-ckpt-3.state.json')).to.deep.equal({ checkpointId: 'r1-ckpt-3', sequence: 3 });
    expect(boundaryArtifactOf('r1', 'runs/r1/r1-ckpt-3.events.json')).to.deep.equal({ checkpointId: 'r1-ckpt-3', sequence: 3 });
    for (const key of ['runs/r1/results.json', 'runs/r1/r1-ckpt-3', 'runs/r1/deep/r1-ckpt-3.ckpt', 'runs/r2/r2-ckpt-3.ckpt', 'runs/r1/r2-ckpt-3.ckpt', 'other/r1/r1-ckpt-3.ckpt']) {
      expect(boundaryArtifactOf('r1', key), key).to.equal(undefined);
    }
  });

  it('a live run: deletes every checkpoint older than the committed one (also those an earlier pass missed), keeps it and anything newer', () => {
    const stored = [...keysOf('r1', 0), ...keysOf('r1', 2), ...keysOf('r1', 3), ...keysOf('r1', 4), ...keysOf('r1', 5), 'runs/r1/results.json', 'runs/r1/notes.txt'];
    expect(checkpointKeysToDelete(live('r1', 4), stored).sort()).to.deep.equal([...keysOf('r1', 0), ...keysOf('r1', 2), ...keysOf('r1', 3)].sort());
    // Numeric order, not string order: ckpt-10 is newer than ckpt-9.
    expect(checkpointKeysToDelete(live('r1', 10), [...keysOf('r1', 9), ...keysOf('r1', 10), ...keysOf('r1', 11)])).to.deep.equal(keysOf('r1', 9));
    // Nothing to do once only the committed checkpoint is left.
    expect(checkpointKeysToDelete(live('r1', 4), keysOf('r1', 4))).to.deep.equal([]);
  });

  it('keeps a window of the most recent checkpoints when asked to', () => {
    const stored = [0, 1, 2, 3, 4].flatMap((n) => keysOf('r1', n));
    expect(checkpointKeysToDelete(live('r1', 4), stored, 3)).to.deep.equal([...keysOf('r1', 0), ...keysOf('r1', 1)]);
    expect(checkpointKeysToDelete(live('r1', 1), stored, 3)).to.deep.equal([]);
    expect(() => checkpointKeysToDelete(live('r1', 4), stored, 0)).to.throw(RangeError);
  });

  it('a live run without a committed checkpoint, or with one that does not parse, deletes nothing', () => {
    const stored = [...keysOf('r1', 0), ...keysOf('r1', 1)];
    expect(checkpointKeysToDelete(live('r1', null), stored)).to.deep.equal([]);
    const odd: RetentionRecord = { runId: 'r1', checkpoint: { checkpointId: 'manual', tensors: { key: 'runs/r1/manual.ckpt' }, state: { key: 'runs/r1/manual.state.json' } }, terminal: false };
    expect(checkpointKeysToDelete(odd, stored)).to.deep.equal([]);
  });

  it("never deletes the record's own pointer keys, whatever they look like", () => {
    const record: RetentionRecord = { runId: 'r1', checkpoint: { checkpointId: 'r1-ckpt-5', tensors: { key: 'runs/r1/r1-ckpt-1.ckpt' }, state: { key: 'runs/r1/r1-ckpt-5.state.json' } }, terminal: false };
    expect(checkpointKeysToDelete(record, [...keysOf('r1', 1), ...keysOf('r1', 5)])).to.deep.equal(['runs/r1/r1-ckpt-1.state.json']);
  });

  it('a finished run: keeps only the final checkpoint and results, newer leftovers included in the deletion', () => {
    const stored = [...keysOf('r1', 6), ...keysOf('r1', 7), ...keysOf('r1', 8), 'runs/r1/results.json'];
    expect(checkpointKeysToDelete(finished('r1', 7), stored).sort()).to.deep.equal([...keysOf('r1', 6), ...keysOf('r1', 8)].sort());
    // Failed before its first commit: only uncommitted leftovers, all of them go.
    expect(checkpointKeysToDelete(finished('r1', null), [...keysOf('r1', 0), 'runs/r1/results.json'])).to.deep.equal(keysOf('r1', 0));
  });
});
