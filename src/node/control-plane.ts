/**
 * Binds the control router to the bus. Two listeners per node:
 *  - `<prefix>.ctl.node.<me>.>` — this node's own verbs;
 *  - `<prefix>.ctl.>` in the queue group `<prefix>-ctl` — everything else,
 *    answered by exactly one node. A request for another node's verbs is left
 *    to that node when it is alive, and answered ESPER_NOT_FOUND when not, so
 *    every request under `<prefix>.ctl.>` gets exactly one coded reply.
 * On NATS both are endpoints of a NATS micro service named after the prefix,
 * so `$SRV.PING/INFO/STATS` list every node with its request counts.
 */
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import type { Bus, InboundMessage, Subscription } from '../actors/oona/index.ts';
import { errorReply } from '../contracts/reply.ts';
import { InputError } from '../errors/index.ts';
import type { Logger } from '../infra/logger.ts';
import type { ControlRouter } from './control-router.ts';

export interface ControlPlaneOptions {
  bus: Bus;
  /** The NATS connection when the bus is NATS (enables the micro service). */
  connection: NatsConnection | undefined;
  prefix: string;
  nodeId: string;
  version: string;
  metadata: Record<string, string>;
  nodeRouter: ControlRouter;
  clusterRouter: ControlRouter;
  /** True when `name` is a live node (its own listener will answer). */
  isLiveNode: (name: string) => Promise<boolean>;
  /** True when a role service (e.g. Urza's queries) serves `subject` somewhere in the cluster: the shared listener stays silent. */
  isDelegated?: (subject: string) => Promise<boolean>;
  logger: Logger;
}

export interface ControlPlane {
  /** Stops listening; in-flight requests finish. */
  stop(): Promise<void>;
}

/** The NATS micro service name for a subject prefix (`esper.prod` → `esper-prod`). */
export function serviceName(prefix: string): string {
  return prefix.replace(/\./g, '-');
}

type Responder = (reply: unknown) => void;

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { prefix, nodeId, logger } = options;
  const ownPrefix = `${prefix}.ctl.node.${nodeId}.`;
  const nodePrefix = `${prefix}.ctl.node.`;
  const encoder = new TextEncoder();
  // Queue names may not contain dots.
  const sharedQueue = `${serviceName(prefix)}-ctl`;

  const answerOwn = async (subject: string, data: Uint8Array, respond: Responder): Promise<void> => {
    respond(await options.nodeRouter.handle(subject, data));
  };

  const answerShared = async (subject: string, data: Uint8Array, respond: Responder): Promise<void> => {
    if (subject.startsWith(ownPrefix)) return; // our own listener answers
    if (subject.startsWith(nodePrefix)) {
      const target = subject.slice(nodePrefix.length).split('.')[0] ?? '';
      const hasVerb = subject.length > nodePrefix.length + target.length + 1;
      if (hasVerb && target !== '' && (await options.isLiveNode(target))) return; // that node answers
      if (hasVerb) {
        respond(errorReply(new InputError('ESPER_NOT_FOUND', `no live node named ${JSON.stringify(target)}`, { details: { node: target } })));
        return;
      }
    }
    if (options.isDelegated !== undefined && (await options.isDelegated(subject))) return;
    respond(await options.clusterRouter.handle(subject, data));
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
