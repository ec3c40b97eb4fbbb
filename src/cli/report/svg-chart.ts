/**
 * A tiny dependency-free SVG line chart for run reports: several series,
 * axes with "nice" ticks and labels, optional vertical markers (rollbacks),
 * and a legend. Pure: data in, markup out. Every string that reaches the
 * markup goes through {@link escapeXml}. The SVG is meant to be inlined in
 * HTML (no `xmlns`, no external references).
 */

/** Escapes `& < > " '` so a string is safe as XML/HTML text or a quoted attribute value. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => {
    switch (ch) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return '&#39;';
    }
  });
}

/** Colours given to series without their own, in order (colour-blind friendly, Okabe–Ito based). */
export const SERIES_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#f0e442'] as const;

/** One data point; a non-finite `y` breaks the line. */
export interface ChartPoint {
  readonly x: number;
  readonly y: number;
}

/** One line of the chart. */
export interface ChartSeries {
  /** Legend text. */
  readonly name: string;
  readonly points: readonly ChartPoint[];
  /** CSS colour; default: the next of {@link SERIES_COLORS}. */
  readonly color?: string;
  /** Draw dashed, without point markers (reference lines). */
  readonly dashed?: boolean;
  /** Radius of the point markers, px. @default 2.5 */
  readonly pointRadius?: number;
}

/** A vertical line at `x` with a short label (e.g. a rollback). */
export interface ChartMarker {
  readonly x: number;
  readonly label: string;
  /** CSS colour. @default '#c0392b' */
  readonly color?: string;
}

/** What {@link renderLineChart} draws. */
export interface LineChartOptions {
  /** Heading drawn above the plot. */
  readonly title: string;
  readonly series: readonly ChartSeries[];
  readonly xLabel?: string;
  readonly yLabel?: string;
  /** Overall width in px. @default 560 */
  readonly width?: number;
  /** Height of the plot area plus axes in px (the legend adds below). @default 300 */
  readonly height?: number;
  /** Fixed x range; default: the data's. */
  readonly xDomain?: readonly [number, number];
  /** Fixed y range; default: the data's, widened to nice ticks. */
  readonly yDomain?: readonly [number, number];
  /** Clamp the automatic y range to these bounds (e.g. [0, 100] for percentages). */
  readonly yClamp?: readonly [number, number];
  /** `log`: a base-10 logarithmic x axis (x ≤ 0 is left out), ticks at 1, 2, 5 × 10^k (1 × 10^k past three decades). @default 'linear' */
  readonly xScale?: 'linear' | 'log';
  /** Only integer x ticks (epochs). @default false */
  readonly integerX?: boolean;
  /** Tick label formatters; default: as many decimals as the tick step needs. */
  readonly xFormat?: (value: number) => string;
  readonly yFormat?: (value: number) => string;
  readonly markers?: readonly ChartMarker[];
  /** Extra class on the root `<svg>`. */
  readonly className?: string;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';

/** Rounds `value` to a 1, 2 or 5 × 10^k step (the classic "nice number"). */
function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const exponent = Math.floor(Math.log10(rough));
  const base = 10 ** exponent;
  const fraction = rough / base;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * base;
}

/** Decimals needed to print multiples of `step` exactly. */
export function stepDecimals(step: number): number {
  if (!(step > 0) || !Number.isFinite(step)) return 0;
  return Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
}

/**
 * Evenly spaced round ticks covering [min, max]: about `target` of them,
 * the first ≤ min and the last ≥ max. `integer` forces whole-number steps.
 */
export function niceTicks(min: number, max: number, target = 5, integer = false): number[] {
  let lo = Number.isFinite(min) ? min : 0;
  let hi = Number.isFinite(max) ? max : 1;
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  let step = niceStep((hi - lo) / Math.max(1, target));
  if (integer) step = Math.max(1, Math.round(step));
  const decimals = stepDecimals(step);
  const first = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const tick = Number((first + i * step).toFixed(decimals));
    ticks.push(tick);
    if (tick >= hi - 1e-9 * step) break;
  }
  return ticks;
}

/** Formats `value` with the decimals of the tick step. */
function tickFormatter(ticks: readonly number[]): (value: number) => string {
  const step = ticks.length > 1 ? Math.abs((ticks[1] ?? 0) - (ticks[0] ?? 0)) : 1;
  const decimals = stepDecimals(step);
  return (value) => value.toFixed(decimals);
}

/** A number as an SVG coordinate (2 decimals, no trailing zeros). */
export function coord(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** Approximate width in px of `text` at `fontSize` (no font metrics in a pure function). */
export function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) em += /[A-Z0-9@%&MW]/.test(ch) ? 0.7 : /[iljt.,:;' |]/.test(ch) ? 0.32 : 0.56;
  return em * fontSize;
}

/** One legend entry: a swatch (line, dashed line or filled box) and its text. */
export interface LegendItem {
  readonly label: string;
  readonly color: string;
  readonly kind: 'line' | 'dashed' | 'box';
}

/**
 * Lays legend items out in rows that fit `width`, starting at (`x`, `y`).
 * Returns the markup and the height used.
 */
export function renderLegend(items: readonly LegendItem[], x: number, y: number, width: number, fontSize = 11): { svg: string; height: number } {
  const rowHeight = fontSize + 8;
  const parts: string[] = [];
  let cx = x;
  let cy = y;
  for (const item of items) {
    const itemWidth = 22 + textWidth(item.label, fontSize) + 16;
    if (cx > x && cx + itemWidth > x + width) {
      cx = x;
      cy += rowHeight;
    }
    const mid = cy + rowHeight / 2;
    const color = escapeXml(item.color);
    if (item.kind === 'box') {
      parts.push(`<rect x="${coord(cx)}" y="${coord(mid - 6)}" width="16" height="12" rx="2" fill="${color}" stroke="#00000033"/>`);
    } else {
      const dash = item.kind === 'dashed' ? ' stroke-dasharray="4 3"' : '';
      parts.push(`<line x1="${coord(cx)}" y1="${coord(mid)}" x2="${coord(cx + 16)}" y2="${coord(mid)}" stroke="${color}" stroke-width="2.5"${dash}/>`);
    }
    parts.push(`<text x="${coord(cx + 22)}" y="${coord(mid + fontSize * 0.35)}" font-size="${fontSize}" fill="#333">${escapeXml(item.label)}</text>`);
    cx += itemWidth;
  }
  const height = items.length === 0 ? 0 : cy - y + rowHeight;
  return { svg: `<g class="legend">${parts.join('')}</g>`, height };
}

/** The [min, max] of `values`' finite entries, or undefined if none. */
function extent(values: readonly number[]): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/** Splits `points` into runs of finite points (a non-finite y breaks the line). */
function finiteRuns(points: readonly ChartPoint[]): ChartPoint[][] {
  const runs: ChartPoint[][] = [];
  let current: ChartPoint[] = [];
  for (const p of points) {
    if (Number.isFinite(p.x) && Number.isFinite(p.y)) current.push(p);
    else if (current.length > 0) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/** A count in a few characters: `850`, `1.2k`, `34k`, `2.5M`. */
export function formatCompact(value: number): string {
  const abs = Math.abs(value);
  const short = (v: number, unit: string): string => `${v >= 10 ? Math.round(v) : Number(v.toFixed(1))}${unit}`;
  if (abs >= 1e9) return short(value / 1e9, 'G');
  if (abs >= 1e6) return short(value / 1e6, 'M');
  if (abs >= 1e3) return short(value / 1e3, 'k');
  return String(Number(value.toPrecision(3)));
}

/** Ticks of a log axis, as log10 values within [lo, hi] (log10 units): 1, 2, 5 × 10^k up to three decades, 1 × 10^k beyond. */
export function logTicks(lo: number, hi: number): number[] {
  const mantissas = hi - lo <= 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) {
    for (const m of mantissas) {
      const t = Math.log10(m) + d;
      if (t >= lo - 1e-9 && t <= hi + 1e-9) ticks.push(t);
    }
  }
  return ticks;
}

/** Renders a line chart as an inline `<svg>` element. */
export function renderLineChart(options: LineChartOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 300;
  const margin = { top: 34, right: 18, bottom: options.xLabel === undefined ? 30 : 46, left: options.yLabel === undefined ? 48 : 64 };
  const plotW = Math.max(10, width - margin.left - margin.right);
  const plotH = Math.max(10, height - margin.top - margin.bottom);
  const log = options.xScale === 'log';
  // A log axis is drawn in log10 units: x values (points, markers, domain) are mapped first.
  const toX = (x: number): number => (log ? (x > 0 ? Math.log10(x) : Number.NaN) : x);
  const series = options.series.map((s, i) => ({
    ...s,
    points: log ? s.points.map((p) => ({ x: toX(p.x), y: p.y })) : s.points,
    color: s.color ?? SERIES_COLORS[i % SERIES_COLORS.length] ?? '#000',
  }));
  const allPoints = series.flatMap((s) => s.points);
  const markers = log ? (options.markers ?? []).map((m) => ({ ...m, x: toX(m.x) })) : (options.markers ?? []);

  const xData = extent([...allPoints.map((p) => p.x), ...markers.map((m) => m.x)]);
  const yData = extent(allPoints.map((p) => p.y));
  let [xMin, xMax] = options.xDomain === undefined ? (xData ?? [0, 1]) : [toX(options.xDomain[0]), toX(options.xDomain[1])];
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  } else if (log && options.xDomain === undefined) {
    // Points at the very edge of a log axis are hard to read: a tenth of a decade of room on each side.
    xMin -= 0.1;
    xMax += 0.1;
  }
  const xTicks = log
    ? logTicks(xMin, xMax)
    : niceTicks(xMin, xMax, Math.max(2, Math.floor(plotW / 70)), options.integerX ?? false).filter((t) => t >= xMin - 1e-9 && t <= xMax + 1e-9);

  let yTicks: number[];
  let yMin: number;
  let yMax: number;
  if (options.yDomain !== undefined) {
    [yMin, yMax] = options.yDomain;
    yTicks = niceTicks(yMin, yMax, 5).filter((t) => t >= yMin - 1e-9 && t <= yMax + 1e-9);
  } else {
    const [lo, hi] = yData ?? [0, 1];
    yTicks = niceTicks(lo, hi, 5);
    if (options.yClamp !== undefined) {
      const [cLo, cHi] = options.yClamp;
      yTicks = yTicks.filter((t) => t >= cLo - 1e-9 && t <= cHi + 1e-9);
      if (yTicks.length < 2) yTicks = niceTicks(cLo, cHi, 5);
    }
    yMin = yTicks[0] ?? lo;
    yMax = yTicks[yTicks.length - 1] ?? hi;
  }
  if (yMin === yMax) {
    yMin -= 1;
    yMax += 1;
  }

  const sx = (x: number): number => margin.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number): number => margin.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const fx = options.xFormat === undefined ? (log ? (v: number): string => formatCompact(10 ** v) : tickFormatter(xTicks)) : log ? (v: number): string => options.xFormat?.(10 ** v) ?? '' : options.xFormat;
  const fy = options.yFormat ?? tickFormatter(yTicks);

  const parts: string[] = [];
  parts.push(`<text class="chart-title" x="${coord(margin.left)}" y="20" font-size="14" font-weight="600" fill="#222">${escapeXml(options.title)}</text>`);
  parts.push(`<rect x="${coord(margin.left)}" y="${coord(margin.top)}" width="${coord(plotW)}" height="${coord(plotH)}" fill="#fcfcfd" stroke="#d0d4da"/>`);

  // Grid and tick labels.
  const grid: string[] = [];
  for (const t of yTicks) {
    const y = sy(t);
    grid.push(`<line x1="${coord(margin.left)}" y1="${coord(y)}" x2="${coord(margin.left + plotW)}" y2="${coord(y)}" stroke="#e6e8eb"/>`);
    grid.push(`<text x="${coord(margin.left - 6)}" y="${coord(y + 4)}" font-size="11" text-anchor="end" fill="#555">${escapeXml(fy(t))}</text>`);
  }
  for (const t of xTicks) {
    const x = sx(t);
    grid.push(`<line x1="${coord(x)}" y1="${coord(margin.top + plotH)}" x2="${coord(x)}" y2="${coord(margin.top + plotH + 4)}" stroke="#888"/>`);
    grid.push(`<text x="${coord(x)}" y="${coord(margin.top + plotH + 16)}" font-size="11" text-anchor="middle" fill="#555">${escapeXml(fx(t))}</text>`);
  }
  parts.push(`<g class="axes">${grid.join('')}`);
  parts.push(`<line x1="${coord(margin.left)}" y1="${coord(margin.top + plotH)}" x2="${coord(margin.left + plotW)}" y2="${coord(margin.top + plotH)}" stroke="#888"/>`);
  parts.push(`<line x1="${coord(margin.left)}" y1="${coord(margin.top)}" x2="${coord(margin.left)}" y2="${coord(margin.top + plotH)}" stroke="#888"/>`);
  if (options.xLabel !== undefined) {
    parts.push(`<text class="x-label" x="${coord(margin.left + plotW / 2)}" y="${coord(margin.top + plotH + 36)}" font-size="12" text-anchor="middle" fill="#333">${escapeXml(options.xLabel)}</text>`);
  }
  if (options.yLabel !== undefined) {
    const cx = 16;
    const cy = margin.top + plotH / 2;
    parts.push(`<text class="y-label" x="${coord(cx)}" y="${coord(cy)}" font-size="12" text-anchor="middle" fill="#333" transform="rotate(-90 ${coord(cx)} ${coord(cy)})">${escapeXml(options.yLabel)}</text>`);
  }
  parts.push('</g>');

  // Markers.
  for (const m of markers) {
    if (!Number.isFinite(m.x) || m.x < xMin || m.x > xMax) continue;
    const x = sx(m.x);
    const color = escapeXml(m.color ?? '#c0392b');
    parts.push(
      `<g class="marker"><title>${escapeXml(m.label)}</title>` +
        `<line x1="${coord(x)}" y1="${coord(margin.top)}" x2="${coord(x)}" y2="${coord(margin.top + plotH)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="3 3"/>` +
        `<text x="${coord(x + 3)}" y="${coord(margin.top + 11)}" font-size="10" fill="${color}">${escapeXml(m.label)}</text></g>`,
    );
  }

  // Series.
  if (allPoints.length === 0) {
    parts.push(`<text x="${coord(margin.left + plotW / 2)}" y="${coord(margin.top + plotH / 2)}" font-size="12" text-anchor="middle" fill="#888">no data</text>`);
  }
  for (const s of series) {
    const color = escapeXml(s.color);
    const body: string[] = [];
    for (const run of finiteRuns(s.points)) {
      const d = run.map((p, i) => `${i === 0 ? 'M' : 'L'}${coord(sx(p.x))} ${coord(sy(p.y))}`).join(' ');
      const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
      body.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"${dash}/>`);
      if (s.dashed !== true && (run.length === 1 || s.points.length <= 60)) {
        for (const p of run) body.push(`<circle cx="${coord(sx(p.x))}" cy="${coord(sy(p.y))}" r="${coord(s.pointRadius ?? 2.5)}" fill="${color}"/>`);
      }
    }
    parts.push(`<g class="series"><title>${escapeXml(s.name)}</title>${body.join('')}</g>`);
  }

  // Legend below the axes.
  const legend = renderLegend(
    series.map((s) => ({ label: s.name, color: s.color, kind: s.dashed === true ? 'dashed' : 'line' })),
    margin.left,
    height - 4,
    plotW,
  );
  parts.push(legend.svg);
  const totalHeight = height + legend.height;

  const cls = options.className === undefined ? 'chart' : `chart ${escapeXml(options.className)}`;
  return (
    `<svg class="${cls}" role="img" aria-label="${escapeXml(options.title)}" viewBox="0 0 ${coord(width)} ${coord(totalHeight)}" ` +
    `width="${coord(width)}" height="${coord(totalHeight)}" ${FONT}>${parts.join('')}</svg>`
  );
}
