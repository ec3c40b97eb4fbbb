/**
 * `esper audit RUN [--seed S] [--data-dir DIR | --db URL] [--json]`: every seed
 * transition of a run with the chain that caused it (command ← decision ←
 * packet), read from the event store `esper run` wrote. With `--decisions`:
 * every decision of the run instead (waits and deferred prunes included),
 * with its commands, its reason and the layer signals of the packet it answered.
 * `esper replay RUN [--data-dir DIR | --db URL] [--json]`: rebuilds every seed's stage
 * from the stored transitions and checks it against the final states the run
 * recorded; exit 0 when they agree, 1 with the mismatches.
 * An unknown run (no events) is ESPER_NOT_FOUND, exit 1.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Envelope } from '../contracts/envelope.ts';
import { InputError } from '../errors/index.ts';
import { auditDecisions, auditRevivals, auditTransitions, EventStore, formatAuditDecision, formatAuditEntry, formatAuditRevival, replaySeeds } from '../actors/nissa/index.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { printError, type CliOutput } from './output.ts';
import { DEFAULT_DATA_DIR } from './run.ts';

/** Flags of `esper audit` and `esper replay`. */
export interface AuditFlags {
  seed?: string;
  dataDir?: string;
  /** PostgreSQL URL of a cluster's event store (instead of the embedded one under the data dir). */
  db?: string;
  json?: boolean;
  /** `esper audit` only: list every decision instead of the transitions. */
  decisions?: boolean;
}

/** Test seam: an already open store (left open). */
export interface AuditDeps {
  store?: EventStore;
}

async function loadEvents(runId: string, flags: AuditFlags, deps: AuditDeps): Promise<Envelope[]> {
  const store = deps.store ?? (await EventStore.open(flags.db === undefined ? { dataDir: resolve(flags.dataDir ?? DEFAULT_DATA_DIR) } : { url: flags.db }));
  try {
    const events = await store.events(runId);
    if (events.length === 0) throw new InputError('ESPER_NOT_FOUND', `no events of run '${runId}' in the event store`, { details: { runId } });
    return events;
  } finally {
    if (deps.store === undefined) await store.close().catch(() => undefined);
  }
}

/** `esper audit`: resolves to the exit code. */
export async function runAuditCommand(runId: string, flags: AuditFlags, output: CliOutput, deps: AuditDeps = {}): Promise<ExitCode> {
  try {
    const events = await loadEvents(runId, flags, deps);
    if (flags.decisions === true) return printDecisions(runId, events, flags, output);
    const entries = auditTransitions(events, flags.seed === undefined ? {} : { seed: flags.seed });
    // Dead-layer revivals change the host, not a seed: listed with the whole run's audit, not one seed's.
    const revivals = flags.seed === undefined ? auditRevivals(events) : [];
    if (flags.json === true) {
      output.out(JSON.stringify({ runId, transitions: entries, ...(revivals.length === 0 ? {} : { revivals }) }));
    } else if (entries.length === 0 && revivals.length === 0) {
      output.out(flags.seed === undefined ? `run ${runId}: no seed transitions` : `run ${runId}: no transitions of seed ${flags.seed}`);
    } else {
      const lines = [...revivals.map((r) => ({ epoch: r.epoch, text: formatAuditRevival(r) })), ...entries.map((e) => ({ epoch: e.epoch, text: formatAuditEntry(e) }))];
      // Stable: a revival comes before the transitions of its epoch (it was decided first).
      lines.sort((a, b) => a.epoch - b.epoch);
      for (const line of lines) output.out(line.text);
    }
    return EXIT.OK;
  } catch (error) {
    printError(output, error);
    return EXIT.FAILED;
  }
}

/** `esper audit --decisions`: every decision (of one seed with `--seed`: those that command it or name it in their reason). */
function printDecisions(runId: string, events: readonly Envelope[], flags: AuditFlags, output: CliOutput): ExitCode {
  const seed = flags.seed;
  // A slot id also names the seeds it held (their ids appear in commands and reasons).
  const seedIds = seed === undefined ? [] : [...new Set(auditTransitions(events, { seed }).map((t) => t.seedId))];
  const entries = auditDecisions(events, seed === undefined ? {} : { seed, seedIds });
  if (flags.json === true) {
    output.out(JSON.stringify({ runId, decisions: entries }));
  } else if (entries.length === 0) {
    output.out(seed === undefined ? `run ${runId}: no decisions` : `run ${runId}: no decisions about seed ${seed}`);
  } else {
    for (const entry of entries) for (const line of formatAuditDecision(entry)) output.out(line);
  }
  return EXIT.OK;
}

/** `esper replay`: resolves to the exit code (0 consistent, 1 mismatches or unknown run). */
export async function runReplayCommand(runId: string, flags: AuditFlags, output: CliOutput, deps: AuditDeps = {}): Promise<ExitCode> {
  try {
    const events = await loadEvents(runId, flags, deps);
    const replay = replaySeeds(events);
    if (replay.recorded === undefined) {
      replay.issues.push({ seedId: '-', kind: 'unrecorded', message: `run ${runId} recorded no final seed states (unfinished run?)` });
      replay.ok = false;
    }
    if (flags.json === true) {
      output.out(JSON.stringify({ runId, ...replay }));
    } else if (replay.ok) {
      const seeds = Object.entries(replay.stages)
        .map(([seed, stage]) => `${seed}:${stage}`)
        .join(' ');
      output.out(`OK  run ${runId}: ${replay.transitions} transitions replayed, final states match${seeds === '' ? '' : ` (${seeds})`}`);
    } else {
      output.out(`MISMATCH  run ${runId}: ${replay.issues.length} problem(s)`);
      for (const issue of replay.issues) output.out(`  - ${issue.kind}: ${issue.message}`);
    }
    return replay.ok ? EXIT.OK : EXIT.FAILED;
  } catch (error) {
    printError(output, error);
    return EXIT.FAILED;
  }
}

/** Adds `esper audit` and `esper replay`; actions record their exit code in `result`. */
export function registerAuditCommands(program: Command, output: CliOutput, result: { code: number }): void {
  program
    .command('audit')
    .description('show why every seed transition of a run happened: command ← decision ← packet (from the event store)')
    .argument('<run>', 'run id')
    .option('--seed <seed>', 'only this seed (seed id or slot id)')
    .option('--decisions', "every decision of the run instead (waits and deferred prunes too): its commands, reason and the packet's layer signals")
    .option('--data-dir <dir>', `data directory of the event store (default ./${DEFAULT_DATA_DIR})`)
    .option('--db <url>', "a cluster's PostgreSQL event store (what library nodes record), instead of the embedded one (env ESPER_DB_URL)", process.env['ESPER_DB_URL'])
    .option('--json', 'print JSON')
    .exitOverride()
    .action(async (runId: string, flags: AuditFlags) => {
      result.code = await runAuditCommand(runId, flags, output);
    });
  program
    .command('replay')
    .description("rebuild a run's seed states from its stored transitions and check them against the final states it recorded")
    .argument('<run>', 'run id')
    .option('--data-dir <dir>', `data directory of the event store (default ./${DEFAULT_DATA_DIR})`)
    .option('--db <url>', "a cluster's PostgreSQL event store (what library nodes record), instead of the embedded one (env ESPER_DB_URL)", process.env['ESPER_DB_URL'])
    .option('--json', 'print JSON')
    .exitOverride()
    .action(async (runId: string, flags: AuditFlags) => {
      result.code = await runReplayCommand(runId, flags, output);
    });
}
