/**
 * Seed lifecycle bands for run reports: one horizontal lane per slot, a
 * coloured segment per stage over the epochs, the seed's α drawn over its
 * lane, and a legend of every stage. Pure: {@link seedLanes} turns results
 * into lanes, {@link renderSeedBands} turns lanes into an inline `<svg>`.
 */
import { SEED_STAGES, type SeedStage } from '../../contracts/kasmina.ts';
import type { RunResults } from '../../contracts/run.ts';
import { type ChartMarker, type ChartPoint, type LegendItem, coord, escapeXml, niceTicks, renderLegend, textWidth } from './svg-chart.ts';

/** Fill colour of each stage (live stages cool, terminal green, pruning warm). */
export const STAGE_COLORS = {
  DORMANT: '#e5e7eb',
  GERMINATED: '#fde68a',
  TRAINING: '#60a5fa',
  BLENDING: '#a78bfa',
  HOLDING: '#2dd4bf',
  FOSSILIZED: '#16a34a',
  PRUNED: '#ef4444',
  EMBARGOED: '#f59e0b',
  RESETTING: '#9ca3af',
} as const satisfies Record<SeedStage, string>;

/** Text colour readable on each stage's fill. */
const STAGE_TEXT_COLORS = {
  DORMANT: '#555',
  GERMINATED: '#5b4500',
  TRAINING: '#0b2545',
  BLENDING: '#1e1147',
  HOLDING: '#083b36',
  FOSSILIZED: '#ffffff',
  PRUNED: '#ffffff',
  EMBARGOED: '#3d2600',
  RESETTING: '#1f2937',
} as const satisfies Record<SeedStage, string>;

/** Epochs `fromEpoch`..`toEpoch` (inclusive) spent in `stage`. */
export interface SeedBandSegment {
  readonly fromEpoch: number;
  readonly toEpoch: number;
  readonly stage: SeedStage;
}

/** One slot's lane. */
export interface SeedLane {
  readonly slotId: string;
  /** Seeds that occupied the slot (for the tooltip). */
  readonly seedIds: readonly string[];
  readonly segments: readonly SeedBandSegment[];
  /** α at the end of each epoch (x = epoch, y ∈ [0, 1]). */
  readonly alpha: readonly ChartPoint[];
}

/** What {@link renderSeedBands} draws. */
export interface SeedBandsOptions {
  readonly lanes: readonly SeedLane[];
  /** First and last epoch of the x axis. */
  readonly firstEpoch: number;
  readonly lastEpoch: number;
  /** Heading. @default 'Seed lifecycle per slot' */
  readonly title?: string;
  /** Overall width in px. @default 1000 */
  readonly width?: number;
  /** Vertical markers (rollbacks) at epochs. */
  readonly markers?: readonly ChartMarker[];
}

/**
 * Each slot's stage and α per recorded epoch. A slot's stage in an epoch is
 * that of its seed's end-of-epoch snapshot; without one it is inferred from
 * the seed histories (the `to` of the last transition at or before the
 * epoch, DORMANT before any). Slots are listed in spec order, then any slot
 * only the results mention.
 */
export function seedLanes(results: RunResults): SeedLane[] {
  const slotIds: string[] = [];
  const addSlot = (id: string): void => {
    if (!slotIds.includes(id)) slotIds.push(id);
  };
  for (const slot of results.spec.training.slots) addSlot(slot.id);
  for (const seed of results.seeds) addSlot(seed.slotId);
  for (const epoch of results.epochs) for (const s of epoch.seeds) addSlot(s.slotId);

  const epochNumbers = [...new Set(results.epochs.map((e) => e.epoch))].sort((a, b) => a - b);
  return slotIds.map((slotId) => {
    const seeds = results.seeds.filter((s) => s.slotId === slotId);
    const transitions = seeds.flatMap((s) => s.history).sort((a, b) => a.epoch - b.epoch);
    const seedIds = [...new Set([...seeds.map((s) => s.seedId), ...results.epochs.flatMap((e) => e.seeds.filter((s) => s.slotId === slotId).map((s) => s.seedId))])];

    const perEpoch = epochNumbers.map((epoch) => {
      // The last record of an epoch wins (an epoch re-run after a rollback).
      const record = results.epochs.filter((e) => e.epoch === epoch).at(-1);
      const snapshot = record?.seeds.filter((s) => s.slotId === slotId).at(-1);
      if (snapshot !== undefined) return { epoch, stage: snapshot.stage, alpha: snapshot.alpha };
      const last = transitions.filter((t) => t.epoch <= epoch).at(-1);
      const stage: SeedStage = last?.to ?? 'DORMANT';
      return { epoch, stage, alpha: stage === 'FOSSILIZED' ? 1 : 0 };
    });

    const segments: SeedBandSegment[] = [];
    for (const { epoch, stage } of perEpoch) {
      const previous = segments.at(-1);
      if (previous !== undefined && previous.stage === stage) segments[segments.length - 1] = { ...previous, toEpoch: epoch };
      else segments.push({ fromEpoch: epoch, toEpoch: epoch, stage });
    }
    return { slotId, seedIds, segments, alpha: perEpoch.map(({ epoch, alpha }) => ({ x: epoch, y: alpha })) };
  });
}

/** Renders the lanes as an inline `<svg>` with an epoch axis and a stage legend. */
export function renderSeedBands(options: SeedBandsOptions): string {
  const width = options.width ?? 1000;
  const title = options.title ?? 'Seed lifecycle per slot';
  const laneHeight = 24;
  const laneGap = 10;
  const labelWidth = Math.min(180, Math.max(70, ...options.lanes.map((l) => textWidth(l.slotId, 12) + 16)));
  const margin = { top: 34, right: 18, left: labelWidth };
  const plotW = Math.max(10, width - margin.left - margin.right);
  const lanesHeight = Math.max(1, options.lanes.length) * (laneHeight + laneGap) - laneGap;
  const axisY = margin.top + lanesHeight + 6;

  let first = options.firstEpoch;
  let last = options.lastEpoch;
  if (!(last >= first)) [first, last] = [Math.min(first, last), Math.max(first, last)];
  // Epoch e occupies [e − ½, e + ½].
  const xMin = first - 0.5;
  const xMax = last + 0.5;
  const sx = (x: number): number => margin.left + ((x - xMin) / (xMax - xMin)) * plotW;

  const parts: string[] = [];
  parts.push(`<text class="chart-title" x="${coord(margin.left)}" y="20" font-size="14" font-weight="600" fill="#222">${escapeXml(title)}</text>`);

  if (options.lanes.length === 0) {
    parts.push(`<text x="${coord(margin.left + plotW / 2)}" y="${coord(margin.top + laneHeight / 2 + 4)}" font-size="12" text-anchor="middle" fill="#888">no seed slots</text>`);
  }

  options.lanes.forEach((lane, i) => {
    const y = margin.top + i * (laneHeight + laneGap);
    const body: string[] = [];
    body.push(`<rect x="${coord(margin.left)}" y="${coord(y)}" width="${coord(plotW)}" height="${laneHeight}" fill="#f8f9fa" stroke="#d0d4da"/>`);
    for (const seg of lane.segments) {
      const x0 = sx(seg.fromEpoch - 0.5);
      const x1 = sx(seg.toEpoch + 0.5);
      const epochs = seg.fromEpoch === seg.toEpoch ? `epoch ${seg.fromEpoch}` : `epochs ${seg.fromEpoch}–${seg.toEpoch}`;
      const tip = `${lane.slotId}: ${seg.stage}, ${epochs}`;
      body.push(
        `<rect class="segment" data-stage="${seg.stage}" x="${coord(x0)}" y="${coord(y)}" width="${coord(Math.max(0.5, x1 - x0))}" height="${laneHeight}" fill="${STAGE_COLORS[seg.stage]}"><title>${escapeXml(tip)}</title></rect>`,
      );
      if (x1 - x0 >= textWidth(seg.stage, 9) + 6) {
        body.push(`<text x="${coord((x0 + x1) / 2)}" y="${coord(y + laneHeight / 2 + 3)}" font-size="9" text-anchor="middle" fill="${STAGE_TEXT_COLORS[seg.stage]}" pointer-events="none">${seg.stage}</text>`);
      }
    }
    const finiteAlpha = lane.alpha.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    // Drawn from the epoch before α first rises (a flat 0 line would only clutter the lane).
    const rise = finiteAlpha.findIndex((p) => p.y > 0);
    const alpha = rise < 0 ? [] : finiteAlpha.slice(Math.max(0, rise - 1));
    if (alpha.length > 0) {
      const ay = (a: number): number => y + laneHeight - 2 - Math.min(1, Math.max(0, a)) * (laneHeight - 4);
      const d = alpha.map((p, j) => `${j === 0 ? 'M' : 'L'}${coord(sx(p.x))} ${coord(ay(p.y))}`).join(' ');
      body.push(`<path class="alpha" d="${d}" fill="none" stroke="#111827" stroke-width="1.5" stroke-opacity="0.8"/>`);
    }
    const seedsText = lane.seedIds.length === 0 ? 'no seed' : `seed ${lane.seedIds.join(', ')}`;
    body.push(
      `<text x="${coord(margin.left - 8)}" y="${coord(y + laneHeight / 2 + 4)}" font-size="12" text-anchor="end" fill="#222"><title>${escapeXml(`slot ${lane.slotId} (${seedsText})`)}</title>${escapeXml(lane.slotId)}</text>`,
    );
    parts.push(`<g class="lane" data-slot="${escapeXml(lane.slotId)}">${body.join('')}</g>`);
  });

  // Epoch axis.
  const axis: string[] = [];
  axis.push(`<line x1="${coord(margin.left)}" y1="${coord(axisY)}" x2="${coord(margin.left + plotW)}" y2="${coord(axisY)}" stroke="#888"/>`);
  const ticks = niceTicks(first, last, Math.max(2, Math.floor(plotW / 60)), true).filter((t) => t >= first && t <= last);
  for (const t of ticks) {
    const x = sx(t);
    axis.push(`<line x1="${coord(x)}" y1="${coord(axisY)}" x2="${coord(x)}" y2="${coord(axisY + 4)}" stroke="#888"/>`);
    axis.push(`<text x="${coord(x)}" y="${coord(axisY + 16)}" font-size="11" text-anchor="middle" fill="#555">${t}</text>`);
  }
  axis.push(`<text x="${coord(margin.left + plotW / 2)}" y="${coord(axisY + 32)}" font-size="12" text-anchor="middle" fill="#333">epoch</text>`);
  parts.push(`<g class="axes">${axis.join('')}</g>`);

  for (const m of options.markers ?? []) {
    if (!Number.isFinite(m.x) || m.x < xMin || m.x > xMax) continue;
    const x = sx(m.x);
    const color = escapeXml(m.color ?? '#c0392b');
    parts.push(
      `<g class="marker"><title>${escapeXml(m.label)}</title><line x1="${coord(x)}" y1="${coord(margin.top - 4)}" x2="${coord(x)}" y2="${coord(axisY)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="3 3"/></g>`,
    );
  }

  const legendItems: LegendItem[] = [
    ...SEED_STAGES.map((stage): LegendItem => ({ label: stage, color: STAGE_COLORS[stage], kind: 'box' })),
    { label: 'α (blend weight)', color: '#111827', kind: 'line' },
  ];
  const legendTop = axisY + 42;
  const legend = renderLegend(legendItems, margin.left, legendTop, plotW);
  parts.push(legend.svg);
  const height = legendTop + legend.height + 6;

  return (
    `<svg class="chart seed-bands" role="img" aria-label="${escapeXml(title)}" viewBox="0 0 ${coord(width)} ${coord(height)}" width="${coord(width)}" height="${coord(height)}" ` +
    `font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">${parts.join('')}</svg>`
  );
}
