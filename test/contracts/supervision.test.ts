import {
  BreakerStateChangedSchema,
  ChildRestartedSchema,
  ChildTerminatedSchema,
  EscalatedSchema,
  MESSAGE_EXAMPLES,
} from '../../src/contracts/index.ts';
import { expectIssueAt, expectValid, patched } from './issues.ts';

describe('contracts/supervision', () => {
  it('validates breaker state changes', () => {
    const event = MESSAGE_EXAMPLES['supervision.breaker.state'];
    expectValid(BreakerStateChangedSchema, event);
    expectValid(BreakerStateChangedSchema, patched(event, { from: 'open', to: 'half_open' }));
    expectIssueAt(BreakerStateChangedSchema, patched(event, { to: 'half-open' }), 'to');
    expectIssueAt(BreakerStateChangedSchema, patched(event, { to: 'closed' }), 'to');
    expectIssueAt(BreakerStateChangedSchema, patched(event, { at: undefined }), 'at');
  });

  it('validates restarts, terminations and escalations', () => {
    const restarted = MESSAGE_EXAMPLES['supervision.child.restarted'];
    expectValid(ChildRestartedSchema, restarted);
    expectIssueAt(ChildRestartedSchema, patched(restarted, { restartCount: 0 }), 'restartCount');
    expectIssueAt(ChildRestartedSchema, patched(restarted, { backoffMs: Number.NaN }), 'backoffMs');
    expectIssueAt(ChildRestartedSchema, patched(restarted, { error: 'boom' }), 'error');
    const terminated = MESSAGE_EXAMPLES['supervision.child.terminated'];
    expectValid(ChildTerminatedSchema, terminated);
    expectIssueAt(ChildTerminatedSchema, patched(terminated, { reason: 'vanished' }), 'reason');
    const escalated = MESSAGE_EXAMPLES['supervision.escalated'];
    expectValid(EscalatedSchema, escalated);
    expectIssueAt(EscalatedSchema, patched(escalated, { error: undefined }), 'error');
    expectIssueAt(EscalatedSchema, patched(escalated, { stack: 'at x' }), '(root)');
  });
});
