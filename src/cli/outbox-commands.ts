import type { Command } from 'commander';
import { type OutboxEntry, outboxEntryOf } from '../services/outbox-service.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { withLocalNode } from './local-node.js';

// The store's largest page.
const PAGE = 500;

/** Registers `outbox list`: deliveries of releases to partners, as the node's operator sees them. */
export function registerOutboxCommands(program: Command, io: CliIo): void {
  const outbox = program.command('outbox').description("the node's deliveries to partners");
  outbox
    .command('list')
    .description('list deliveries, newest first: status, attempts, next attempt and last error')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: { dir?: string; json?: boolean }) => {
      // The operator of the data directory reads its store directly, as the other local commands do.
      const entries = await withLocalNode(io, options.dir, async (node) => {
        const all: OutboxEntry[] = [];
        for (let offset = 0; ; offset += PAGE) {
          const page = await node.store.outbox.list({ limit: PAGE, offset });
          all.push(...page.map(outboxEntryOf));
          if (page.length < PAGE) return all;
        }
      });
      if (options.json === true) {
        writeJson(io.stdout, entries);
        return;
      }
      for (const e of entries) {
        const carried = e.product === null ? '-' : `${e.product.id} v${e.product.version}`;
        // Releases are the usual row; anything else (a recall) says what it is.
        const product = e.kind === null || e.kind === 'release' ? carried : `${carried} ${e.kind}`;
        const when =
          e.status === 'delivered'
            ? `delivered ${e.deliveredAt ?? ''}`
            : e.status === 'pending'
              ? `next ${e.nextAttemptAt}`
              : 'given up';
        writeLine(
          io.stdout,
          `${e.id}  ${e.recipient}  ${product}  ${e.status.padEnd(9)}  attempts ${e.attempts}  ${when}`,
        );
        if (e.lastError !== null) writeLine(io.stdout, `  last error: ${printable(e.lastError)}`);
      }
      const pending = entries.filter((e) => e.status === 'pending').length;
      writeLine(io.stdout, `${entries.length} deliveries, ${pending} pending`);
    });
}
