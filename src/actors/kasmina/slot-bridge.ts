/**
 * Between Kasmina's seed actors (decisions) and the tensor slots (execution):
 * a seed's new state becomes a slot command for the training session, and the
 * session's per-slot telemetry becomes the observation the gates read. Pure.
 */
import type { SeedState } from '../../contracts/kasmina.ts';
import type { SeedModuleSource, SlotAttachCheck, SlotCommand, SlotTelemetry, WidthSeedSource } from '../../tensor/training/training-session.ts';
import type { SlotMode } from '../../tensor/seed-slot.ts';
import type { AttachedEvent, SeedObservation } from './seed-lifecycle.ts';

/** How a kernel id becomes a seed module in the tensor session: its compiled artifact (or a built-in module, in tests and drills). */
export type ModuleForKernel = (kernelId: string, blueprintId: string | undefined) => SeedModuleSource | WidthSeedSource;

const SLOT_MODE_BY_STAGE: Readonly<Record<SeedState['stage'], SlotMode>> = {
  DORMANT: 'DORMANT',
  GERMINATED: 'DORMANT', // a seed attached but not yet run: the forward pass still skips it
  TRAINING: 'TRAINING',
  BLENDING: 'BLENDING',
  HOLDING: 'HOLDING',
  FOSSILIZED: 'FOSSILIZED',
  PRUNED: 'PRUNED',
  EMBARGOED: 'PRUNED',
  RESETTING: 'PRUNED',
};

/**
 * The slot command that makes the tensor slot match `next`, given the state it
 * was in (`previous`); undefined when nothing changes.
 */
export function slotCommandFor(previous: SeedState | undefined, next: SeedState, moduleFor: ModuleForKernel): SlotCommand | undefined {
  const mode = SLOT_MODE_BY_STAGE[next.stage];
  const previousMode = previous === undefined ? 'DORMANT' : SLOT_MODE_BY_STAGE[previous.stage];
  const germinated = next.stage === 'GERMINATED' && previous?.stage !== 'GERMINATED';
  const command: SlotCommand = { slotId: next.slotId };
  if (germinated) {
    if (next.kernelId === undefined) throw new RangeError(`seed ${next.seedId} is GERMINATED without a kernel id`);
    command.germinate = moduleFor(next.kernelId, next.blueprintId);
  }
  const blending = mode === 'BLENDING' || mode === 'HOLDING';
  if (mode !== previousMode || germinated) command.mode = mode;
  if (blending && (previous === undefined || previous.alpha !== next.alpha || mode !== previousMode)) command.alpha = next.alpha;
  // Back to DORMANT after an embargo: the slot must be emptied of the pruned seed.
  if (next.stage === 'DORMANT' && previous !== undefined && previous.stage !== 'DORMANT') command.mode = 'DORMANT';
  return command.germinate === undefined && command.mode === undefined && command.alpha === undefined ? undefined : command;
}

/**
 * The gate observation of one slot after an epoch. `improvementPp` is the
 * validation accuracy now minus at germination (`baselineAccuracy`), in pp.
 */
export function observationFrom(telemetry: SlotTelemetry, validationAccuracy: number, baselineAccuracy: number | undefined): SeedObservation {
  const observation: SeedObservation = {
    ...attachObservation(telemetry),
    gradsFinite: telemetry.gradsFinite,
    gradNorm: telemetry.gradNorm,
    gradRatio: telemetry.gradRatio,
  };
  if (baselineAccuracy !== undefined) observation.improvementPp = (validationAccuracy - baselineAccuracy) * 100;
  if (telemetry.contributionPp !== null) observation.contributionPp = telemetry.contributionPp;
  if (telemetry.lossContributionPct !== null) observation.lossContributionPct = telemetry.lossContributionPct;
  return observation;
}

/** G1's observation of a slot's seed: right after the trainer attached it, and in every epoch's telemetry. */
export function attachObservation(check: Pick<SlotAttachCheck, 'seedKind' | 'paramsFinite'>): AttachedEvent['telemetry'] {
  return { kernelLoaded: check.seedKind !== null, paramsFinite: check.paramsFinite };
}
