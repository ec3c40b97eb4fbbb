/**
 * The results of a finished run (results.json): final evaluation, seeds with
 * their stage histories and the parameters fossils added, the largest
 * accuracy drop during a graft, kernels and FieldReports — validated against
 * the contract before anyone sees them.
 */
import { createEnvelope } from '../../contracts/envelope.ts';
import { RunResultsSchema, type EpochResult, type RunResults, type RunTopology, type SeedResult } from '../../contracts/run.ts';
import type { HostSpec } from '../../contracts/training-spec.ts';
import type { RunContext } from './run-context.ts';
import { RUN_LOOP_SOURCE } from './run-events.ts';
import { runKernelRow } from './run-kernels.ts';

/** Type of the last event of a run: data `{ runId, epochs, seeds: [{ seedId, slotId, stage }] }` (not a registered bus message; stored for `esper replay`). */
export const RUN_COMPLETED_TYPE = 'tolaria.run.completed';

/**
 * The epoch numbers trained with a seed grafting, BLENDING or HOLDING, or
 * right after such a seed was pruned or merged (`graftingAt` is per entry of `epochs`;
 * run-context's `GRAFTING_STAGES`). The epoch at whose end a seed begins to
 * blend is not one: it was trained with the seed in TRAINING, the host's
 * trajectory that of a run without it, and its validation accuracy is
 * measured before the transition.
 */
export function graftEpochs(epochs: readonly EpochResult[], graftingAt: readonly boolean[]): number[] {
  return epochs.flatMap((r, e) => (graftingAt[e] === true ? [r.epoch] : []));
}

/**
 * The largest relative drop (%) of validation accuracy from one epoch to the
 * next, over the epochs numbered in `window`: the graft drop of a grown run
 * for its own graft epochs, and of any other run (the static model of a
 * `--compare`) for the same epoch numbers.
 */
export function largestDropPct(epochs: readonly EpochResult[], window: readonly number[]): number {
  const inWindow = new Set(window);
  let worst = 0;
  for (let e = 1; e < epochs.length; e++) {
    const before = epochs[e - 1]?.validationAccuracy ?? 0;
    const after = epochs[e];
    if (after !== undefined && inWindow.has(after.epoch) && before > 0) worst = Math.max(worst, ((before - after.validationAccuracy) / before) * 100);
  }
  return Math.max(0, worst);
}

/** The host spec of a model's architecture as the worker reports it (`{ widths }` for an MLP, the CNN's config otherwise). */
export function hostSpecOf(config: Readonly<Record<string, unknown>>): HostSpec | undefined {
  const widths = config['widths'];
  if (Array.isArray(widths) && widths.length >= 3) return { kind: 'mlp', hidden: (widths as number[]).slice(1, -1) };
  const convs = config['convs'];
  if (Array.isArray(convs)) {
    return { kind: 'cnn', convs: (convs as { filters: number; kernelSize?: number }[]).map((c) => ({ filters: c.filters, ...(c.kernelSize === undefined ? {} : { kernelSize: c.kernelSize }) })), dense: [...((config['dense'] as number[] | undefined) ?? [])] };
  }
  return undefined;
}

/** Evaluates the final model, builds and validates the results, and emits `tolaria.run.completed`. */
export async function finishRun(ctx: RunContext): Promise<RunResults> {
  const final = await ctx.client.request('evaluate', null);
  // Held-out test accuracy, where the dataset has a test set (read only now, once).
  const test = await ctx.client.request('evaluateTest', null);
  const summary = await ctx.client.request('summary', null);
  // The epochs a graft drop is measured over (see graftEpochs).
  const grafts = graftEpochs(ctx.epochs, ctx.graftingAt);
  const states = [...ctx.current.values()];
  const seeds: SeedResult[] = states.map((s) => {
    const blueprintId = s.blueprintId ?? ctx.blueprintOf.get(s.slotId);
    const kernelId = s.kernelId ?? [...(ctx.histories.get(s.slotId) ?? [])].reverse().find((h) => h.kernelId !== undefined)?.kernelId;
    return {
      seedId: s.seedId,
      slotId: s.slotId,
      ...(blueprintId === undefined ? {} : { blueprintId }),
      ...(kernelId === undefined ? {} : { kernelId }),
      history: ctx.histories.get(s.slotId) ?? [],
      paramsAdded: s.stage === 'FOSSILIZED' ? (ctx.lastParams.get(s.slotId) ?? 0) : 0,
    };
  });
  // Width fossils were merged: their units are in the host's count already.
  const depthFossils = seeds.filter((s) => s.paramsAdded > 0 && !ctx.isWidthSlot(s.slotId));
  const fossilParams = depthFossils.reduce((sum, s) => sum + s.paramsAdded, 0);
  const host = hostSpecOf(summary.topology);
  const topology: RunTopology | undefined =
    host === undefined ? undefined : { host, depthSeeds: depthFossils.map((s) => ({ slotId: s.slotId, ...(s.blueprintId === undefined ? {} : { blueprintId: s.blueprintId }), params: s.paramsAdded })) };
  const results: RunResults = {
    runId: ctx.runId,
    spec: ctx.spec,
    startedAt: ctx.startedAt,
    finishedAt: new Date().toISOString(),
    backend: ctx.backend.active,
    ...(ctx.backend.fallbackReason === undefined ? {} : { backendFallbackReason: ctx.backend.fallbackReason }),
    epochs: ctx.epochs,
    seeds,
    finalAccuracy: final.accuracy,
    ...(test === null ? {} : { testAccuracy: test.accuracy }),
    parameterCount: { host: summary.hostParams, seeds: fossilParams, total: summary.hostParams + fossilParams },
    weightsHash: summary.weightsHash,
    rollbacks: ctx.rollbacks,
    ...(ctx.kernels.length === 0 ? {} : { kernels: ctx.kernels.map(runKernelRow) }),
    ...(ctx.fieldReports.length === 0 ? {} : { fieldReports: ctx.fieldReports }),
    ...(ctx.revivals.length === 0 ? {} : { revivals: ctx.revivals }),
    maxGraftDropPct: largestDropPct(ctx.epochs, grafts),
    graftEpochs: grafts,
    ...(topology === undefined ? {} : { topology }),
  };
  const parsed = RunResultsSchema.parse(results);
  ctx.events.emit(() =>
    createEnvelope({
      type: RUN_COMPLETED_TYPE,
      source: RUN_LOOP_SOURCE,
      runId: ctx.runId,
      data: { runId: ctx.runId, epochs: ctx.epochs.length, finalAccuracy: final.accuracy, seeds: states.map((s) => ({ seedId: s.seedId, slotId: s.slotId, stage: s.stage })) },
    }),
  );
  return parsed;
}
