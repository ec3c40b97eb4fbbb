/**
 * Where the CLI writes: stdout for results, stderr for problems. The only
 * place in src/ that writes to the terminal directly (logs go through pino).
 */
import type { EsperError} from '../errors/index.ts';
import { toEsperError } from '../errors/index.ts';

export interface CliOutput {
  /** Writes `text` to stdout, adding a final newline when it has none. */
  out(text: string): void;
  err(text: string): void;
  /** Writes `text` to stdout as is (no newline added); absent: callers fall back to `out`. */
  write?(text: string): void;
  /** True when stdout is a terminal (live displays); absent: not a terminal. */
  readonly isTTY?: boolean;
  /** Width of the stdout terminal in columns, when known. */
  readonly columns?: number | undefined;
}

export const processOutput: CliOutput = {
  out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  write: (text) => void process.stdout.write(text),
  get isTTY(): boolean {
    return process.stdout.isTTY === true;
  },
  get columns(): number | undefined {
    return process.stdout.isTTY === true ? process.stdout.columns : undefined;
  },
};

/** Prints an error with its code, and every issue it lists, to stderr. */
export function printError(output: CliOutput, error: unknown): void {
  const esper: EsperError = toEsperError(error);
  output.err(`error ${esper.code}: ${esper.message}`);
  const issues = esper.details?.['issues'];
  if (Array.isArray(issues)) for (const issue of issues) output.err(`  - ${String(issue)}`);
}
