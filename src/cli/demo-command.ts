import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { type AccordNode, buildNode, startOutboxWorker } from '../app/node.js';
import { loadNodeKeys } from '../app/node-keys.js';
import { KEY_PASSPHRASE_ENV } from '../crypto/index.js';
import { seedDemo } from '../demo/seed.js';
import { DEMO_KEY_PASSPHRASE, demoUsers } from '../demo/seed-data.js';
import { AccordError } from '../errors/index.js';
import type { OutboxWorker } from '../services/outbox-worker.js';
import { type CliIo, writeLine } from './cli-io.js';
import { CONFIG_FILE, dataDirOf, listenNode, loadNodeConfig, writeNodeConfig } from './local-node.js';
import { waitForSignal } from './node-commands.js';

const DEMO_PRODUCTS = 56;

/** Registers `accord demo`: a seeded node on an embedded SQLite store, stopped by Ctrl-C. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('start a demo node (USA) on SQLite with a seeded FVEY alliance; Ctrl-C stops it')
    .option('--dir <dir>', 'data directory', '.accord-demo')
    .option('--port <port>', 'HTTP port', '7401')
    .option('--no-wait', 'seed and check, then stop instead of serving (for scripts)')
    .action(async (options: { dir: string; port: string; wait: boolean }) => {
      if (!/^\d{1,5}$/.test(options.port))
        throw new AccordError('INPUT_INVALID', `--port: '${options.port}' is not a port number`, {});
      const dataDir = dataDirOf(io, options.dir);
      if (!existsSync(join(dataDir, CONFIG_FILE))) {
        await writeNodeConfig(dataDir, { partner: 'USA', nodeName: 'accord-demo-usa' });
      }
      const config = await loadNodeConfig(io, dataDir, {
        http: { port: Number(options.port) },
        log: { level: io.env.ACCORD_LOG_LEVEL ?? 'warn' },
      });
      writeLine(io.stderr, `accord demo: ${config.partner} node, data in ${dataDir}`);
      // Seeding runs on a node without keys: seedDemo creates them only once it has made sure the
      // directory is the demo's, and the serving node below is built with them.
      let node: AccordNode | undefined = await buildNode(config);
      let outbox: OutboxWorker | undefined;
      try {
        const bar = new SingleBar({
          format: 'seeding {bar} {value}/{total} {step}',
          stream: io.stderr as NodeJS.WritableStream,
          noTTYOutput: true,
          notTTYSchedule: 1000,
        });
        let started = false;
        const result = await seedDemo(node, {
          productCount: DEMO_PRODUCTS,
          onProgress: (p) => {
            if (!started) {
              bar.start(p.total, 0, { step: p.step });
              started = true;
            }
            bar.update(p.done, { step: p.step });
          },
        });
        if (started) bar.stop();
        writeLine(
          io.stderr,
          result.seeded
            ? `seeded ${result.products} products, ${result.releases} releases (${result.denied} denied by policy, with reasons stored)`
            : 'already seeded; reusing the existing data (delete the data directory to start afresh)',
        );
        const keys = await loadNodeKeys(dataDir, DEMO_KEY_PASSPHRASE);
        const seeding = node;
        node = undefined;
        await seeding.close();
        node = await buildNode(config, { keys });
        const address = await listenNode(node);
        outbox = startOutboxWorker(node);
        writeLine(io.stdout, `Accord demo running at ${address}`);
        writeLine(io.stdout, `  API docs  ${address}/api/v1/docs`);
        writeLine(io.stdout, '  logins (username / password):');
        for (const user of demoUsers(config.partner)) {
          writeLine(
            io.stdout,
            `    ${user.username.padEnd(9)} ${user.password.padEnd(22)} ${user.roles.join(', ')}, ${user.nationality} ${user.clearance}`,
          );
        }
        writeLine(
          io.stdout,
          `  node keys: encrypted under the fixed demo passphrase '${DEMO_KEY_PASSPHRASE}' (demo only; a real node takes ${KEY_PASSPHRASE_ENV})`,
        );
        writeLine(
          io.stdout,
          `  try: curl -s -c /tmp/accord.jar -H 'content-type: application/json' -d '{"username":"analyst","password":"analyst-usa-demo"}' ${address}/api/v1/auth/login`,
        );
        writeLine(io.stdout, `       curl -s -b /tmp/accord.jar '${address}/api/v1/products?limit=5'`);
        if (options.wait) {
          writeLine(io.stdout, 'Ctrl-C stops the demo.');
          await waitForSignal();
        }
      } finally {
        await outbox?.stop();
        await node?.close();
        writeLine(io.stderr, 'accord demo stopped');
      }
    });
}
