/**
 * KV buckets over JetStream (`js.views.kv`). The TTL is the bucket's max age,
 * so an entry expires `ttlMs` after its last put (servers before 2.11 have no
 * per-message TTL). Deleted keys read as null, as on the memory bus.
 */
import { KvWatchInclude, type KV, type NatsConnection } from 'nats';
import type { KvEntry, KvOptions, KvStore, KvWatcher, Payload } from './bus.ts';
import { encodePayload, kvEntry, type BusInstruments } from './message.ts';
import { mapNatsError } from './nats-errors.ts';
import { raiseReplicasOn } from './nats-replicas.ts';
import { noteTransientFailure, type RetryObserver } from './retry.ts';
import { EsperError } from '../../errors/index.ts';


/**
 * Opens (creating when missing, with `replicas`) a bucket; an existing bucket
 * with fewer replicas is raised (its stream is `KV_<bucket>`).
 */
export async function openNatsKv(
  nc: NatsConnection,
  bucket: string,
  options: KvOptions,
  instruments: BusInstruments,
  replicas = 1,
  observer: () => RetryObserver | undefined = () => undefined,
): Promise<KvStore> {
  try {
    const kv = await nc.jetstream().views.kv(bucket, { ttl: options.ttlMs ?? 0, history: options.history ?? 1, replicas });
    // An existing bucket keeps its config on open: raise it (one info more, only where replicas are wanted).
    if (replicas > 1 && (await kv.status()).replicas < replicas) await raiseReplicasOn(nc, `KV_${bucket}`, replicas);
    return new NatsKvStore(bucket, kv, instruments, observer);
  } catch (error) {
    throw mapNatsError(error, { what: `open bucket ${bucket}`, fallback: 'ESPER_STREAM_ERROR', details: { bucket } });
  }
}

class NatsKvStore implements KvStore {
  readonly bucket: string;
  readonly #kv: KV;
  readonly #instruments: BusInstruments;
  readonly #watchers = new Set<KvWatcher>();
  /** The node's NATS health, told of transient failures. */
  readonly #observer: () => RetryObserver | undefined;

  constructor(bucket: string, kv: KV, instruments: BusInstruments, observer: () => RetryObserver | undefined) {
    this.bucket = bucket;
    this.#kv = kv;
    this.#instruments = instruments;
    this.#observer = observer;
  }

  #fail(what: string, error: unknown): Error {
    const mapped = mapNatsError(error, { what: `${what} in bucket ${this.bucket}`, fallback: 'ESPER_STREAM_ERROR', details: { bucket: this.bucket } });
    noteTransientFailure(this.#observer(), `bucket ${this.bucket}`, mapped);
    return mapped;
  }

  async put(key: string, value: Payload): Promise<number> {
    try {
      return await this.#kv.put(key, encodePayload(value));
    } catch (error) {
      throw this.#fail(`put ${key}`, error);
    }
  }

  async create(key: string, value: Payload): Promise<number> {
    try {
      return await this.#kv.create(key, encodePayload(value));
    } catch (error) {
      throw this.#casFailure(`create ${key}`, key, error);
    }
  }

  async update(key: string, value: Payload, revision: number): Promise<number> {
    try {
      return await this.#kv.update(key, encodePayload(value), revision);
    } catch (error) {
      throw this.#casFailure(`update ${key}@${revision}`, key, error);
    }
  }

  /** A lost compare-and-set (JetStream's "wrong last sequence", API error 10071) is a conflict; anything else a stream error. */
  #casFailure(what: string, key: string, error: unknown): Error {
    const text = error instanceof Error ? error.message : String(error);
    const apiCode = (error as { api_error?: { err_code?: number } }).api_error?.err_code;
    if (apiCode === 10071 || /wrong last sequence/i.test(text)) {
      return new EsperError('ESPER_CONFLICT', `${what} in bucket ${this.bucket}: ${text}`, { details: { bucket: this.bucket, key } });
    }
    return this.#fail(what, error);
  }

  async get(key: string): Promise<KvEntry | null> {
    try {
      const entry = await this.#kv.get(key);
      return entry === null || entry.operation !== 'PUT' ? null : kvEntry(entry);
    } catch (error) {
      throw this.#fail(`get ${key}`, error);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#kv.delete(key);
    } catch (error) {
      throw this.#fail(`delete ${key}`, error);
    }
  }

  async keys(): Promise<string[]> {
    try {
      // nats.js lists keys with a last-per-subject consumer; a key put while
      // the listing runs is delivered again, so the same key can arrive twice.
      const keys = new Set<string>();
      for await (const key of await this.#kv.keys()) keys.add(key);
      return [...keys];
    } catch (error) {
      throw this.#fail('keys', error);
    }
  }

  async watch(onEntry: (entry: KvEntry) => void, options: { key?: string; includeCurrent?: boolean } = {}): Promise<KvWatcher> {
    let iterator;
    try {
      iterator = await this.#kv.watch({
        ...(options.key === undefined ? {} : { key: options.key }),
        include: options.includeCurrent === true ? KvWatchInclude.LastValue : KvWatchInclude.UpdatesOnly,
      });
    } catch (error) {
      throw this.#fail('watch', error);
    }
    let stopped = false;
    void (async (): Promise<void> => {
      try {
        for await (const entry of iterator) {
          if (stopped) break;
          try {
            onEntry(kvEntry(entry));
          } catch (error) {
            this.#instruments.handlerFailed(`kv.${entry.key}`, error);
          }
        }
      } catch (error) {
        if (!stopped) this.#instruments.logger.warn({ err: error, bucket: this.bucket }, 'kv watch ended');
      }
    })();
    const watcher: KvWatcher = {
      stop: (): void => {
        if (stopped) return;
        stopped = true;
        this.#watchers.delete(watcher);
        iterator.stop();
      },
    };
    this.#watchers.add(watcher);
    return watcher;
  }

  async destroy(): Promise<void> {
    for (const watcher of [...this.#watchers]) watcher.stop();
    try {
      await this.#kv.destroy();
    } catch (error) {
      throw this.#fail('destroy', error);
    }
  }
}
