// The `berth` command.
import { processIO, type CliIO } from './io.ts';
import { runMigrate, MIGRATE_USAGE } from './migrate.ts';
import { runPlan, PLAN_USAGE } from './plan.ts';
import { runStatus, STATUS_USAGE } from './status.ts';
import { runValidate, VALIDATE_USAGE } from './validate.ts';

const USAGE = `berth — MetalLB-compatible LoadBalancer for bare-metal Kubernetes

commands:
  validate PATH...   validate metallb.io objects in YAML files/folders (- for stdin)
  plan PATH...       what each LoadBalancer Service would get (or why it would be denied or stay <pending>)
  status             pools, Services, their IPs and announcers, and why a Service has no IP (live cluster or lab)
  migrate PATH       convert MetalLB's legacy ConfigMap (address-pools, peers, ...) to metallb.io objects
  lab                start the embedded local lab (API server + berth); what \`npm start\` runs
  controller ARGS    run the controller process (the container command; flags: src/controller/flags.ts)
  webhook ARGS       run the admission webhook process (the container command; flags: src/webhook/flags.ts)
  speaker ARGS       run the speaker process, one per node (the DaemonSet's command; flags: src/speaker/flags.ts)
  version            print the version

${VALIDATE_USAGE}
${PLAN_USAGE}
${STATUS_USAGE}
${MIGRATE_USAGE}`;

/** `berth <command> --help` (or -h): the command's usage on stdout, exit 0. */
const COMMAND_USAGE: Readonly<Record<string, string>> = { validate: VALIDATE_USAGE, plan: PLAN_USAGE, status: STATUS_USAGE, migrate: MIGRATE_USAGE };

/**
 * The usage of the process commands, loaded only when asked for (their modules are big). Their own flag parsers do not
 * know --help (`controller: Unknown option '--help'`), so main answers it first. Printed as `usage: berth <cmd> ...`.
 */
const PROCESS_USAGE: Readonly<Record<string, () => Promise<string>>> = {
  controller: async () => (await import('../controller/flags.ts')).USAGE,
  webhook: async () => (await import('../webhook/flags.ts')).USAGE,
  speaker: async () => (await import('../speaker/flags.ts')).SPEAKER_USAGE,
  lab: async () => (await import('./lab.ts')).LAB_USAGE,
};

/** Runs `berth <command> args...`; returns the exit code (0 ok, 1 problems found, 2 usage or unreadable input). */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const [cmd, ...rest] = argv;
  const wantsHelp = rest.some((a) => a === '--help' || a === '-h');
  const usage = cmd !== undefined ? COMMAND_USAGE[cmd] : undefined;
  if (usage !== undefined && wantsHelp) {
    io.out(usage);
    return 0;
  }
  const processUsage = cmd !== undefined && Object.hasOwn(PROCESS_USAGE, cmd) ? PROCESS_USAGE[cmd] : undefined;
  if (processUsage && wantsHelp) {
    io.out((await processUsage()).replace(/^usage: (?!berth )/, 'usage: berth '));
    return 0;
  }
  switch (cmd) {
    case 'validate':
      return runValidate(rest, io);
    case 'plan':
      return runPlan(rest, io);
    case 'status':
      return runStatus(rest, io);
    case 'migrate':
      return runMigrate(rest, io);
    case 'lab': {
      const { runLab } = await import('./lab.ts');
      return runLab([...rest]);
    }
    // The processes the manifests run (gitops/base: `berth controller …`, `berth webhook …`).
    case 'controller': {
      const { runController } = await import('../controller/main.ts');
      return runController(rest);
    }
    case 'webhook': {
      const { runWebhook } = await import('../webhook/main.ts');
      return runWebhook(rest);
    }
    case 'speaker': {
      const { runSpeaker } = await import('../speaker/main.ts');
      return runSpeaker(rest);
    }
    case 'version':
    case '--version':
      io.out('berth 0.1.0');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      return io.usage(`berth: unknown command "${cmd}"\n\n${USAGE}`);
  }
}

// Run when executed directly (tsx src/cli/main.ts ...).
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
