/**
 * The blueprint → kernel pipeline as supervised subsystem actors of a node:
 * Tezzeret (compile jobs), Urabrask (validation jobs) and Karn (catalog,
 * mutations, submissions). Compile and validate work runs in one worker pool
 * per node, shared by Tezzeret and Urabrask, never on the event loop.
 * Karn's compile-job submissions go through a circuit breaker: when the bus
 * cannot take them, they are deferred and retried, and nothing waits.
 */
import { createEnvelope } from '../../contracts/envelope.ts';
import type { SlotInterface } from '../../contracts/common.ts';
import type { SubjectBuilders } from '../../contracts/subjects.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { createBreaker, type Behaviour, type WorkerSpec } from '../../supervision/index.ts';
import type { Bus, Consumer } from '../oona/index.ts';
import type { ArtifactStore } from '../urza/index.ts';
import type { UrzaLibrary } from '../urza/index.ts';
import { karnWorkerSpec } from '../karn/index.ts';
import { urzaBlueprintLibrary } from '../karn/index.ts';
import { startCompileService } from '../tezzeret/index.ts';
import { compileJobFor, submitCompileJob } from '../tezzeret/index.ts';
import { KernelWorkerPool, type PoolIsolation } from './worker-pool.ts';
import { startValidateService } from '../urabrask/index.ts';

export interface PipelineContext {
  bus: Bus;
  subjects: SubjectBuilders;
  library: () => Promise<UrzaLibrary>;
  artifacts: () => Promise<ArtifactStore>;
  logger: Logger;
  metrics: Metrics;
  /** Slot interfaces whose catalog Karn registers (and compiles) at start. */
  karnInterfaces: readonly SlotInterface[];
  /** Workers of the compile/validate pool. @default 1 */
  poolSize?: number;
  /** Child processes or worker threads (see worker-pool.ts). @default 'process' */
  poolIsolation?: PoolIsolation;
  /** Nice value of the pool's workers. @default 19 */
  poolNice?: number;
  /** Ack wait of the compile and validate consumers, ms. */
  jobAckWaitMs?: number;
}

type ServiceState = { consumer: Consumer; jobs: number };
type ServiceMessage = { type: 'status' };

/** One pool per node, created on first use and closed when its last user stops. */
function sharedPool(context: PipelineContext): { acquire(): KernelWorkerPool; release(): Promise<void> } {
  let pool: KernelWorkerPool | undefined;
  let users = 0;
  return {
    acquire: () => {
      users++;
      pool ??= new KernelWorkerPool({
        size: context.poolSize ?? 1,
        ...(context.poolIsolation === undefined ? {} : { isolation: context.poolIsolation }),
        ...(context.poolNice === undefined ? {} : { nice: context.poolNice }),
        logger: context.logger.child({ subsystem: 'pipeline' }),
      });
      return pool;
    },
    release: async () => {
      users--;
      if (users === 0 && pool !== undefined) {
        const closing = pool;
        pool = undefined;
        await closing.close();
      }
    },
  };
}

function serviceSpec(id: 'tezzeret' | 'urabrask', start: () => Promise<Consumer>, release: () => Promise<void>): WorkerSpec {
  const behaviour: Behaviour<ServiceState, ServiceMessage> = {
    init: async () => ({ consumer: await start(), jobs: 0 }),
    handle: (state, _message, ctx) => {
      ctx.reply({ subsystem: id, implemented: true });
      return state;
    },
    terminate: async (state) => {
      await state.consumer.stop();
      await release();
    },
  };
  return { id, restart: 'permanent', shutdownTimeoutMs: 15_000, subsystem: id, behaviour: behaviour };
}

/** Worker specs for the pipeline subsystems, by name (for Weatherlight). */
export function pipelineImplementations(context: PipelineContext): Record<string, () => WorkerSpec> {
  const pool = sharedPool(context);
  const ackWait = context.jobAckWaitMs === undefined ? {} : { ackWaitMs: context.jobAckWaitMs };
  const { bus, subjects: s, logger } = context;
  const common = async (): Promise<{ library: UrzaLibrary; artifacts: ArtifactStore }> => ({ library: await context.library(), artifacts: await context.artifacts() });

  const submitBreaker = createBreaker('compile-submission', (blueprintId: string, irHash: string) => submitCompileJob(bus, s, compileJobFor(blueprintId, irHash, 'fast', 'karn')), {
    timeoutMs: 5000,
    failureThreshold: 5,
    resetTimeoutMs: 60_000,
    metrics: context.metrics,
    logger,
    emit: (event) => bus.publish(s.system('supervision.breaker.state'), createEnvelope({ type: 'supervision.breaker.state', data: event, source: 'karn' })),
  });
  const deferred = new Map<string, string>();
  const submit = (blueprintId: string, irHash: string): void => {
    submitBreaker.call(blueprintId, irHash).then(
      () => deferred.delete(blueprintId),
      (error: unknown) => {
        // Deferred, never lost: retried on the next submission or timer.
        deferred.set(blueprintId, irHash);
        logger.warn({ err: error, blueprintId }, 'compile job submission deferred');
      },
    );
  };
  const retryTimer = setInterval(() => {
    for (const [blueprintId, irHash] of deferred) submit(blueprintId, irHash);
  }, 10_000);
  retryTimer.unref();

  return {
    tezzeret: () =>
      serviceSpec(
        'tezzeret',
        async () => startCompileService({ bus, subjects: s, ...(await common()), pool: pool.acquire(), logger: logger.child({ subsystem: 'tezzeret' }), ...ackWait }),
        () => pool.release(),
      ),
    urabrask: () =>
      serviceSpec(
        'urabrask',
        async () => startValidateService({ bus, subjects: s, ...(await common()), pool: pool.acquire(), logger: logger.child({ subsystem: 'urabrask' }), ...ackWait }),
        () => pool.release(),
      ),
    karn: () =>
      karnWorkerSpec({
        library: urzaBlueprintLibrary(context.library),
        interfaces: context.karnInterfaces,
        publish: (envelope) => {
          bus.publish(s.system(envelope.type), envelope);
          submit(envelope.data.blueprintId, envelope.data.irHash);
        },
      }),
  };
}
