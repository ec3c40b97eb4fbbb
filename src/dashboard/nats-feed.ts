/**
 * Follows a cluster over NATS, once for every browser: the membership and
 * runs KV buckets (watches), the events stream (a JetStream ordered
 * consumer, replaying the recent past first), telemetry and supervision
 * subjects (core subscriptions), and the kernel library (`ctl.urza.*`
 * requests, re-read when library events arrive and every half minute).
 * nats.js reconnects forever; while it is away the hub is told the view is
 * stale, and each follower that fails (a bucket or stream not created yet, a
 * consumer lost with the connection) starts again after a pause.
 */
import { connect, DeliverPolicy, Events, DebugEvents, type ConnectionOptions, type NatsConnection, type Subscription } from 'nats';
import { NodeStatusSchema } from '../contracts/control.ts';
import { EnvelopeSchema } from '../contracts/envelope.ts';
import { isMessageType, safeParseMessage } from '../contracts/registry.ts';
import { TelemetryPacketSchema, type OperatorAction } from '../contracts/nissa.ts';
import { createMessage } from '../contracts/registry.ts';
import { BlueprintQueryReplySchema, KernelQueryReplySchema } from '../contracts/urza.ts';
import { RunResultsSchema, type RunResults } from '../contracts/run.ts';
import { subjects, type SubjectBuilders } from '../contracts/subjects.ts';
import { eventsStreamName } from '../actors/nissa/index.ts';
import { jobsStreamName } from '../actors/oona/index.ts';
import { ObjectStoreArtifactStore } from '../actors/urza/index.ts';
import { RunRecordSchema, runsBucketName, type RunRecord } from '../node/run-registry.ts';
import type { Logger } from '../infra/logger.ts';
import type { SseHub } from './sse-hub.ts';
import type { ControlReply, Upstream } from './upstream.ts';
import type { LibraryView } from './view-types.ts';
import type { ViewState } from './view-state.ts';

/** Options of {@link NatsFeed}. */
export interface NatsFeedOptions {
  /** nats.js connection options (servers, authentication, TLS); reconnection is forced on, forever. */
  connection: ConnectionOptions;
  /** Subject prefix of the cluster. @default 'esper' */
  prefix?: string;
  /** Membership bucket (the nodes' `membership.bucket`). @default 'esper_nodes' */
  nodesBucket?: string;
  /** How far back the events stream is replayed at start, ms. @default 6 h */
  historyMs?: number;
  /** Library re-read interval, ms. @default 30000 */
  libraryRefreshMs?: number;
  /** Timeout of control and library requests, ms. @default 5000 */
  requestTimeoutMs?: number;
  /**
   * Pause before a failed follower starts again, ms. Short, because the usual
   * failure is a stream or bucket not created yet — the first run's first
   * epoch creates the events stream, and its points should not wait. @default 250
   */
  retryMs?: number;
  /** Renders a finished run's report.html from its results (injected by the CLI: report.html lives there). */
  renderReport?: (results: RunResults) => string;
  view: ViewState;
  hub: SseHub;
  logger: Logger;
}

/** Calls `stop` when `signal` aborts, until the returned function is called (no listener left behind by a follower that ends). */
function onAbort(signal: AbortSignal, stop: () => void): () => void {
  signal.addEventListener('abort', stop, { once: true });
  return () => signal.removeEventListener('abort', stop);
}

/** Default pause before a follower (or the first connection) is tried again, ms. */
const RETRY_MS = 250;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class NatsFeed implements Upstream {
  readonly #o: NatsFeedOptions;
  readonly #s: SubjectBuilders;
  readonly #abort = new AbortController();
  readonly #tasks: Promise<void>[] = [];
  readonly #reports = new Map<string, string>();
  #nc: NatsConnection | undefined;
  #lastEventSeq = 0;
  #subs: Subscription[] = [];
  #tick: NodeJS.Timeout | undefined;
  #libraryTimer: NodeJS.Timeout | undefined;
  #libraryPending: NodeJS.Timeout | undefined;

  constructor(options: NatsFeedOptions) {
    this.#o = options;
    this.#s = subjects(options.prefix ?? 'esper');
  }

  /** Returns at once; the connection (and every follower) comes up in the background, retried forever. */
  start(): Promise<void> {
    this.#o.hub.setStatus(true, 'connecting to NATS');
    this.#tasks.push(
      this.#run().catch((error: unknown) => {
        if (!this.#abort.signal.aborted) {
          this.#o.logger.error({ err: error }, 'dashboard: cannot connect to NATS');
          this.#o.hub.setStatus(true, `cannot connect to NATS: ${(error as Error).message}`);
        }
      }),
    );
    return Promise.resolve();
  }

  async #run(): Promise<void> {
    // The first connection is retried here (so stop() can end the wait); after it, nats.js reconnects forever.
    let nc: NatsConnection | undefined;
    while (nc === undefined) {
      try {
        nc = await connect({ ...this.#o.connection, name: this.#o.connection.name ?? 'esper-dashboard', reconnect: true, maxReconnectAttempts: -1, waitOnFirstConnect: false });
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#o.hub.setStatus(true, `cannot connect to NATS (${(error as Error).message}); retrying`);
        await delay(this.#o.retryMs ?? RETRY_MS, this.#abort.signal);
        if (this.#abort.signal.aborted) return;
      }
    }
    if (this.#abort.signal.aborted) {
      await nc.close();
      return;
    }
    this.#nc = nc;
    this.#o.hub.setStatus(false, `connected to ${nc.getServer()}`);
    // Not awaited on stop: nats.js ends the status iterator only with the connection's last status, after close.
    void this.#followStatus(nc);
    this.#tasks.push(this.#loop('membership', () => this.#watchNodes(nc)));
    this.#tasks.push(this.#loop('runs', () => this.#watchRuns(nc)));
    this.#tasks.push(this.#loop('events', () => this.#followEvents(nc)));
    this.#subs.push(nc.subscribe(`${this.#s.prefix}.tel.>`, { callback: (error, msg) => (error === null ? this.#telemetry(msg.subject, msg.data) : undefined) }));
    this.#subs.push(nc.subscribe(`${this.#s.prefix}.sys.>`, { callback: (error, msg) => (error === null ? this.#system(msg.data) : undefined) }));
    this.#tick = setInterval(() => this.#o.view.tick(), 250);
    this.#libraryTimer = setInterval(() => this.#refreshLibrary(), this.#o.libraryRefreshMs ?? 30_000);
    this.#refreshLibrary();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    for (const timer of [this.#tick, this.#libraryTimer]) if (timer !== undefined) clearInterval(timer);
    if (this.#libraryPending !== undefined) clearTimeout(this.#libraryPending);
    for (const sub of this.#subs) sub.unsubscribe();
    await this.#nc?.close().catch(() => undefined);
    await Promise.allSettled(this.#tasks);
  }

  async control(path: string, payload: unknown): Promise<ControlReply> {
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) return { ok: false, error: { code: 'ESPER_BUS_UNAVAILABLE', message: 'the dashboard is not connected to NATS', retryable: true } };
    const subject = `${this.#s.prefix}.ctl.${path}`;
    try {
      const reply = await nc.request(subject, encoder.encode(JSON.stringify(payload)), { timeout: this.#o.requestTimeoutMs ?? 5000 });
      return JSON.parse(decoder.decode(reply.data)) as ControlReply;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '503') return { ok: false, error: { code: 'ESPER_NO_RESPONDERS', message: `no node answers ${subject}`, retryable: true } };
      if (code === 'TIMEOUT') return { ok: false, error: { code: 'ESPER_TIMEOUT', message: `no reply on ${subject}`, retryable: true } };
      return { ok: false, error: { code: 'ESPER_BUS_UNAVAILABLE', message: `request on ${subject} failed: ${(error as Error).message}`, retryable: true } };
    }
  }

  async audit(action: OperatorAction): Promise<void> {
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) throw new Error('not connected to NATS');
    const envelope = createMessage('nissa.operator.action', { ...action, subject: `${this.#s.prefix}.ctl.${action.subject}` }, { source: 'dashboard', runId: action.runId });
    await nc.jetstream().publish(this.#s.event(action.runId, envelope.type), encoder.encode(JSON.stringify(envelope)), { msgID: envelope.id });
  }

  async report(runId: string): Promise<string | undefined> {
    const cached = this.#reports.get(runId);
    if (cached !== undefined) return cached;
    const nc = this.#nc;
    const render = this.#o.renderReport;
    if (nc === undefined || render === undefined) return undefined;
    try {
      const kv = await nc.jetstream().views.kv(runsBucketName(this.#s.prefix), { bindOnly: true });
      const entry = await kv.get(runId);
      const record = entry === null || entry.operation !== 'PUT' ? undefined : RunRecordSchema.safeParse(entry.json()).data;
      if (record?.results === undefined) return undefined;
      const store = await ObjectStoreArtifactStore.open(nc, { bucket: `${this.#s.prefix.replace(/\./g, '_')}_artifacts` });
      const results = RunResultsSchema.parse(JSON.parse(decoder.decode(await store.get(record.results.key, record.results.sha256))));
      const html = render(results);
      this.#reports.set(runId, html);
      if (this.#reports.size > 20) this.#reports.delete(this.#reports.keys().next().value as string);
      return html;
    } catch (error) {
      this.#o.logger.warn({ err: error, runId }, 'dashboard: report not readable');
      return undefined;
    }
  }

  /** Runs `follow` again after it ends or fails, until stopped. */
  async #loop(what: string, follow: () => Promise<void>): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        await follow();
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#o.logger.debug({ err: error, what }, 'dashboard: follower stopped; retrying');
      }
      await delay(this.#o.retryMs ?? RETRY_MS, this.#abort.signal);
    }
  }

  async #followStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect || status.type === DebugEvents.Reconnecting) this.#o.hub.setStatus(true, 'NATS connection lost; reconnecting');
      else if (status.type === Events.Reconnect) {
        this.#o.hub.setStatus(false, `connected to ${nc.getServer()}`);
        this.#refreshLibrary();
      }
    }
  }

  async #watchNodes(nc: NatsConnection): Promise<void> {
    const kv = await nc.jetstream().views.kv(this.#o.nodesBucket ?? 'esper_nodes', { bindOnly: true });
    const watch = await kv.watch({ key: '>' });
    const release = onAbort(this.#abort.signal, () => watch.stop());
    try {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') {
          this.#o.view.removeNode(entry.key);
          continue;
        }
        const parsed = NodeStatusSchema.safeParse(entry.json());
        if (parsed.success) this.#o.view.putNode(parsed.data);
      }
    } finally {
      release();
    }
  }

  async #watchRuns(nc: NatsConnection): Promise<void> {
    const kv = await nc.jetstream().views.kv(runsBucketName(this.#s.prefix), { bindOnly: true });
    const watch = await kv.watch({ key: '>' });
    const release = onAbort(this.#abort.signal, () => watch.stop());
    try {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') {
          this.#o.view.removeRun(entry.key);
          continue;
        }
        const parsed = RunRecordSchema.safeParse(entry.json());
        if (parsed.success) this.#putRun(parsed.data);
      }
    } finally {
      release();
    }
  }

  #putRun(record: RunRecord): void {
    this.#o.view.putRun({
      runId: record.runId,
      state: record.state,
      epoch: record.epoch,
      maxEpochs: record.maxEpochs,
      resumes: record.resumes,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      hasResults: record.results !== undefined && this.#o.renderReport !== undefined,
      ...(record.owner === null ? {} : { nodeId: record.owner.nodeId }),
      ...(record.validationAccuracy === undefined ? {} : { validationAccuracy: record.validationAccuracy }),
      ...(record.seedStages === undefined ? {} : { seedStages: record.seedStages }),
      ...(record.error === undefined ? {} : { error: { code: record.error.code, message: record.error.message } }),
    });
  }

  async #followEvents(nc: NatsConnection): Promise<void> {
    // First the recent past; after a restart, from the message after the last one seen (no event applied twice).
    const from =
      this.#lastEventSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#lastEventSeq + 1 }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(Date.now() - (this.#o.historyMs ?? 6 * 3_600_000)).toISOString() };
    const consumer = await nc.jetstream().consumers.get(eventsStreamName(this.#s.prefix), { filterSubjects: this.#s.eventsAll, ...from });
    const messages = await consumer.consume();
    const release = onAbort(this.#abort.signal, () => void messages.close());
    try {
      for await (const message of messages) {
        this.#lastEventSeq = message.seq;
        let raw: unknown;
        try {
          raw = message.json();
        } catch {
          continue;
        }
        this.#event(raw, message.seq);
      }
    } finally {
      release();
    }
  }

  #event(raw: unknown, seq?: number): void {
    const parsed = safeParseMessage(raw);
    if (parsed.ok) {
      this.#o.view.applyEvent(parsed.message, seq);
      const ns = parsed.message.type.split('.')[0];
      if (ns === 'karn' || ns === 'tezzeret' || ns === 'urabrask') this.#scheduleLibrary();
      return;
    }
    const envelope = EnvelopeSchema.safeParse(raw);
    if (envelope.success && !isMessageType(envelope.data.type)) this.#o.view.applyOtherEvent(envelope.data, seq);
  }

  #system(data: Uint8Array): void {
    try {
      this.#event(JSON.parse(decoder.decode(data)));
    } catch {
      // not JSON: not ours to show
    }
  }

  #telemetry(subject: string, data: Uint8Array): void {
    try {
      const raw = JSON.parse(decoder.decode(data)) as unknown;
      const body = typeof raw === 'object' && raw !== null && 'data' in raw && 'type' in raw ? (raw as { data: unknown }).data : raw;
      const packet = TelemetryPacketSchema.safeParse(body);
      if (packet.success) this.#o.view.applyTelemetry(packet.data.runId, packet.data.kind, packet.data.metrics, packet.data.ts);
    } catch {
      this.#o.logger.debug({ subject }, 'dashboard: telemetry not JSON; ignored');
    }
  }

  #scheduleLibrary(): void {
    if (this.#libraryPending !== undefined) return;
    this.#libraryPending = setTimeout(() => {
      this.#libraryPending = undefined;
      this.#refreshLibrary();
    }, 500);
  }

  #refreshLibrary(): void {
    void this.#readLibrary().then(
      (library) => this.#o.view.setLibrary(library),
      (error: unknown) => this.#o.logger.debug({ err: error }, 'dashboard: library read failed'),
    );
  }

  async #readLibrary(): Promise<LibraryView> {
    const library: LibraryView = { at: new Date().toISOString(), blueprints: null, kernels: null, queues: { compile: null, validate: null } };
    const errors: string[] = [];
    const blueprints = await this.control('urza.blueprints', { limit: 200 });
    const parsedBlueprints = blueprints.ok ? BlueprintQueryReplySchema.safeParse(blueprints.data) : undefined;
    if (parsedBlueprints?.success === true) {
      library.blueprints = parsedBlueprints.data.blueprints.map((b) => ({ blueprintId: b.blueprintId, name: b.name, status: b.status, tags: [...b.tags] }));
    } else errors.push(blueprints.ok ? 'blueprints: unexpected reply' : `blueprints: ${blueprints.error.code} ${blueprints.error.message}`);
    const kernels = await this.control('urza.kernels', { limit: 500 });
    const parsedKernels = kernels.ok ? KernelQueryReplySchema.safeParse(kernels.data) : undefined;
    if (parsedKernels?.success === true) {
      library.kernels = parsedKernels.data.kernels.map((k) => ({
        kernelId: k.kernelId,
        blueprintId: k.blueprintId,
        status: k.status,
        paramCount: k.paramCount,
        ...(k.validation === undefined ? {} : { riskScore: k.validation.riskScore, latencyP50Ms: k.validation.latencyP50Ms, validatedAt: k.validation.validatedAt }),
      }));
    } else errors.push(kernels.ok ? 'kernels: unexpected reply' : `kernels: ${kernels.error.code} ${kernels.error.message}`);
    try {
      const nc = this.#nc;
      if (nc !== undefined) {
        const jsm = await nc.jetstreamManager();
        const info = await jsm.streams.info(jobsStreamName(this.#s.prefix), { subjects_filter: '>' });
        const counts = info.state.subjects ?? {};
        library.queues = { compile: counts[this.#s.jobCompile] ?? 0, validate: counts[this.#s.jobValidate] ?? 0 };
      }
    } catch {
      errors.push('queues: no jobs stream');
    }
    if (errors.length > 0) library.error = errors.join('; ');
    return library;
  }
}
