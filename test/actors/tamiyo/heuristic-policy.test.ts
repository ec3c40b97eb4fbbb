import { expect } from 'chai';
import { AdaptationCommandSchema, FieldReportSchema, type AdaptationCommand, type SeedState, type SystemStatePacket } from '../../../src/contracts/index.ts';
import { ConfigError } from '../../../src/errors/index.ts';
import {
  DEFAULT_HEURISTIC_CONFIG,
  decideHeuristic,
  deriveCommandId,
  fieldReportsFor,
  heuristicPolicy,
  initialPolicyMemory,
  parseHeuristicConfig,
  rankFreeSlots,
  rankKernels,
  type PolicyDecision,
  type PolicyMemory,
} from '../../../src/actors/tamiyo/index.ts';
import { KERNELS, OTHER_IFACE, context, kernel, live, packet, plateauPackets, runPackets, scriptedAcc, seed } from './support.ts';
import { throwsWith } from '../../helpers/rejects-with.ts';

/** Every command answers its packet, has the packet's time and parses. */
function expectWellFormed(decision: PolicyDecision<PolicyMemory>, p: SystemStatePacket): void {
  for (const command of decision.commands) {
    expect(command.causationPacketId).to.equal(p.packetId);
    expect(command.issuedAt).to.equal(p.ts);
    expect(AdaptationCommandSchema.safeParse(command).success, JSON.stringify(command)).to.equal(true);
    const op = command.seedOperation?.op ?? '';
    expect(command.commandId).to.equal(deriveCommandId(p.packetId, command.targetSeedId ?? '', op));
  }
}

const ops = (commands: readonly AdaptationCommand[]): string[] => commands.map((c) => `${c.targetSeedId ?? '-'}:${c.seedOperation?.op ?? c.type}`);

/** Memory after the scripted plateau up to epoch 5 (the packet of epoch 6 germinates). */
function memoryBeforeGermination(): PolicyMemory {
  return runPackets(plateauPackets(0, 5)).memory;
}

describe('Tamiyo heuristic policy', () => {
  describe('config', () => {
    it('has the digest defaults', () => {
      const c = DEFAULT_HEURISTIC_CONFIG;
      expect(c.plateauThresholdPp).to.equal(0.5);
      expect(c.plateauEpochs).to.equal(3);
      expect(c.minEpoch).to.equal(5);
      expect(c.epochsAfterPrune).to.equal(5);
      expect(c.stability).to.deep.equal({ epochs: 3, minChange: -0.05, maxChange: 0.03, loss: 'training' });
      expect(c.maxLiveSeeds).to.equal(1);
      expect(c.advanceTrainingEpochs).to.equal(3);
      expect(c.regressionPp).to.equal(-2);
      expect(c.pruneMinEpochs).to.equal(5);
      expect(c.fossilizeContributionPp).to.equal(0.5);
      expect(c.penalty).to.deep.equal({ onPrune: 2, decay: 0.5, skipAt: 3 });
      expect(Object.isFrozen(c.penalty)).to.equal(true);
    });

    it('lists every problem of an invalid config', () => {
      const error = throwsWith(() => parseHeuristicConfig({ plateauEpochs: 0, penalty: { decay: 2 }, bogus: 1 }), ConfigError);
      const issues = error.details?.['issues'] as string[];
      expect(issues.length).to.be.at.least(3);
    });
  });

  describe('germination', () => {
    it('waits for epoch 5, a stabilised host and a 3-epoch plateau, then germinates the best kernel', () => {
      const packets = plateauPackets(0, 6);
      const { decisions } = runPackets(packets);
      decisions.forEach((d, i) => expectWellFormed(d, packets[i]!));
      for (const d of decisions.slice(0, 6)) expect(d.commands).to.deep.equal([]);
      expect(decisions[2]!.reason).to.contain('epoch 2 < 5');
      expect(decisions[5]!.reason).to.contain('plateau 2/3');
      expect(decisions[5]!.memory.hostStabilized).to.equal(true);
      const [germinate] = decisions[6]!.commands;
      expect(decisions[6]!.commands).to.have.length(1);
      expect(germinate!.targetSeedId).to.equal('seed-a');
      // k-cheap: risk 0.05, 10 of 10 000 params → the lowest score.
      expect(germinate!.seedOperation).to.deep.equal({ op: 'GERMINATE', kernelId: 'k-cheap', blueprintId: 'bp-cheap' });
      expect(decisions[6]!.reason).to.match(/plateau 3 epochs → germinate bp-cheap/);
      expect(decisions[6]!.memory.plateauEpochs).to.equal(0);
    });

    it('germinates no seed the run could not decide: germination epoch + G2 minimum + α ramp past the run (heuristic@2)', () => {
      // The packet of epoch 6 germinates (above); a seed then needs 3 epochs of TRAINING and the 5-epoch default ramp.
      const [p6] = plateauPackets(6, 6);
      const closed = decideHeuristic(p6!, memoryBeforeGermination(), context({ epochs: 13 }));
      expect(closed.commands).to.deep.equal([]);
      expect(closed.reason).to.contain("a seed germinated now would be decided at epoch 14, past the run's 13 (plateau 3/3 epochs)");
      const open = decideHeuristic(p6!, memoryBeforeGermination(), context({ epochs: 14 }));
      expect(ops(open.commands)).to.deep.equal(['seed-a:GERMINATE']);
      // A run of unknown length never closes.
      expect(ops(decideHeuristic(p6!, memoryBeforeGermination(), context()).commands)).to.deep.equal(['seed-a:GERMINATE']);
    });

    it('skips a blueprint whose penalty is ≥ 3 and takes the next best', () => {
      const memory = memoryBeforeGermination();
      const penalised = { ...memory, penalties: { 'bp-cheap': 4 } };
      const decision = decideHeuristic(packet({ epoch: 6, acc: scriptedAcc(6) }), penalised, context());
      expect(decision.commands[0]!.seedOperation).to.deep.equal({ op: 'GERMINATE', kernelId: 'k-best', blueprintId: 'bp-best' });
      // Decayed once (×0.5) at the new epoch: 2 < 3, so it is eligible again — and still the best.
      expect(decision.memory.penalties['bp-cheap']).to.equal(2);
      const ranked = rankKernels(KERNELS, undefined, context().budget, { 'bp-cheap': 3 });
      expect(ranked.find((r) => r.kernel.kernelId === 'k-cheap')!.skipped).to.equal('penalised');
    });

    it('does not germinate over budget (parameters or seeds)', () => {
      const memory = memoryBeforeGermination();
      const p = packet({ epoch: 6, acc: scriptedAcc(6) });
      const tight = decideHeuristic(p, memory, context({ budget: { maxSeeds: 4, maxParamsAdded: 10_000, paramsAdded: 9_995 } }));
      expect(tight.commands).to.deep.equal([]);
      expect(tight.reason).to.contain('over budget');
      // 600 left: k-cheap (10) and k-risky (100) and k-best (500) fit; k-big (9 000) does not.
      const ranked = rankKernels(KERNELS, undefined, { maxSeeds: 4, maxParamsAdded: 10_000, paramsAdded: 9_400 }, {});
      expect(ranked.filter((r) => r.skipped === 'over_budget').map((r) => r.kernel.kernelId)).to.deep.equal(['k-big']);
      const fossil = seed('a', { stage: 'FOSSILIZED', alpha: 1, blueprintId: 'bp-best', kernelId: 'k-best' });
      const full = decideHeuristic(packet({ epoch: 6, acc: scriptedAcc(6), seeds: [fossil, seed('b')] }), memory, context({ budget: { maxSeeds: 1, maxParamsAdded: 10_000, paramsAdded: 500 } }));
      expect(full.commands).to.deep.equal([]);
      expect(full.reason).to.contain('seed budget spent (1/1)');
    });

    it('never germinates a kernel that is not VALIDATED, too risky or of another interface', () => {
      const memory = memoryBeforeGermination();
      const p = packet({ epoch: 6, acc: scriptedAcc(6) });
      const kernels = [kernel('k-x', { status: 'REJECTED', riskScore: 0 }), kernel('k-y', { interfaceKey: OTHER_IFACE, riskScore: 0 }), kernel('k-z', { riskScore: 0.7 })];
      const config = parseHeuristicConfig({ scoring: { maxRiskScore: 0.5 } });
      const none = decideHeuristic(p, memory, context({ availableKernels: kernels, slotInterfaces: { a: 'dense:64->64:float32', b: 'dense:64->64:float32' } }), config);
      expect(none.commands).to.deep.equal([]);
      expect(none.reason).to.match(/no eligible kernel \(.*not validated.*interface.*risk/);
      const none2 = decideHeuristic(p, memory, context({ availableKernels: [] }));
      expect(none2.reason).to.contain('no kernel available');
    });

    it('picks the slot with the largest signal, else the first free one', () => {
      const seeds = [seed('a'), seed('b', { gradNorm: 0.3 }), seed('c')];
      expect(rankFreeSlots(packet({ epoch: 6, seeds })).map((s) => s.seed.slotId)).to.deep.equal(['b', 'a', 'c']);
      const withMetric = packet({ epoch: 6, seeds, metrics: { 'slot.c.signal': 2 } });
      expect(rankFreeSlots(withMetric).map((s) => s.seed.slotId)).to.deep.equal(['c', 'b', 'a']);
      const memory = runPackets(plateauPackets(0, 5, seeds)).memory;
      const decision = decideHeuristic({ ...withMetric, validationAccuracy: scriptedAcc(6) }, memory, context());
      expect(decision.commands[0]!.targetSeedId).to.equal('seed-c');
      expect(decision.reason).to.contain('signal 2');
    });

    it('waits while the host is unstable (loss falling > 5% per epoch)', () => {
      const packets = Array.from({ length: 12 }, (_, epoch) => packet({ epoch, acc: 0.7, trainLoss: 2 * 0.9 ** epoch }));
      const { decisions } = runPackets(packets);
      for (const d of decisions) expect(d.commands).to.deep.equal([]);
      expect(decisions[11]!.reason).to.contain('host not stabilised');
    });

    it('waits when no slot is free, or one seed is already live', () => {
      const memory = memoryBeforeGermination();
      const busy = [seed('a', { stage: 'EMBARGOED' }), seed('b', { stage: 'FOSSILIZED', alpha: 1, blueprintId: 'bp-best' })];
      expect(decideHeuristic(packet({ epoch: 6, acc: scriptedAcc(6), seeds: busy }), memory, context()).reason).to.contain('no free slot');
      const one = [live('a', { stage: 'TRAINING', epochsInStage: 1 }), seed('b')];
      const d = decideHeuristic(packet({ epoch: 6, acc: scriptedAcc(6), seeds: one }), memory, context());
      expect(d.commands).to.deep.equal([]);
      const two = decideHeuristic(packet({ epoch: 6, acc: scriptedAcc(6), seeds: one }), memory, context(), parseHeuristicConfig({ maxLiveSeeds: 2 }));
      expect(ops(two.commands)).to.deep.equal(['seed-b:GERMINATE']);
    });
  });

  describe('a seed through its lifecycle', () => {
    /** Germinates k-cheap into seed-a at epoch 6 and returns the memory. */
    function germinated(): PolicyMemory {
      const { decisions, memory } = runPackets(plateauPackets(0, 6));
      expect(ops(decisions[6]!.commands)).to.deep.equal(['seed-a:GERMINATE']);
      return memory;
    }
    const cheap = (overrides: Partial<SeedState>): SeedState => live('a', { blueprintId: 'bp-cheap', kernelId: 'k-cheap', paramCount: 10, ...overrides });

    it('advances at each stage as the state allows, fossilizes on contribution ≥ 0.5 pp and reports SUCCESS', () => {
      const steps: { seeds: SeedState[]; expect: string[] }[] = [
        { seeds: [cheap({ stage: 'GERMINATED' }), seed('b')], expect: ['seed-a:ADVANCE'] },
        { seeds: [cheap({ stage: 'TRAINING', epochsInStage: 1, improvementPp: 0.2 }), seed('b')], expect: [] },
        { seeds: [cheap({ stage: 'TRAINING', epochsInStage: 2, improvementPp: 0.4 }), seed('b')], expect: [] },
        { seeds: [cheap({ stage: 'TRAINING', epochsInStage: 3, improvementPp: 0.8 }), seed('b')], expect: ['seed-a:ADVANCE'] },
        { seeds: [cheap({ stage: 'BLENDING', epochsInStage: 1, alpha: 0.2, alphaTarget: 1, improvementPp: 0.9 }), seed('b')], expect: [] },
        { seeds: [cheap({ stage: 'BLENDING', epochsInStage: 5, alpha: 1, alphaTarget: 1, improvementPp: 1.1 }), seed('b')], expect: ['seed-a:ADVANCE'] },
        { seeds: [cheap({ stage: 'HOLDING', epochsInStage: 0, alpha: 1, improvementPp: 1.2 }), seed('b')], expect: [] },
        { seeds: [cheap({ stage: 'HOLDING', epochsInStage: 1, alpha: 1, improvementPp: 1.2, contributionPp: 0.9 }), seed('b')], expect: ['seed-a:FOSSILIZE'] },
        // The slot is taken for good; the plateau goes on, so the free slot b is germinated at once.
        { seeds: [cheap({ stage: 'FOSSILIZED', epochsInStage: 0, alpha: 1, improvementPp: 1.3, contributionPp: 0.9 }), seed('b')], expect: ['seed-b:GERMINATE'] },
      ];
      let memory = germinated();
      steps.forEach((step, i) => {
        const epoch = 7 + i;
        const p = packet({ epoch, acc: 0.72, seeds: step.seeds });
        const previous = memory;
        const decision = decideHeuristic(p, memory, context());
        expectWellFormed(decision, p);
        expect(ops(decision.commands), `epoch ${epoch}: ${decision.reason}`).to.deep.equal(step.expect);
        memory = decision.memory;
        const reports = fieldReportsFor(previous, memory, p);
        if (i < steps.length - 1) expect(reports).to.deep.equal([]);
        else {
          expect(reports).to.have.length(1);
          const report = reports[0]!;
          expect(FieldReportSchema.safeParse(report).success).to.equal(true);
          expect(report.outcome).to.equal('SUCCESS');
          expect(report.commandId).to.equal(deriveCommandId('pkt-6', 'seed-a', 'GERMINATE'));
          expect(report).to.include({ seedId: 'seed-a', blueprintId: 'bp-cheap', kernelId: 'k-cheap', runId: 'run-1', policyVersion: 'heuristic@2' });
          expect(report.metrics).to.deep.equal({ paramsAdded: 10, paramCount: 10, epochs: 9, improvementPp: 1.3, contributionPp: 0.9 });
          expect(report.observationWindow).to.deep.equal({ fromEpoch: 6, toEpoch: 15 });
          expect(Object.keys(memory.seeds)).to.deep.equal(['seed-b']);
        }
      });
    });

    it('prunes on regression (< −2 pp after ≥ 5 epochs in stage), penalises the blueprint +2 decaying ×0.5 per epoch, reports REGRESSION', () => {
      let memory = germinated();
      // 4 epochs in stage with −3 pp: too early for the regression rule (it advances instead).
      const early = decideHeuristic(packet({ epoch: 7, seeds: [cheap({ stage: 'TRAINING', epochsInStage: 4, improvementPp: -3 }), seed('b')] }), memory, context());
      expect(ops(early.commands)).to.deep.equal(['seed-a:ADVANCE']);
      memory = early.memory;
      const p8 = packet({ epoch: 8, seeds: [cheap({ stage: 'TRAINING', epochsInStage: 5, improvementPp: -2.5 }), seed('b')] });
      const prune = decideHeuristic(p8, memory, context());
      expectWellFormed(prune, p8);
      expect(ops(prune.commands)).to.deep.equal(['seed-a:PRUNE']);
      expect(prune.commands[0]!.seedOperation?.params?.['reason']).to.match(/regression -2.5pp < -2pp after 5 epochs in TRAINING/);
      expect(prune.memory.penalties['bp-cheap']).to.equal(2);
      expect(prune.memory.lastPruneEpoch).to.equal(8);
      memory = prune.memory;

      const pruned = [seed('a', { stage: 'PRUNED', blueprintId: 'bp-cheap', kernelId: 'k-cheap', improvementPp: -2.5 }), seed('b')];
      const p9 = packet({ epoch: 9, acc: 0.715, seeds: pruned });
      const after = decideHeuristic(p9, memory, context());
      expect(after.memory.penalties['bp-cheap']).to.equal(1);
      const reports = fieldReportsFor(memory, after.memory, p9);
      expect(reports.map((r) => [r.outcome, r.seedId, r.blueprintId])).to.deep.equal([['REGRESSION', 'seed-a', 'bp-cheap']]);
      expect(reports[0]!.metrics['paramsAdded']).to.equal(0);
      expect(reports[0]!.observationWindow).to.deep.equal({ fromEpoch: 6, toEpoch: 9 });
      memory = after.memory;
      const p10 = decideHeuristic(packet({ epoch: 10, acc: 0.715, seeds: [seed('a', { stage: 'EMBARGOED' }), seed('b')] }), memory, context());
      expect(p10.memory.penalties['bp-cheap']).to.equal(0.5);
      // Plateau and stable host, but < 5 epochs since the prune.
      expect(p10.commands).to.deep.equal([]);
      expect(p10.reason).to.contain('2 epochs since the last prune < 5');
      // Two epochs skipped: decays ×0.25.
      const p12 = decideHeuristic(packet({ epoch: 12, acc: 0.715 }), p10.memory, context());
      expect(p12.memory.penalties['bp-cheap']).to.equal(0.125);
      // A second prune of the blueprint soon after lifts it to ≥ 3: skipped.
      const again = { ...p10.memory, penalties: { 'bp-cheap': 2 + 2 } };
      const ranked = rankKernels(KERNELS, undefined, context().budget, again.penalties);
      expect(ranked.find((r) => r.kernel.kernelId === 'k-cheap')!.skipped).to.equal('penalised');
    });

    it('prunes a BLENDING seed on regression too', () => {
      const memory = germinated();
      const d = decideHeuristic(packet({ epoch: 7, seeds: [cheap({ stage: 'BLENDING', epochsInStage: 6, alpha: 0.5, improvementPp: -4 }), seed('b')] }), memory, context());
      expect(ops(d.commands)).to.deep.equal(['seed-a:PRUNE']);
    });

    it('prunes a HOLDING seed whose contribution is below the threshold and reports NEUTRAL', () => {
      let memory = germinated();
      const p7 = packet({ epoch: 7, seeds: [cheap({ stage: 'HOLDING', epochsInStage: 1, alpha: 1, improvementPp: 0.6, contributionPp: 0.3 }), seed('b')] });
      const d = decideHeuristic(p7, memory, context());
      expect(ops(d.commands)).to.deep.equal(['seed-a:PRUNE']);
      expect(d.reason).to.contain('contribution +0.3pp < +0.5pp');
      memory = d.memory;
      const p8 = packet({ epoch: 8, seeds: [seed('a', { stage: 'PRUNED' }), seed('b')] });
      const next = decideHeuristic(p8, memory, context());
      expect(fieldReportsFor(memory, next.memory, p8).map((r) => r.outcome)).to.deep.equal(['NEUTRAL']);
    });

    it('prunes a HOLDING seed the model leans on while the total improvement is negative', () => {
      const d = decideHeuristic(packet({ epoch: 7, seeds: [cheap({ stage: 'HOLDING', epochsInStage: 1, alpha: 1, improvementPp: -0.4, contributionPp: 0.8 }), seed('b')] }), germinated(), context());
      expect(ops(d.commands)).to.deep.equal(['seed-a:PRUNE']);
      expect(d.memory.seeds['seed-a']!.verdict!.outcome).to.equal('REGRESSION');
    });

    it('fossilizes a HOLDING seed that lowers the validation loss while its accuracy contribution is not negative', () => {
      const d = decideHeuristic(packet({ epoch: 7, seeds: [cheap({ stage: 'HOLDING', epochsInStage: 1, alpha: 1, improvementPp: -3, contributionPp: 0.5, lossContributionPct: 7 }), seed('b')] }), germinated(), context());
      // A negative improvement since germination does not make it harmful: removing it would raise the loss by 7 %.
      expect(ops(d.commands)).to.deep.equal(['seed-a:FOSSILIZE']);
      expect(d.reason).to.contain('loss +7%');
      const small = decideHeuristic(packet({ epoch: 7, seeds: [cheap({ stage: 'HOLDING', epochsInStage: 1, alpha: 1, improvementPp: 1, contributionPp: 0, lossContributionPct: 1 }), seed('b')] }), germinated(), context());
      expect(ops(small.commands)).to.deep.equal(['seed-a:PRUNE']);
      expect(small.reason).to.contain('contribution +0pp < +0.5pp, loss +1% < +2%');
    });

    it('prunes a HOLDING seed whose accuracy contribution is negative however much it lowers the loss', () => {
      const d = decideHeuristic(packet({ epoch: 7, seeds: [cheap({ stage: 'HOLDING', epochsInStage: 1, alpha: 1, improvementPp: 1, contributionPp: -5, lossContributionPct: 6 }), seed('b')] }), germinated(), context());
      expect(ops(d.commands)).to.deep.equal(['seed-a:PRUNE']);
      expect(d.reason).to.contain('loss +6% does not outweigh a negative accuracy contribution');
    });

    it('reports ABORTED when a GERMINATE never took effect', () => {
      const memory = germinated();
      const p7 = packet({ epoch: 7, acc: 0.72 });
      const next = decideHeuristic(p7, memory, context());
      const reports = fieldReportsFor(memory, next.memory, p7);
      expect(reports.map((r) => [r.outcome, r.seedId, r.commandId])).to.deep.equal([['ABORTED', 'seed-a', deriveCommandId('pkt-6', 'seed-a', 'GERMINATE')]]);
    });
  });

  describe('seeds it did not germinate', () => {
    it('follows a live seed germinated by someone else and reports on it; a swapped kernel ends the old one', () => {
      const memory = memoryBeforeGermination();
      const p6 = packet({ epoch: 6, acc: 0.72, seeds: [live('a', { stage: 'TRAINING', epochsInStage: 2, blueprintId: 'bp-op', kernelId: 'k-op', improvementPp: -1 }), seed('b')] });
      const d6 = decideHeuristic(p6, memory, context());
      expect(d6.memory.seeds['seed-a']).to.include({ blueprintId: 'bp-op', fromEpoch: 4, confirmed: true });
      const p7 = packet({ epoch: 7, acc: 0.72, seeds: [live('a', { stage: 'GERMINATED', blueprintId: 'bp-new', kernelId: 'k-new' }), seed('b')] });
      const d7 = decideHeuristic(p7, d6.memory, context());
      const reports = fieldReportsFor(d6.memory, d7.memory, p7);
      expect(reports.map((r) => [r.outcome, r.blueprintId, r.commandId])).to.deep.equal([['REGRESSION', 'bp-op', deriveCommandId('pkt-6', 'seed-a', 'OBSERVE')]]);
      expect(d7.memory.seeds['seed-a']).to.include({ blueprintId: 'bp-new', kernelId: 'k-new' });
      expect(ops(d7.commands)).to.deep.equal(['seed-a:ADVANCE']);
    });
  });

  describe('idempotency', () => {
    it('answers the same packet twice with identical commands (ids included)', () => {
      const memory = memoryBeforeGermination();
      const p = packet({ epoch: 6, acc: scriptedAcc(6) });
      const first = decideHeuristic(p, memory, context());
      const fromSameMemory = decideHeuristic(p, memory, context());
      expect(fromSameMemory.commands).to.deep.equal(first.commands);
      expect(fromSameMemory.memory).to.deep.equal(first.memory);
      // Redelivered after the memory moved on: replayed, memory unchanged, nothing reported twice.
      const replay = decideHeuristic(p, first.memory, context());
      expect(replay.commands).to.deep.equal(first.commands);
      expect(replay.reason).to.equal(first.reason);
      expect(replay.memory).to.equal(first.memory);
      expect(fieldReportsFor(first.memory, replay.memory, p)).to.deep.equal([]);
      // Another packet id at the same epoch gives other ids.
      const other = decideHeuristic({ ...p, packetId: 'pkt-6-bis' }, memory, context());
      expect(other.commands[0]!.commandId).to.not.equal(first.commands[0]!.commandId);
    });

    it('is usable as a TamiyoPolicy', () => {
      const policy = heuristicPolicy({ plateauEpochs: 2 });
      expect(`${policy.name}@${policy.version}`).to.equal('heuristic@2');
      let memory = policy.initialMemory();
      const germinations: number[] = [];
      for (const p of plateauPackets(0, 8)) {
        const d = policy.decide(p, memory, context());
        if (d.commands.length > 0) germinations.push(p.epoch);
        memory = d.memory;
      }
      // Plateau 2 reached at epoch 5 (epochs 4, 5 gained 0.1 pp each); the packets never show the
      // seed germinated (ABORTED at 6), so the plateau is counted afresh and it germinates again at 7.
      expect(germinations).to.deep.equal([5, 7]);
    });
  });

  describe('rollbacks', () => {
    it('resets plateau and stability when the epoch goes backwards, keeping penalties', () => {
      const memory = { ...memoryBeforeGermination(), penalties: { 'bp-x': 2 } };
      const d = decideHeuristic(packet({ epoch: 3, packetId: 'pkt-3-after-rollback', acc: 0.71 }), memory, context());
      expect(d.memory.hostStabilized).to.equal(false);
      expect(d.memory.plateauEpochs).to.equal(0);
      expect(d.memory.rollbacksSeen).to.equal(1);
      expect(d.memory.penalties).to.deep.equal({ 'bp-x': 1 });
      expect(initialPolicyMemory().rollbacksSeen).to.equal(0);
    });
  });
});
