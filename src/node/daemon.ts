/**
 * `esper node start`: runs an EsperNode until a signal or a `shutdown`
 * request. SIGTERM/SIGINT drain (bounded by `shutdown.drainTimeoutMs`) and
 * exit 0; a second signal exits at once with 130.
 */
import type { NodeConfig } from '../config/schema.ts';
import { createLogger } from '../infra/logger.ts';
import { toEsperError } from '../errors/index.ts';
import { EsperNode } from './esper-node.ts';

/** Exit code when a second signal cuts the drain short. */
export const EXIT_INTERRUPTED = 130;

/** Something that runs beside the node (e.g. its dashboard): started once the node is up, closed when it stops. */
export type DaemonSidecar = () => Promise<{ close(): Promise<void> }>;

export async function runDaemon(config: Readonly<NodeConfig>, sidecar?: DaemonSidecar): Promise<number> {
  const logger = createLogger({ level: config.log.level });
  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  const node = new EsperNode({ config, logger, onStopped: (code) => resolveExit(code) });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      logger.flush();
      process.exit(EXIT_INTERRUPTED);
    }
    logger.info({ signal }, 'signal received: draining');
    void node.stop(`signal ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await node.start();
  } catch (error) {
    const esper = toEsperError(error);
    logger.error({ err: error, code: esper.code }, 'node failed to start');
    await node.stop('start failed', 1).catch(() => undefined);
    logger.flush();
    return 1;
  }
  let attached: { close(): Promise<void> } | undefined;
  if (sidecar !== undefined) {
    try {
      attached = await sidecar();
    } catch (error) {
      // The node serves on without it: a dashboard that cannot bind must not take a trainer down.
      logger.error({ err: error, code: toEsperError(error).code }, 'the node runs without its sidecar (it failed to start)');
    }
  }
  const code = await exited;
  await attached?.close().catch((error: unknown) => logger.warn({ err: error }, 'sidecar did not close cleanly'));
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  return code;
}
