/**
 * Binds the control router to the bus. Two listeners per node:
 *  - `<prefix>.ctl.node.<me>.>` — this node's own verbs;
 *  - `<prefix>.ctl.>` in the queue group `<prefix>-ctl` — everything else,
 *    answered by exactly one node. A subject whose route another listener
 *    owns (another node's verbs, a run some node hosts, a role's service; see
 *    `RouteOwner`) is left to that listener while it is served somewhere; when
 *    nobody serves it, this listener answers: ESPER_NOT_FOUND for a node that
 *    is not alive, else the route's handler (ESPER_NOT_FOUND for a run, ESPER_UNAVAILABLE
 *    for a role), so every request under `<prefix>.ctl.>` gets exactly one
 *    coded reply.
 * The run service binds its own listeners (`run.start` in the trainers' queue
 * group, each hosted run's verbs) to a router with `serveRoutes`.
 * On NATS both listeners are endpoints of a NATS micro service named after the prefix,
 * so `$SRV.PING/INFO/STATS` list every node with its request counts.
 * While who serves a subject cannot be read (the membership bucket electing
 * a leader after a lost server), the shared listener leaves it to its owner
 * and says so once per {@link UNSERVED_LOG_MS}, not once per request.
 */
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import type { Bus, InboundMessage, Subscription } from '../actors/oona/index.ts';
import { errorReply } from '../contracts/reply.ts';
import { InputError } from '../errors/index.ts';
import { LogThrottle } from '../infra/log-throttle.ts';
import type { Logger } from '../infra/logger.ts';
import type { ControlRouter, OwnedSubject } from './control-router.ts';
import type { MemberView } from './membership.ts';

export interface ControlPlaneOptions {
  bus: Bus;
  /** The NATS connection when the bus is NATS (enables the micro service). */
  connection: NatsConnection | undefined;
  prefix: string;
  nodeId: string;
  version: string;
  metadata: Record<string, string>;
  /** Every control route of the node (`controlRoutes`). */
  router: ControlRouter;
  /**
   * True when the owner of a subject (another node, a run's host, a role's
   * service) answers it somewhere in the cluster, this node included: the
   * shared listener then stays silent.
   */
  isServed: (owned: OwnedSubject) => Promise<boolean>;
  logger: Logger;
}

export interface ControlPlane {
  /** Stops listening; in-flight requests finish. */
  stop(): Promise<void>;
}

/** While membership cannot be read, one log line per this many ms. */
export const UNSERVED_LOG_MS = 10_000;

/** The NATS micro service name for a subject prefix (`esper.prod` → `esper-prod`). */
export function serviceName(prefix: string): string {
  return prefix.replace(/\./g, '-');
}

/**
 * Whether a live member of the cluster answers a subject's owner: the node
 * it names, a node hosting its run (membership lists each node's runs), a
 * node with its role. `any`: false (the shared listener answers).
 */
export function isServedByMembers({ owner, params }: OwnedSubject, members: readonly MemberView[]): boolean {
  const live = members.filter((m) => m.status !== 'down');
  switch (owner.kind) {
    case 'node':
      return live.some((m) => m.name === params['nodeId']);
    case 'run':
      return live.some((m) => m.runs.includes(params['runId'] ?? ''));
    case 'role':
      return live.some((m) => m.roles.includes(owner.role));
    case 'any':
      return false;
  }
}

type Responder = (reply: unknown) => void;

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { prefix, nodeId, logger } = options;
  const ownPrefix = `${prefix}.ctl.node.${nodeId}.`;
  const encoder = new TextEncoder();
  // Queue names may not contain dots.
  const sharedQueue = `${serviceName(prefix)}-ctl`;

  const answerOwn = async (subject: string, data: Uint8Array, respond: Responder): Promise<void> => {
    respond(await options.router.handle(subject, data));
  };

  const membershipLog = new LogThrottle(UNSERVED_LOG_MS);
  /** Whether the owner answers; true (stay silent) while that cannot be read. */
  const served = async (owned: OwnedSubject, subject: string): Promise<boolean> => {
    try {
      return await options.isServed(owned);
    } catch (error) {
      if (membershipLog.allow()) logger.warn({ err: error, subject }, `control: cannot tell who serves a subject (membership unreadable); left to its owner (logged once per ${UNSERVED_LOG_MS / 1000} s)`);
      return true;
    }
  };

  const answerShared = async (subject: string, data: Uint8Array, respond: Responder): Promise<void> => {
    const owned = options.router.ownerOf(subject);
    if (owned !== undefined && owned.owner.kind !== 'any') {
      if (owned.owner.kind === 'node' && owned.params['nodeId'] === nodeId) return; // our own listener answers
      if (await served(owned, subject)) return; // its owner answers
      if (owned.owner.kind === 'node') {
        const target = owned.params['nodeId'] ?? '';
        respond(errorReply(new InputError('ESPER_NOT_FOUND', `no live node named ${JSON.stringify(target)}`, { details: { node: target } })));
        return;
      }
    }
    respond(await options.router.handle(subject, data));
  };

  const guard = (what: string, work: Promise<void>): void => {
    work.catch((error: unknown) => logger.error({ err: error, what }, 'control handler failed'));
  };

  if (options.connection !== undefined) {
    const service: Service = await options.connection.services.add({
      name: serviceName(prefix),
      version: options.version,
      description: 'Esper node control plane',
      metadata: { ...options.metadata, node: nodeId },
      queue: sharedQueue,
    });
    const respondVia = (message: ServiceMsg): Responder => (reply) => {
      message.respond(encoder.encode(JSON.stringify(reply)));
    };
    service.addEndpoint('node', {
      subject: `${ownPrefix}>`,
      queue: `${serviceName(prefix)}-node-${nodeId}`,
      handler: (error, message) => {
        if (error !== null) return logger.warn({ err: error }, 'node endpoint error');
        guard('node', answerOwn(message.subject, message.data, respondVia(message)));
      },
    });
    service.addEndpoint('control', {
      subject: `${prefix}.ctl.>`,
      queue: sharedQueue,
      handler: (error, message) => {
        if (error !== null) return logger.warn({ err: error }, 'control endpoint error');
        guard('control', answerShared(message.subject, message.data, respondVia(message)));
      },
    });
    return {
      stop: async () => {
        await service.stop();
      },
    };
  }

  const respondOn = (message: InboundMessage): Responder => (reply) => {
    message.respond(reply);
  };
  const subscriptions: Subscription[] = [
    options.bus.subscribe(`${ownPrefix}>`, (message) => answerOwn(message.subject, message.data, respondOn(message))),
    options.bus.subscribe(`${prefix}.ctl.>`, (message) => answerShared(message.subject, message.data, respondOn(message)), {
      queue: sharedQueue,
    }),
  ];
  return {
    stop: async () => {
      for (const subscription of subscriptions) subscription.unsubscribe();
      await Promise.all(subscriptions.map((subscription) => subscription.closed));
    },
  };
}
