/**
 * What a fault suite of issue 13 sets up around its nodes: a three-server
 * NATS cluster on the suite's own ports, a client connected to all three, an
 * isolated PostgreSQL schema (its URL is what `--db` takes) and the node
 * processes the suite starts; on a failed test the nodes' last warnings; all
 * torn down by `stop()`.
 */
import type { NatsConnection } from 'nats';
import pg from 'pg';
import type { DaemonProcess } from './daemon.ts';
import { NatsCluster, requireNatsServer, type NatsClusterOptions } from './nats-cluster.ts';
import { PG_URL, requireService } from './services.ts';

export class ClusterSuite {
  readonly schema: string;
  /** PostgreSQL URL of the suite's schema. */
  readonly dbUrl: string;
  /** The node processes; killed by `stop()`. */
  readonly daemons: DaemonProcess[] = [];
  #cluster: NatsCluster | undefined;
  #nc: NatsConnection | undefined;
  #admin: pg.Client | undefined;

  /** @param schema the PostgreSQL schema to create (and drop after) */
  constructor(schema: string) {
    this.schema = schema;
    this.dbUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }

  get cluster(): NatsCluster {
    if (this.#cluster === undefined) throw new Error('cluster suite not started');
    return this.#cluster;
  }

  /** A client connected to all three servers. */
  get nc(): NatsConnection {
    if (this.#nc === undefined) throw new Error('cluster suite not started');
    return this.#nc;
  }

  /** A PostgreSQL client (any schema: name tables `${schema}.x`). */
  get admin(): pg.Client {
    if (this.#admin === undefined) throw new Error('cluster suite not started');
    return this.#admin;
  }

  /** Call from `before`: skips (or fails, under ESPER_REQUIRE_SERVICES=1) without nats-server or PostgreSQL. */
  async start(ctx: Mocha.Context, options: Omit<NatsClusterOptions, 'binary'>): Promise<void> {
    const binary = requireNatsServer(ctx);
    await requireService(ctx, 'postgres');
    this.#cluster = await NatsCluster.start({ binary, ...options });
    this.#nc = await this.#cluster.connect();
    this.#admin = new pg.Client({ connectionString: PG_URL });
    await this.#admin.connect();
    await this.#admin.query(`CREATE SCHEMA ${this.schema}`);
  }

  /** Prints each node's last warnings and errors and its last lines (to tell a hang from a failure). */
  logTrouble(names: readonly string[] = []): void {
    for (const [i, daemon] of this.daemons.entries()) {
      const name = names[i] ?? String(i);
      const lines = daemon.lines.filter((line) => (line.level ?? 0) >= 40).slice(-25);
      console.log(`--- node ${name} (${daemon.lines.length} lines), warnings and errors:\n${lines.map((line) => JSON.stringify(line).slice(0, 400)).join('\n')}`);
      console.log(`--- node ${name}, last lines:\n${daemon.lines.slice(-8).map((line) => JSON.stringify(line).slice(0, 300)).join('\n')}`);
    }
  }

  /** Kills the nodes, closes the client, stops the cluster, drops the schema. */
  async stop(): Promise<void> {
    for (const daemon of this.daemons) daemon.kill('SIGKILL');
    await Promise.all(this.daemons.map((daemon) => daemon.exited));
    await this.#nc?.close().catch(() => undefined);
    await this.#cluster?.stop();
    await this.#admin?.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`).catch(() => undefined);
    await this.#admin?.end();
  }
}
