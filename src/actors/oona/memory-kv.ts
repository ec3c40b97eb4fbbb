/**
 * Key-value buckets of the in-process bus, with the JetStream KV semantics
 * Esper relies on: revisions, history, delete markers, watches and a bucket
 * TTL counted from each key's last put. Expired keys vanish silently (no
 * watch event), exactly as a NATS bucket's max age does.
 */
import { BusError, EsperError } from '../../errors/index.ts';
import type { Clock } from '../../infra/clock.ts';
import type { KvEntry, KvOptions, KvStore, KvWatcher, Payload } from './bus.ts';
import { attempt, encodePayload, kvEntry, type BusInstruments } from './message.ts';
import { isValidPattern, matchSubject } from './subject-match.ts';

const BUCKET_NAME = /^[A-Za-z0-9_-]+$/;
/** The key alphabet of NATS KV; dots separate tokens that watch filters can match with wildcards. */
const KEY = /^[-/=.\w]+$/;

interface Revision {
  key: string;
  value: Uint8Array;
  revision: number;
  operation: KvEntry['operation'];
  time: number;
}

interface Watch {
  key: string | undefined;
  onEntry: (entry: KvEntry) => void;
  stopped: boolean;
}

interface Bucket {
  name: string;
  ttlMs: number;
  history: number;
  revision: number;
  keys: Map<string, Revision[]>;
  watches: Set<Watch>;
  destroyed: boolean;
}

function kvError(message: string): BusError {
  return new BusError('ESPER_STREAM_ERROR', message);
}


/** The buckets of one memory bus. */
export class MemoryKv {
  readonly #clock: Clock;
  readonly #instruments: BusInstruments;
  readonly #buckets = new Map<string, Bucket>();

  constructor(clock: Clock, instruments: BusInstruments) {
    this.#clock = clock;
    this.#instruments = instruments;
  }

  /** Opens (creating or reconfiguring) a bucket. */
  open(name: string, options: KvOptions = {}): KvStore {
    if (!BUCKET_NAME.test(name)) throw kvError(`invalid bucket name ${JSON.stringify(name)}`);
    const ttlMs = options.ttlMs ?? 0;
    const history = options.history ?? 1;
    if (!(history >= 1 && history <= 64)) throw kvError(`bucket ${name}: history must be 1..64, got ${history}`);
    let bucket = this.#buckets.get(name);
    if (bucket === undefined) {
      bucket = { name, ttlMs, history, revision: 0, keys: new Map(), watches: new Set(), destroyed: false };
      this.#buckets.set(name, bucket);
    } else {
      bucket.ttlMs = ttlMs;
      bucket.history = history;
    }
    return new MemoryKvStore(this, bucket);
  }

  close(): void {
    for (const bucket of this.#buckets.values()) this.drop(bucket);
  }

  /** @internal */
  drop(bucket: Bucket): void {
    bucket.destroyed = true;
    for (const watch of bucket.watches) watch.stopped = true;
    bucket.watches.clear();
    bucket.keys.clear();
    if (this.#buckets.get(bucket.name) === bucket) this.#buckets.delete(bucket.name);
  }

  /** @internal the latest revision of a key, unless it has expired. */
  latest(bucket: Bucket, key: string): Revision | undefined {
    const revisions = bucket.keys.get(key);
    const last = revisions?.[revisions.length - 1];
    if (last === undefined) return undefined;
    if (bucket.ttlMs > 0 && this.#clock.now() - last.time >= bucket.ttlMs) {
      bucket.keys.delete(key); // lazily: nobody is told, as with a server-side max age
      return undefined;
    }
    return last;
  }

  /** @internal appends a revision and tells the watchers (asynchronously). */
  write(bucket: Bucket, key: string, value: Uint8Array, operation: KvEntry['operation']): number {
    const revision: Revision = { key, value, revision: ++bucket.revision, operation, time: this.#clock.now() };
    const revisions = operation === 'PURGE' ? [] : (bucket.keys.get(key) ?? []);
    revisions.push(revision);
    while (revisions.length > bucket.history) revisions.shift();
    bucket.keys.set(key, revisions);
    for (const watch of bucket.watches) {
      if (watch.key === undefined || matchSubject(watch.key, key)) this.notify(watch, revision);
    }
    return revision.revision;
  }

  /** @internal */
  notify(watch: Watch, revision: Revision): void {
    setImmediate(() => {
      if (watch.stopped) return;
      try {
        watch.onEntry(kvEntry(revision));
      } catch (error) {
        this.#instruments.handlerFailed(`kv.${revision.key}`, error);
      }
    });
  }

  /** @internal */
  entry(revision: Revision): KvEntry {
    return kvEntry(revision);
  }
}

function checkKey(key: string): void {
  if (!KEY.test(key) || key.startsWith('.') || key.endsWith('.')) throw kvError(`invalid key ${JSON.stringify(key)}`);
}

class MemoryKvStore implements KvStore {
  readonly bucket: string;
  readonly #kv: MemoryKv;
  readonly #bucket: Bucket;

  constructor(kv: MemoryKv, bucket: Bucket) {
    this.bucket = bucket.name;
    this.#kv = kv;
    this.#bucket = bucket;
  }

  #live(): Bucket {
    if (this.#bucket.destroyed) throw kvError(`bucket ${this.bucket} was destroyed`);
    return this.#bucket;
  }

  put(key: string, value: Payload): Promise<number> {
    return attempt(() => {
      checkKey(key);
      return this.#kv.write(this.#live(), key, encodePayload(value), 'PUT');
    });
  }

  create(key: string, value: Payload): Promise<number> {
    return attempt(() => {
      checkKey(key);
      const bucket = this.#live();
      const latest = this.#kv.latest(bucket, key);
      if (latest !== undefined && latest.operation === 'PUT') throw new EsperError('ESPER_CONFLICT', `key ${key} already exists in bucket ${this.bucket}`, { details: { bucket: this.bucket, key } });
      return this.#kv.write(bucket, key, encodePayload(value), 'PUT');
    });
  }

  update(key: string, value: Payload, revision: number): Promise<number> {
    return attempt(() => {
      checkKey(key);
      const bucket = this.#live();
      const latest = this.#kv.latest(bucket, key)?.revision ?? 0;
      if (latest !== revision) {
        throw new EsperError('ESPER_CONFLICT', `key ${key} in bucket ${this.bucket} is at revision ${latest}, not ${revision}`, { details: { bucket: this.bucket, key, revision, latest } });
      }
      return this.#kv.write(bucket, key, encodePayload(value), 'PUT');
    });
  }

  get(key: string): Promise<KvEntry | null> {
    return attempt(() => {
      checkKey(key);
      const latest = this.#kv.latest(this.#live(), key);
      return latest === undefined || latest.operation !== 'PUT' ? null : this.#kv.entry(latest);
    });
  }

  delete(key: string): Promise<void> {
    return attempt(() => {
      checkKey(key);
      this.#kv.write(this.#live(), key, new Uint8Array(0), 'DEL');
    });
  }

  keys(): Promise<string[]> {
    return attempt(() => {
      const bucket = this.#live();
      return [...bucket.keys.keys()].filter((key) => this.#kv.latest(bucket, key)?.operation === 'PUT');
    });
  }

  watch(onEntry: (entry: KvEntry) => void, options: { key?: string; includeCurrent?: boolean } = {}): Promise<KvWatcher> {
    return attempt(() => {
      const bucket = this.#live();
      if (options.key !== undefined && !isValidPattern(options.key)) throw kvError(`invalid key filter ${JSON.stringify(options.key)}`);
      const watch: Watch = { key: options.key, onEntry, stopped: false };
      if (options.includeCurrent === true) {
        const current = [...bucket.keys.keys()]
          .filter((key) => watch.key === undefined || matchSubject(watch.key, key))
          .map((key) => this.#kv.latest(bucket, key))
          // Delete markers count as current values, as with NATS `LastValue` watches.
          .filter((r): r is Revision => r !== undefined)
          .sort((a, b) => a.revision - b.revision);
        for (const revision of current) this.#kv.notify(watch, revision);
      }
      bucket.watches.add(watch);
      return {
        stop: (): void => {
          watch.stopped = true;
          bucket.watches.delete(watch);
        },
      };
    });
  }

  destroy(): Promise<void> {
    this.#kv.drop(this.#bucket);
    return Promise.resolve();
  }
}
