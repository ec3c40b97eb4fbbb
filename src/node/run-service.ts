/**
 * Runs hosted by a trainer node (DESIGN §4): `<prefix>.ctl.run.start` (one
 * trainer node takes each request, queue group) starts `esper run`'s loop in
 * this process — its tensors in a worker thread — and the node then answers
 * `<prefix>.ctl.run.<runId>.<verb>` for it: status, pause, resume, stop.
 * Pause and stop take effect at the next epoch boundary. Checkpoint and
 * rollback on demand, and resuming a run on another node after a crash, are
 * not available yet (ESPER_UNAVAILABLE).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Bus, Subscription } from '../actors/oona/bus.ts';
import { serve } from '../actors/oona/rpc.ts';
import { runTraining } from '../actors/tolaria/run-loop.ts';
import { RunSpecSchema, type RunResults } from '../contracts/run.ts';
import { RUN_CONTROL_REQUESTS } from '../contracts/control.ts';
import type { RunStatus } from '../contracts/tolaria.ts';
import { subjects } from '../contracts/subjects.ts';
import { InputError, toEsperError } from '../errors/index.ts';
import type { Logger } from '../infra/logger.ts';
import { serviceName } from './control-plane.ts';

/** Body of `<prefix>.ctl.run.start`. */
export const RunStartRequestSchema = z
  .object({
    /** A run spec (examples/spirals.json). */
    spec: z.unknown(),
    /** Run id to use. @default `run-<hex>` */
    runId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  })
  .strict();

class StopRequested extends Error {}

interface HostedRun {
  status: RunStatus;
  paused: boolean;
  stopRequested: boolean;
  resume: (() => void) | undefined;
  subscription: Subscription;
  finished: Promise<RunResults | undefined>;
}

export class RunService {
  readonly #bus: Bus;
  readonly #prefix: string;
  readonly #nodeId: string;
  readonly #logger: Logger;
  readonly #runs = new Map<string, HostedRun>();
  #startSubscription: Subscription | undefined;
  #accepting = true;

  readonly #maxBytes: number;

  constructor(options: { bus: Bus; prefix: string; nodeId: string; logger: Logger; maxPayloadBytes: number }) {
    this.#maxBytes = options.maxPayloadBytes;
    this.#bus = options.bus;
    this.#prefix = options.prefix;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger.child({ component: 'runs' });
  }

  /** Starts answering `run.start` (queue group of the trainer nodes). */
  listen(): void {
    this.#startSubscription = serve(
      this.#bus,
      subjects(this.#prefix).runStart,
      { schema: RunStartRequestSchema, queue: `${serviceName(this.#prefix)}-trainers`, maxBytes: this.#maxBytes, logger: this.#logger },
      (request) => this.start(request.spec, request.runId),
    );
  }

  /** Ids of the runs hosted here (membership advertises them). */
  runIds(): string[] {
    return [...this.#runs.keys()];
  }

  statuses(): RunStatus[] {
    return [...this.#runs.values()].map((run) => run.status);
  }

  /** Validates the spec and starts the run; resolves with its first status. */
  start(specInput: unknown, requestedId?: string): RunStatus {
    if (!this.#accepting) throw new InputError('ESPER_UNAVAILABLE', `node ${this.#nodeId} is draining and takes no new runs`);
    const parsed = RunSpecSchema.safeParse(specInput);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new InputError('ESPER_SCHEMA_VIOLATION', `invalid run spec: ${issues.join('; ')}`, { details: { issues } });
    }
    const runId = requestedId ?? `run-${randomBytes(6).toString('hex')}`;
    if (this.#runs.has(runId)) throw new InputError('ESPER_SCHEMA_VIOLATION', `run ${runId} already exists on this node`);
    const now = new Date().toISOString();
    const run: HostedRun = {
      status: { runId, state: 'running', epoch: 0, maxEpochs: parsed.data.epochs, nodeId: this.#nodeId, startedAt: now, updatedAt: now },
      paused: false,
      stopRequested: false,
      resume: undefined,
      subscription: this.#serveRun(runId),
      finished: Promise.resolve(undefined),
    };
    this.#runs.set(runId, run);
    run.finished = runTraining(parsed.data, {
      runId,
      logger: this.#logger.child({ runId }),
      onEpoch: async (summary) => {
        const seedStages: Record<string, number> = {};
        for (const seed of summary.seeds) seedStages[seed.stage] = (seedStages[seed.stage] ?? 0) + 1;
        run.status = { ...run.status, epoch: summary.epoch, validationAccuracy: summary.validationAccuracy, seedStages, updatedAt: new Date().toISOString() };
        if (run.stopRequested) throw new StopRequested();
        if (run.paused) {
          run.status = { ...run.status, state: 'paused' };
          await new Promise<void>((resolve) => {
            run.resume = resolve;
          });
          if (run.stopRequested) throw new StopRequested();
          run.status = { ...run.status, state: 'running' };
        }
      },
    }).then(
      (results) => {
        run.status = { ...run.status, state: 'completed', validationAccuracy: results.finalAccuracy, updatedAt: new Date().toISOString() };
        this.#logger.info({ runId, finalAccuracy: results.finalAccuracy }, 'run completed');
        return results;
      },
      (error: unknown) => {
        if (error instanceof StopRequested || run.stopRequested) {
          run.status = { ...run.status, state: 'stopped', updatedAt: new Date().toISOString() };
          this.#logger.info({ runId }, 'run stopped');
        } else {
          run.status = { ...run.status, state: 'failed', error: toEsperError(error).toWire(), updatedAt: new Date().toISOString() };
          this.#logger.error({ err: error, runId }, 'run failed');
        }
        return undefined;
      },
    );
    this.#logger.info({ runId, epochs: parsed.data.epochs }, 'run started');
    return run.status;
  }

  #serveRun(runId: string): Subscription {
    const verbs = RUN_CONTROL_REQUESTS;
    return this.#bus.subscribe(`${this.#prefix}.ctl.run.${runId}.*`, (message) => {
      const verb = message.subject.slice(message.subject.lastIndexOf('.') + 1);
      const reply = (() => {
        try {
          if (message.data.byteLength > this.#maxBytes) throw new InputError('ESPER_PAYLOAD_TOO_LARGE', `payload of ${message.data.byteLength} bytes exceeds ${this.#maxBytes}`);
          const schema = (verbs as Record<string, z.ZodType | undefined>)[verb];
          if (schema === undefined) throw new InputError('ESPER_UNKNOWN_VERB', `unknown run verb ${JSON.stringify(verb)}`);
          const text = message.text().trim();
          const parsed = schema.safeParse(text === '' ? {} : (JSON.parse(text) as unknown));
          if (!parsed.success) throw new InputError('ESPER_SCHEMA_VIOLATION', `invalid request for run.${verb}`, { details: { issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) } });
          return { ok: true as const, data: this.#verb(runId, verb) };
        } catch (error) {
          const esper = error instanceof SyntaxError ? new InputError('ESPER_INVALID_JSON', `payload is not JSON: ${error.message}`) : toEsperError(error);
          return { ok: false as const, error: esper.toWire() };
        }
      })();
      message.respond(reply);
    });
  }

  #verb(runId: string, verb: string): RunStatus {
    const run = this.#runs.get(runId);
    if (run === undefined) throw new InputError('ESPER_NOT_FOUND', `no run ${runId} on this node`);
    const terminal = ['completed', 'failed', 'stopped'].includes(run.status.state);
    switch (verb) {
      case 'status':
        return run.status;
      case 'pause':
        if (!terminal) run.paused = true;
        return run.status;
      case 'resume':
        run.paused = false;
        run.resume?.();
        run.resume = undefined;
        return run.status;
      case 'stop':
        if (!terminal) {
          run.stopRequested = true;
          run.status = { ...run.status, state: 'stopping' };
          run.resume?.();
        }
        return run.status;
      default:
        throw new InputError('ESPER_UNAVAILABLE', `run.${verb} on a live run is not available in this version`, { details: { verb } });
    }
  }

  /** Stops taking runs, asks every run to stop at its next epoch boundary, and waits for them. */
  async drain(): Promise<void> {
    this.#accepting = false;
    this.#startSubscription?.unsubscribe();
    for (const [runId] of this.#runs) {
      const run = this.#runs.get(runId);
      if (run !== undefined && !['completed', 'failed', 'stopped'].includes(run.status.state)) this.#verb(runId, 'stop');
    }
    await Promise.all([...this.#runs.values()].map((run) => run.finished));
    for (const run of this.#runs.values()) run.subscription.unsubscribe();
  }
}
