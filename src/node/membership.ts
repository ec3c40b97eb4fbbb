/**
 * Cluster membership (DESIGN §3): each node keeps a record in a key-value
 * bucket, refreshed every heartbeat. A record older than three heartbeat
 * intervals means the node is down; the bucket's TTL forgets it later. The
 * key is the node name, so a node restarted under the same name replaces its
 * old record with a new incarnation — no stale state carries over.
 */
import type { Bus, KvStore, RetryObserver } from '../actors/oona/index.ts';
import { NodeStatusSchema, type NodeStatus } from '../contracts/control.ts';
import { LogThrottle } from '../infra/log-throttle.ts';
import type { Logger } from '../infra/logger.ts';

/**
 * What a node stores about itself: its NodeStatus with the heartbeat fields
 * set. The same schema is the reply of `…node.<id>.status` and each element of
 * `…cluster.nodes`, so what operators read is what nodes wrote.
 */
export type MemberRecord = NodeStatus & { lastHeartbeatAt: string; heartbeatMs: number };

/** A listed member: its record with the liveness judged from the heartbeat age. */
export type MemberView = MemberRecord;

/** Missed heartbeats after which a node is reported down. */
export const DOWN_AFTER_HEARTBEATS = 3;

/**
 * Pure: the liveness of a record at `now`. `notBefore` (ms) is when the
 * observer itself could last not write the bucket (its own outage ended, e.g.
 * after a NATS server was lost): nobody's silence before that counts, since
 * everyone's heartbeats may have failed alike — so a cluster riding through a
 * JetStream election does not declare its nodes down and move their runs.
 */
export function judgeMember(record: MemberRecord, now: number, notBefore = 0): MemberView {
  const age = Math.max(0, now - Math.max(Date.parse(record.lastHeartbeatAt), notBefore));
  const down = age > DOWN_AFTER_HEARTBEATS * record.heartbeatMs;
  return down ? { ...record, status: 'down' } : record;
}

/** While heartbeats keep failing, one log line per this many ms. */
const HEARTBEAT_FAILURE_LOG_MS = 10_000;

export interface MembershipOptions {
  bus: Bus;
  bucket: string;
  heartbeatMs: number;
  forgetAfterMs: number;
  logger: Logger;
  /** Builds the current record on every heartbeat. */
  snapshot: () => MemberRecord;
  /** Told when heartbeats start failing and when they land again (the node's NATS health). */
  observer?: RetryObserver;
  now?: () => number;
}

export class Membership {
  readonly #options: MembershipOptions;
  #kv: KvStore | undefined;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> = Promise.resolve();
  #failures = 0;
  #failingSince: number | undefined;
  readonly #failureLog: LogThrottle;
  /** When this node's own heartbeats last failed (its view of others' silence starts after that). */
  #lastOwnFailure = 0;

  constructor(options: MembershipOptions) {
    this.#options = options;
    this.#failureLog = new LogThrottle(HEARTBEAT_FAILURE_LOG_MS, () => (options.now ?? Date.now)());
  }

  /** Opens the bucket, writes the first record, starts heartbeating. */
  async join(): Promise<void> {
    this.#kv = await this.#options.bus.kv(this.#options.bucket, { ttlMs: this.#options.forgetAfterMs });
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#beating = this.#beating.then(() => this.#beat());
    }, this.#options.heartbeatMs);
  }

  /** Writes a record now (e.g. after a status change) instead of waiting for the next beat. */
  async refresh(): Promise<void> {
    this.#beating = this.#beating.then(() => this.#beat());
    await this.#beating;
  }

  /** Since when this node's heartbeats fail (undefined while they land). */
  get failingSince(): number | undefined {
    return this.#failingSince;
  }

  /** All known members with their judged liveness, sorted by name. */
  async list(): Promise<MemberView[]> {
    const kv = this.#requireKv();
    const now = (this.#options.now ?? Date.now)();
    // While our own heartbeats fail, and for a while after, others' silence is no evidence.
    const notBefore = this.#failingSince === undefined ? this.#lastOwnFailure : now;
    const out: MemberView[] = [];
    for (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry === null || entry.operation !== 'PUT') continue;
      const parsed = NodeStatusSchema.safeParse(entry.json());
      if (!parsed.success || parsed.data.lastHeartbeatAt === undefined || parsed.data.heartbeatMs === undefined) {
        this.#options.logger.warn({ key }, 'membership record does not match its schema; ignored');
        continue;
      }
      out.push(judgeMember(parsed.data as MemberRecord, now, notBefore));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops heartbeating and removes this node's record. */
  async leave(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#beating;
    if (this.#kv !== undefined) {
      await this.#kv.delete(this.#options.snapshot().nodeId).catch((error: unknown) => {
        this.#options.logger.warn({ err: error }, 'could not remove membership record');
      });
    }
  }

  async #beat(): Promise<void> {
    const kv = this.#requireKv();
    const record = this.#options.snapshot();
    const now = (this.#options.now ?? Date.now)();
    try {
      await kv.put(record.nodeId, record);
      if (this.#failures > 0) {
        this.#options.logger.info({ failures: this.#failures, outageMs: now - (this.#failingSince ?? now) }, 'heartbeat restored');
        this.#lastOwnFailure = (this.#options.now ?? Date.now)();
        this.#options.observer?.settled('membership heartbeat', true, this.#failures + 1, now - (this.#failingSince ?? now));
      }
      this.#failures = 0;
      this.#failingSince = undefined;
      this.#failureLog.reset();
    } catch (error) {
      this.#failures++;
      this.#failingSince ??= now;
      this.#lastOwnFailure = now;
      this.#options.observer?.failing('membership heartbeat', error, this.#failures, this.#options.heartbeatMs);
      // A missed beat is not fatal: the bus reconnects (or JetStream elects a leader) and the next beat lands.
      // Said once when it starts, then once per interval — not once per beat.
      if (this.#failureLog.allow()) {
        this.#options.logger.warn({ err: error, failures: this.#failures, failingForMs: now - this.#failingSince }, 'heartbeat failed');
      }
    }
  }

  #requireKv(): KvStore {
    if (this.#kv === undefined) throw new Error('membership not joined');
    return this.#kv;
  }
}
