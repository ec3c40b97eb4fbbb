/** A logger whose lines a test reads back: each JSON line parsed, in order. */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/infra/logger.ts';
import type { Logger } from '../../src/infra/logger.ts';

/** One logged line (pino's fields; `msg` and `level` always there). */
export interface LoggedLine {
  msg: string;
  level: number;
  [field: string]: unknown;
}

/** A logger at `level` and the lines it has written so far. */
export function capturingLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): { logger: Logger; lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split('\n')) if (text.trim() !== '') lines.push(JSON.parse(text) as LoggedLine);
      callback();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}
