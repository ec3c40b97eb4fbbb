/**
 * Where the CLI writes: stdout for results, stderr for problems. The only
 * place in src/ that writes to the terminal directly (logs go through pino).
 */
import type { EsperError} from '../errors/index.ts';
import { toEsperError } from '../errors/index.ts';

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: CliOutput = {
  out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Prints an error with its code, and every issue it lists, to stderr. */
export function printError(output: CliOutput, error: unknown): void {
  const esper: EsperError = toEsperError(error);
  output.err(`error ${esper.code}: ${esper.message}`);
  const issues = esper.details?.['issues'];
  if (Array.isArray(issues)) for (const issue of issues) output.err(`  - ${String(issue)}`);
}
