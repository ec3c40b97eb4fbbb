/**
 * Oona, the message bus (DESIGN §1, §4): one `Bus` interface, NATS in a
 * cluster and in-process in embedded mode, plus the typed request/reply
 * helpers every control-plane endpoint uses.
 *
 * @example
 * const bus = await createBus({ natsUrl: process.env.NATS_URL });
 * serve(bus, 'esper.ctl.cluster.nodes', { schema: z.object({}) }, () => listNodes());
 * const nodes = await call(bus, 'esper.ctl.cluster.nodes', undefined);
 */
import type { ConnectionOptions } from 'nats';
import type { Bus } from './bus.ts';
import type { Clock } from '../../infra/clock.ts';
import type { BusInstrumentOptions } from './message.ts';
import { MemoryBus } from './memory-bus.ts';
import { NatsBus } from './nats-bus.ts';

export type {
  Bus,
  Consumer,
  ConsumerConfig,
  DeadLetter,
  Decoded,
  DurableHandler,
  DurableMessage,
  DurablePublishOptions,
  Headers,
  InboundMessage,
  KvEntry,
  KvOptions,
  KvStore,
  KvWatcher,
  MessageHandler,
  Payload,
  PublishAck,
  PublishOptions,
  RequestOptions,
  StreamConfig,
  SubscribeOptions,
  Subscription,
} from './bus.ts';
export { MemoryBus, type MemoryBusOptions } from './memory-bus.ts';
export { NatsBus, type NatsBusOptions } from './nats-bus.ts';
export { CLUSTER_REPLICAS, chooseReplicas, raiseReplicasOn, raiseStreamReplicas, type ReplicaChoice } from './nats-replicas.ts';
export { isTransientBusError } from './nats-errors.ts';
export { ensureStreamOnce, publishEnsured } from './ensured-publish.ts';
export { ELECTION_BACKOFF, noteTransientFailure, retryTransient, type RetryObserver, type RetryOptions } from './retry.ts';
export { NO_STREAM, isNoStream } from './message.ts';
export { encodePayload, type BusInstrumentOptions } from './message.ts';
export { call, decodeRequest, DEFAULT_MAX_REQUEST_BYTES, oversizedRequest, serve, type CallOptions, type DecodeRequestOptions, type ServeHandler, type ServeOptions } from './rpc.ts';
export { isValidPattern, isValidSubject, matchSubject } from './subject-match.ts';
export {
  JOB_MAX_DELIVER,
  JOB_RETRY_DELAY_MS,
  consumeJobs,
  ensureJobsStream,
  handleJob,
  jobsStreamConfig,
  jobsStreamName,
  publishJob,
  startJobService,
  type JobConsumerConfig,
  type JobFailureVerdict,
  type JobKind,
} from './job-service.ts';

/** What {@link createBus} needs. */
export interface BusConfig extends BusInstrumentOptions {
  /** NATS server URL(s), comma-separated; absent or empty → the in-process bus. */
  natsUrl?: string;
  /** Further nats.js connection options (authentication, TLS, reconnection), passed through. */
  connection?: ConnectionOptions;
  /** Subject prefix (dead-letter subjects). @default 'esper' */
  subjectPrefix?: string;
  /** Clock of the in-process bus (ignored by NATS). */
  clock?: Clock;
}

/** A NatsBus when a URL is given, else a MemoryBus. */
export async function createBus(config: BusConfig = {}): Promise<Bus> {
  const common = {
    ...(config.logger === undefined ? {} : { logger: config.logger }),
    ...(config.metrics === undefined ? {} : { metrics: config.metrics }),
    ...(config.subjectPrefix === undefined ? {} : { subjectPrefix: config.subjectPrefix }),
  };
  const url = config.natsUrl?.trim() ?? '';
  if (url === '') return new MemoryBus({ ...common, ...(config.clock === undefined ? {} : { clock: config.clock }) });
  const servers = url.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return NatsBus.connect({ ...config.connection, servers }, common);
}
