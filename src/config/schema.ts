/**
 * The node configuration: one strict zod schema with its defaults inside
 * (style-anchors rule 8). `load.ts` merges defaults < file < environment <
 * flags and parses once; the result is frozen.
 */
import { z } from 'zod';
import { NodeRoleConfigSchema as RoleSchema } from '../contracts/control.ts';
import { NatsConnectionConfigSchema } from './nats.ts';

export { expandRoles, NODE_ROLES, type NodeRole } from '../contracts/control.ts';

export const NodeConfigSchema = z
  .object({
    node: z
      .object({
        /** Node name, unique in the cluster; one subject token. @default `<hostname>-<pid>` */
        name: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/, 'node name must be 1-64 letters, digits, "_" or "-"')
          .optional(),
        /** Roles this node hosts. @default ['all'] */
        roles: z.array(RoleSchema).min(1, 'at least one role').default(['all']),
      })
      .strict()
      .prefault({}),
    /** NATS connection; absent → embedded mode (in-process bus). */
    nats: NatsConnectionConfigSchema.optional(),
    db: z
      .object({
        /** PostgreSQL URL (`postgres://…`); absent → embedded PGlite under `dataDir`. */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'db.url must start with postgres:// or postgresql://')
          .optional(),
      })
      .strict()
      .prefault({}),
    /** Subject prefix for every subject. @default 'esper' */
    subjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'subjectPrefix must be dot-separated tokens')
      .default('esper'),
    /** Local state (embedded database, artifacts). @default './.esper' */
    dataDir: z.string().min(1).default('./.esper'),
    metrics: z
      .object({
        /** Port of the OpenMetrics endpoint (`GET /metrics`); 0 picks a free port; absent → no endpoint. */
        port: z.number().int().min(0).max(65535).optional(),
        /** Interface to bind. @default '127.0.0.1' */
        host: z.string().min(1).default('127.0.0.1'),
      })
      .strict()
      .prefault({}),
    membership: z
      .object({
        /** Interval between heartbeats, ms. A node silent for 3 intervals is reported down. @default 1000 */
        heartbeatMs: z.number().int().min(50).max(60_000).default(1000),
        /** How long a down node stays listed before its entry expires, ms. @default 60000 */
        forgetAfterMs: z.number().int().min(1000).max(86_400_000).default(60_000),
        /** KV bucket holding the membership records. @default 'esper_nodes' */
        bucket: z.string().regex(/^[A-Za-z0-9_-]+$/).default('esper_nodes'),
      })
      .strict()
      .prefault({}),
    control: z
      .object({
        /** Largest accepted control payload, bytes. @default 1048576 */
        maxPayloadBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
        /** Timeout for requests this node makes to others, ms. @default 5000 */
        requestTimeoutMs: z.number().int().min(10).max(600_000).default(5000),
      })
      .strict()
      .prefault({}),
    shutdown: z
      .object({
        /** Drain budget on SIGTERM/SIGINT before the node exits anyway, ms. @default 10000 */
        drainTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
      })
      .strict()
      .prefault({}),
    pipeline: z
      .object({
        /** Slot interfaces (`dense:N`, `conv2d:HxWxC`) whose blueprint catalog Karn registers and compiles at start. @default ['dense:16', 'dense:64'] */
        interfaces: z
          .array(z.string().regex(/^(dense:\d+|conv2d:\d+x\d+x\d+)$/, 'interfaces are dense:N or conv2d:HxWxC'))
          .max(32)
          .default(['dense:16', 'dense:64']),
        /** Workers compiling and validating kernels. @default 1 */
        poolSize: z.number().int().min(1).max(64).default(1),
        /** What a pool worker is: a child process (every thread of it niced) or a worker thread of the node (only its own thread niced on Linux; V8's helper threads stay at normal priority). @default 'process' */
        poolIsolation: z.enum(['process', 'thread']).default('process'),
        /** Nice value (0–19) of the pool workers, so that training wins the CPU; 0 leaves it. Logged once; a warning where the OS refuses. @default 19 */
        poolNice: z.number().int().min(0).max(19).default(19),
        /** Pause the pool's child processes (SIGSTOP) while a training thread of the node works, and continue them between its requests: `auto` where the CPUs are no more than the training threads plus the pool workers, `always`, or `off` (see src/actors/pipeline/pool-gate-policy.ts). @default 'auto' */
        poolGate: z.enum(['auto', 'always', 'off']).default('auto'),
        /** Longest the gate keeps the pool paused in one stretch while training continues, ms (then it runs `poolGateResumeMs`); 0 for no limit. @default 1000 */
        poolGateMaxPauseMs: z.number().int().min(0).max(600_000).default(1000),
        /** How long the pool runs after a pause of `poolGateMaxPauseMs`, ms. @default 20 */
        poolGateResumeMs: z.number().int().min(1).max(60_000).default(20),
        /** A compile or validation job not acked within this long (its node died) is redelivered, ms. @default 60000 */
        jobAckWaitMs: z.number().int().min(500).max(3_600_000).default(60_000),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        /** pino level. @default 'info' */
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** Configuration as written (file, env, flags): everything optional. */
export type NodeConfigInput = z.input<typeof NodeConfigSchema>;
/** Configuration after defaults and validation. */
export type NodeConfig = z.output<typeof NodeConfigSchema>;
