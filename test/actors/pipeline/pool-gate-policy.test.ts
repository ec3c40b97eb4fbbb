import { expect } from 'chai';
import { dutyDecision, POOL_GATE_DEFAULTS, POOL_GATE_MODES, shouldGate } from '../../../src/actors/pipeline/pool-gate-policy.ts';
import { NodeConfigSchema } from '../../../src/config/schema.ts';

const LIMITS = { mode: 'always', maxPauseMs: 1000, resumeMs: 20, watchdogMs: 100 } as const;
const RUNNING = { stopped: false, holders: 1, gate: true, now: 10_000, stoppedAt: 0, forcedUntil: 0 };
const STOPPED = { ...RUNNING, stopped: true, stoppedAt: 9_950 };

describe('Pool gate policy', () => {
  describe('shouldGate', () => {
    it('auto gates only when the CPUs are no more than the training threads plus the pool workers', () => {
      expect(shouldGate('auto', { cpus: 2, trainers: 1, poolWorkers: 1 })).to.equal(true);
      expect(shouldGate('auto', { cpus: 2, trainers: 2, poolWorkers: 1 })).to.equal(true);
      expect(shouldGate('auto', { cpus: 3, trainers: 1, poolWorkers: 1 })).to.equal(false);
      expect(shouldGate('auto', { cpus: 8, trainers: 2, poolWorkers: 4 })).to.equal(false);
      expect(shouldGate('auto', { cpus: 4, trainers: 2, poolWorkers: 2 })).to.equal(true);
    });

    it('always gates whenever someone trains and a pool child exists; off never gates', () => {
      expect(shouldGate('always', { cpus: 64, trainers: 1, poolWorkers: 1 })).to.equal(true);
      expect(shouldGate('off', { cpus: 1, trainers: 4, poolWorkers: 4 })).to.equal(false);
    });

    it('has nothing to gate with no trainer or no pool child', () => {
      expect(shouldGate('always', { cpus: 1, trainers: 0, poolWorkers: 1 })).to.equal(false);
      expect(shouldGate('always', { cpus: 1, trainers: 1, poolWorkers: 0 })).to.equal(false);
      expect(shouldGate('auto', { cpus: 1, trainers: 1, poolWorkers: 0 })).to.equal(false);
    });

    it('defaults to auto with a bounded pause, as the node configuration does (config/ cannot import the policy)', () => {
      expect(POOL_GATE_DEFAULTS.mode).to.equal('auto');
      expect(POOL_GATE_DEFAULTS.maxPauseMs).to.be.greaterThan(0);
      expect(POOL_GATE_DEFAULTS.resumeMs).to.be.greaterThan(0);
      const { pipeline } = NodeConfigSchema.parse({});
      expect({ mode: pipeline.poolGate, maxPauseMs: pipeline.poolGateMaxPauseMs, resumeMs: pipeline.poolGateResumeMs }).to.deep.equal(POOL_GATE_DEFAULTS);
      expect(NodeConfigSchema.shape.pipeline.unwrap().shape.poolGate.unwrap().options).to.deep.equal([...POOL_GATE_MODES]);
    });
  });

  describe('dutyDecision', () => {
    it('keeps a young pause, looking again at the watchdog period or the pause limit, whichever is sooner', () => {
      expect(dutyDecision(STOPPED, LIMITS)).to.deep.equal({ action: 'none', wakeInMs: 100 });
      expect(dutyDecision({ ...STOPPED, stoppedAt: 9_040 }, LIMITS)).to.deep.equal({ action: 'none', wakeInMs: 40 });
    });

    it('breaks a pause that lasted maxPauseMs with a forced run of resumeMs', () => {
      expect(dutyDecision({ ...STOPPED, stoppedAt: 9_000 }, LIMITS)).to.deep.equal({ action: 'force-resume', wakeInMs: 20 });
    });

    it('never breaks a pause with maxPauseMs 0, but still watches it', () => {
      expect(dutyDecision({ ...STOPPED, stoppedAt: 0 }, { ...LIMITS, maxPauseMs: 0 })).to.deep.equal({ action: 'none', wakeInMs: 100 });
    });

    it('ends a pause nobody holds any more (a dead trainer reaped) or the policy no longer wants', () => {
      expect(dutyDecision({ ...STOPPED, holders: 0 }, LIMITS)).to.deep.equal({ action: 'resume', wakeInMs: null });
      expect(dutyDecision({ ...STOPPED, gate: false }, LIMITS)).to.deep.equal({ action: 'resume', wakeInMs: null });
    });

    it('pauses again when a forced run ends and training still holds the gate, not before', () => {
      expect(dutyDecision({ ...RUNNING, forcedUntil: 10_015 }, LIMITS)).to.deep.equal({ action: 'none', wakeInMs: 15 });
      expect(dutyDecision({ ...RUNNING, forcedUntil: 10_000 }, LIMITS)).to.deep.equal({ action: 'stop', wakeInMs: 100 });
    });

    it('waits for the next pause while nobody trains', () => {
      expect(dutyDecision({ ...RUNNING, holders: 0 }, LIMITS)).to.deep.equal({ action: 'none', wakeInMs: null });
      expect(dutyDecision({ ...RUNNING, gate: false }, LIMITS)).to.deep.equal({ action: 'none', wakeInMs: null });
    });
  });
});
