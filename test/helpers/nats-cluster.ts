/**
 * A three-server NATS cluster with JetStream on loopback, started by a test
 * (issue 13): its own client ports (4301–4303 by default), route ports
 * (6301–6303) and monitoring ports (8301–8303), each server with its own
 * store directory under a temp dir. Servers can be killed (SIGKILL), frozen
 * (SIGSTOP/SIGCONT) and restarted on the same store. Never touches the
 * shared server on 4222.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { tcpReachable } from './services.ts';

/** Where nats-server is looked for: ESPER_NATS_SERVER, then /usr/sbin, /usr/local/bin, /usr/bin. */
export function findNatsServer(): string | undefined {
  const candidates = [process.env['ESPER_NATS_SERVER'], '/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === '') continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Call from a suite's `before`: the nats-server binary, or a skip (a laptop
 * without it) — a failure when ESPER_REQUIRE_SERVICES=1.
 */
export function requireNatsServer(ctx: Mocha.Context): string {
  const binary = findNatsServer();
  if (binary !== undefined) return binary;
  const message = 'nats-server is not installed (set ESPER_NATS_SERVER or install it at /usr/sbin/nats-server)';
  if (process.env['ESPER_REQUIRE_SERVICES'] === '1') throw new Error(`${message} (ESPER_REQUIRE_SERVICES=1)`);
  ctx.skip();
}

export interface NatsClusterOptions {
  binary: string;
  /** First client port; servers take base, base+1, base+2. @default 4301 */
  clientPort?: number;
  /** First route port. @default 6301 */
  routePort?: number;
  /** First monitoring port. @default 8301 */
  monitorPort?: number;
  /** @default 'esper-test' */
  name?: string;
}

interface Member {
  name: string;
  clientPort: number;
  routePort: number;
  monitorPort: number;
  storeDir: string;
  logFile: string;
  child: ChildProcess | undefined;
  exited: Promise<void>;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `/jsz` of a server's monitoring port (undefined when it does not answer). */
async function jsz(port: number): Promise<{ meta_cluster?: { leader?: string; cluster_size?: number; replicas?: Array<{ current: boolean }> } } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/jsz`, { signal: AbortSignal.timeout(1000) });
    return (await response.json()) as never;
  } catch {
    return undefined;
  }
}

export class NatsCluster {
  readonly #binary: string;
  readonly #root: string;
  readonly members: Member[];
  readonly clusterName: string;

  private constructor(options: NatsClusterOptions) {
    this.#binary = options.binary;
    this.#root = mkdtempSync(join(tmpdir(), 'esper-nats-cluster-'));
    this.clusterName = options.name ?? 'esper-test';
    this.members = [0, 1, 2].map((i) => ({
      name: `n${i + 1}`,
      clientPort: (options.clientPort ?? 4301) + i,
      routePort: (options.routePort ?? 6301) + i,
      monitorPort: (options.monitorPort ?? 8301) + i,
      storeDir: join(this.#root, `n${i + 1}`),
      logFile: join(this.#root, `n${i + 1}.log`),
      child: undefined,
      exited: Promise.resolve(),
    }));
  }

  /** Starts the three servers and waits until JetStream has a meta leader with all three current. */
  static async start(options: NatsClusterOptions): Promise<NatsCluster> {
    const cluster = new NatsCluster(options);
    for (const m of cluster.members) {
      // A server left over from an earlier run would join this cluster's routes: refuse to start instead.
      if (await tcpReachable('127.0.0.1', m.clientPort)) throw new Error(`port ${m.clientPort} is taken (a nats-server left over?); the cluster test needs ${cluster.members.map((x) => x.clientPort).join(', ')}`);
    }
    for (let i = 0; i < cluster.members.length; i++) cluster.#spawn(i);
    try {
      await cluster.waitForMetaLeader(3);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every client URL, comma-separated (what `--nats` takes). */
  get url(): string {
    return this.members.map((m) => `nats://127.0.0.1:${m.clientPort}`).join(',');
  }

  urlOf(index: number): string {
    return `nats://127.0.0.1:${this.#member(index).clientPort}`;
  }

  /** Index of the server named `name` (as JetStream reports leaders). */
  indexOf(name: string): number {
    const index = this.members.findIndex((m) => m.name === name);
    if (index < 0) throw new Error(`no server named ${name}`);
    return index;
  }

  #member(index: number): Member {
    const member = this.members[index];
    if (member === undefined) throw new Error(`no server ${index}`);
    return member;
  }

  #spawn(index: number): void {
    const m = this.#member(index);
    mkdirSync(m.storeDir, { recursive: true });
    const routes = this.members.map((other) => `nats://127.0.0.1:${other.routePort}`).join(',');
    const child = spawn(
      this.#binary,
      [
        '-a', '127.0.0.1',
        '-p', String(m.clientPort),
        '-m', String(m.monitorPort),
        '-js', '-sd', m.storeDir,
        '--server_name', m.name,
        '--cluster_name', this.clusterName,
        '--cluster', `nats://127.0.0.1:${m.routePort}`,
        '--routes', routes,
        '-l', m.logFile,
      ],
      { stdio: 'ignore' },
    );
    m.child = child;
    m.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Resolves once a server reports a meta leader and `current` servers are current in the meta group. */
  async waitForMetaLeader(current = 3, timeoutMs = 60_000): Promise<string> {
    const started = Date.now();
    for (;;) {
      for (const m of this.members) {
        if (m.child === undefined || m.child.exitCode !== null || m.child.signalCode !== null) continue;
        const info = await jsz(m.monitorPort);
        const meta = info?.meta_cluster;
        const replicasCurrent = (meta?.replicas ?? []).filter((r) => r.current).length + 1;
        if (meta?.leader !== undefined && meta.leader !== '' && replicasCurrent >= current) return meta.leader;
      }
      if (Date.now() - started > timeoutMs) throw new Error(`JetStream has no meta leader with ${current} current servers after ${timeoutMs} ms`);
      await delay(200);
    }
  }

  /** The server leading `stream` (JetStream's stream info). */
  async streamLeader(nc: NatsConnection, stream: string): Promise<number> {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream);
    const leader = info.cluster?.leader;
    if (leader === undefined) throw new Error(`stream ${stream} reports no leader`);
    return this.indexOf(leader);
  }

  /** The messages one server holds of `stream` in its own store (its `/jsz`), undefined when it holds none. */
  async localMessages(index: number, stream: string): Promise<number | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.#member(index).monitorPort}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { account_details?: Array<{ stream_detail?: Array<{ name: string; state?: { messages?: number } }> }> };
      for (const account of body.account_details ?? []) {
        const found = account.stream_detail?.find((detail) => detail.name === stream);
        if (found !== undefined) return found.state?.messages ?? 0;
      }
      return undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends `signal` to a server (SIGKILL: it dies; SIGSTOP: it freezes; SIGCONT: it resumes). */
  signal(index: number, signal: NodeJS.Signals): void {
    this.#member(index).child?.kill(signal);
  }

  /** SIGKILLs a server and waits until it is gone. */
  async kill(index: number): Promise<void> {
    const m = this.#member(index);
    m.child?.kill('SIGKILL');
    await m.exited;
    m.child = undefined;
  }

  /** Starts a killed server again on its store (it rejoins and catches up). */
  restart(index: number): void {
    if (this.#member(index).child !== undefined) throw new Error(`server ${index} is running`);
    this.#spawn(index);
  }

  /** A connection to the whole cluster (every URL). */
  connect(): Promise<NatsConnection> {
    return connect({ servers: this.members.map((m) => `127.0.0.1:${m.clientPort}`), reconnectTimeWait: 250, maxReconnectAttempts: -1, pingInterval: 2000 });
  }

  /** Kills every server (a frozen one too) and deletes the stores. */
  async stop(): Promise<void> {
    for (const m of this.members) {
      m.child?.kill('SIGCONT');
      m.child?.kill('SIGKILL');
    }
    await Promise.race([Promise.all(this.members.map((m) => m.exited)), delay(10_000)]);
    for (const m of this.members) m.child = undefined;
    rmSync(this.#root, { recursive: true, force: true });
  }
}
