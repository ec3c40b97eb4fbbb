/**
 * How many replicas the JetStream assets Esper creates get (DESIGN §6: "on a
 * NATS cluster every JetStream asset is replicated"), and raising an asset
 * that has fewer.
 *
 * The default is read from the server's INFO, which every client receives on
 * connect and which needs no system account: a server in a cluster names it
 * (`cluster`) and lists the client URLs of the cluster's servers
 * (`connect_urls`, itself included). Three or more servers with JetStream on
 * → 3 replicas, else 1. A cluster that hides its members (`no_advertise`), or
 * one whose servers do not all run JetStream, needs `nats.replicas` set.
 */
import type { JetStreamManager, NatsConnection, ServerInfo } from 'nats';
import { BusError } from '../../errors/index.ts';
import { mapNatsError } from './nats-errors.ts';

/** What {@link chooseReplicas} decided, and why (logged once by the node). */
export interface ReplicaChoice {
  replicas: number;
  /** `configured` (nats.replicas), or `cluster`/`single` (read from the server INFO). */
  source: 'configured' | 'cluster' | 'single';
  /** Servers the INFO lists (`connect_urls`, at least 1). */
  servers: number;
}

/** Replicas when the server reports a cluster of at least this many servers. */
export const CLUSTER_REPLICAS = 3;

/**
 * Pure: the replica count for assets created over a connection whose server
 * sent `info`; `configured` (nats.replicas) wins when given.
 */
export function chooseReplicas(info: Pick<ServerInfo, 'cluster' | 'connect_urls' | 'jetstream'> | undefined, configured?: number): ReplicaChoice {
  const servers = Math.max(1, new Set(info?.connect_urls ?? []).size);
  if (configured !== undefined) return { replicas: configured, source: 'configured', servers };
  const clustered = info?.jetstream === true && info.cluster !== undefined && info.cluster !== '' && servers >= CLUSTER_REPLICAS;
  return clustered ? { replicas: CLUSTER_REPLICAS, source: 'cluster', servers } : { replicas: 1, source: 'single', servers };
}

/**
 * Raises the stream `name` (a stream, or a KV bucket's `KV_<bucket>`, or an
 * object store's `OBJ_<store>`) to `wanted` replicas when it has fewer; never
 * lowers it. Returns the replicas it has now. A refused raise (too few
 * servers with JetStream, a server down) is ESPER_STREAM_ERROR saying how to
 * fix it by hand.
 */
export async function raiseStreamReplicas(jsm: JetStreamManager, name: string, wanted: number): Promise<number> {
  let have: number;
  try {
    have = (await jsm.streams.info(name)).config.num_replicas;
  } catch (error) {
    throw mapNatsError(error, { what: `stream info ${name}`, fallback: 'ESPER_STREAM_ERROR', details: { stream: name } });
  }
  if (have >= wanted) return have;
  try {
    await jsm.streams.update(name, { num_replicas: wanted });
    return wanted;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BusError(
      'ESPER_STREAM_ERROR',
      `stream ${name} has ${have} replica(s) and could not be raised to ${wanted} (${reason}); raise it by hand with \`nats stream edit ${name} --replicas ${wanted}\` once ${wanted} servers with JetStream are up, or set nats.replicas (ESPER_NATS_REPLICAS) to ${have}`,
      { cause: error, details: { stream: name, replicas: have, wanted } },
    );
  }
}

/** {@link raiseStreamReplicas} over a connection (for assets opened outside Oona, e.g. the artifact object store). */
export async function raiseReplicasOn(nc: NatsConnection, name: string, wanted: number): Promise<number> {
  let jsm: JetStreamManager;
  try {
    jsm = await nc.jetstreamManager();
  } catch (error) {
    throw mapNatsError(error, { what: 'JetStream', fallback: 'ESPER_STREAM_ERROR' });
  }
  return raiseStreamReplicas(jsm, name, wanted);
}
