/**
 * Formatting shared by the report's sections (pure): escaping, percentages,
 * counts, durations, bottleneck resolution.
 */
import { escapeXml } from './svg-chart.ts';

/** HTML-escapes a string (text or quoted attribute value). */
export const escapeHtml = escapeXml;

/** A fraction as a percentage, e.g. `0.8734` → `87.34%`; `—` when absent. */
export function formatPercent(fraction: number | undefined, decimals = 2): string {
  return fraction === undefined || !Number.isFinite(fraction) ? '—' : `${(fraction * 100).toFixed(decimals)}%`;
}

/** An integer with thousands separators, e.g. `12345` → `12,345`. */
export function formatCount(value: number): string {
  const sign = value < 0 ? '-' : '';
  return sign + String(Math.round(Math.abs(value))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bottleneck resolution as shown in reports, e.g. `0.62 (62% of the host→static gap closed)`. */
export function formatBottleneckResolution(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'n/a (the static model is no better than the host)';
  return `${value.toFixed(2)} (${(value * 100).toFixed(0)}% of the host→static gap closed)`;
}

/** A duration in ms as `1.2 s`, `3 min 4 s`, `1 h 2 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const totalS = Math.round(s);
  const h = Math.floor(totalS / 3600);
  const min = Math.floor((totalS % 3600) / 60);
  const sec = totalS % 60;
  return h > 0 ? `${h} h ${min} min` : `${min} min ${sec} s`;
}

/** Signed percentage points between two fractions, e.g. `+3.10 pp`. */
export function formatDeltaPp(from: number, to: number): string {
  const pp = (to - from) * 100;
  return `${pp >= 0 ? '+' : '−'}${Math.abs(pp).toFixed(2)} pp`;
}

/** `<tr><th>…</th><td>…</td></tr>` rows; values are already HTML. */
export function kvRows(entries: readonly (readonly [string, string])[]): string {
  return entries.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${v}</td></tr>`).join('\n');
}
