// `npm run demo` (predemo): builds the web console once, so `npm ci && npm run demo` serves it at `/`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
if (!existsSync(join(root, 'dist', 'web', 'index.html'))) {
  process.stderr.write('building the web console (npm run build)…\n');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
