/**
 * `esper blueprint check FILE.json [--interface dense:N|conv2d:HxWxC] [--json]`
 * (DESIGN §9): the static analysis of a blueprint, offline. Exit 0 with the
 * report; 1 when the blueprint is rejected (every error printed with its
 * code); 2 when the file cannot be read, is not JSON, or a flag is invalid.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { SlotInterface } from '../contracts/common.ts';
import {
  analyzeBlueprint,
  formatShape,
  groupDigits,
  parseInterfaceFlag,
  type BlueprintLimitsInput,
  type BlueprintReport,
} from '../actors/karn/index.ts';
import { InputError } from '../errors/index.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { printError, type CliOutput } from './output.ts';

/** Flags of `esper blueprint check`. */
export interface BlueprintCheckFlags {
  interface?: string;
  json?: boolean;
  maxParams?: string;
  maxMemoryBytes?: string;
  maxFlops?: string;
  maxDepth?: string;
}

const LIMIT_FLAGS = [
  ['maxParams', '--max-params'],
  ['maxMemoryBytes', '--max-memory-bytes'],
  ['maxFlops', '--max-flops'],
  ['maxDepth', '--max-depth'],
] as const;

function parseLimits(flags: BlueprintCheckFlags): BlueprintLimitsInput {
  const limits: BlueprintLimitsInput = {};
  const issues: string[] = [];
  for (const [key, flag] of LIMIT_FLAGS) {
    const raw = flags[key];
    if (raw === undefined) continue;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 1) issues.push(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
    else limits[key] = value;
  }
  if (issues.length > 0) throw new InputError('ESPER_SCHEMA_VIOLATION', 'invalid limit flags', { details: { issues } });
  return limits;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError('ESPER_NOT_FOUND', `cannot read ${file}: ${(error as Error).message}`, { cause: error, details: { file } });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError('ESPER_INVALID_JSON', `${file} is not valid JSON: ${(error as Error).message}`, { cause: error, details: { file } });
  }
}

function table(rows: readonly (readonly string[])[], rightAligned: readonly number[] = []): string[] {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, col) => (rightAligned.includes(col) ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The report as text: a summary, then one row per node. */
export function formatBlueprintReport(report: BlueprintReport): string {
  const { limits } = report;
  const summary = table([
    ['blueprint', report.name],
    ['irHash', report.irHash],
    ['interface', report.interfaceKey],
    ['output shape', formatShape(report.outputShape)],
    ['parameters', `${groupDigits(report.paramCount)} (${groupDigits(report.trainableParamCount)} trainable; max ${groupDigits(limits.maxParams)})`],
    ['FLOPs/example', `${groupDigits(report.flops)} (max ${groupDigits(limits.maxFlops)})`],
    ['param memory', `${groupDigits(report.paramBytes)} B (${bytes(report.paramBytes)})`],
    ['activation memory', `${groupDigits(report.activationBytes)} B/example (${bytes(report.activationBytes)})`],
    ['memory', `${groupDigits(report.memoryBytes)} B (max ${groupDigits(limits.maxMemoryBytes)})`],
    ['depth', `${report.depth} (max ${limits.maxDepth})`],
    ['starts as identity', report.startsAsIdentity ? 'yes' : 'no'],
  ]);
  const nodes = table(
    [
      ['node', 'op', 'inputs', 'output', 'params', 'FLOPs', 'act. bytes', 'depth', 'at init'],
      ...report.perNode.map((n) => [
        n.id,
        n.op,
        n.inputs.join(','),
        formatShape(n.outputShape),
        groupDigits(n.paramCount),
        groupDigits(n.flops),
        groupDigits(n.activationBytes),
        String(n.depth),
        n.atInit,
      ]),
    ],
    [4, 5, 6, 7],
  );
  return [...summary, '', ...nodes].join('\n');
}

/** Runs `esper blueprint check`; returns the exit code. */
export function runBlueprintCheck(file: string, flags: BlueprintCheckFlags, output: CliOutput): ExitCode {
  let raw: unknown;
  let iface: SlotInterface | undefined;
  let limits: BlueprintLimitsInput;
  try {
    iface = flags.interface === undefined ? undefined : parseInterfaceFlag(flags.interface, '--interface');
    limits = parseLimits(flags);
    raw = readJson(file);
  } catch (error) {
    printError(output, error);
    return EXIT.USAGE;
  }
  const analysis = analyzeBlueprint(raw, { ...(iface === undefined ? {} : { interface: iface }), limits });
  if (analysis.ok) {
    output.out(flags.json === true ? JSON.stringify({ ok: true, report: analysis.report }, null, 2) : formatBlueprintReport(analysis.report));
    return EXIT.OK;
  }
  if (flags.json === true) {
    output.out(JSON.stringify({ ok: false, errors: analysis.errors.map((e) => e.toWire()) }, null, 2));
  }
  output.err(`${file}: rejected (${analysis.errors.length} problem${analysis.errors.length === 1 ? '' : 's'})`);
  for (const error of analysis.errors) printError(output, error);
  return EXIT.FAILED;
}

/** Adds `esper blueprint …` to the program; actions record their exit code in `result`. */
export function registerBlueprintCommands(program: Command, output: CliOutput, result: { code: number }): void {
  const blueprint = program.command('blueprint').description('work with blueprints (offline)').exitOverride();
  blueprint
    .command('check')
    .description('static analysis of a blueprint IR: schema, graph, shapes, parameters, FLOPs, memory, depth, budgets, identity at init')
    .argument('<file>', 'blueprint IR (JSON)')
    .option('--interface <spec>', "slot interface, overriding the IR's own: dense:N or conv2d:HxWxC")
    .option('--json', 'print the report (or the errors) as JSON on stdout')
    .option('--max-params <n>', 'parameter budget (default 5,000,000)')
    .option('--max-memory-bytes <n>', 'weights + activations of one example, bytes (default 64 MiB)')
    .option('--max-flops <n>', 'FLOPs of one forward pass for one example (default 1e9)')
    .option('--max-depth <n>', 'longest input→output chain of nodes (default 32)')
    .exitOverride()
    .action((file: string, flags: BlueprintCheckFlags) => {
      result.code = runBlueprintCheck(file, flags, output);
    });
}
