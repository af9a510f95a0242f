// Entry point of the bundle dist/berth.mjs (image/build.ts): src/cli/main.ts runs main() only when it is argv[1]
// itself, so the bundle calls it here. Exit code as `bin/berth.js` sets it; long-running commands (controller,
// webhook, speaker) resolve only when stopped by SIGTERM/SIGINT, which they handle (Node as PID 1 ignores SIGTERM).
import { main } from '../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
