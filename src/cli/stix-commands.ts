import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import type { StixViewer } from '../interop/stix/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';
import { readJsonFile } from './read-json-file.js';

/** Imports of at least this many objects show a progress bar on stderr. */
export const PROGRESS_MIN_OBJECTS = 5000;

interface ExportOptions {
  readonly product?: string;
  readonly all?: boolean;
  readonly for?: string;
  readonly under?: string;
  readonly as?: string;
  readonly out?: string;
  readonly dir?: string;
}

interface ImportOptions {
  readonly as: string;
  readonly marking?: string;
  readonly json?: boolean;
  readonly dir?: string;
}

function usage(message: string, token?: string): AccordError {
  return new AccordError('INPUT_INVALID', message, token === undefined ? {} : { token });
}

/** Checks the export flags before the node is opened: bad usage touches nothing. */
function checkExport(options: ExportOptions): void {
  if ((options.product === undefined) === (options.all !== true)) {
    throw usage('export stix: give exactly one of --product <id> and --all');
  }
  if (options.for !== undefined && options.as !== undefined) {
    throw usage('export stix: give --for <partner> or --as <user>, not both');
  }
  if (options.for !== undefined && !/^[A-Z]{3}$/.test(options.for)) {
    throw usage(`--for: '${printable(options.for).slice(0, 20)}' is not a partner trigraph`, options.for);
  }
  if (options.under !== undefined && options.for === undefined) throw usage('--under needs --for <partner>');
}

/** Registers `export stix` and `import stix`. */
export function registerStixCommands(program: Command, io: CliIo): void {
  const exporting = program.command('export').description('export from a node in an interchange format');
  exporting
    .command('stix')
    .description(
      'STIX 2.1 bundle of one product or all: as the operator sees it, as a user may read it (--as), ' +
        'or torn to what a partner would receive under the release policy (--for)',
    )
    .option('--product <id>', 'the product to export')
    .option('--all', 'every product (and, for the operator, every imported object)')
    .option('--for <partner>', 'only what this partner would be released (the torn version, never more)')
    .option('--under <arrangement>', 'with --for: judge under this arrangement only')
    .option('--as <user>', 'only what this user may read')
    .option('--out <file>', 'write the bundle to this file instead of stdout')
    .option('--dir <dir>', 'data directory')
    .action(async (options: ExportOptions) => {
      checkExport(options);
      const bundle = await withLocalNode(io, options.dir, async (node) => {
        const viewer: StixViewer =
          options.for !== undefined
            ? {
                kind: 'partner',
                partner: options.for,
                ...(options.under === undefined ? {} : { arrangementId: options.under }),
              }
            : options.as !== undefined
              ? { kind: 'user', actor: await actorFor(node, options.as) }
              : { kind: 'operator' };
        return node.services.stix.exportBundle(
          viewer,
          options.product === undefined ? {} : { productId: options.product },
        );
      });
      if (options.out === undefined) writeJson(io.stdout, bundle);
      else
        await writeFile(resolve(io.cwd, options.out), `${JSON.stringify(bundle, null, 2)}\n`, {
          mode: 0o600,
        });
    });

  // `import misp` (import-commands.ts) may have made the command already: add to it.
  const importing =
    program.commands.find((c) => c.name() === 'import') ??
    program.command('import').description('import into a node from an interchange format');
  importing
    .command('stix')
    .description(
      'import a STIX 2.1 bundle: reports become draft products of the importing user, every object is ' +
        'kept with its id and version; a bad bundle is refused with the JSON path of its first error and nothing is stored',
    )
    .argument('<file>', 'the STIX 2.1 bundle (or object array) to import')
    .requiredOption(
      '--as <user>',
      'the user importing (needs product:create and must be able to read what they import)',
    )
    .option(
      '--marking <marking>',
      'label of objects without an Accord statement marking (default UNCLASSIFIED//NOFORN: not passed on to partners)',
    )
    .option('--json', 'print the summary as JSON')
    .option('--dir <dir>', 'data directory')
    .action(async (file: string, options: ImportOptions) => {
      const input = await readJsonFile(file, io.cwd, 'STIX bundle');
      let bar: SingleBar | undefined;
      const summary = await withLocalNode(io, options.dir, async (node) =>
        node.services.stix.import(await actorFor(node, options.as), input, {
          ...(options.marking === undefined ? {} : { marking: options.marking }),
          onProgress: (done, total) => {
            if (total < PROGRESS_MIN_OBJECTS) return;
            if (bar === undefined) {
              bar = new SingleBar({
                format: 'storing STIX objects [{bar}] {value}/{total}',
                stream: io.stderr as NodeJS.WritableStream,
                noTTYOutput: true,
                notTTYSchedule: 1000,
              });
              bar.start(total, 0);
            }
            bar.update(done);
          },
        }),
      ).finally(() => (bar as SingleBar | undefined)?.stop());
      if (options.json === true) {
        writeJson(io.stdout, summary);
        return;
      }
      writeLine(
        io.stdout,
        `imported ${summary.objects} STIX objects (${summary.added} new), ${summary.products.length} products`,
      );
      for (const id of summary.products) writeLine(io.stdout, `  ${id}`);
    });
}
