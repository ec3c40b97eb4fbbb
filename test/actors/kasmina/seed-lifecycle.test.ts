import { expect } from 'chai';
import { SeedStateSchema, SeedTransitionedSchema } from '../../../src/contracts/index.ts';
import { EsperError } from '../../../src/errors/index.ts';
import {
  ALLOWED_TRANSITIONS,
  DEFAULT_GATE_CONFIG,
  SeedLifecycleStateSchema,
  parseGateConfig,
  toSeedState,
  transition,
  type SeedEvent,
  type SeedLifecycleState,
  type TransitionResult,
} from '../../../src/actors/kasmina/index.ts';
import { alphaAt } from '../../../src/tensor/alpha-schedule.ts';
import { HEALTHY, OTHER_IFACE, freshSeed, germinateEvent, kernel, nextCommandId, run, tick } from './support.ts';

function rejected(result: TransitionResult): EsperError {
  if (result.ok) throw new Error(`expected a rejection, got stage ${result.state.stage}`);
  return result.error;
}

function accepted(result: TransitionResult): Extract<TransitionResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.error.code}: ${result.error.message}`);
  return result;
}

const advance = (extra: Partial<Extract<SeedEvent, { type: 'advance' }>> = {}): SeedEvent => ({ type: 'advance', commandId: nextCommandId(), ...extra });
const gates = DEFAULT_GATE_CONFIG;

/** A seed brought to `stage` along the happy path. */
function seedIn(stage: 'GERMINATED' | 'TRAINING' | 'BLENDING' | 'HOLDING' | 'FOSSILIZED'): SeedLifecycleState {
  let s = run(freshSeed(), [germinateEvent()]);
  if (stage === 'GERMINATED') return s;
  s = run(tick(s, 1), [advance()]);
  if (stage === 'TRAINING') return s;
  s = run(tick(s, 3), [advance()]);
  if (stage === 'BLENDING') return s;
  s = run(tick(s, 5), [advance()]);
  if (stage === 'HOLDING') return s;
  return run(s, [{ type: 'fossilize', commandId: nextCommandId() }]);
}

describe('seed lifecycle', () => {
  describe('happy path', () => {
    it('goes DORMANT → GERMINATED → TRAINING → BLENDING → HOLDING → FOSSILIZED with every gate passing and a cause on every transition', () => {
      const seen: { from: string; to: string; gate?: string | undefined; commandId?: string | undefined }[] = [];
      let s = freshSeed();
      const step = (event: SeedEvent): void => {
        const result = accepted(transition(s, event, gates));
        if (result.transition !== null) {
          expect(SeedTransitionedSchema.safeParse(result.transition).success).to.equal(true);
          seen.push({ from: result.transition.from, to: result.transition.to, gate: result.transition.cause.gate, commandId: result.transition.cause.commandId });
          if ('commandId' in event) expect(result.transition.cause.commandId).to.equal(event.commandId);
        }
        s = result.state;
        expect(SeedLifecycleStateSchema.safeParse(s).success).to.equal(true);
        expect(SeedStateSchema.safeParse(toSeedState(s)).success).to.equal(true);
      };
      step(germinateEvent());
      expect(s).to.include({ stage: 'GERMINATED', kernelId: 'k-1', blueprintId: 'bp-lowrank', alpha: 0 });
      step({ type: 'epochEnded', epoch: 1, telemetry: HEALTHY });
      step(advance());
      expect(s.stage).to.equal('TRAINING');
      for (let e = 2; e <= 4; e++) step({ type: 'epochEnded', epoch: e, telemetry: HEALTHY });
      expect(s.epochsInStage).to.equal(3);
      step(advance({ blend: { curve: 'linear', tempoEpochs: 5 } }));
      // The ramp's first tick applies on entry: the first epoch of BLENDING trains at α = 1/5, not 0.
      expect(s).to.include({ stage: 'BLENDING', alpha: 0.2, alphaTarget: 1, blendEpochs: 1 });
      const alphas: number[] = [];
      for (let e = 5; e <= 8; e++) {
        step({ type: 'epochEnded', epoch: e, telemetry: HEALTHY });
        alphas.push(s.alpha);
      }
      expect(alphas.map((a) => Number(a.toFixed(6)))).to.deep.equal([0.4, 0.6, 0.8, 1]);
      step(advance());
      expect(s).to.include({ stage: 'HOLDING', alpha: 1 });
      step({ type: 'fossilize', commandId: nextCommandId() });
      expect(s).to.include({ stage: 'FOSSILIZED', alpha: 1, kernelId: 'k-1' });
      expect(seen.map((t) => `${t.from}→${t.to}:${t.gate}`)).to.deep.equal([
        'DORMANT→GERMINATED:G0',
        'GERMINATED→TRAINING:G1',
        'TRAINING→BLENDING:G2',
        'BLENDING→HOLDING:G3',
        'HOLDING→FOSSILIZED:G5',
      ]);
      expect(seen.every((t) => t.commandId !== undefined)).to.equal(true);
    });

    it('with no ramp (tempo 1) blends at the target from the first BLENDING epoch and may hold after one epoch there', () => {
      let s = run(tick(run(freshSeed(), [germinateEvent()]), 1), [advance()]);
      s = run(tick(s, 3), [advance({ blend: { curve: 'linear', tempoEpochs: 1 } })]);
      expect(s).to.include({ stage: 'BLENDING', alpha: 1, alphaTarget: 1, blendEpochs: 1 });
      // Not in the same boundary: G3 reads α after an epoch of blending.
      s = tick(s, 1);
      expect(s.alpha).to.equal(1);
      const held = accepted(transition(s, advance(), gates));
      expect(held.transition).to.include({ from: 'BLENDING', to: 'HOLDING' });
      expect(held.transition?.cause.gate).to.equal('G3');
      expect(held.state.alpha).to.equal(1);
    });

    it('stamps each transition with the epoch boundary it happened at and resets epochsInStage', () => {
      const s = tick(run(freshSeed(), [germinateEvent()]), 2);
      const result = accepted(transition(s, advance(), gates));
      expect(result.transition).to.include({ from: 'GERMINATED', to: 'TRAINING', epoch: 2 });
      expect(result.state.epochsInStage).to.equal(0);
    });

    it('follows the blend curve of the seed (cosine over 3 epochs) and snaps to the target', () => {
      let s = run(tick(run(freshSeed(), [germinateEvent({ blend: { curve: 'cosine', tempoEpochs: 3 } })]), 1), [advance()]);
      s = run(tick(s, 3), [advance()]);
      const got: number[] = [s.alpha];
      for (let i = 0; i < 3; i++) {
        s = tick(s, 1);
        got.push(s.alpha);
      }
      expect(got).to.deep.equal([1, 2, 3, 4].map((k) => alphaAt('cosine', 3, k)));
      expect(got[2]).to.equal(1);
    });
  });

  describe('gates', () => {
    it('G0 fails without a kernel, for a REJECTED kernel, a mismatched interface or the wrong blueprint', () => {
      const cases: [SeedEvent, RegExp][] = [
        [germinateEvent({ kernel: null }), /no kernel found/],
        [germinateEvent({ kernel: kernel({ status: 'REJECTED' }) }), /REJECTED, not VALIDATED/],
        [germinateEvent({ kernel: kernel({ status: 'PENDING_VALIDATION' }) }), /PENDING_VALIDATION, not VALIDATED/],
        [germinateEvent({ kernel: kernel({ interface: OTHER_IFACE }) }), /does not match slot dense:64->64:float32/],
        [germinateEvent({ requested: { blueprintId: 'bp-other' } }), /not the requested bp-other/],
      ];
      for (const [event, reason] of cases) {
        const error = rejected(transition(freshSeed(), event, gates));
        expect(error.code).to.equal('ESPER_GATE_FAILED');
        expect(error.details).to.include({ gate: 'G0', from: 'DORMANT', to: 'GERMINATED' });
        expect((error.details?.['reasons'] as string[]).join('; ')).to.match(reason);
        expect(error.details?.['measured']).to.have.property('slotInterface', 'dense:64->64:float32');
      }
    });

    it('G1 fails until the kernel is reported loaded, and on NaN parameters', () => {
      const germinated = seedIn('GERMINATED');
      let error = rejected(transition(germinated, advance(), gates));
      expect(error.code).to.equal('ESPER_GATE_FAILED');
      expect(error.details).to.include({ gate: 'G1', to: 'TRAINING' });
      expect(error.details?.['reasons']).to.include('kernel not reported loaded');
      error = rejected(transition(tick(germinated, 1, { kernelLoaded: true, paramsFinite: false }), advance(), gates));
      expect(error.details?.['reasons']).to.deep.equal(['seed parameters contain NaN or Infinity']);
      expect(error.details?.['measured']).to.deep.equal({ kernelLoaded: true, paramsFinite: false });
    });

    it('G1 passes at the germinating boundary once the trainer reports the attached kernel loaded and finite (no epoch passes)', () => {
      const germinated = seedIn('GERMINATED');
      const attached = accepted(transition(germinated, { type: 'attached', telemetry: { kernelLoaded: true, paramsFinite: true } }, gates));
      expect(attached.transition).to.equal(null);
      expect(attached.state).to.include({ stage: 'GERMINATED', epoch: germinated.epoch, epochsInStage: 0, revision: germinated.revision + 1 });
      const training = accepted(transition(attached.state, advance(), gates));
      expect(training.transition).to.include({ from: 'GERMINATED', to: 'TRAINING', epoch: germinated.epoch });
      // A kernel that did not load, or NaN parameters, still fail G1.
      const unloaded = accepted(transition(germinated, { type: 'attached', telemetry: { kernelLoaded: false, paramsFinite: true } }, gates)).state;
      expect(rejected(transition(unloaded, advance(), gates)).details?.['reasons']).to.include('kernel not reported loaded');
      const poisoned = accepted(transition(germinated, { type: 'attached', telemetry: { kernelLoaded: true, paramsFinite: false } }, gates)).state;
      expect(rejected(transition(poisoned, advance(), gates)).details?.['reasons']).to.deep.equal(['seed parameters contain NaN or Infinity']);
      // Only a GERMINATED seed is attached.
      for (const stage of ['TRAINING', 'BLENDING'] as const) {
        const error = rejected(transition(seedIn(stage), { type: 'attached', telemetry: { kernelLoaded: true, paramsFinite: true } }, gates));
        expect(error.code).to.equal('ESPER_INVALID_TRANSITION');
      }
      expect(rejected(transition(freshSeed(), { type: 'attached', telemetry: { kernelLoaded: true, paramsFinite: true } }, gates)).code).to.equal('ESPER_INVALID_TRANSITION');
    });

    it('G2 fails before N epochs in TRAINING, without progress, and on exploding or NaN gradients', () => {
      const training = seedIn('TRAINING');
      let error = rejected(transition(tick(training, 2), advance(), gates));
      expect(error.details).to.include({ gate: 'G2', to: 'BLENDING' });
      expect(error.details?.['reasons']).to.deep.equal(['2 epochs in TRAINING < 3']);
      expect(error.details?.['measured']).to.include({ epochsInTraining: 2, improvementPp: 0.8, gradRatio: 0.3 });

      error = rejected(transition(tick(training, 3, { ...HEALTHY, improvementPp: 0.1, gradRatio: 0.05 }), advance(), gates));
      expect((error.details?.['reasons'] as string[])[0]).to.match(/^no progress: improvement 0.1pp \(need ≥ 0.5pp\) and grad ratio 0.05 \(need ≥ 0.1\)/);

      error = rejected(transition(tick(training, 3, { ...HEALTHY, gradNorm: 5e3 }), advance(), gates));
      expect(error.details?.['reasons']).to.deep.equal(['seed gradients exploding: norm 5000 > 1000']);

      error = rejected(transition(tick(training, 3, { ...HEALTHY, gradNorm: Number.NaN }), advance(), gates));
      expect(error.details?.['reasons']).to.include('seed gradients contain NaN or Infinity');

      // Either signal suffices in the default (permissive) mode.
      accepted(transition(tick(training, 3, { ...HEALTHY, improvementPp: 0 }), advance(), gates));
      accepted(transition(tick(training, 3, { ...HEALTHY, gradRatio: 0 }), advance(), gates));
    });

    it('G2 in strict mode needs 10 epochs and both improvement and grad ratio', () => {
      const strict = parseGateConfig({ g2: { minTrainingEpochs: 10, requireBoth: true } });
      const training = seedIn('TRAINING');
      expect(rejected(transition(tick(training, 9, HEALTHY, strict), advance(), strict)).details?.['reasons']).to.deep.equal(['9 epochs in TRAINING < 10']);
      const error = rejected(transition(tick(training, 10, { ...HEALTHY, gradRatio: 0.01 }, strict), advance(), strict));
      expect(error.details?.['reasons']).to.deep.equal(['grad ratio 0.01 (need ≥ 0.1)']);
      accepted(transition(tick(training, 10, HEALTHY, strict), advance(), strict));
    });

    it('G3 fails until α reaches its target', () => {
      const blending = seedIn('BLENDING');
      const error = rejected(transition(tick(blending, 2), advance(), gates));
      expect(error.details).to.include({ gate: 'G3', to: 'HOLDING' });
      expect((error.details?.['reasons'] as string[])[0]).to.match(/^α 0.6 has not reached its target 1$/);
      expect(error.details?.['measured']).to.deep.equal({ alpha: 0.6, alphaTarget: 1, epochsInBlending: 2 });
    });

    it('G5 fails on a small or unmeasured contribution', () => {
      const holding = seedIn('HOLDING');
      let error = rejected(transition(tick(holding, 1, { ...HEALTHY, contributionPp: 0.2 }), { type: 'fossilize', commandId: nextCommandId() }, gates));
      expect(error.details).to.include({ gate: 'G5', to: 'FOSSILIZED' });
      expect(error.details?.['reasons']).to.deep.equal(['contribution 0.2pp < 0.5pp']);
      const { contributionPp: _omitted, ...noContribution } = HEALTHY;
      error = rejected(transition(tick(holding, 1, noContribution), { type: 'fossilize', commandId: nextCommandId() }, gates));
      expect(error.details?.['reasons']).to.deep.equal(['counterfactual contribution not measured']);
      expect(error.details?.['measured']).to.include({ contributionPp: null });
    });

    it('ADVANCE from HOLDING fossilizes through G5', () => {
      const result = accepted(transition(seedIn('HOLDING'), advance(), gates));
      expect(result.transition).to.include({ from: 'HOLDING', to: 'FOSSILIZED' });
      expect(result.transition?.cause.gate).to.equal('G5');
    });
  });

  describe('forbidden moves', () => {
    it('never prunes (or cancels, or advances) a FOSSILIZED seed', () => {
      const fossil = seedIn('FOSSILIZED');
      const error = rejected(transition(fossil, { type: 'prune', commandId: nextCommandId(), reason: 'test' }, gates));
      expect(error).to.be.instanceOf(EsperError);
      expect(error.code).to.equal('ESPER_INVALID_TRANSITION');
      expect(error.retryable).to.equal(false);
      expect(error.details).to.include({ from: 'FOSSILIZED', to: 'PRUNED', command: 'prune', stage: 'FOSSILIZED' });
      expect(error.message).to.match(/never pruned/);
      expect(rejected(transition(fossil, { type: 'cancel', commandId: nextCommandId() }, gates)).code).to.equal('ESPER_INVALID_TRANSITION');
      expect(rejected(transition(fossil, advance(), gates)).code).to.equal('ESPER_INVALID_TRANSITION');
      expect(rejected(transition(fossil, germinateEvent(), gates)).code).to.equal('ESPER_INVALID_TRANSITION');
      // Time passes and nothing changes but the epoch count.
      const later = tick(fossil, 20);
      expect(later).to.include({ stage: 'FOSSILIZED', alpha: 1, kernelId: 'k-1' });
    });

    it('rejects commands the table does not allow, naming from, to/command and stage', () => {
      const cases: [SeedLifecycleState, SeedEvent][] = [
        [freshSeed(), advance()],
        [freshSeed(), { type: 'prune', commandId: nextCommandId(), reason: 'x' }],
        [freshSeed(), { type: 'fossilize', commandId: nextCommandId() }],
        [seedIn('GERMINATED'), germinateEvent()],
        [seedIn('TRAINING'), { type: 'fossilize', commandId: nextCommandId() }],
        [seedIn('BLENDING'), { type: 'cancel', commandId: nextCommandId() }],
        [seedIn('BLENDING'), advance({ alphaTarget: 0.5 })],
      ];
      for (const [state, event] of cases) {
        const error = rejected(transition(state, event, gates));
        expect(error.code, `${event.type} from ${state.stage}`).to.equal('ESPER_INVALID_TRANSITION');
        expect(error.details).to.include({ from: state.stage, stage: state.stage, command: event.type });
      }
    });

    it('cancels a GERMINATED or TRAINING seed into PRUNED', () => {
      const result = accepted(transition(seedIn('TRAINING'), { type: 'cancel', commandId: 'cmd-cancel' }, gates));
      expect(result.state).to.include({ stage: 'PRUNED', alpha: 0 });
      expect(result.state.kernelId).to.equal(undefined);
      expect(result.transition?.cause).to.deep.equal({ commandId: 'cmd-cancel', reason: 'cancel: cancelled before blending' });
    });
  });

  describe('prune, embargo, reset', () => {
    it('walks PRUNED → EMBARGOED → RESETTING → DORMANT by epochs (embargo 5, resetting 1)', () => {
      let s = tick(seedIn('BLENDING'), 2);
      const pruneAt = s.epoch;
      const pruned = accepted(transition(s, { type: 'prune', commandId: 'cmd-prune', reason: 'regression' }, gates));
      expect(pruned.transition).to.deep.include({ from: 'BLENDING', to: 'PRUNED', epoch: pruneAt, alpha: 0 });
      expect(pruned.transition?.cause).to.deep.equal({ commandId: 'cmd-prune', reason: 'prune: regression' });
      s = pruned.state;
      expect(s).to.include({ alpha: 0, pruneReason: 'regression' });
      const stages: string[] = [];
      const changes: string[] = [];
      for (let e = pruneAt + 1; e <= pruneAt + 8; e++) {
        const result = accepted(transition(s, { type: 'epochEnded', epoch: e, telemetry: HEALTHY }, gates));
        s = result.state;
        stages.push(s.stage);
        if (result.transition !== null) changes.push(`${e - pruneAt}:${result.transition.to}`);
        expect(s.alpha).to.equal(0);
      }
      expect(stages).to.deep.equal(['EMBARGOED', 'EMBARGOED', 'EMBARGOED', 'EMBARGOED', 'EMBARGOED', 'RESETTING', 'DORMANT', 'DORMANT']);
      expect(changes).to.deep.equal(['1:EMBARGOED', '6:RESETTING', '7:DORMANT']);
      expect(s.pruneReason).to.equal(undefined);
      expect(s.measured).to.deep.equal({});
      // The slot can germinate again.
      expect(run(s, [germinateEvent()]).stage).to.equal('GERMINATED');
    });

    it('honours configured embargo and resetting lengths', () => {
      const custom = parseGateConfig({ embargoEpochs: 2, resettingEpochs: 3 });
      let s = run(seedIn('GERMINATED'), [{ type: 'prune', commandId: nextCommandId(), reason: 'x' }], custom);
      const stages: string[] = [];
      for (let i = 0; i < 7; i++) {
        s = tick(s, 1, HEALTHY, custom);
        stages.push(s.stage);
      }
      expect(stages).to.deep.equal(['EMBARGOED', 'EMBARGOED', 'RESETTING', 'RESETTING', 'RESETTING', 'DORMANT', 'DORMANT']);
    });

    it('rejects commands while pruned, embargoed or resetting', () => {
      let s = run(seedIn('TRAINING'), [{ type: 'prune', commandId: nextCommandId(), reason: 'x' }]);
      for (let i = 0; i < 7; i++) {
        expect(rejected(transition(s, germinateEvent(), gates)).details).to.include({ command: 'germinate', from: s.stage });
        expect(rejected(transition(s, { type: 'prune', commandId: nextCommandId(), reason: 'y' }, gates)).code).to.equal('ESPER_INVALID_TRANSITION');
        s = tick(s, 1);
      }
      expect(s.stage).to.equal('DORMANT');
    });
  });

  describe('α retarget', () => {
    it('goes HOLDING → BLENDING → HOLDING, ramping from the held α to the new target', () => {
      const holding = seedIn('HOLDING');
      const result = accepted(transition(holding, advance({ alphaTarget: 0.5, blend: { curve: 'linear', tempoEpochs: 5 } }), gates));
      expect(result.transition).to.include({ from: 'HOLDING', to: 'BLENDING' });
      expect(result.transition?.cause.reason).to.equal('α retarget 1 → 0.5');
      let s = result.state;
      expect(s).to.include({ alphaStart: 1, alphaTarget: 0.5 });
      const alphas: number[] = [Number(s.alpha.toFixed(6))];
      for (let i = 0; i < 4; i++) {
        s = tick(s, 1);
        alphas.push(Number(s.alpha.toFixed(6)));
      }
      expect(alphas).to.deep.equal([0.9, 0.8, 0.7, 0.6, 0.5]);
      s = run(s, [advance()]);
      expect(s).to.include({ stage: 'HOLDING', alpha: 0.5 });
      // Fossilizing merges at full strength: a seed held at α 0.5 must be retargeted to 1 first.
      const error = rejected(transition(s, { type: 'fossilize', commandId: nextCommandId() }, gates));
      expect(error.details?.['reasons']).to.deep.equal(['α 0.5 is not 1 (retarget to 1 before fossilizing)']);
    });

    it('rejects a retarget to the current α and out-of-range targets', () => {
      const holding = seedIn('HOLDING');
      expect(rejected(transition(holding, advance({ alphaTarget: 1 }), gates)).code).to.equal('ESPER_INVALID_TRANSITION');
      expect(rejected(transition(holding, advance({ alphaTarget: 1.5 }), gates)).code).to.equal('ESPER_SCHEMA_VIOLATION');
      expect(rejected(transition(seedIn('TRAINING'), advance({ alphaTarget: 0 }), gates)).code).to.equal('ESPER_SCHEMA_VIOLATION');
    });
  });

  describe('idempotency', () => {
    it('applies a redelivered command once', () => {
      const event = germinateEvent();
      const first = accepted(transition(freshSeed(), event, gates));
      const again = accepted(transition(first.state, event, gates));
      expect(again.duplicate).to.equal(true);
      expect(again.transition).to.equal(null);
      expect(again.state).to.equal(first.state);
    });

    it('ignores a repeated epochEnded but counts a new one', () => {
      const s = tick(seedIn('TRAINING'), 1);
      const again = accepted(transition(s, { type: 'epochEnded', epoch: s.epoch, telemetry: HEALTHY }, gates));
      expect(again.duplicate).to.equal(true);
      expect(again.state.epochsInStage).to.equal(s.epochsInStage);
      expect(tick(s, 1).epochsInStage).to.equal(s.epochsInStage + 1);
    });

    it('never mutates its input', () => {
      const s = seedIn('TRAINING');
      const copy = structuredClone(s);
      transition(s, { type: 'epochEnded', epoch: 99, telemetry: HEALTHY }, gates);
      transition(s, { type: 'prune', commandId: nextCommandId(), reason: 'x' }, gates);
      expect(s).to.deep.equal(copy);
    });
  });

  it('keeps the edge table of DESIGN §2', () => {
    expect(ALLOWED_TRANSITIONS.FOSSILIZED).to.deep.equal([]);
    expect(ALLOWED_TRANSITIONS.HOLDING).to.have.members(['FOSSILIZED', 'PRUNED', 'BLENDING']);
    expect(ALLOWED_TRANSITIONS.PRUNED).to.deep.equal(['EMBARGOED']);
  });
});
