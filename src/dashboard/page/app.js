// The dashboard page: one EventSource, a snapshot then small updates, rendered
// into four views. No framework, no build step. The operator token lives only in
// this module's memory and is sent as the X-Esper-Token header of an action.
import { STAGE_COLORS, SERIES_COLORS, formatPercent, formatCount, formatDuration } from '/assets/theme.js';
import { createChart, loadChartLibrary } from '/assets/charts.js';

const $ = (id) => document.getElementById(id);
const state = { mode: 'cluster', actions: false, nodes: new Map(), runs: new Map(), library: null, events: [], status: { stale: true, detail: 'connecting' }, connected: false };
let selectedRun = new URLSearchParams(location.search).get('run');
let token = '';
let charts = null;
const dirty = new Set();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function textColor(hex) {
  const n = parseInt(hex.slice(1), 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? '#111' : '#fff';
}

function stageChip(stage) {
  const fill = STAGE_COLORS[stage] ?? '#999';
  return el('span', { class: 'stage', style: `background:${fill};color:${textColor(fill)}`, text: stage });
}

const bytes = (n) => (n === undefined ? '—' : `${(n / 1048576).toFixed(0)} MiB`);
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '—');

// ------------------------------------------------------------------ status

function renderStatus() {
  const s = $('status');
  const stale = state.status.stale || !state.connected;
  s.dataset.stale = String(stale);
  s.textContent = !state.connected ? 'STALE — dashboard connection lost; reconnecting…' : state.status.stale ? `STALE — ${state.status.detail}` : `live · ${state.status.detail}`;
}

// ------------------------------------------------------------------- nodes

function renderNodes() {
  const nodes = [...state.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  $('count-nodes').textContent = `(${nodes.length})`;
  $('nodes').replaceChildren(
    ...nodes.map((n) => {
      const status = n.status === 'down' ? 'down' : n.late ? 'late' : n.status;
      const actors = n.actors ? `${n.actors.total} (${n.actors.notRunning} not running, ${n.actors.restarts} restarts)` : '—';
      return el(
        'article',
        { class: `card ${status}`, 'data-node-id': n.nodeId, 'data-status': status, 'aria-label': `node ${n.name}: ${status}` },
        el('h3', {}, n.name, el('span', { class: `badge ${status}`, text: status })),
        el(
          'dl',
          {},
          el('dt', { text: 'roles' }), el('dd', { text: n.roles.join(', ') || '—' }),
          el('dt', { text: 'incarnation' }), el('dd', { text: n.incarnationId }),
          el('dt', { text: 'heartbeat' }), el('dd', { text: `${time(n.lastHeartbeatAt)}${n.heartbeatMs ? ` (every ${formatDuration(n.heartbeatMs)})` : ''}` }),
          el('dt', { text: 'load' }), el('dd', { text: `lag ${n.load.eventLoopLagMs.toFixed(1)} ms · cpu ${n.load.cpuCores === undefined ? '—' : n.load.cpuCores.toFixed(2)} · rss ${bytes(n.load.rssBytes)}` }),
          el('dt', { text: 'runs' }), el('dd', { text: n.runs.join(', ') || '—' }),
          el('dt', { text: 'actors' }), el('dd', { text: actors }),
          el('dt', { text: 'breakers' }), el('dd', {}, n.breakers.length === 0 ? '—' : n.breakers.map((b) => el('span', { class: `badge ${b.state}`, title: b.reason ?? '', text: `${b.name}: ${b.state}` }))),
          el('dt', { text: 'version' }), el('dd', { text: `${n.version}${n.bus ? ` · ${n.bus}` : ''}` }),
        ),
      );
    }),
  );
}

// -------------------------------------------------------------------- runs

function renderRuns() {
  const runs = [...state.runs.values()].sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  $('count-runs').textContent = `(${runs.length})`;
  if (selectedRun === null && runs.length > 0) selectedRun = runs[0].runId;
  $('runs').replaceChildren(
    ...runs.map((r) =>
      el(
        'tr',
        { 'data-run-id': r.runId, 'aria-selected': String(r.runId === selectedRun) },
        el('td', {}, el('button', { type: 'button', text: r.runId, 'aria-label': `show run ${r.runId}`, onclick: () => selectRun(r.runId) })),
        el('td', {}, el('span', { class: `badge ${r.state}`, text: r.state })),
        el('td', { class: 'num', text: `${r.epoch}${r.maxEpochs ? ` / ${r.maxEpochs}` : ''}` }),
        el('td', { class: 'num', text: formatPercent(r.validationAccuracy) }),
        el('td', { class: 'num', text: r.etaMs === undefined ? '—' : formatDuration(r.etaMs) }),
        el('td', { text: r.nodeId ?? '—' }),
      ),
    ),
  );
}

function selectRun(runId) {
  selectedRun = runId;
  charts = null;
  const url = new URL(location.href);
  url.searchParams.set('run', runId);
  history.replaceState(null, '', url);
  renderRuns();
  renderRunDetail(true);
}

function actionButtons(run) {
  if (!state.actions) return el('p', { class: 'muted', text: state.mode === 'embedded' ? 'Embedded run: read-only.' : 'Read-only: the dashboard was started without a token.' });
  const reason = el('input', { id: 'action-reason', placeholder: 'reason (for the audit trail)', 'aria-label': 'reason', size: 28 });
  const verbs = ['pause', 'resume', 'stop', 'checkpoint', 'rollback'];
  return el('div', { class: 'actions' }, reason, ...verbs.map((verb) => el('button', { type: 'button', 'data-action': verb, text: verb, onclick: () => act(`/api/runs/${encodeURIComponent(run.runId)}/${verb}`, verb === 'rollback' ? { reason: reason.value || 'operator rollback (dashboard)' } : reason.value ? { reason: reason.value } : {}) })));
}

function renderBands(run) {
  const slots = [...new Set(run.bands.flatMap((c) => c.cells.map((cell) => cell.slotId)))];
  if (slots.length === 0) return el('p', { class: 'muted', text: 'No seed states yet (the first epoch boundary brings them).' });
  const columns = run.bands.slice(-120);
  const rows = slots.map((slot) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row', text: slot }),
      ...columns.map((c) => {
        const cell = c.cells.find((x) => x.slotId === slot);
        if (!cell) return el('td', {});
        const fill = STAGE_COLORS[cell.stage] ?? '#999';
        return el('td', { style: `background:${fill}`, title: `epoch ${c.epoch}: ${cell.stage}, α ${cell.alpha.toFixed(2)}`, 'data-stage': cell.stage }, el('b', { style: `height:${Math.round(cell.alpha * 100)}%` }));
      }),
    ),
  );
  return el('div', { class: 'bands' },
    el('table', { 'aria-label': 'seed lifecycle per slot; bar height is α' }, el('tbody', {}, rows)),
    el('div', { class: 'stage-legend' }, Object.keys(STAGE_COLORS).map(stageChip), el('span', { class: 'muted', text: 'dark bar: α' })));
}

function seedRows(run) {
  const live = new Set(['GERMINATED', 'TRAINING', 'BLENDING', 'HOLDING']);
  return el('table', { class: 'grid', id: 'seeds' },
    el('thead', {}, el('tr', {}, ['slot', 'seed', 'stage', 'α', 'blueprint', 'why', ''].map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, run.seeds.map((s) =>
      el('tr', { 'data-slot-id': s.slotId, 'data-stage': s.stage },
        el('td', { text: s.slotId }), el('td', { text: s.seedId }), el('td', {}, stageChip(s.stage)), el('td', { class: 'num', text: s.alpha.toFixed(2) }),
        el('td', { text: s.blueprintId ?? '—' }), el('td', { text: s.reason ?? '' }),
        el('td', {}, state.actions && live.has(s.stage) ? [
          el('button', { type: 'button', text: 'prune', onclick: () => act(`/api/runs/${encodeURIComponent(run.runId)}/seeds/${encodeURIComponent(s.slotId)}/prune`, { reason: $('action-reason')?.value || 'operator prune (dashboard)' }) }),
          el('button', { type: 'button', text: 'fossilize', onclick: () => act(`/api/runs/${encodeURIComponent(run.runId)}/seeds/${encodeURIComponent(s.slotId)}/fossilize`, {}) }),
        ] : null)))));
}

function renderRunDetail(full) {
  const run = selectedRun === null ? undefined : state.runs.get(selectedRun);
  const box = $('run-detail');
  if (run === undefined) {
    box.replaceChildren(el('p', { class: 'muted', text: 'Choose a run.' }));
    return;
  }
  if (full || charts === null || box.dataset.runId !== run.runId) {
    box.dataset.runId = run.runId;
    const acc = el('div', { class: 'chart', id: 'chart-accuracy' });
    const loss = el('div', { class: 'chart', id: 'chart-loss' });
    box.replaceChildren(
      el('h3', {}, `Run ${run.runId} `, el('span', { class: `badge ${run.state}`, id: 'run-state', text: run.state })),
      el('p', { id: 'run-summary' }),
      actionButtons(run),
      el('div', { class: 'charts' }, acc, loss),
      el('h3', { text: 'Seed lifecycle' }), el('div', { id: 'run-bands' }),
      el('div', { id: 'run-seeds' }),
      el('h3', { text: "Tamiyo's decisions" }), el('ol', { class: 'decisions', id: 'run-decisions', reversed: true }),
      el('h3', { text: 'Rollbacks and graft drops' }), el('ul', { id: 'run-incidents' }),
    );
    charts = {
      acc: createChart(acc, { title: 'validation accuracy', yRange: [0, 1], yFormat: (v) => formatPercent(v, 0) }),
      loss: createChart(loss, { title: 'loss', yFormat: (v) => v.toPrecision(2) }),
    };
  }
  $('run-state').textContent = run.state;
  $('run-state').className = `badge ${run.state}`;
  const bits = [`epoch ${run.epoch}${run.maxEpochs ? ` of ${run.maxEpochs}` : ''}`, `accuracy ${formatPercent(run.validationAccuracy)}`];
  if (run.epochMs !== undefined) bits.push(`${formatDuration(run.epochMs)}/epoch`);
  if (run.etaMs !== undefined) bits.push(`ETA ${formatDuration(run.etaMs)}`);
  if (run.points.length > 0) bits.push(`${formatCount(run.points.at(-1).paramCount)} params`);
  bits.push(`max graft drop ${run.maxGraftDropPct.toFixed(2)}%`);
  if (run.error) bits.push(`error ${run.error.code}: ${run.error.message}`);
  const summary = $('run-summary');
  summary.replaceChildren(bits.join(' · '));
  if (run.reportUrl) summary.append(' · ', el('a', { href: run.reportUrl, text: 'report.html', target: '_blank', rel: 'noopener' }));
  const xs = run.points.map((p) => p.epoch);
  const markers = run.rollbacks.map((r) => ({ x: r.fromEpoch, color: SERIES_COLORS[1] }));
  charts.acc.update(xs, [{ label: 'validation accuracy', color: SERIES_COLORS[0], values: run.points.map((p) => p.validationAccuracy) }], markers);
  charts.loss.update(xs, [
    { label: 'training loss', color: SERIES_COLORS[0], values: run.points.map((p) => p.trainingLoss) },
    { label: 'validation loss', color: SERIES_COLORS[1], values: run.points.map((p) => p.validationLoss) },
  ], markers);
  $('run-bands').replaceChildren(renderBands(run));
  $('run-seeds').replaceChildren(seedRows(run));
  $('run-decisions').replaceChildren(...run.decisions.slice(-30).reverse().map((d) =>
    el('li', {}, el('strong', { text: `epoch ${d.epoch}` }), ` ${d.policy}${d.fallback ? ' (fallback)' : ''}: ${d.reason}`,
      d.commands.length === 0 ? null : el('ul', {}, d.commands.map((c) => el('li', {}, el('code', { text: `${c.type}${c.op ? ` ${c.op}` : ''}${c.seedId ? ` → ${c.seedId}` : ''}${c.blueprintId ? ` (${c.blueprintId})` : ''}` }), c.annotations ? ` ${Object.entries(c.annotations).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''))))));
  const incidents = [
    ...run.rollbacks.map((r) => el('li', { text: `rollback at epoch ${r.fromEpoch} → ${r.toEpoch} (${r.trigger}: ${r.reason})${r.prunedSeedIds.length ? `; pruned ${r.prunedSeedIds.join(', ')}` : ''}` })),
    ...run.graftDrops.map((g) => el('li', { text: `graft drop at epoch ${g.epoch}: −${g.dropPct.toFixed(2)}% while ${g.slots.join(', ')} blended` })),
  ];
  $('run-incidents').replaceChildren(...(incidents.length ? incidents : [el('li', { class: 'muted', text: 'none' })]));
}

// ----------------------------------------------------------------- library

function renderLibrary() {
  const lib = state.library;
  if (lib === null) return;
  const q = (n) => (n === null ? '—' : String(n));
  const parts = [el('p', {}, `read ${time(lib.at)} · compile queue ${q(lib.queues.compile)} · validate queue ${q(lib.queues.validate)}`, lib.error ? el('span', { class: 'muted', text: ` · ${lib.error}` }) : null)];
  const kernelsOf = (id) => (lib.kernels ?? []).filter((k) => k.blueprintId === id);
  parts.push(el('h3', { text: `Blueprints (${lib.blueprints?.length ?? '—'})` }));
  if (lib.blueprints) parts.push(el('table', { class: 'grid', id: 'blueprints' },
    el('thead', {}, el('tr', {}, ['blueprint', 'name', 'status', 'tags', 'kernels'].map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, lib.blueprints.map((b) => el('tr', {}, el('td', {}, el('code', { text: b.blueprintId })), el('td', { text: b.name }), el('td', {}, el('span', { class: 'badge', text: b.status })), el('td', { text: b.tags.join(', ') }), el('td', { class: 'num', text: String(kernelsOf(b.blueprintId).length) }))))));
  parts.push(el('h3', { text: `Kernels (${lib.kernels?.length ?? '—'})` }));
  if (lib.kernels) parts.push(el('table', { class: 'grid', id: 'kernels' },
    el('thead', {}, el('tr', {}, ['kernel', 'blueprint', 'verdict', 'params', 'risk', 'p50 latency', 'validated'].map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, lib.kernels.map((k) => el('tr', {}, el('td', {}, el('code', { text: k.kernelId.slice(0, 24) })), el('td', {}, el('code', { text: k.blueprintId.slice(0, 24) })), el('td', {}, el('span', { class: `badge ${k.status === 'VALIDATED' ? 'ready' : k.status === 'REJECTED' ? 'down' : 'pending'}`, text: k.status })),
      el('td', { class: 'num', text: k.paramCount === undefined ? '—' : formatCount(k.paramCount) }), el('td', { class: 'num', text: k.riskScore === undefined ? '—' : k.riskScore.toFixed(2) }),
      el('td', { class: 'num', text: k.latencyP50Ms === undefined ? '—' : `${k.latencyP50Ms.toFixed(2)} ms` }), el('td', { text: time(k.validatedAt) }))))));
  $('library').replaceChildren(...parts);
}

// ------------------------------------------------------------------ events

function renderEvents() {
  const run = $('filter-run').value.trim();
  const type = $('filter-type').value.trim();
  const text = $('filter-text').value.trim().toLowerCase();
  const shown = state.events.filter((e) => (!run || e.runId === run) && (!type || e.type.startsWith(type)) && (!text || `${e.type} ${e.summary}`.toLowerCase().includes(text))).slice(-300).reverse();
  $('events').replaceChildren(...shown.map((e) => el('tr', { 'data-type': e.type }, el('td', { text: time(e.ts) }), el('td', { text: e.runId ?? '' }), el('td', {}, el('code', { text: e.type })), el('td', { text: e.summary }))));
}

// ----------------------------------------------------------------- actions

async function act(path, body) {
  const out = $('action-result');
  try {
    const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { 'x-esper-token': token } : {}) }, body: JSON.stringify(body) });
    const reply = await response.json();
    out.dataset.ok = String(reply.ok === true);
    out.textContent = reply.ok ? `${path.split('/').at(-1)}: done` : `${response.status} ${reply.error.code}: ${reply.error.message}`;
  } catch (error) {
    out.dataset.ok = 'false';
    out.textContent = `request failed: ${error.message}`;
  }
}

// ------------------------------------------------------------ event source

function schedule(what) {
  if (dirty.size === 0) requestAnimationFrame(flush);
  dirty.add(what);
}

function flush() {
  const d = new Set(dirty);
  dirty.clear();
  if (d.has('status')) renderStatus();
  if (d.has('nodes')) renderNodes();
  if (d.has('runs')) renderRuns();
  if (d.has('run')) renderRunDetail(false);
  if (d.has('library')) renderLibrary();
  if (d.has('events')) renderEvents();
  document.body.dataset.rendered = String(Date.now());
}

function runOf(runId) {
  let run = state.runs.get(runId);
  if (!run) {
    run = { runId, state: 'pending', epoch: 0, maxGraftDropPct: 0, points: [], seeds: [], bands: [], decisions: [], rollbacks: [], graftDrops: [] };
    state.runs.set(runId, run);
  }
  return run;
}

const touchRun = (runId) => { schedule('runs'); if (runId === selectedRun) schedule('run'); };

const handlers = {
  snapshot(s) {
    state.mode = s.mode;
    state.actions = s.actions;
    state.nodes = new Map(s.nodes.map((n) => [n.nodeId, n]));
    state.runs = new Map(s.runs.map((r) => [r.runId, r]));
    state.library = s.library;
    state.events = s.events;
    charts = null;
    $('operator').hidden = !s.actions;
    ['nodes', 'runs', 'run', 'library', 'events'].forEach(schedule);
  },
  status(s) { state.status = s; schedule('status'); },
  node(n) { state.nodes.set(n.nodeId, n); schedule('nodes'); },
  'node.removed'({ nodeId }) { state.nodes.delete(nodeId); schedule('nodes'); },
  run(summary) { Object.assign(runOf(summary.runId), summary); touchRun(summary.runId); },
  'run.removed'({ runId }) { state.runs.delete(runId); schedule('runs'); },
  'run.point'({ runId, point }) {
    const run = runOf(runId);
    while (run.points.length && run.points.at(-1).epoch >= point.epoch) run.points.pop();
    run.points.push(point);
    touchRun(runId);
  },
  'run.band'({ runId, column, seeds }) {
    const run = runOf(runId);
    while (run.bands.length && run.bands.at(-1).epoch >= column.epoch) run.bands.pop();
    run.bands.push(column);
    run.seeds = seeds;
    touchRun(runId);
  },
  'run.seed'({ runId, seed }) {
    const run = runOf(runId);
    const i = run.seeds.findIndex((s) => s.seedId === seed.seedId || s.slotId === seed.slotId);
    if (i >= 0) run.seeds[i] = seed; else run.seeds.push(seed);
    touchRun(runId);
  },
  'run.decision'({ runId, decision }) { runOf(runId).decisions.push(decision); touchRun(runId); },
  'run.rollback'({ runId, rollback }) { runOf(runId).rollbacks.push(rollback); touchRun(runId); },
  'run.graft'({ runId, drop }) { runOf(runId).graftDrops.push(drop); touchRun(runId); },
  library(lib) { state.library = lib; schedule('library'); },
  event(line) { state.events.push(line); if (state.events.length > 500) state.events.shift(); schedule('events'); },
};

function connect() {
  const source = new EventSource('/events');
  source.onopen = () => { state.connected = true; schedule('status'); };
  source.onerror = () => { state.connected = false; schedule('status'); };
  for (const [name, handle] of Object.entries(handlers)) {
    source.addEventListener(name, (message) => {
      try { handle(JSON.parse(message.data)); } catch (error) { console.error('dashboard: bad message', name, error); }
    });
  }
}

// -------------------------------------------------------------- navigation

function showView(name, focus) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.dataset.view === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) tab.focus();
  }
  const url = new URL(location.href);
  url.searchParams.set('view', name);
  history.replaceState(null, '', url);
  if (name === 'runs') { charts = null; renderRunDetail(true); }
}

function setupNavigation() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => showView(tab.dataset.view, false));
    tab.addEventListener('keydown', (e) => {
      const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? tabs.length - 1 : null;
      if (next === null) return;
      e.preventDefault();
      showView(tabs[(next + tabs.length) % tabs.length].dataset.view, true);
    });
  });
  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement || e.altKey || e.ctrlKey || e.metaKey) return;
    const index = ['1', '2', '3', '4'].indexOf(e.key);
    if (index >= 0) showView(tabs[index].dataset.view, true);
  });
  $('event-filter').addEventListener('input', () => schedule('events'));
  $('event-filter').addEventListener('submit', (e) => e.preventDefault());
  $('operator').addEventListener('submit', (e) => e.preventDefault());
  $('token').addEventListener('input', (e) => { token = e.target.value; });
  const view = new URLSearchParams(location.search).get('view');
  if (view && ['nodes', 'runs', 'library', 'events'].includes(view)) showView(view, false);
}

setupNavigation();
renderStatus();
await loadChartLibrary();
connect();
