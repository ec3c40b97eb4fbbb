/**
 * Issue 14: "50 browsers connected to one dashboard during a run: the
 * trainer's epoch time and the control-plane p99 do not move beyond noise".
 * One trainer node (a child process, as an operator runs it) and one
 * dashboard (this process) on the NATS at ESPER_TEST_NATS_URL; runs alternate
 * between 0 and 50 SSE clients reading the stream (rounds A B A B …). Per
 * phase: the median epoch time (from the runs' `tolaria.epoch.completed`
 * events) and the p50/p99 of `ctl.run.<id>.status` requests sent every 50 ms
 * during the run. Prints the ratios 50 clients / 0 clients.
 *
 *   node --import tsx bench/dashboard.bench.ts [--rounds 3] [--epochs 40] [--clients 50]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { DaemonProcess, writeTempConfig } from '../test/helpers/daemon.ts';
import { NATS_URL } from '../test/helpers/services.ts';
import { quickSpiralsSpec } from '../test/helpers/spirals-spec.ts';
import { createLogger } from '../src/infra/logger.ts';
import { startClusterDashboard } from '../src/dashboard/index.ts';
import { DASHBOARD_THEME } from '../src/cli/dashboard.ts';
import { percentile } from './stats.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, epochs: { type: 'string', default: '40' }, clients: { type: 'string', default: '50' } } });
const rounds = Number(values.rounds);
const epochs = Number(values.epochs);
const clientCount = Number(values.clients);

const prefix = `bd${randomBytes(3).toString('hex')}`;
const config = writeTempConfig({ subjectPrefix: prefix, membership: { heartbeatMs: 1000, bucket: `${prefix}_nodes` } });
const node = new DaemonProcess(['node', 'start', '--nats', NATS_URL, '--name', 'bench-trainer', '--roles', 'trainer', '--config', config], { ESPER_LOG_LEVEL: 'warn' });
await node.waitForLog(() => true, 1).catch(() => undefined);
const nc = await connect({ servers: NATS_URL });
// Wait until the node answers.
for (;;) {
  try {
    await nc.request(`${prefix}.ctl.cluster.nodes`, new TextEncoder().encode(''), { timeout: 1000 });
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
const dashboard = await startClusterDashboard({ server: { port: 0 }, connection: { servers: NATS_URL }, prefix, nodesBucket: `${prefix}_nodes`, theme: DASHBOARD_THEME, logger: createLogger({ level: 'silent' }) });

/** An SSE reader that consumes (and parses) everything, as a browser would. */
function openClient(): AbortController {
  const controller = new AbortController();
  void fetch(`${dashboard.url}events`, { signal: controller.signal })
    .then(async (response) => {
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
          if (data !== undefined) JSON.parse(data);
          buffer = buffer.slice(end + 2);
        }
      }
    })
    .catch(() => undefined);
  return controller;
}

interface Phase {
  epochMs: number[];
  controlMs: number[];
}
const phases: Record<'none' | 'many', Phase> = { none: { epochMs: [], controlMs: [] }, many: { epochMs: [], controlMs: [] } };

async function runOnce(runId: string, phase: Phase): Promise<void> {
  const decoder = new TextDecoder();
  const sub = nc.subscribe(`${prefix}.evt.${runId}.tolaria.epoch.completed`, {
    callback: (_error, msg) => {
      const event = JSON.parse(decoder.decode(msg.data)) as { data: { epochMs: number } };
      phase.epochMs.push(event.data.epochMs);
    },
  });
  const reply = await nc.request(`${prefix}.ctl.run.start`, new TextEncoder().encode(JSON.stringify({ spec: quickSpiralsSpec(epochs), runId })), { timeout: 60_000 });
  if (!(JSON.parse(decoder.decode(reply.data)) as { ok: boolean }).ok) throw new Error(decoder.decode(reply.data));
  for (;;) {
    const started = performance.now();
    const status = await nc.request(`${prefix}.ctl.run.${runId}.status`, new TextEncoder().encode(''), { timeout: 10_000 });
    phase.controlMs.push(performance.now() - started);
    const state = (JSON.parse(decoder.decode(status.data)) as { data?: { state?: string } }).data?.state;
    if (state === 'completed' || state === 'failed' || state === 'stopped') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  sub.unsubscribe();
}

for (let round = 0; round < rounds; round++) {
  await runOnce(`a${round}`, phases.none);
  const clients = Array.from({ length: clientCount }, openClient);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const connected = dashboard.hub.stats.clients;
  await runOnce(`b${round}`, phases.many);
  for (const c of clients) c.abort();
  console.log(`round ${round + 1}/${rounds}: ${connected} SSE clients connected during the second run; ${dashboard.hub.stats.dropped} dropped so far`);
}

const row = (name: string, p: Phase): string =>
  `${name.padEnd(12)} epoch p50 ${percentile(p.epochMs, 50).toFixed(1)} ms  control p50 ${percentile(p.controlMs, 50).toFixed(2)} ms  p99 ${percentile(p.controlMs, 99).toFixed(2)} ms  (${p.epochMs.length} epochs, ${p.controlMs.length} requests)`;
console.log(row('0 clients', phases.none));
console.log(row(`${clientCount} clients`, phases.many));
console.log(
  `ratio ${clientCount}/0: epoch p50 ${(percentile(phases.many.epochMs, 50) / percentile(phases.none.epochMs, 50)).toFixed(3)}, control p50 ${(percentile(phases.many.controlMs, 50) / percentile(phases.none.controlMs, 50)).toFixed(3)}, control p99 ${(percentile(phases.many.controlMs, 99) / percentile(phases.none.controlMs, 99)).toFixed(3)}`,
);

await dashboard.close();
node.kill('SIGTERM');
await node.exited;
const jsm = await nc.jetstreamManager();
for (const stream of [`KV_${prefix}_nodes`, `KV_${prefix}_runs`, `${prefix}_events`, `OBJ_${prefix}_artifacts`, `${prefix}_jobs`]) await jsm.streams.delete(stream).catch(() => undefined);
await nc.close();
process.exit(0);
