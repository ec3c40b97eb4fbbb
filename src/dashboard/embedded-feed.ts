/**
 * Feeds the dashboard from a run in this process (`esper run --dashboard`):
 * the run loop's event callback hands each event over as it is emitted, and
 * the CLI says when the run started and ended. No bus is involved, so there
 * is nothing to steer: the page is read-only, and the one "node" shown is
 * this process.
 */
import { readFile } from 'node:fs/promises';
import { NODE_ROLES } from '../contracts/control.ts';
import type { Envelope } from '../contracts/envelope.ts';
import { isMessageType, safeParseMessage } from '../contracts/registry.ts';
import type { RunState } from '../contracts/tolaria.ts';
import type { SseHub } from './sse-hub.ts';
import type { Upstream } from './upstream.ts';
import type { ViewState } from './view-state.ts';

export interface EmbeddedFeedOptions {
  view: ViewState;
  hub: SseHub;
  runId: string;
  maxEpochs: number;
  /** Where the run's report.html will be written. */
  reportFile?: string;
  /** Esper version shown on the node. */
  version: string;
}

export class EmbeddedFeed implements Upstream {
  readonly #o: EmbeddedFeedOptions;
  readonly #startedAt = new Date().toISOString();
  readonly #incarnationId = `local-${process.pid}`;
  #timer: NodeJS.Timeout | undefined;
  #state: RunState = 'running';
  #seq = 0;

  constructor(options: EmbeddedFeedOptions) {
    this.#o = options;
  }

  start(): Promise<void> {
    this.#o.hub.setStatus(false, 'embedded run (this process)');
    this.#o.view.putRun({ runId: this.#o.runId, state: 'running', epoch: 0, maxEpochs: this.#o.maxEpochs, nodeId: 'local', createdAt: this.#startedAt, updatedAt: this.#startedAt });
    this.#beat();
    this.#timer = setInterval(() => this.#beat(), 1000);
    this.#timer.unref();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    return Promise.resolve();
  }

  /** The run loop's event callback: every event the run emits, as it emits it. */
  readonly event = (envelope: Envelope): void => {
    this.#seq++;
    const parsed = safeParseMessage(envelope);
    if (parsed.ok) this.#o.view.applyEvent(parsed.message, this.#seq);
    else if (!isMessageType(envelope.type)) this.#o.view.applyOtherEvent(envelope, this.#seq);
  };

  /** The run ended (`completed`, `failed` or `stopped`); `hasReport` once report.html is written. */
  finished(state: RunState, hasReport: boolean): void {
    this.#state = state;
    const run = this.#o.view.run(this.#o.runId);
    this.#o.view.putRun({ runId: this.#o.runId, state, epoch: run?.epoch ?? 0, maxEpochs: this.#o.maxEpochs, nodeId: 'local', updatedAt: new Date().toISOString(), hasResults: hasReport });
  }

  async report(runId: string): Promise<string | undefined> {
    if (runId !== this.#o.runId || this.#o.reportFile === undefined || this.#state === 'running') return undefined;
    return readFile(this.#o.reportFile, 'utf8').catch(() => undefined);
  }

  #beat(): void {
    const memory = process.memoryUsage();
    const now = new Date();
    this.#o.view.putNode({
      nodeId: 'local',
      name: 'local',
      incarnationId: this.#incarnationId,
      roles: [...NODE_ROLES],
      version: this.#o.version,
      startedAt: this.#startedAt,
      uptimeMs: Math.round(process.uptime() * 1000),
      load: { eventLoopLagMs: 0, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      runs: this.#state === 'running' ? [this.#o.runId] : [],
      status: 'ready',
      lastHeartbeatAt: now.toISOString(),
      heartbeatMs: 1000,
      bus: 'memory',
    });
  }
}
