import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { type AccordNode, buildNode } from '../app/node.js';
import { keysFileOf, loadNodeKeys } from '../app/node-keys.js';
import { AccordError } from '../errors/index.js';
import type { RecallStatus } from '../services/recall-service.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, keyPassphraseOf, loadNodeConfig, withLocalNode } from './local-node.js';

/**
 * Runs `work` on the node of a data directory with its keys unlocked when it has them: a recall
 * must be signed and sealed to reach any partner (one queued unsealed is never delivered), so the
 * command needs ACCORD_KEY_PASSPHRASE where other local commands do not.
 */
async function withKeyedLocalNode<T>(
  io: CliIo,
  dir: string | undefined,
  work: (node: AccordNode) => Promise<T>,
): Promise<T> {
  const config = await loadNodeConfig(io, dir, { log: { level: 'warn' } });
  const keys = existsSync(keysFileOf(config.dataDir))
    ? await loadNodeKeys(config.dataDir, keyPassphraseOf(io))
    : undefined;
  const node = await buildNode(config, {
    ...(keys === undefined ? {} : { keys }),
    ...(io.now ? { now: io.now } : {}),
  });
  try {
    return await work(node);
  } finally {
    await node.close();
  }
}

function parseVersionOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,14}$/.test(value)) {
    throw new AccordError(
      'INPUT_INVALID',
      `--version: '${printable(value).slice(0, 40)}' is not a version number`,
      {
        token: value,
      },
    );
  }
  return Number(value);
}

function printRecall(io: CliIo, recall: RecallStatus): void {
  const what = recall.version === 'all' ? 'all versions' : `v${recall.version}`;
  writeLine(
    io.stdout,
    `recall ${recall.recallId} of ${recall.productId} (${what}) by ${recall.recalledBy} at ${recall.recalledAt}: ${printable(recall.reason)}`,
  );
  for (const r of recall.recipients) {
    const under = r.arrangement === null ? '' : ` under ${r.arrangement.id} v${r.arrangement.version}`;
    const detail =
      r.status === 'acknowledged'
        ? `acknowledged ${r.acknowledgedAt ?? ''}${r.erased === null ? '' : `, ${r.erased} version(s) erased`}`
        : r.status === 'pending'
          ? `pending, attempts ${r.attempts}`
          : 'failed';
    writeLine(io.stdout, `  ${r.recipient}${under}  ${detail}`);
    if (r.lastError !== null)
      writeLine(
        io.stdout,
        `    ${r.status === 'failed' ? 'reason' : 'last error'}: ${printable(r.lastError)}`,
      );
  }
  if (recall.recipients.length === 0) writeLine(io.stdout, '  no recipient: it was never released');
}

/** Registers `product recall` and `product recalls` beside the other product commands. */
export function registerRecallCommands(program: Command, io: CliIo): void {
  const product =
    program.commands.find((c) => c.name() === 'product') ??
    program.command('product').description('work with products on a node');

  product
    .command('recall <id>')
    .description(
      `recall a product: every partner it was released to is told to erase it (needs $ACCORD_KEY_PASSPHRASE)`,
    )
    .requiredOption('--reason <text>', 'why it is recalled; every recipient is told')
    .requiredOption('--as <user>', 'release officer acting')
    .option('--version <n>', 'recall only this version (default: every version)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the recall as JSON')
    .action(
      async (
        id: string,
        options: { reason: string; as: string; version?: string; dir?: string; json?: boolean },
      ) => {
        const version = parseVersionOption(options.version);
        const recall = await withKeyedLocalNode(io, options.dir, async (node) =>
          node.services.recalls.recall(await actorFor(node, options.as), id, {
            reason: options.reason,
            ...(version === undefined ? {} : { version }),
          }),
        );
        if (options.json === true) {
          writeJson(io.stdout, recall);
          return;
        }
        printRecall(io, recall);
        writeLine(io.stdout, `${recall.recipients.length} recall envelope(s) queued for delivery`);
      },
    );

  product
    .command('recalls <id>')
    .description('show the recalls of a product and how each recipient answered')
    .requiredOption('--as <user>', 'user acting')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { as: string; dir?: string; json?: boolean }) => {
      const recalls = await withLocalNode(io, options.dir, async (node) =>
        node.services.recalls.list(await actorFor(node, options.as), id),
      );
      if (options.json === true) {
        writeJson(io.stdout, recalls);
        return;
      }
      for (const recall of recalls) printRecall(io, recall);
      writeLine(io.stdout, `${recalls.length} recall(s)`);
    });
}
