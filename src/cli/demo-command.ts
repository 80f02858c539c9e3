import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import {
  type AccordNode,
  buildNode,
  startAuditGossip,
  startAuditLog,
  startOutboxWorker,
} from '../app/node.js';
import { KEY_PASSPHRASE_ENV } from '../crypto/index.js';
import {
  confirmDemoIncident,
  DEMO_INCIDENT_ARRANGEMENT,
  DEMO_INCIDENT_SUSPECT,
  demoIncidentLines,
  reportDemoIncident,
} from '../demo/incident.js';
import {
  type DemoAlliance,
  prepareAlliance,
  type SeedResult,
  seedMember,
  seedSteps,
  setDemoEndpoints,
} from '../demo/seed.js';
import { DEMO_KEY_PASSPHRASE, demoUsers } from '../demo/seed-data.js';
import { AccordError } from '../errors/index.js';
import type { OutboxWorker } from '../services/outbox-worker.js';
import { type CliIo, writeLine } from './cli-io.js';
import { CONFIG_FILE, dataDirOf, listenNode, loadNodeConfig, writeNodeConfig } from './local-node.js';

/** Products each node writes; with the releases to its four peers they flow every way. */
const PRODUCTS_PER_NODE = 12;
/** How long the demo waits for the first deliveries before it reports what is still pending. */
const DELIVERY_WAIT_MS = 60_000;
/** How often the outbox is looked at while waiting (the workers themselves are woken at once). */
const POLL_MS = 100;

type ProgressBar = Pick<SingleBar, 'start' | 'update' | 'stop'>;

function progressBar(io: CliIo, format: string): ProgressBar {
  return new SingleBar({
    format,
    stream: io.stderr as NodeJS.WritableStream,
    noTTYOutput: true,
    notTTYSchedule: 1000,
  });
}

function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  // Port 0 lets the system choose each node's port (tests); otherwise the five follow each other.
  if (!(port === 0 || (port >= 1 && port <= 65535 - 4))) {
    throw new AccordError(
      'INPUT_INVALID',
      `--port: '${value}' is not a port number from 1 to 65531 (or 0)`,
      {},
    );
  }
  return port;
}

/** Builds the node of each member that runs one, writing its config the first time. */
async function buildNodes(io: CliIo, alliance: DemoAlliance, basePort: number): Promise<AccordNode[]> {
  const nodes: AccordNode[] = [];
  for (const [i, member] of alliance.members.filter((m) => m.runsNode).entries()) {
    if (!existsSync(join(member.dataDir, CONFIG_FILE))) {
      await writeNodeConfig(member.dataDir, {
        partner: member.code,
        nodeName: `accord-demo-${member.code.toLowerCase()}`,
      });
    }
    const config = await loadNodeConfig(io, member.dataDir, {
      http: { host: '127.0.0.1', port: basePort === 0 ? 0 : basePort + i },
      log: { level: io.env.ACCORD_LOG_LEVEL ?? 'warn' },
    });
    nodes.push(await buildNode(config, { keys: member.keys }));
  }
  return nodes;
}

async function seedAll(
  io: CliIo,
  nodes: readonly AccordNode[],
  alliance: DemoAlliance,
): Promise<SeedResult[]> {
  const total = nodes.reduce((n, node) => n + seedSteps(alliance, node.config.partner, PRODUCTS_PER_NODE), 0);
  const bar = progressBar(io, 'seeding   {bar} {value}/{total} {step}');
  let done = 0;
  let started = false;
  const results: SeedResult[] = [];
  try {
    for (const node of nodes) {
      results.push(
        await seedMember(node, alliance, {
          productCount: PRODUCTS_PER_NODE,
          onTick: (step) => {
            if (!started) bar.start(total, 0, { step });
            started = true;
            bar.update(++done, { step });
          },
        }),
      );
    }
  } finally {
    if (started) bar.stop();
  }
  return results;
}

/** Outbox rows of every node still waiting for delivery. */
async function pendingCount(nodes: readonly AccordNode[]): Promise<number> {
  let pending = 0;
  for (const node of nodes)
    pending += (await node.store.outbox.list({ status: 'pending', limit: 500 })).length;
  return pending;
}

/**
 * Waits, with a progress bar, until every node's outbox is delivered, the wait is over or `stop`
 * says Ctrl-C was pressed; resolves to what is still pending.
 */
async function awaitDeliveries(
  io: CliIo,
  nodes: readonly AccordNode[],
  stop: { requested: boolean },
): Promise<number> {
  const initial = await pendingCount(nodes);
  if (initial === 0) return 0;
  const bar = progressBar(io, 'delivering {bar} {value}/{total} envelopes');
  bar.start(initial, 0);
  const deadline = Date.now() + DELIVERY_WAIT_MS;
  let pending = initial;
  try {
    while (pending > 0 && Date.now() < deadline && !stop.requested) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      pending = await pendingCount(nodes);
      bar.update(Math.max(0, initial - pending));
    }
  } finally {
    bar.stop();
  }
  return pending;
}

/** Issue 9: what GBR's analyst's early-warning rule raised once the deliveries reached GBR. */
async function alertLine(nodes: readonly AccordNode[]): Promise<string> {
  const gbr = nodes.find((n) => n.config.partner === 'GBR');
  const user = await gbr?.store.users.getByUsername('analyst');
  if (gbr === undefined || user === undefined) return '  alerts    (no GBR analyst)';
  await gbr.services.alerts.settled();
  const alerts = await gbr.services.alerts.list({ user, via: 'local' }, { limit: 200 });
  const first = alerts.at(-1);
  return first === undefined
    ? '  alerts    GBR analyst: none raised'
    : `  alerts    GBR analyst: ${alerts.length} raised live; first: ${first.summary} (accord alerts --as analyst --dir ${gbr.config.dataDir})`;
}

/** One line per node: where it listens and what it holds. */
async function summaryLine(node: AccordNode, address: string): Promise<string> {
  const counts = await node.store.counts();
  const sent = (await node.store.outbox.list({ status: 'delivered', limit: 500 })).length;
  const refused = (await node.store.outbox.list({ status: 'failed', limit: 500 })).length;
  return `  ${node.config.partner}  ${address.padEnd(22)} ${String(counts.products).padStart(3)} products  ${String(sent).padStart(3)} delivered  ${String(refused).padStart(2)} refused  ${String(counts.received_products).padStart(3)} received`;
}

/** Registers `accord demo`: five seeded nodes on embedded SQLite stores, stopped by Ctrl-C. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description(
      'start the FVEY demo alliance: five nodes (USA, GBR, CAN, AUS, NZL) on SQLite, seeded and exchanging products; Ctrl-C stops it',
    )
    .option('--dir <dir>', 'demo directory (one sub-directory per node)', '.accord-demo')
    .option(
      '--port <port>',
      'port of the USA node; GBR, CAN, AUS and NZL take the next four (0: any free ports)',
      '7401',
    )
    .option('--no-wait', 'seed, deliver and report, then stop instead of serving (for scripts)')
    .option(
      '--no-incident',
      'skip the breach-protocol scenario (USA reports NZL; notify, recall, confirm, suspend)',
    )
    .action(async (options: { dir: string; port: string; wait: boolean; incident: boolean }) => {
      const basePort = parsePort(options.port);
      const root = dataDirOf(io, options.dir);
      writeLine(io.stderr, `accord demo: five nodes, data in ${root}`);
      // scrypt makes opening (or first making) six members' keys take a few seconds.
      writeLine(io.stderr, 'opening the node keys…');
      const alliance = await prepareAlliance(root);
      const nodes = await buildNodes(io, alliance, basePort);
      const workers: OutboxWorker[] = [];
      let removeSignalHandlers = (): void => undefined;
      try {
        const results = await seedAll(io, nodes, alliance);
        const seeded = results.filter((r) => r.seeded);
        writeLine(
          io.stderr,
          seeded.length === 0
            ? 'already seeded; reusing the existing data (delete the demo directory to start afresh)'
            : `seeded ${sum(seeded, 'products')} products, ${sum(seeded, 'releases')} releases (${sum(seeded, 'denied')} denied by policy, with reasons stored)`,
        );
        // From here on Ctrl-C stops the nodes in order rather than killing the process mid-delivery
        // (which would lose nothing either: the outbox and the inbox are transactional).
        const stop = { requested: false };
        let markStopped = (): void => undefined;
        const signalled = new Promise<void>((resolve) => {
          markStopped = () => {
            stop.requested = true;
            resolve();
          };
        });
        process.once('SIGINT', markStopped);
        process.once('SIGTERM', markStopped);
        removeSignalHandlers = () => {
          process.off('SIGINT', markStopped);
          process.off('SIGTERM', markStopped);
        };
        const addresses = new Map<string, string>();
        for (const node of nodes) addresses.set(node.config.partner, await listenNode(node));
        await setDemoEndpoints(nodes, alliance, addresses);
        for (const node of nodes) {
          const worker = startOutboxWorker(node);
          if (worker !== undefined) workers.push(worker);
          startAuditLog(node);
          startAuditGossip(node);
        }
        const pending = await awaitDeliveries(io, nodes, stop);
        if (stop.requested) return;
        if (pending > 0) {
          writeLine(
            io.stderr,
            `${pending} envelopes are still pending; the nodes keep retrying (accord outbox list)`,
          );
        }

        let incidentLines: string[] = [];
        if (options.incident) {
          // Issue 5's breach protocol, as the FVEY arrangement says: notify, recall, then suspend.
          writeLine(
            io.stderr,
            `breach protocol: USA reports ${DEMO_INCIDENT_SUSPECT} under ${DEMO_INCIDENT_ARRANGEMENT}…`,
          );
          const reported = await reportDemoIncident(nodes);
          await awaitDeliveries(io, nodes, stop);
          if (stop.requested) return;
          writeLine(io.stderr, "breach protocol: USA's oversight auditor confirms the breach…");
          await confirmDemoIncident(nodes, reported.id);
          await awaitDeliveries(io, nodes, stop);
          if (stop.requested) return;
          incidentLines = await demoIncidentLines(nodes, reported.id);
        }

        writeLine(io.stdout, 'Accord demo alliance running:');
        for (const node of nodes)
          writeLine(io.stdout, await summaryLine(node, addresses.get(node.config.partner) ?? ''));
        for (const line of incidentLines) writeLine(io.stdout, line);
        writeLine(io.stdout, await alertLine(nodes));
        const usa = addresses.get('USA') ?? '';
        writeLine(io.stdout, `  API docs  ${usa}/api/v1/docs (each node serves its own)`);
        writeLine(
          io.stdout,
          '  logins on every node (username / password; the password names the node, here USA):',
        );
        for (const user of demoUsers('USA')) {
          writeLine(
            io.stdout,
            `    ${user.username.padEnd(9)} ${user.password.padEnd(22)} ${user.roles.join(', ')}, ${user.nationality} ${user.clearance}`,
          );
        }
        writeLine(io.stdout, '    on GBR: analyst-gbr-demo, officer-gbr-demo, …; likewise CAN, AUS, NZL');
        writeLine(
          io.stdout,
          `  node keys: encrypted under the fixed demo passphrase '${DEMO_KEY_PASSPHRASE}' (demo only; a real node takes ${KEY_PASSPHRASE_ENV})`,
        );
        const gbr = addresses.get('GBR') ?? '';
        writeLine(
          io.stdout,
          `  try: curl -s -c /tmp/gbr.jar -H 'content-type: application/json' -d '{"username":"analyst","password":"analyst-gbr-demo"}' ${gbr}/api/v1/auth/login`,
        );
        writeLine(io.stdout, `       curl -s -b /tmp/gbr.jar '${gbr}/api/v1/received?limit=5'`);
        if (options.wait) {
          writeLine(io.stdout, 'Ctrl-C stops the demo.');
          await signalled;
        }
      } finally {
        removeSignalHandlers();
        for (const worker of workers) await worker.stop();
        for (const node of nodes) await node.close();
        writeLine(io.stderr, 'accord demo stopped');
      }
    });
}

function sum(results: readonly SeedResult[], key: 'products' | 'releases' | 'denied'): number {
  return results.reduce((n, r) => n + r[key], 0);
}
