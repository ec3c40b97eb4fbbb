/**
 * The `esper` command (DESIGN §9). Exit codes: 0 success, 1 failed job or
 * request, 2 bad usage or configuration (every problem listed).
 */
import { Command, CommanderError, Option } from 'commander';
import { loadNodeConfig, type ConfigFlags } from '../config/load.ts';
import { DEFAULT_SUBJECT_PREFIX, subjects } from '../contracts/subjects.ts';
import { EXIT } from './exit-codes.ts';
import { printError, processOutput, type CliOutput } from './output.ts';
import { friendlySubject, runCtlRequest, type CtlConnectionFlags } from './ctl.ts';
import { runDaemon } from '../node/daemon.ts';
import { ESPER_VERSION } from '../node/version.ts';
import { registerBlueprintCommands } from './blueprint.ts';
import { registerAuditCommands } from './audit.ts';
import { registerRunCommand } from './run.ts';
import { nodeDashboard, registerDashboardCommand } from './dashboard.ts';

function addConnectionOptions(command: Command): Command {
  return command
    .option('--nats <url>', 'NATS server URL (env ESPER_NATS_URL)', undefined)
    .option('--user <user>', 'NATS user (env ESPER_NATS_USER)')
    .option('--password <password>', 'NATS password (env ESPER_NATS_PASS)')
    .option('--token <token>', 'NATS token (env ESPER_NATS_TOKEN)')
    .option('--creds <file>', 'NATS credentials file (env ESPER_NATS_CREDS_FILE)')
    .option('--timeout <ms>', 'request timeout in ms', '5000')
    .option('--prefix <prefix>', 'subject prefix', DEFAULT_SUBJECT_PREFIX);
}

/** Builds the command tree; actions record their exit code in `result`. */
export function buildProgram(output: CliOutput, result: { code: number }): Command {
  const program = new Command('esper')
    .description('Esper: a morphogenetic training runtime (networks that grow seeds while they train), run by supervised actors over NATS.')
    .version(ESPER_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (text) => output.out(text), writeErr: (text) => output.err(text) })
    .exitOverride();

  const node = program.command('node').description('run a node daemon').exitOverride();
  node
    .command('start')
    .description('start a node daemon (embedded when no --nats is given); SIGTERM/SIGINT drain it, a second signal exits at once')
    .option('--nats <url>', 'NATS URL; joins the cluster on that server (env ESPER_NATS_URL)')
    .option('--db <url>', 'PostgreSQL URL (env ESPER_DB_URL); default: embedded under the data dir')
    .option('--name <name>', 'node name, unique in the cluster (env ESPER_NODE_NAME)')
    .option('--roles <list>', 'comma-separated roles: all|trainer,compiler,validator,library,controller (env ESPER_ROLES)')
    .option('--config <file>', 'JSON configuration file (flags > env > file > defaults)')
    .option('--metrics-port <n>', 'serve GET /metrics (OpenMetrics) on this port (env ESPER_METRICS_PORT)')
    .option('--dashboard-port <n>', 'also serve the live dashboard of the cluster on 127.0.0.1:<n> (needs --nats; operator actions need ESPER_DASHBOARD_TOKEN)')
    .exitOverride()
    .action(async (flags: ConfigFlags & { dashboardPort?: string }) => {
      let config;
      let sidecar;
      try {
        const { dashboardPort, ...configFlags } = flags;
        config = loadNodeConfig({ flags: configFlags });
        if (dashboardPort !== undefined) sidecar = nodeDashboard(config, dashboardPort, process.env);
      } catch (error) {
        printError(output, error);
        result.code = EXIT.USAGE;
        return;
      }
      result.code = await runDaemon(config, sidecar);
    });

  const ctl = program.command('ctl').description('steer a cluster over NATS (the same subjects `nats req` uses)').exitOverride();
  addConnectionOptions(
    ctl
      .command('req')
      .description('send a raw request, like `nats req SUBJECT PAYLOAD`, and print the reply')
      .argument('<subject>', 'subject, e.g. esper.ctl.cluster.nodes')
      .argument('[json]', 'payload (JSON text)', '')
      .exitOverride(),
  ).action(async (subject: string, json: string, flags: CtlConnectionFlags) => {
    result.code = await runCtlRequest(subject, json, flags, output);
  });

  for (const verb of ['nodes', 'runs'] as const) {
    addConnectionOptions(ctl.command(verb).description(`list the cluster's ${verb} (${DEFAULT_SUBJECT_PREFIX}.ctl.cluster.${verb})`).exitOverride()).action(
      async (flags: CtlConnectionFlags) => {
        result.code = await runCtlRequest(subjects(flags.prefix ?? DEFAULT_SUBJECT_PREFIX).cluster(verb), '', flags, output);
      },
    );
  }

  const friendly: { kind: 'node' | 'run' | 'seed'; args: string[]; help: string }[] = [
    { kind: 'node', args: ['<verb>', '<node>'], help: 'status|drain|shutdown a node' },
    { kind: 'run', args: ['<verb>', '<run>'], help: 'status|pause|resume|stop|checkpoint|rollback a run' },
    { kind: 'seed', args: ['<verb>', '<run>', '<seed>'], help: 'status|germinate|advance|prune|fossilize a seed' },
  ];
  for (const { kind, args, help } of friendly) {
    const command = ctl.command(kind).description(help).exitOverride();
    for (const arg of args) command.argument(arg);
    addConnectionOptions(command)
      .addOption(new Option('--data <json>', 'request payload (JSON)').default(''))
      .action(async (...actionArgs: unknown[]) => {
        const positional = actionArgs.slice(0, args.length) as string[];
        const flags = actionArgs[args.length] as CtlConnectionFlags & { data: string };
        const [verb = '', ...ids] = positional;
        let subject: string;
        try {
          subject = friendlySubject(flags.prefix ?? DEFAULT_SUBJECT_PREFIX, kind, verb, ids);
        } catch (error) {
          printError(output, error);
          result.code = EXIT.USAGE;
          return;
        }
        result.code = await runCtlRequest(subject, flags.data, flags, output);
      });
  }
  registerBlueprintCommands(program, output, result);
  registerAuditCommands(program, output, result);
  registerRunCommand(program, output, result);
  registerDashboardCommand(program, output, result);
  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], output: CliOutput = processOutput): Promise<number> {
  const result: { code: number } = { code: EXIT.OK };
  const program = buildProgram(output, result);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    printError(output, error);
    return EXIT.FAILED;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.USAGE;
  }
  return result.code;
}
