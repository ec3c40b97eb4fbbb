// Line charts of a run's curves: uPlot when the server has it (from node_modules,
// never a CDN), else a small SVG chart. Both redraw from the whole series on update.

let uPlot = null;

/** Loads uPlot once; resolves to false when the server does not serve it. */
export async function loadChartLibrary() {
  try {
    const head = await fetch('/assets/uplot.js', { method: 'GET', cache: 'no-cache' });
    if (!head.ok) return false;
    uPlot = (await import('/assets/uplot.js')).default;
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = '/assets/uplot.css';
    document.head.append(link);
    return true;
  } catch {
    uPlot = null;
    return false;
  }
}

const NS = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function niceRange(lo, hi) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** An SVG line chart: `series` = [{ label, color, values }], `xs` the shared x values. */
function drawSvg(container, spec, xs, series) {
  const width = Math.max(320, container.clientWidth || 480);
  const height = 220;
  const m = { l: 48, r: 10, t: 10, b: 24 };
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': spec.title });
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const [ylo, yhi] = spec.yRange ?? niceRange(Math.min(...all), Math.max(...all));
  const [xlo, xhi] = niceRange(Math.min(...xs, 0), Math.max(...xs, 1));
  const sx = (x) => m.l + ((x - xlo) / (xhi - xlo)) * (width - m.l - m.r);
  const sy = (y) => height - m.b - ((y - ylo) / (yhi - ylo)) * (height - m.t - m.b);
  svg.append(svgEl('rect', { x: m.l, y: m.t, width: width - m.l - m.r, height: height - m.t - m.b, fill: 'none', class: 'axis' }));
  for (let i = 0; i <= 4; i++) {
    const y = ylo + ((yhi - ylo) * i) / 4;
    svg.append(svgEl('line', { x1: m.l, x2: width - m.r, y1: sy(y), y2: sy(y), class: 'axis', 'stroke-dasharray': '2 3' }));
    const t = svgEl('text', { x: m.l - 4, y: sy(y) + 3, 'text-anchor': 'end' });
    t.textContent = spec.yFormat ? spec.yFormat(y) : y.toPrecision(3);
    svg.append(t);
  }
  const xt = svgEl('text', { x: width - m.r, y: height - 6, 'text-anchor': 'end' });
  xt.textContent = 'epoch';
  svg.append(xt);
  for (const s of series) {
    const d = xs.map((x, i) => (Number.isFinite(s.values[i]) ? `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(s.values[i]).toFixed(1)}` : '')).join('');
    if (d !== '') svg.append(svgEl('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'data-series': s.label }));
    if (xs.length <= 60) xs.forEach((x, i) => svg.append(svgEl('circle', { cx: sx(x), cy: sy(s.values[i]), r: 2.5, fill: s.color })));
  }
  for (const marker of spec.markers ?? []) {
    svg.append(svgEl('line', { x1: sx(marker.x), x2: sx(marker.x), y1: m.t, y2: height - m.b, stroke: marker.color, 'stroke-dasharray': '3 3' }));
  }
  container.replaceChildren(svg);
}

/**
 * A chart in `container` that redraws on `update(xs, series, markers)`.
 * spec: { title, yRange?, yFormat? }.
 */
export function createChart(container, spec) {
  let plot = null;
  let labels = '';
  return {
    update(xs, series, markers = []) {
      container.dataset.points = String(xs.length);
      if (uPlot === null) {
        drawSvg(container, { ...spec, markers }, xs, series);
        return;
      }
      const key = series.map((s) => s.label).join('|');
      const data = [xs, ...series.map((s) => s.values)];
      if (plot === null || key !== labels) {
        plot?.destroy();
        labels = key;
        container.replaceChildren();
        plot = new uPlot(
          {
            title: spec.title,
            width: Math.max(320, container.clientWidth - 12 || 480),
            height: 220,
            scales: { x: { time: false }, ...(spec.yRange ? { y: { range: spec.yRange } } : {}) },
            axes: [{ label: 'epoch', stroke: getComputedStyle(document.body).color }, { stroke: getComputedStyle(document.body).color, values: spec.yFormat ? (_u, ticks) => ticks.map(spec.yFormat) : undefined }],
            series: [{ label: 'epoch' }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: xs.length <= 60 } }))],
          },
          data,
          container,
        );
      } else plot.setData(data);
    },
  };
}
