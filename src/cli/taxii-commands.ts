import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import { normaliseTimestamp, objectsUrl, pullCollection } from '../interop/taxii/index.js';
import { type CliIo, writeJson, writeLine } from './cli-io.js';
import { actorFor, dataDirOf, withLocalNode } from './local-node.js';

/** Where `taxii pull` records, per collection URL, the X-TAXII-Date-Added-Last it has imported up to. */
export const TAXII_STATE_FILE = 'taxii-pull.json';

interface PullOptions {
  readonly collection: string;
  readonly as: string;
  readonly since?: string;
  readonly user?: string;
  readonly passwordEnv?: string;
  readonly tokenEnv?: string;
  readonly marking?: string;
  readonly limit?: string;
  readonly progress?: boolean;
  readonly json?: boolean;
  readonly dir?: string;
}

interface PullState {
  readonly version: 1;
  readonly pulls: Record<string, { readonly addedAfter: string; readonly updatedAt: string }>;
}

function usage(message: string): AccordError {
  return new AccordError('INPUT_INVALID', message, {});
}

/** The Authorization header the flags ask for; the secret comes from the environment, never a flag. */
function authHeaders(io: CliIo, options: PullOptions): Record<string, string> {
  const secretOf = (flag: string, name: string): string => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name))
      throw usage(`${flag}: '${name.slice(0, 40)}' is not a variable name`);
    const value = io.env[name];
    if (value === undefined || value === '') throw usage(`${flag}: the variable ${name} is not set`);
    return value;
  };
  if (options.tokenEnv !== undefined) {
    if (options.user !== undefined || options.passwordEnv !== undefined)
      throw usage('taxii pull: give --token-env, or --user with --password-env, not both');
    return { authorization: `Bearer ${secretOf('--token-env', options.tokenEnv)}` };
  }
  if ((options.user === undefined) !== (options.passwordEnv === undefined))
    throw usage('taxii pull: --user and --password-env go together');
  if (options.user === undefined || options.passwordEnv === undefined) return {};
  if (options.user.includes(':')) throw usage('--user: a Basic user name has no colon');
  const password = secretOf('--password-env', options.passwordEnv);
  return { authorization: `Basic ${Buffer.from(`${options.user}:${password}`, 'utf8').toString('base64')}` };
}

async function readState(file: string): Promise<PullState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, pulls: {} };
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<PullState>;
  if (parsed.version !== 1 || typeof parsed.pulls !== 'object' || parsed.pulls === null) {
    throw new AccordError('CONFIG_INVALID', `${file}: not a TAXII pull state file`, {
      path: TAXII_STATE_FILE,
    });
  }
  return { version: 1, pulls: { ...parsed.pulls } };
}

// Write then rename: a pull stopped mid-write leaves the previous state, never half a file.
async function writeState(file: string, state: PullState): Promise<void> {
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** Registers `taxii pull`. */
export function registerTaxiiCommands(program: Command, io: CliIo): void {
  const taxii = program.command('taxii').description('TAXII 2.1 client');
  taxii
    .command('pull')
    .description(
      'import a remote TAXII 2.1 collection page by page through the STIX import; a rerun resumes ' +
        'after the last X-TAXII-Date-Added-Last imported (kept in the data directory)',
    )
    .argument('<url>', 'the API root, e.g. https://node.example/taxii2/accord/')
    .requiredOption('--collection <id>', 'the collection id')
    .requiredOption('--as <user>', 'the user importing (needs product:create)')
    .option('--since <time>', 'only objects added after this instant (instead of resuming)')
    .option('--user <name>', 'HTTP Basic user name on the remote')
    .option('--password-env <var>', 'the environment variable holding the Basic password')
    .option('--token-env <var>', 'the environment variable holding a bearer token')
    .option('--marking <marking>', 'label of objects without an Accord statement marking')
    .option('--limit <n>', 'objects per page asked for (default 1000)')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('--json', 'print the summary as JSON')
    .option('--dir <dir>', 'data directory')
    .action(async (url: string, options: PullOptions) => {
      // Every flag is checked before the node is opened or the remote asked: bad usage touches nothing.
      const key = objectsUrl(url, options.collection).toString();
      const headers = authHeaders(io, options);
      // Checked here, sent as written: the remote reads its own timestamp precision.
      if (options.since !== undefined) normaliseTimestamp(options.since, '--since');
      const since = options.since;
      const limit = options.limit === undefined ? 1000 : Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw usage('--limit: a whole number from 1 to 10000');
      const stateFile = join(dataDirOf(io, options.dir), TAXII_STATE_FILE);
      const state = await readState(stateFile);
      const addedAfter = since ?? state.pulls[key]?.addedAfter;
      let bar: SingleBar | undefined;
      let resumeAfter = addedAfter;
      let added = 0;
      const summary = await withLocalNode(io, options.dir, async (node) => {
        const actor = await actorFor(node, options.as);
        let seen = 0;
        return pullCollection({
          apiRoot: url,
          collection: options.collection,
          headers,
          limit,
          fetch: (target, init) => fetch(target, { headers: init.headers, redirect: 'error' }),
          ...(addedAfter === undefined ? {} : { addedAfter }),
          onPage: async (page) => {
            // The page is imported (all or nothing) before its date is recorded: a pull stopped
            // between the two imports that page again, which stores nothing twice.
            const result = await node.services.stix.import(actor, page.objects, {
              ...(options.marking === undefined ? {} : { marking: options.marking }),
            });
            added += result.added;
            if (page.dateAddedLast !== undefined) {
              resumeAfter = page.dateAddedLast;
              state.pulls[key] = { addedAfter: page.dateAddedLast, updatedAt: new Date().toISOString() };
              await writeState(stateFile, state);
            }
            seen += page.objects.length;
            if (io.stderr.isTTY === true || options.progress === true) {
              if (bar === undefined) {
                bar = new SingleBar({
                  format: 'pulling TAXII objects [{bar}] {value} objects',
                  stream: io.stderr as NodeJS.WritableStream,
                  noTTYOutput: true,
                  notTTYSchedule: 1000,
                });
                bar.start(limit, 0);
              }
              bar.setTotal(seen + (page.more ? limit : 0));
              bar.update(seen);
            }
          },
        });
      }).finally(() => (bar as SingleBar | undefined)?.stop());
      const result = { ...summary, added, collection: options.collection, resumeAfter: resumeAfter ?? null };
      if (options.json === true) {
        writeJson(io.stdout, result);
        return;
      }
      writeLine(
        io.stdout,
        `pulled ${summary.objects} STIX objects (${added} new) in ${summary.pages} pages` +
          (resumeAfter === undefined ? '' : `; the next pull resumes after ${resumeAfter}`),
      );
    });
}
