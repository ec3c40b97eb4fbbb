/**
 * A run's unpublished events across a loop restart: the loop's events since
 * the last boundary are dropped (the restarted loop emits them again), the
 * operator's records are not (nothing replays them), and what a boundary
 * committed or the stream took is accounted for in order.
 */
import { expect } from 'chai';
import { createMessage } from '../../src/contracts/registry.ts';
import type { Envelope } from '../../src/contracts/envelope.ts';
import { RunEventBacklog } from '../../src/node/run-event-backlog.ts';

const runId = 'backlog';
const epochEvent = (epoch: number): Envelope =>
  createMessage('tolaria.epoch.completed', { runId, epoch, globalStep: 10 * epoch, trainingLoss: 1, validationLoss: 1, validationAccuracy: 0.5, epochMs: 1, paramCount: 10 }, { source: 'test', runId });
const operatorAction = (verb: string): Envelope =>
  createMessage('nissa.operator.action', { subject: `esper.ctl.run.${runId}.${verb}`, verb, runId, via: 'node n1', ok: true }, { source: 'test', runId });

describe('run event backlog', () => {
  it('a restart drops the loop’s events since the boundary but keeps a pause recorded mid-epoch', () => {
    const backlog = new RunEventBacklog();
    const first = epochEvent(1);
    backlog.emitted(first);
    backlog.committed();
    const replayed = epochEvent(2);
    const pause = operatorAction('pause');
    backlog.emitted(replayed);
    backlog.recorded(pause);
    backlog.rewind();
    expect(backlog.all()).to.deep.equal([first, pause]);
    // The restarted loop emits epoch 2 again: it follows the pause, once.
    const again = epochEvent(2);
    backlog.emitted(again);
    expect(backlog.all()).to.deep.equal([first, pause, again]);
    expect(backlog.size).to.equal(3);
  });

  it('keeps the events saved with the boundary a run resumes from across a restart', () => {
    const saved = [epochEvent(4), operatorAction('resume')];
    const backlog = new RunEventBacklog(saved);
    backlog.emitted(epochEvent(5));
    backlog.rewind();
    expect(backlog.all()).to.deep.equal(saved);
  });

  it('drops what the stream took, oldest first; what arrived during the publish stays', () => {
    const backlog = new RunEventBacklog();
    const a = epochEvent(1);
    const b = epochEvent(2);
    backlog.emitted(a);
    backlog.emitted(b);
    const taken = backlog.all();
    const late = operatorAction('pause');
    backlog.recorded(late);
    backlog.published(taken.length);
    expect(backlog.all()).to.deep.equal([late]);
    backlog.rewind();
    expect(backlog.all(), 'an operator record survives a restart before any boundary').to.deep.equal([late]);
  });

  it('a committed boundary protects everything held then; a second restart drops only the newer loop events', () => {
    const backlog = new RunEventBacklog();
    const e1 = epochEvent(1);
    backlog.emitted(e1);
    backlog.committed();
    backlog.emitted(epochEvent(2));
    backlog.rewind();
    const e2 = epochEvent(2);
    backlog.emitted(e2);
    backlog.committed();
    backlog.emitted(epochEvent(3));
    backlog.rewind();
    expect(backlog.all()).to.deep.equal([e1, e2]);
  });
});
