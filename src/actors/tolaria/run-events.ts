/**
 * A run's event sink (the audit trail): every event goes through `emit`,
 * which builds it only when someone listens and never lets a failing sink
 * stop training (it is logged and the event dropped from this sink; the
 * cluster's durable path is the boundary's own outbox, run-service.ts).
 */
import type { Envelope } from '../../contracts/envelope.ts';
import { createMessage } from '../../contracts/registry.ts';
import type { EpochResult } from '../../contracts/run.ts';
import type { Logger } from '../../infra/logger.ts';

/** Source stamped on the run loop's events. */
export const RUN_LOOP_SOURCE = 'local/tolaria';

export class RunEvents {
  readonly #runId: string;
  readonly #sink: ((envelope: Envelope) => void) | undefined;
  readonly #log: Logger | undefined;

  constructor(runId: string, sink: ((envelope: Envelope) => void) | undefined, log: Logger | undefined) {
    this.#runId = runId;
    this.#sink = sink;
    this.#log = log;
  }

  /** Builds and sends one event; undefined when nobody listens or it failed (logged). */
  emit(make: () => Envelope): Envelope | undefined {
    if (this.#sink === undefined) return undefined;
    try {
      const envelope = make();
      this.#sink(envelope);
      return envelope;
    } catch (error) {
      this.#log?.warn({ runId: this.#runId, err: error }, 'run event not emitted');
      return undefined;
    }
  }

  /** `tolaria.epoch.completed` for one epoch's result. */
  epochCompleted(result: EpochResult, globalStep: number, paramCount: number, metrics: Record<string, number>): void {
    const runId = this.#runId;
    this.emit(() =>
      createMessage(
        'tolaria.epoch.completed',
        {
          runId,
          epoch: result.epoch,
          globalStep,
          trainingLoss: result.trainLoss,
          validationLoss: result.validationLoss,
          validationAccuracy: result.validationAccuracy,
          epochMs: result.durationMs,
          paramCount,
          metrics,
        },
        { source: RUN_LOOP_SOURCE, runId },
      ),
    );
  }
}
