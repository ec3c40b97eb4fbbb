/**
 * Resolves GERMINATE requests against Urza over the bus
 * (`<prefix>.ctl.urza.kernels`), behind a circuit breaker: when the library is
 * slow or down, the breaker opens and germination gets "no kernel available"
 * at once — training never waits on it.
 */
import type { Bus } from '../oona/index.ts';
import { call } from '../oona/index.ts';
import { subjects } from '../../contracts/subjects.ts';
import { KernelQueryReplySchema } from '../../contracts/urza.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { createBreaker, type Breaker } from '../../supervision/index.ts';
import type { KernelCandidate } from './gates.ts';
import type { KernelRequest, KernelResolver } from './seed.actor.ts';

export interface UrzaKernelResolverOptions {
  /** Request timeout, ms. @default 2000 */
  timeoutMs?: number;
  /** Consecutive failures that open the breaker. @default 3 */
  failureThreshold?: number;
  /** Open time before a trial request, ms. @default 30000 */
  resetTimeoutMs?: number;
  /** Only kernels at most this risky. @default 0.3 */
  maxRisk?: number;
  metrics?: Metrics;
  logger?: Logger;
}

export interface UrzaKernelResolver extends KernelResolver {
  readonly breaker: Breaker<[KernelRequest], KernelCandidate | null>;
}

export function urzaKernelResolver(bus: Bus, prefix: string, options: UrzaKernelResolverOptions = {}): UrzaKernelResolver {
  const subject = subjects(prefix).urzaKernels;
  const timeoutMs = options.timeoutMs ?? 2000;
  const lookup = async (request: KernelRequest): Promise<KernelCandidate | null> => {
    const reply = await call(
      bus,
      subject,
      {
        interface: request.slotInterface,
        status: 'VALIDATED',
        maxRisk: options.maxRisk ?? 0.3,
        limit: 1,
        ...(request.kernelId === undefined ? {} : { kernelId: request.kernelId }),
        ...(request.blueprintId === undefined ? {} : { blueprintId: request.blueprintId }),
      },
      { schema: KernelQueryReplySchema, timeoutMs },
    );
    const kernel = reply.kernels[0];
    if (kernel === undefined) return null;
    return { kernelId: kernel.kernelId, blueprintId: kernel.blueprintId, status: kernel.status, interface: kernel.interface, paramCount: kernel.paramCount };
  };
  const breaker = createBreaker('urza-kernels', lookup, {
    timeoutMs: timeoutMs + 500,
    failureThreshold: options.failureThreshold ?? 3,
    resetTimeoutMs: options.resetTimeoutMs ?? 30_000,
    // "No kernel available": the germination fails its gate (G0) and training goes on.
    fallback: () => null,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return { breaker, resolve: (request) => breaker.call(request) };
}
