import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Options for the process logger. */
export interface LoggerOptions {
  /** @default process.env.ESPER_LOG_LEVEL ?? 'info' ('silent' under mocha unless set) */
  level?: LevelWithSilent;
  /** Where lines go (a test sink, a file). @default stderr */
  destination?: DestinationStream;
  /** Bound fields on every line (node, actor…). */
  bindings?: Record<string, unknown>;
}

function defaultLevel(): LevelWithSilent {
  const fromEnv = process.env['ESPER_LOG_LEVEL'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv as LevelWithSilent;
  return process.env['ESPER_TEST'] === '1' ? 'silent' : 'info';
}

/** Creates a pino logger writing JSON lines (stderr by default, so stdout stays for command output). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: false });
  const logger = pino({ level: options.level ?? defaultLevel(), base: { pid: process.pid } }, destination);
  return options.bindings === undefined ? logger : logger.child(options.bindings);
}

let rootLogger: Logger | undefined;

/** The process-wide logger (created on first use). Prefer injecting a logger; this is the fallback. */
export function getRootLogger(): Logger {
  rootLogger ??= createLogger();
  return rootLogger;
}
