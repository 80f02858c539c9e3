import type { Command } from 'commander';
import { openConfiguredStore } from '../app/node.js';
import { readPublicIdentity } from '../app/node-keys.js';
import { AuditGossip } from '../services/audit-gossip.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { dataDirOf, loadNodeConfig } from './local-node.js';

/**
 * `accord audit gossip` (one gossip round now, over the node's data directory, as the serving
 * node's timer runs it); the incidents a fork opens are listed by `accord incident list`.
 * Registered after registerAuditCommands, whose `audit` command it extends.
 */
export function registerGossipCommands(program: Command, io: CliIo): void {
  const audit =
    program.commands.find((c) => c.name() === 'audit') ??
    program.command('audit').description("check a node's tamper-evident audit log");

  audit
    .command('gossip')
    .description(
      "fetch each partner's signed tree head now, check it against the last one kept, report forks",
    )
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the checks as JSON')
    .action(async (options: { dir?: string; json?: boolean }) => {
      const config = await loadNodeConfig(io, options.dir, { log: { level: 'warn' } });
      const identity = await readPublicIdentity(dataDirOf(io, options.dir)).catch(() => undefined);
      const store = await openConfiguredStore(config);
      try {
        const gossip = new AuditGossip({
          store,
          partner: config.partner,
          ownSigningKey: identity?.signing,
          now: Date.now,
        });
        const checks = await gossip.round();
        if (options.json === true) {
          writeJson(io.stdout, checks);
          return;
        }
        if (checks.length === 0)
          writeLine(io.stdout, 'no partner with an endpoint shares an active arrangement');
        for (const c of checks) {
          const size = c.treeSize === undefined ? '' : ` size ${c.treeSize}`;
          const detail = c.detail === undefined ? '' : `: ${printable(c.detail)}`;
          const incident = c.incident === undefined ? '' : ` (incident ${c.incident})`;
          writeLine(io.stdout, `${printable(c.partner)} ${c.outcome}${size}${incident}${detail}`);
        }
      } finally {
        await store.close();
      }
    });
}
