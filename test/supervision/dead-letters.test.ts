import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { EsperError } from '../../src/errors/index.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { Metrics } from '../../src/infra/metrics.ts';
import { startSupervisor, type Supervisor } from '../../src/supervision/index.ts';
import { Journal, probe, tree, worker, type ProbeMsg } from './support.ts';
import { rejectsWith } from '../helpers/rejects-with.ts';

function logSink(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, stream };
}

async function deadLetterCount(metrics: Metrics, subsystem: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('esper_dead_letters_total')?.get();
  return metric?.values.find((v) => v.labels['subsystem'] === subsystem)?.value ?? 0;
}

describe('dead letters', () => {
  let root: Supervisor | undefined;
  afterEach(async () => {
    await root?.stop();
    root = undefined;
  });

  it('counts and logs messages to a stopped actor; a query to it rejects at once with ESPER_ACTOR_STOPPED', async () => {
    const metrics = new Metrics();
    const sink = logSink();
    const logger = createLogger({ level: 'warn', destination: sink.stream });
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', new Journal()), { subsystem: 'kasmina' })]), { metrics, logger });
    const ref = root.ref<ProbeMsg>('w')!;
    await root.stopChild('w');
    expect(ref.alive).to.equal(false);
    ref.dispatch({ type: 'inc' });
    const started = performance.now();
    await rejectsWith(ref.query({ type: 'get' }, 5000), 'ESPER_ACTOR_STOPPED');
    expect(performance.now() - started).to.be.below(50);
    expect(await deadLetterCount(metrics, 'kasmina')).to.equal(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.lines.filter((l) => l['msg'] === 'dead letter: message to a stopped actor' && l['actor'] === 'root/w')).to.have.length(2);
  });

  it('dead-letters what was still queued when the actor stopped (never silently lost)', async () => {
    const metrics = new Metrics();
    root = await startSupervisor(tree('root', 'one_for_one', [worker('w', probe('w', new Journal()))]), { metrics });
    const ref = root.ref<ProbeMsg>('w')!;
    ref.dispatch({ type: 'slow', ms: 30 });
    for (let i = 0; i < 4; i++) ref.dispatch({ type: 'inc' });
    const queuedQuery = ref.query({ type: 'get' }, 5000).then(
      () => 'answered',
      (e: EsperError) => e.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 5)); // the slow one is now in flight
    await root.stopChild('w');
    expect(await queuedQuery).to.equal('ESPER_ACTOR_STOPPED');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await deadLetterCount(metrics, 'test')).to.equal(5);
  });
});
