// `tsx src/lab/main.ts --dir .lab/dev [--port N] [--persist]`: runs the lab API server until SIGINT/SIGTERM.
import { startLab } from './server.ts';

function usage(msg: string): never {
  process.stderr.write(`lab: ${msg}\nusage: tsx src/lab/main.ts --dir DIR [--port N] [--persist] [--verbose]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let dir = '';
let port = 0;
let persist = false;
let verbose = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') dir = args[++i] ?? usage('--dir needs a value');
  else if (a?.startsWith('--dir=')) dir = a.slice(6);
  else if (a === '--port') port = Number(args[++i] ?? usage('--port needs a value'));
  else if (a?.startsWith('--port=')) port = Number(a.slice(7));
  else if (a === '--persist') persist = true;
  else if (a === '--verbose') verbose = true;
  else usage(`unknown argument "${a}"`);
}
if (!dir) usage('--dir is required');
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port "${port}" is not a port`);

const lab = await startLab({
  dir,
  port,
  persist,
  log: (line) => {
    if (verbose || !line.startsWith('lab: serving')) process.stderr.write(line + '\n');
  },
});
process.stdout.write(`lab: serving ${lab.url} kubeconfig=${lab.kubeconfigPath}\n`);

let stopping = false;
const stop = (sig: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`lab: ${sig}, stopping\n`);
  lab.stop().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`lab: stop failed: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
