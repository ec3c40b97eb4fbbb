/**
 * `esper run --nats URL SPEC`: the same run on a cluster. The spec goes out
 * exactly as `nats req <prefix>.ctl.run.start '{"spec":{…}}'` would send it;
 * one trainer node takes it. Progress is followed on the run's record in the
 * runs bucket (it survives the hosting node: a run resumed elsewhere after a
 * crash is followed seamlessly), and the results come back from the artifact
 * store once the record says `completed`. Ctrl-C detaches: the run goes on in
 * the cluster (`esper ctl run status RUN`).
 */
import { connect, type NatsConnection } from 'nats';
import { ObjectStoreArtifactStore } from '../actors/urza/index.ts';
import { isTransientBusError, retryTransient } from '../actors/oona/index.ts';
import { createLogger } from '../infra/logger.ts';
import { NatsConnectionConfigSchema } from '../config/nats.ts';
import { formatZodIssues } from '../contracts/registry.ts';
import { ReplySchema } from '../contracts/reply.ts';
import { RunResultsSchema, type RunResults, type RunSpec } from '../contracts/run.ts';
import { subjects } from '../contracts/subjects.ts';
import { BusError, ConfigError, EsperError } from '../errors/index.ts';
import { toNatsConnectionOptions } from '../node/nats-options.ts';
import { RunRecordSchema, isTerminal, runsBucketName, type RunRecord } from '../node/run-registry.ts';
import type { CliOutput } from './output.ts';
import { connectionConfig } from './ctl.ts';

export interface RemoteRunOptions {
  url: string;
  prefix: string;
  runId: string;
  json: boolean;
  output: CliOutput;
  /** How often the run's record is read, ms. @default 500 */
  pollMs?: number;
  env?: NodeJS.ProcessEnv;
}

function connectionOptions(url: string, env: NodeJS.ProcessEnv): ReturnType<typeof toNatsConnectionOptions> {
  const parsed = NatsConnectionConfigSchema.safeParse(connectionConfig({ nats: url }, env, { name: 'esper-run', reconnectAttempts: -1 }));
  if (!parsed.success) throw new ConfigError('invalid NATS connection settings', formatZodIssues(parsed.error));
  return toNatsConnectionOptions(parsed.data);
}

function progressLine(record: RunRecord, json: boolean): string {
  if (json) {
    return JSON.stringify({ type: 'status', runId: record.runId, state: record.state, epoch: record.epoch, maxEpochs: record.maxEpochs, validationAccuracy: record.validationAccuracy, seedStages: record.seedStages, nodeId: record.owner?.nodeId ?? null, resumes: record.resumes });
  }
  const stages = Object.entries(record.seedStages ?? {})
    .map(([stage, n]) => `${stage}×${n}`)
    .join(' ');
  const accuracy = record.validationAccuracy === undefined ? '-' : `${(record.validationAccuracy * 100).toFixed(1)}%`;
  return `epoch ${String(record.epoch).padStart(3)}/${record.maxEpochs}  acc ${accuracy}  seeds ${stages || '-'}  ${record.state} on ${record.owner?.nodeId ?? '(no trainer)'}${record.resumes > 0 ? `  resumed ×${record.resumes}` : ''}`;
}

/** Starts `spec` on the cluster, follows it to the end and returns its results. */
export async function runOnCluster(spec: RunSpec, options: RemoteRunOptions): Promise<RunResults> {
  const { output, json } = options;
  let nc: NatsConnection;
  try {
    nc = await connect(connectionOptions(options.url, options.env ?? process.env));
  } catch (error) {
    if (error instanceof EsperError) throw error;
    throw new BusError('ESPER_BUS_UNAVAILABLE', `cannot connect to NATS at ${options.url}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const subject = subjects(options.prefix).runStart;
    let replyText: string;
    try {
      const reply = await nc.request(subject, new TextEncoder().encode(JSON.stringify({ spec, runId: options.runId })), { timeout: 30_000 });
      replyText = new TextDecoder().decode(reply.data);
    } catch (error) {
      if ((error as { code?: string }).code === '503') throw new BusError('ESPER_NO_RESPONDERS', `no trainer node answers ${subject} (start one: esper node start --nats ${options.url} --roles trainer)`);
      throw new BusError('ESPER_TIMEOUT', `no reply on ${subject}: ${(error as Error).message}`, { cause: error });
    }
    const reply = ReplySchema.safeParse(JSON.parse(replyText));
    if (!reply.success) throw new EsperError('ESPER_REMOTE_ERROR', `unexpected reply on ${subject}: ${replyText.slice(0, 200)}`);
    if (!reply.data.ok) throw EsperError.fromWire(reply.data.error);
    if (!json) output.out(`run ${options.runId} started on the cluster (Ctrl-C detaches; the run goes on: esper ctl run status ${options.runId})`);

    // Bound, not created: the trainer node creates the bucket (with the cluster's replicas) before it answers. Binding asks
    // JetStream for the stream's info: retried while a server is lost or a leader elected (no responders, timeouts).
    const kv = await retryTransient(
      () => boundedAttempt(() => nc.jetstream().views.kv(runsBucketName(options.prefix), { bindOnly: true }), 30_000, `bind the runs bucket of run ${options.runId}`),
      { what: `bind the runs bucket of run ${options.runId}`, logger: createLogger({ level: 'silent' }), budgetMs: 300_000 },
    );
    let last = '';
    let unreachableSince: number | undefined;
    for (;;) {
      let entry: Awaited<ReturnType<typeof kv.get>>;
      try {
        entry = await kv.get(options.runId);
        unreachableSince = undefined;
      } catch (error) {
        // A NATS server lost, JetStream electing a leader: the run goes on in the cluster; keep following it.
        if (!isTransientBusError(error)) throw error;
        if (unreachableSince === undefined) {
          unreachableSince = Date.now();
          if (!json) output.err(`run ${options.runId}: the runs bucket does not answer (${(error as Error).message}); retrying`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, (options.pollMs ?? 500) * 4)));
        continue;
      }
      const parsed = entry === null || entry.operation !== 'PUT' ? undefined : RunRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(entry.value)));
      if (parsed?.success === true) {
        const record = parsed.data;
        const line = progressLine(record, json);
        if (line !== last) output.out(line);
        last = line;
        if (isTerminal(record.state)) {
          if (record.state === 'failed') throw record.error === undefined ? new EsperError('ESPER_INTERNAL', `run ${record.runId} failed`) : EsperError.fromWire(record.error);
          if (record.state === 'stopped' || record.results === undefined) throw new EsperError('ESPER_CONFLICT', `run ${record.runId} was stopped before it completed`, { details: { epoch: record.epoch } });
          const results = record.results;
          // Read through a lost server too: each attempt bounded (a read can stall while its stream elects a leader), retried with backoff.
          const bytes = await retryTransient(
            () =>
              boundedAttempt(async () => {
                const artifacts = await ObjectStoreArtifactStore.open(nc, { bucket: `${options.prefix.replace(/\./g, '_')}_artifacts` });
                return artifacts.get(results.key, results.sha256);
              }, 30_000, `read the results of run ${record.runId}`),
            { what: `read the results of run ${record.runId}`, logger: createLogger({ level: 'silent' }), budgetMs: 300_000 },
          );
          return RunResultsSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** `work()`, or ESPER_TIMEOUT (retryable) when it takes longer than `timeoutMs`. */
async function boundedAttempt<T>(work: () => Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new BusError('ESPER_TIMEOUT', `${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
