import { runCli } from './run-cli.js';

// The process entry (bin/accord.js, `npm run accord`): the only place the CLI touches `process`.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
