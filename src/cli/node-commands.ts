import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildNode, startAuditGossip, startAuditLog, startOutboxWorker } from '../app/node.js';
import { createNodeKeys, KEYS_FILE, keysFileOf, loadNodeKeys, partnerKeysOf } from '../app/node-keys.js';
import { ROLES } from '../auth/roles.js';
import { type Config, loadConfig } from '../config/index.js';
import { KEY_PASSPHRASE_ENV } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import { DEFAULT_REGISTRY } from '../markings/index.js';
import type { Actor } from '../services/actor.js';
import { type UserInput, UserInputSchema } from '../services/directory-service.js';
import type { OutboxWorker } from '../services/outbox-worker.js';
import {
  type DraftInput,
  DraftInputSchema,
  type ProductService,
  type ProductView,
} from '../services/product-service.js';
import { createValidator } from '../validation/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import {
  actorFor,
  CONFIG_FILE,
  dataDirOf,
  keyPassphraseOf,
  listenNode,
  loadNodeConfig,
  withLocalNode,
  writeNodeConfig,
} from './local-node.js';
import { parsePartnerOption } from './option-values.js';
import { readDocument } from './read-json-file.js';

const validateDraft = createValidator<DraftInput>(DraftInputSchema, 'PRODUCT_INVALID', 'product draft');
const validateUser = createValidator<UserInput>(UserInputSchema, 'INPUT_INVALID', 'user');
const DRAFT_KEYS = Object.keys(DraftInputSchema.properties);

/** A one-time password: 18 random bytes, shown once, never stored in clear. */
function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * Product files may be drafts or whole product documents (like examples/products): of a whole
 * document only the draft fields are used; the node assigns id, version, originator, author, time.
 */
function draftOf(input: unknown): DraftInput {
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && 'originator' in input) {
    const picked = Object.fromEntries(Object.entries(input).filter(([key]) => DRAFT_KEYS.includes(key)));
    return validateDraft(picked);
  }
  return validateDraft(input);
}

function printProduct(io: CliIo, view: ProductView): void {
  writeLine(io.stdout, view.banner);
  writeLine(
    io.stdout,
    `${view.id} v${view.version}  ${view.state}  ${view.discipline}  ${view.categories.join(', ')}  originator ${view.originator}`,
  );
  writeLine(io.stdout, `${view.titleMarking} ${printable(view.title)}`);
  for (const portion of view.portions)
    writeLine(io.stdout, `  ${portion.marking} ${printable(portion.text)}`);
  if (view.withheldCount > 0) writeLine(io.stdout, `  [${view.withheldCount} portion(s) withheld from you]`);
  writeLine(io.stdout, view.banner);
}

/** Where partners reach this node: the public URL when one is configured, else the listen address. */
function endpointOf(config: Readonly<Config>): string {
  if (config.http.publicUrl !== undefined) return config.http.publicUrl;
  const { host, port } = config.http;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');

/** Registers the node commands: init, serve, user, arrangement, product. */
export function registerNodeCommands(program: Command, io: CliIo): void {
  program
    .command('init')
    .description(
      `create a node: data directory, config, database, node keys (encrypted under $${KEY_PASSPHRASE_ENV}) and an administrator`,
    )
    .option('--dir <dir>', 'data directory (default: $ACCORD_DATA_DIR or ./accord-data)')
    .option('--partner <code>', 'the partner this node belongs to (ISO 3166-1 alpha-3)', 'USA')
    .option('--name <name>', 'node name', 'accord')
    .option(
      '--database-url <url>',
      'PostgreSQL URL (postgres://…) to use instead of the SQLite file; kept in the config',
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (options: {
        dir?: string;
        partner: string;
        name: string;
        databaseUrl?: string;
        json?: boolean;
      }) => {
        const partner = parsePartnerOption(options.partner, '--partner');
        const dataDir = dataDirOf(io, options.dir);
        const database = options.databaseUrl === undefined ? {} : { database: { url: options.databaseUrl } };
        // Validate before writing anything, so a bad URL or no passphrase leaves no half-made node behind.
        const passphrase = keyPassphraseOf(io);
        loadConfig({ flags: { dataDir, partner, nodeName: options.name, ...database } });
        const keysFile = keysFileOf(dataDir);
        // Node keys are never replaced: a keys.json left without a config still refuses init.
        for (const name of [CONFIG_FILE, KEYS_FILE]) {
          const file = join(dataDir, name);
          if (existsSync(file)) {
            throw new AccordError(
              'INPUT_INVALID',
              `${dataDir} already holds an Accord node (${name} exists)`,
              {
                path: file,
              },
            );
          }
        }
        await writeNodeConfig(dataDir, { partner, nodeName: options.name, ...database });
        const keys = await createNodeKeys(dataDir, passphrase);
        const password = newPassword();
        await withLocalNode(io, dataDir, async (node) => {
          await node.services.directory.createUser(null, {
            username: 'admin',
            displayName: `${partner} node administrator`,
            nationality: partner,
            clearance: 'SECRET',
            caveats: [],
            communities: [],
            roles: ['administrator'],
            password,
          });
          // The node's own entry, so its directory lists the keys partners are to pin.
          await node.store.partners.upsert({
            code: partner,
            name: partner,
            endpoint: endpointOf(node.config),
            keys: partnerKeysOf(keys.public),
          });
        });
        if (options.json === true) {
          writeJson(io.stdout, {
            dataDir,
            partner,
            keys: keys.public,
            admin: { username: 'admin', password },
          });
          return;
        }
        writeLine(io.stdout, `initialised ${partner} node in ${dataDir}`);
        writeLine(io.stdout, `node keys in ${keysFile}, encrypted under ${KEY_PASSPHRASE_ENV}:`);
        writeLine(io.stdout, `  signing     ${keys.public.signing.fingerprint}`);
        writeLine(io.stdout, `  encryption  ${keys.public.encryption.fingerprint}`);
        writeLine(io.stdout, `administrator: admin  password: ${password}`);
        writeLine(io.stdout, 'the password is shown this once; keep it now.');
        writeLine(io.stdout, `start the node with: accord serve --dir ${dataDir}`);
      },
    );

  program
    .command('serve')
    .description(`run the node: HTTP API on the configured host and port (needs $${KEY_PASSPHRASE_ENV})`)
    .option('--dir <dir>', 'data directory')
    .option('--host <host>', 'listen address')
    .option('--port <port>', 'listen port')
    .action(async (options: { dir?: string; host?: string; port?: string }) => {
      const http: Record<string, unknown> = {};
      if (options.host !== undefined) http.host = options.host;
      if (options.port !== undefined) {
        if (!/^\d{1,5}$/.test(options.port))
          throw new AccordError('INPUT_INVALID', `--port: '${options.port}' is not a port number`, {});
        http.port = Number(options.port);
      }
      // Not openLocalNode: that quietens the log with a flag, which would hide the file's log.level.
      const config = await loadNodeConfig(io, options.dir, { http });
      const keys = await loadNodeKeys(config.dataDir, keyPassphraseOf(io));
      const node = await buildNode(config, { keys, ...(io.now ? { now: io.now } : {}) });
      let outbox: OutboxWorker | undefined;
      try {
        const address = await listenNode(node);
        outbox = startOutboxWorker(node);
        startAuditLog(node);
        startAuditGossip(node);
        writeLine(
          io.stdout,
          `accord ${config.partner} node listening on ${address}  (API docs: ${address}/api/v1/docs)`,
        );
        await waitForSignal();
        writeLine(io.stdout, 'stopping…');
      } finally {
        await outbox?.stop();
        await node.close();
      }
    });

  const user = program.command('user').description('manage users of a node');
  user
    .command('add')
    .description('add a user; a password is generated and shown once unless --password-env names one')
    .requiredOption('--username <name>', 'login name (lower case)')
    .requiredOption('--nationality <code>', 'trigraph')
    .requiredOption('--clearance <level>', 'UNCLASSIFIED | RESTRICTED | CONFIDENTIAL | SECRET | TOP SECRET')
    .requiredOption('--role <role...>', `one or more of ${ROLES.join(', ')}`)
    .option('--name <display name>', 'display name')
    .option('--caveats <list>', 'comma-separated caveat accesses, e.g. SI,TK', '')
    .option('--communities <list>', 'comma-separated communities of interest, e.g. FVEY', '')
    .option(
      '--oversight-of <arrangements>',
      'comma-separated arrangement ids whose oversight body the user sits on (scopes audit, reports, incidents)',
    )
    .option('--password-env <variable>', 'read the password from this environment variable')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the result as JSON')
    .action(async (options: Record<string, string | string[] | boolean | undefined>) => {
      const fromEnv = typeof options.passwordEnv === 'string' ? io.env[options.passwordEnv] : undefined;
      if (typeof options.passwordEnv === 'string' && fromEnv === undefined) {
        throw new AccordError('INPUT_INVALID', `--password-env: ${options.passwordEnv} is not set`, {});
      }
      const password = fromEnv ?? newPassword();
      const input = validateUser({
        username: options.username,
        displayName: options.name ?? options.username,
        nationality: String(options.nationality).toUpperCase(),
        clearance: String(options.clearance).toUpperCase(),
        caveats: list(String(options.caveats)),
        communities: list(String(options.communities)),
        roles: options.role,
        ...(typeof options.oversightOf === 'string' ? { oversightOf: list(options.oversightOf) } : {}),
        password,
      });
      const created = await withLocalNode(io, options.dir as string | undefined, (node) =>
        node.services.directory.createUser(null, input),
      );
      if (options.json === true)
        writeJson(io.stdout, { user: created, ...(fromEnv === undefined ? { password } : {}) });
      else {
        writeLine(
          io.stdout,
          `added ${created.username} (${created.roles.join(', ')}, ${created.nationality}, ${created.clearance})`,
        );
        if (fromEnv === undefined) writeLine(io.stdout, `password: ${password}  (shown this once)`);
      }
    });

  const arrangement = program.command('arrangement').description('manage arrangements on a node');
  arrangement
    .command('add <file>')
    .description('store an arrangement document (version 1)')
    .requiredOption('--as <user>', 'administrator acting')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the stored version as JSON')
    .action(async (file: string, options: { as: string; dir?: string; json?: boolean }) => {
      const stored = await withLocalNode(io, options.dir, async (node) => {
        const doc = await readDocument(file, io.cwd, 'arrangement', (x) => x);
        return node.services.arrangements.create(await actorFor(node, options.as), doc);
      });
      if (options.json === true) writeJson(io.stdout, stored);
      else
        writeLine(
          io.stdout,
          `stored ${stored.id} v${stored.version} (${stored.status}) ${stored.versionHash}`,
        );
    });
  arrangement
    .command('list')
    .description('list arrangements (latest versions)')
    .requiredOption('--as <user>', 'user acting')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: { as: string; dir?: string; json?: boolean }) => {
      const all = await withLocalNode(io, options.dir, async (node) =>
        node.services.arrangements.list(await actorFor(node, options.as)),
      );
      if (options.json === true) writeJson(io.stdout, all);
      else
        for (const a of all)
          writeLine(io.stdout, `${a.id} v${a.version}  ${a.status}  ${printable(a.document.title)}`);
    });

  const product = program.command('product').description('work with products on a node');
  product
    .command('create <file>')
    .description(
      `create a draft from a JSON file (a draft, or a product document whose draft fields are used); signed with the node key ($${KEY_PASSPHRASE_ENV})`,
    )
    .requiredOption('--as <user>', 'analyst writing it')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the product as JSON')
    .action(async (file: string, options: { as: string; dir?: string; json?: boolean }) => {
      const draft = await readDocument(file, io.cwd, 'product', draftOf);
      // Keys: the node signs every version it writes (DESIGN.md §2 invariant 4).
      const view = await withLocalNode(
        io,
        options.dir,
        async (node) => node.services.products.createDraft(await actorFor(node, options.as), draft),
        { keys: true },
      );
      if (options.json === true) writeJson(io.stdout, view);
      else writeLine(io.stdout, `created ${view.id} v${view.version} (${view.state})  ${view.banner}`);
    });

  for (const [name, description, run] of [
    ['submit', 'submit a draft for release approval (its author)', (s, a, id) => s.submit(a, id)],
    [
      'approve',
      'approve a submitted product (a release officer, not its author)',
      (s, a, id) => s.decide(a, id, 'approved'),
    ],
    ['reject', 'reject a submitted product', (s, a, id) => s.decide(a, id, 'rejected')],
  ] as const satisfies readonly (readonly [
    string,
    string,
    (s: ProductService, a: Actor, id: string) => Promise<ProductView>,
  ])[]) {
    product
      .command(`${name} <id>`)
      .description(description)
      .requiredOption('--as <user>', 'user acting')
      .option('--dir <dir>', 'data directory')
      .option('--json', 'print the product as JSON')
      .action(async (id: string, options: { as: string; dir?: string; json?: boolean }) => {
        const view = await withLocalNode(io, options.dir, async (node) =>
          run(node.services.products, await actorFor(node, options.as), id),
        );
        if (options.json === true) writeJson(io.stdout, view);
        else writeLine(io.stdout, `${view.id} v${view.version} is ${view.state}`);
      });
  }

  product
    .command('release <id>')
    .description(
      `release a product to a partner under an arrangement (policy-checked; a deny exits 2 naming the rules); signed and sealed with the node keys ($${KEY_PASSPHRASE_ENV})`,
    )
    .requiredOption('--to <partner>', 'recipient partner')
    .requiredOption('--under <arrangement>', 'arrangement id')
    .requiredOption('--as <user>', 'release officer acting')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the decision as JSON')
    .action(
      async (
        id: string,
        options: { to: string; under: string; as: string; dir?: string; json?: boolean },
      ) => {
        const to = parsePartnerOption(options.to, '--to', DEFAULT_REGISTRY);
        // Keys: the release is signed and sealed to the recipient now, or the outbox could never send it.
        const outcome = await withLocalNode(
          io,
          options.dir,
          async (node) =>
            node.services.products.release(await actorFor(node, options.as), id, to, options.under),
          { keys: true },
        );
        if (options.json === true) {
          writeJson(io.stdout, {
            releaseId: outcome.releaseId,
            banner: outcome.banner,
            decision: outcome.decision,
          });
          return;
        }
        writeLine(io.stdout, `released ${id} to ${to} under ${options.under}: ${outcome.banner}`);
        for (const w of outcome.decision.withheld) {
          writeLine(
            io.stdout,
            `  withheld ${w.portionId}: ${w.reasons.map((r) => `${r.rule} (${r.reason})`).join('; ')}`,
          );
        }
        writeLine(io.stdout, `release ${outcome.releaseId} queued for delivery`);
      },
    );

  product
    .command('show <id>')
    .description('show a product as a user may read it (withheld portions are counted, never shown)')
    .requiredOption('--as <user>', 'reader')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { as: string; dir?: string; json?: boolean }) => {
      const view = await withLocalNode(io, options.dir, async (node) =>
        node.services.products.read(await actorFor(node, options.as), id),
      );
      if (options.json === true) writeJson(io.stdout, view);
      else printProduct(io, view);
    });

  product
    .command('list')
    .description('list the products a user may read')
    .requiredOption('--as <user>', 'reader')
    .option('--text <text>', 'only products whose readable text contains this')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: { as: string; text?: string; dir?: string; json?: boolean }) => {
      const result = await withLocalNode(io, options.dir, async (node) =>
        node.services.products.search(await actorFor(node, options.as), {
          limit: 200,
          ...(options.text === undefined ? {} : { text: options.text }),
        }),
      );
      if (options.json === true) writeJson(io.stdout, result);
      else {
        for (const p of result.items)
          writeLine(io.stdout, `${p.id}  ${p.state.padEnd(9)}  ${p.banner}  ${printable(p.title)}`);
        writeLine(io.stdout, `${result.total} product(s)`);
      }
    });
}

/** Resolves on the first SIGINT or SIGTERM. */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
