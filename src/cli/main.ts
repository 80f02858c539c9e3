import { runCli } from './run-cli.js';

// The process entry (bin/accord.js, `npm run accord`): the only place the CLI touches `process`.

// A reader that stops early (`accord … | head`) closes the pipe: the rest of the output has
// nowhere to go, which is no error of the command's, so it ends quietly as `head` expects.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
