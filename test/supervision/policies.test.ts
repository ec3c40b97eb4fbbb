import { expect } from 'chai';
import { EsperError, SupervisionError, InputError } from '../../src/errors/index.ts';
import {
  applyRestartType,
  byCode,
  decideNormalExit,
  defaultPolicy,
  exceedsIntensity,
  pruneWindow,
  restartCode,
  restartSet,
  type ChildInfo,
  type RestartRecord,
} from '../../src/supervision/index.ts';

const child = (restart: ChildInfo['restart'] = 'permanent'): ChildInfo => ({ id: 'c', path: 'root/c', restart, subsystem: 'test', kind: 'worker' });
const none: readonly RestartRecord[] = [];

describe('supervision policies (pure)', () => {
  describe('defaultPolicy', () => {
    it('escalates an error that is not an EsperError', () => {
      expect(defaultPolicy(new TypeError('x is undefined'), child(), none)).to.equal('escalate');
      expect(defaultPolicy('a string', child(), none)).to.equal('escalate');
    });

    it('escalates ESPER_INTERNAL (an unknown error wrapped by toEsperError)', () => {
      expect(defaultPolicy(new EsperError('ESPER_INTERNAL', 'bug'), child(), none)).to.equal('escalate');
    });

    it('restarts on a retryable EsperError', () => {
      expect(defaultPolicy(new SupervisionError('ESPER_TIMEOUT', 't'), child('transient'), none)).to.equal('restart');
      expect(defaultPolicy(new EsperError('ESPER_BUS_UNAVAILABLE', 'down'), child(), [{ at: 1, code: 'ESPER_BUS_UNAVAILABLE' }])).to.equal('restart');
    });

    it('stops a temporary child whatever the error', () => {
      expect(defaultPolicy(new SupervisionError('ESPER_TIMEOUT', 't'), child('temporary'), none)).to.equal('stop');
      expect(defaultPolicy(new Error('unknown'), child('temporary'), none)).to.equal('stop');
    });

    it('restarts a non-retryable error once per period, then escalates when the same code repeats', () => {
      const error = new InputError('ESPER_SCHEMA_VIOLATION', 'bad state');
      expect(defaultPolicy(error, child(), none)).to.equal('restart');
      expect(defaultPolicy(error, child(), [{ at: 5, code: 'ESPER_NOT_FOUND' }])).to.equal('restart');
      expect(defaultPolicy(error, child(), [{ at: 5, code: 'ESPER_SCHEMA_VIOLATION' }])).to.equal('escalate');
    });

    it('restarts a child supervisor that gave up (ESPER_RESTART_INTENSITY), even repeatedly', () => {
      const error = new SupervisionError('ESPER_RESTART_INTENSITY', 'gave up');
      expect(defaultPolicy(error, { ...child(), kind: 'supervisor' }, [{ at: 1, code: 'ESPER_RESTART_INTENSITY' }])).to.equal('restart');
    });
  });

  it('byCode overrides chosen codes and falls back to the default', () => {
    const policy = byCode({ ESPER_TIMEOUT: 'stop', ESPER_NOT_FOUND: 'escalate' });
    expect(policy(new SupervisionError('ESPER_TIMEOUT', 't'), child(), none)).to.equal('stop');
    expect(policy(new EsperError('ESPER_NOT_FOUND', 'n'), child(), none)).to.equal('escalate');
    expect(policy(new SupervisionError('ESPER_ACTOR_CRASHED', 'c'), child(), none)).to.equal('restart');
    expect(policy(new RangeError('r'), child(), none)).to.equal('escalate');
  });

  it('restart types override a restart decision and settle normal exits', () => {
    expect(applyRestartType('restart', 'temporary')).to.equal('stop');
    expect(applyRestartType('restart', 'transient')).to.equal('restart');
    expect(applyRestartType('escalate', 'temporary')).to.equal('escalate');
    expect(decideNormalExit('permanent')).to.equal('restart');
    expect(decideNormalExit('transient')).to.equal('stop');
    expect(decideNormalExit('temporary')).to.equal('stop');
  });

  it('restartCode names Esper codes and calls everything else unknown', () => {
    expect(restartCode(new SupervisionError('ESPER_TIMEOUT', 't'))).to.equal('ESPER_TIMEOUT');
    expect(restartCode(new Error('e'))).to.equal('unknown');
  });

  describe('restart plan', () => {
    const all = ['a', 'b', 'c', 'd'];
    it('picks the children each strategy restarts, in start order', () => {
      expect(restartSet('one_for_one', all, 'b')).to.deep.equal(['b']);
      expect(restartSet('one_for_all', all, 'b')).to.deep.equal(['a', 'b', 'c', 'd']);
      expect(restartSet('rest_for_one', all, 'b')).to.deep.equal(['b', 'c', 'd']);
      expect(restartSet('rest_for_one', all, 'd')).to.deep.equal(['d']);
    });

    it('slides the intensity window: entries exactly periodMs old have left it', () => {
      const entries = [
        { at: 0, id: 'a', code: 'x' },
        { at: 500, id: 'a', code: 'x' },
        { at: 999, id: 'b', code: 'y' },
      ];
      expect(pruneWindow(entries, 1000, 1000).map((e) => e.at)).to.deep.equal([500, 999]);
      expect(pruneWindow(entries, 1500, 1000).map((e) => e.at)).to.deep.equal([999]);
      expect(exceedsIntensity(3, { maxRestarts: 3, periodMs: 1 })).to.equal(false);
      expect(exceedsIntensity(4, { maxRestarts: 3, periodMs: 1 })).to.equal(true);
    });
  });
});
