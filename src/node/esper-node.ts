/**
 * One node = one process running one actor system (DESIGN §3). The node
 * connects the bus (NATS, or in-process when embedded), starts Weatherlight
 * (the root supervisor) with the subsystem actors its roles ask for, joins the
 * membership bucket, serves the control plane and the metrics endpoint, and
 * drains in a bounded time.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import type { Bus } from '../actors/oona/index.ts';
import { MemoryBus, NatsBus } from '../actors/oona/index.ts';
import { expandRoles, type NodeConfig, type NodeRole } from '../config/schema.ts';
import type { DrainReply, NodeStatus, ShutdownReply } from '../contracts/control.ts';
import type { Logger } from '../infra/logger.ts';
import { Metrics } from '../infra/metrics.ts';
import { ControlRouter } from './control-router.ts';
import { controlRoutes, type ControlNodeHandle } from './control-routes.ts';
import { isServedByMembers, startControlPlane, type ControlPlane } from './control-plane.ts';
import { LoadMonitor } from './load-monitor.ts';
import { Membership, type MemberRecord, type MemberView } from './membership.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { toNatsConnectionOptions } from './nats-options.ts';
import { ESPER_VERSION } from './version.ts';
import { NatsHealth } from './nats-health.ts';
import { systemEventPublisher } from './system-events.ts';
import { startWeatherlight, type Weatherlight } from './weatherlight.ts';
import { TOLARIA_SUPERVISOR_ID, tolariaSupervisorSpec } from '../actors/tolaria/index.ts';
import { urzaWorkerSpec } from '../actors/urza/index.ts';
import { configureProcessPoolGate, pipelineImplementations } from '../actors/pipeline/index.ts';
import { parseInterfaceFlag, registerKarnFieldReports, registerKarnSubmit, type KarnMessage } from '../actors/karn/index.ts';
import { compileJobFor, submitCompileJob } from '../actors/tezzeret/index.ts';
import { subjects } from '../contracts/subjects.ts';
import type { Subscription } from '../actors/oona/index.ts';
import { NodeStorage } from './node-storage.ts';
import { RunService } from './run-service.ts';
import { nissaWorkerSpec } from '../actors/nissa/index.ts';
import { RunRegistry, runsBucketName } from './run-registry.ts';
import { RunStatusSchema, type RunStatus } from '../contracts/tolaria.ts';
import { call } from '../actors/oona/index.ts';

/** Roles whose subsystems use the stores. */
const STORAGE_ROLES: readonly NodeRole[] = ['library', 'compiler', 'validator', 'controller'];

export type NodeState = Exclude<NodeStatus['status'], 'down'> | 'stopped';

export interface EsperNodeOptions {
  config: Readonly<NodeConfig>;
  logger: Logger;
  /** Called once the node has stopped (after a `shutdown` verb, a signal, or a supervisor giving up). */
  onStopped?: (exitCode: number) => void;
}

export class EsperNode {
  readonly name: string;
  readonly incarnationId = randomUUID();
  readonly roles: NodeRole[];
  readonly startedAt = new Date();
  readonly metrics = new Metrics();
  readonly #options: EsperNodeOptions;
  readonly #logger: Logger;
  readonly #load = new LoadMonitor();
  #state: NodeState = 'starting';
  #bus: Bus | undefined;
  #membership: Membership | undefined;
  #control: ControlPlane | undefined;
  #metricsServer: MetricsServer | undefined;
  #weatherlight: Weatherlight | undefined;
  #storage: NodeStorage | undefined;
  #services: Subscription[] = [];
  #runs: RunService | undefined;
  #natsHealth: NatsHealth | undefined;
  #lagTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<number> | undefined;

  constructor(options: EsperNodeOptions) {
    this.#options = options;
    this.name = options.config.node.name ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`;
    this.roles = expandRoles(options.config.node.roles);
    this.#logger = options.logger.child({ node: this.name });
  }

  /**
   * Where this node keeps local state (embedded database, outbox files):
   * `dataDir` when embedded; `dataDir/<name>` in a cluster, so nodes sharing a
   * host (or a directory) never share an embedded database.
   */
  get localDataDir(): string {
    const { config } = this.#options;
    return config.nats === undefined ? config.dataDir : join(config.dataDir, this.name);
  }

  get state(): NodeState {
    return this.#state;
  }

  /** The port of the metrics endpoint, when one is served. */
  get metricsPort(): number | undefined {
    return this.#metricsServer?.port;
  }

  get bus(): Bus {
    if (this.#bus === undefined) throw new Error('node not started');
    return this.#bus;
  }

  async start(): Promise<void> {
    const { config } = this.#options;
    // Before any training thread starts: each finds the process's pool gate when it starts (process-pool-gate.ts).
    configureProcessPoolGate({ mode: config.pipeline.poolGate, maxPauseMs: config.pipeline.poolGateMaxPauseMs, resumeMs: config.pipeline.poolGateResumeMs });
    let connection: NatsConnection | undefined;
    if (config.nats === undefined) {
      this.#bus = new MemoryBus({ logger: this.#logger, metrics: this.metrics, subjectPrefix: config.subjectPrefix });
    } else {
      const bus = await NatsBus.connect(toNatsConnectionOptions(config.nats), {
        logger: this.#logger,
        metrics: this.metrics,
        subjectPrefix: config.subjectPrefix,
        replicas: config.nats.replicas,
      });
      connection = bus.connection;
      this.#bus = bus;
      this.#natsHealth = new NatsHealth({
        logger: this.#logger,
        metrics: this.metrics,
        replicas: bus.replicas,
        connection: () => bus.connectionHealth(),
        eventBacklog: () => this.#runs?.eventBacklog() ?? 0,
        // The `jetstream` breaker's changes go where every breaker's do (the dashboard reads the node from the source).
        emit: systemEventPublisher(bus, config.subjectPrefix, `${this.name}/nats`),
      });
      bus.observe(this.#natsHealth);
      this.#natsHealth.start();
      const choice = bus.replicaChoice;
      this.#logger.info(
        { replicas: choice.replicas, source: choice.source, servers: choice.servers },
        choice.source === 'configured'
          ? `JetStream assets get ${choice.replicas} replica(s) (nats.replicas)`
          : `JetStream assets get ${choice.replicas} replica(s): the server reports ${choice.servers} server(s)${choice.source === 'cluster' ? ' in its cluster' : ''}`,
      );
    }
    this.#startLagGauge();
    const bus = this.#bus;
    if (config.nats !== undefined && config.db.url === undefined && this.roles.includes('library')) {
      this.#logger.warn({ dataDir: this.localDataDir }, 'library role in a cluster without --db: using a node-local embedded database that other nodes cannot see');
    }
    const storage = this.roles.some((role) => STORAGE_ROLES.includes(role))
      ? new NodeStorage({ dbUrl: config.db.url, localDataDir: this.localDataDir, connection, subjectPrefix: config.subjectPrefix, logger: this.#logger, replicas: bus.replicas })
      : undefined;
    this.#storage = storage;
    const s = subjects(config.subjectPrefix);
    const implementations =
      storage === undefined
        ? {}
        : {
            urza: () =>
              urzaWorkerSpec({
                openDatabase: () => storage.borrowDatabase(),
                dataDir: this.localDataDir,
                bus,
                prefix: config.subjectPrefix,
                metrics: this.metrics,
                logger: this.#logger,
              }),
            // Library nodes record the cluster's events into the event store (one durable consumer shared by all of them).
            ...(this.roles.includes('library') ? { nissa: () => nissaWorkerSpec({ bus, prefix: config.subjectPrefix, library: () => storage.library(), logger: this.#logger.child({ subsystem: 'nissa' }) }) } : {}),
            ...pipelineImplementations({
              bus,
              subjects: s,
              library: () => storage.library(),
              artifacts: () => storage.artifacts(),
              logger: this.#logger,
              metrics: this.metrics,
              karnInterfaces: config.pipeline.interfaces.map((text) => parseInterfaceFlag(text, 'pipeline.interfaces')),
              poolSize: config.pipeline.poolSize,
              poolIsolation: config.pipeline.poolIsolation,
              poolNice: config.pipeline.poolNice,
              jobAckWaitMs: config.pipeline.jobAckWaitMs,
            }),
          };
    this.#weatherlight = await startWeatherlight({
      roles: this.roles,
      implementations: {
        ...implementations,
        // Runs and the orphan sweeper live under the trainer's Tolaria (the run service is created below).
        tolaria: () => tolariaSupervisorSpec({ sweep: () => this.#runs?.sweep(), sweepMs: config.membership.heartbeatMs }),
      },
      bus: this.#bus,
      logger: this.#logger,
      metrics: this.metrics,
      subjectPrefix: config.subjectPrefix,
      onGiveUp: (error) => {
        this.#logger.fatal({ err: error }, 'root supervisor gave up; stopping the node');
        void this.stop('supervisor gave up', 1);
      },
    });
    if (this.roles.includes('controller') && storage !== undefined) {
      const karn = this.#weatherlight.supervisor.ref<KarnMessage>('karn');
      if (karn !== undefined) {
        this.#services.push(registerKarnSubmit(bus, config.subjectPrefix, karn, { logger: this.#logger }));
        this.#services.push(registerKarnFieldReports(bus, config.subjectPrefix, karn, { logger: this.#logger }));
      }
      // Blueprints stored but never compiled (a crash between storing and queueing) are queued again; the queue de-duplicates.
      void this.#resubmitUncompiled(storage, s);
    }
    this.#membership = new Membership({
      bus: this.#bus,
      bucket: config.membership.bucket,
      heartbeatMs: config.membership.heartbeatMs,
      forgetAfterMs: config.membership.forgetAfterMs,
      logger: this.#logger,
      snapshot: () => this.#record(),
      ...(this.#natsHealth === undefined ? {} : { observer: this.#natsHealth }),
    });
    await this.#membership.join();
    const handle = this.#controlHandle();
    const observe = this.#controlObserver();
    const routerOptions = { prefix: config.subjectPrefix, maxPayloadBytes: config.control.maxPayloadBytes, observe };
    this.#control = await startControlPlane({
      bus: this.#bus,
      connection,
      prefix: config.subjectPrefix,
      nodeId: this.name,
      version: ESPER_VERSION,
      metadata: { incarnation: this.incarnationId, roles: this.roles.join(',') },
      router: new ControlRouter(routerOptions).add(...controlRoutes(handle)),
      isServed: async (owned) =>
        (owned.owner.kind === 'run' && this.#runs?.runIds().includes(owned.params['runId'] ?? '') === true) ||
        (owned.owner.kind === 'role' && this.roles.includes(owned.owner.role)) ||
        isServedByMembers(owned, (await this.#membership?.list()) ?? []),
      logger: this.#logger,
    });
    if (this.roles.includes('trainer')) {
      const runsBus = this.#bus;
      let registry: Promise<RunRegistry> | undefined;
      const artifacts =
        storage === undefined
          ? new NodeStorage({ dbUrl: undefined, localDataDir: this.localDataDir, connection, subjectPrefix: config.subjectPrefix, logger: this.#logger, replicas: runsBus.replicas })
          : storage;
      this.#runs = new RunService({
        bus: runsBus,
        prefix: config.subjectPrefix,
        nodeId: this.name,
        incarnationId: this.incarnationId,
        logger: this.#logger,
        maxPayloadBytes: config.control.maxPayloadBytes,
        registry: () => {
          registry ??= runsBus.kv(runsBucketName(config.subjectPrefix), { history: 1 }).then((kv) => new RunRegistry(kv, () => artifacts.artifacts()));
          registry.catch(() => {
            registry = undefined;
          });
          return registry;
        },
        liveNodes: async () =>
          ((await this.#membership?.list()) ?? []).filter((m) => m.status !== 'down').map((m) => ({ nodeId: m.nodeId, incarnationId: m.incarnationId })),
        sweepMs: config.membership.heartbeatMs,
        sweeper: 'external',
        runSupervisor: () => this.#weatherlight?.supervisor.supervisor(TOLARIA_SUPERVISOR_ID),
        observe,
        ...(this.#natsHealth === undefined ? {} : { health: this.#natsHealth }),
      });
      this.#runs.listen();
    }
    if (config.metrics.port !== undefined) {
      this.#metricsServer = await startMetricsServer({ metrics: this.metrics, port: config.metrics.port, host: config.metrics.host, logger: this.#logger });
    }
    this.#state = 'ready';
    await this.#membership.refresh();
    this.#logger.info(
      {
        incarnationId: this.incarnationId,
        roles: this.roles,
        bus: this.#bus.kind,
        subjectPrefix: config.subjectPrefix,
        metricsPort: this.#metricsServer?.port,
        version: ESPER_VERSION,
      },
      'node ready',
    );
  }

  /** The node's status, as `…node.<id>.status` returns it. */
  status(): NodeStatus {
    const load = this.#load.last;
    return {
      nodeId: this.name,
      name: this.name,
      incarnationId: this.incarnationId,
      roles: this.roles,
      version: ESPER_VERSION,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Date.now() - this.startedAt.getTime(),
      load: { eventLoopLagMs: load.eventLoopLagP99Ms, cpuCores: load.cpu, rssBytes: load.rssBytes, heapUsedBytes: load.heapUsedBytes },
      runs: this.#runs?.runIds() ?? [],
      status: this.#state === 'stopped' ? 'stopping' : this.#state,
      heartbeatMs: this.#options.config.membership.heartbeatMs,
      ...(this.#bus === undefined ? {} : { bus: this.#bus.kind }),
      ...(this.#natsHealth === undefined ? {} : { nats: this.#natsHealth.view() }),
      // The contract lists at most 256 actors (a node with many runs and seeds shows the first 256, depth first).
      actors: (this.#weatherlight?.describe() ?? []).slice(0, 256),
    };
  }

  /**
   * Stops taking new work and waits for in-flight work (bounded by
   * `timeoutMs`). The node stays up and keeps answering control requests.
   */
  async drain(timeoutMs: number = this.#options.config.shutdown.drainTimeoutMs, reason = 'requested'): Promise<void> {
    if (this.#state !== 'ready') return;
    this.#state = 'draining';
    this.#logger.info({ reason, timeoutMs }, 'draining');
    await this.#membership?.refresh();
    await withTimeout(this.#runs?.drain() ?? Promise.resolve(), timeoutMs, () =>
      this.#logger.warn({ timeoutMs }, 'drain budget spent; in-flight work will be handed back'),
    );
  }

  /**
   * Drains, stops the actors in reverse start order, flushes and leaves the
   * cluster. Resolves with the exit code (0 for a clean stop). Idempotent.
   */
  stop(reason: string, exitCode = 0, timeoutMs: number = this.#options.config.shutdown.drainTimeoutMs): Promise<number> {
    this.#stopping ??= this.#doStop(reason, exitCode, timeoutMs);
    return this.#stopping;
  }

  async #doStop(reason: string, exitCode: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    let code = exitCode;
    try {
      await this.drain(left(), reason);
      this.#state = 'stopping';
      await this.#membership?.refresh();
      await this.#control?.stop();
      for (const service of this.#services) service.unsubscribe();
      const stoppedInTime = await withTimeout(this.#weatherlight?.stop() ?? Promise.resolve(), left(), () => undefined);
      if (!stoppedInTime) this.#logger.warn('actors did not stop within the drain budget');
      await this.#storage?.close();
      await this.#membership?.leave();
      await this.#metricsServer?.close();
      if (this.#lagTimer !== undefined) clearInterval(this.#lagTimer);
      this.#natsHealth?.stop();
      this.#load.stop();
      await withTimeout(this.#bus?.drain() ?? Promise.resolve(), Math.max(500, left()), () => undefined);
    } catch (error) {
      this.#logger.error({ err: error }, 'error while stopping');
      code = 1;
    }
    this.#state = 'stopped';
    this.#logger.info({ reason, exitCode: code }, 'node stopped');
    this.#options.onStopped?.(code);
    return code;
  }

  /** Every run hosted by a live node, each status asked of its node. */
  async #listRuns(): Promise<RunStatus[]> {
    const members = (await this.#membership?.list()) ?? [];
    const ids = members.filter((m) => m.status !== 'down').flatMap((m) => m.runs);
    const statuses = await Promise.all(
      ids.map((runId) =>
        call(this.bus, subjects(this.#options.config.subjectPrefix).run(runId, 'status'), {}, { schema: RunStatusSchema, timeoutMs: 2000 }).catch(() => undefined),
      ),
    );
    return statuses.filter((status): status is RunStatus => status !== undefined);
  }

  async #resubmitUncompiled(storage: NodeStorage, s: ReturnType<typeof subjects>): Promise<void> {
    try {
      const library = await storage.library();
      const { blueprints } = await library.queryBlueprints({ status: 'SUBMITTED', limit: 1000 });
      for (const blueprint of blueprints) await submitCompileJob(this.bus, s, compileJobFor(blueprint.blueprintId, blueprint.irHash, 'fast', 'karn'));
      if (blueprints.length > 0) this.#logger.info({ count: blueprints.length }, 'queued compile jobs for uncompiled blueprints');
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not queue compile jobs for uncompiled blueprints');
    }
  }

  #record(): MemberRecord {
    this.#load.sample();
    // The whole tree would make every heartbeat up to 256 entries long: the record carries its summary.
    const { actors, ...status } = this.status();
    const actorSummary = actors === undefined ? undefined : { total: actors.length, notRunning: actors.filter((a) => a.status !== 'running').length, restarts: actors.reduce((n, a) => n + Math.max(0, a.incarnation - 1), 0) };
    return { ...status, ...(actorSummary === undefined ? {} : { actorSummary }), lastHeartbeatAt: new Date().toISOString(), heartbeatMs: this.#options.config.membership.heartbeatMs };
  }

  #controlHandle(): ControlNodeHandle {
    return {
      nodeId: this.name,
      status: () => this.status(),
      listMembers: async (): Promise<MemberView[]> => (await this.#membership?.list()) ?? [],
      listRuns: () => this.#listRuns(),
      runs: () => this.#runs,
      drain: (timeoutMs): DrainReply => {
        void this.drain(timeoutMs, 'control request');
        return { nodeId: this.name, status: 'draining', runs: [] };
      },
      shutdown: (timeoutMs, reason): ShutdownReply => {
        // Reply first, then stop: the reply must leave before the connection drains.
        setImmediate(() => void this.stop(reason ?? 'control request', 0, timeoutMs));
        return { nodeId: this.name, status: 'stopping' };
      },
    };
  }

  #controlObserver(): (label: string, seconds: number, ok: boolean) => void {
    const histogram = this.metrics.histogram(
      'esper_control_request_duration_seconds',
      'Time to answer a control request, by route',
      ['route', 'outcome'],
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    );
    return (label, seconds, ok) => histogram.observe({ route: label, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  #startLagGauge(): void {
    const gauge = this.metrics.gauge('esper_event_loop_lag_seconds', 'Event-loop delay over the last interval', ['quantile']);
    const update = (): void => {
      const sample = this.#load.last;
      gauge.set({ quantile: 'mean' }, sample.eventLoopLagMs / 1000);
      gauge.set({ quantile: '0.99' }, sample.eventLoopLagP99Ms / 1000);
    };
    update();
    this.#lagTimer = setInterval(update, 1000);
    this.#lagTimer.unref();
  }
}

/** Resolves true when `work` settles in time, false (after calling `onTimeout`) otherwise. */
async function withTimeout(work: Promise<unknown>, timeoutMs: number, onTimeout: () => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([work.then(() => true as const), timedOut]).then((inTime) => {
      if (!inTime) onTimeout();
      return inTime;
    });
  } finally {
    clearTimeout(timer);
  }
}
