import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { KEY_PASSPHRASE_ENV } from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import { loadTaxonomies, type MappedEvent, mapMispEvent, parseMispEvents } from '../interop/misp/index.js';
import { parseMarking } from '../markings/index.js';
import { DISCIPLINES, type Discipline } from '../products/index.js';
import type { ImportResult } from '../services/product-service.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';
import { readDocument } from './read-json-file.js';

/** From this many events on, `import misp` shows a progress bar on stderr while it stores them. */
export const PROGRESS_THRESHOLD = 50;

interface MispOptions {
  readonly as: string;
  readonly dir?: string;
  readonly marking?: string;
  readonly discipline: string;
  readonly category?: string[];
  readonly taxonomies?: string;
  readonly json?: boolean;
}

function disciplineOf(value: string): Discipline {
  const upper = value.trim().toUpperCase();
  const found = DISCIPLINES.find((d) => d === upper);
  if (found === undefined) {
    throw new AccordError(
      'INPUT_INVALID',
      `--discipline: '${printable(value).slice(0, 40)}' is not one of ${DISCIPLINES.join(', ')}`,
      { token: value },
    );
  }
  return found;
}

/** Runs `work`, prefixing an AccordError's message with what the user gave (`--marking: …`). */
function naming<T>(prefix: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (!isAccordError(error)) throw error;
    throw new AccordError(error.code, `${prefix}: ${error.message}`, error.details, { cause: error });
  }
}

async function namingAsync<T>(prefix: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isAccordError(error)) throw error;
    throw new AccordError(error.code, `${prefix}: ${error.message}`, error.details, { cause: error });
  }
}

const LINE_VERB: Readonly<Record<ImportResult['outcome'], string>> = {
  created: 'created',
  updated: 'updated',
  unchanged: 'unchanged (already imported, same content)',
  skipped: 'skipped',
};

/** Registers `accord import misp FILE`. */
export function registerImportCommands(program: Command, io: CliIo): void {
  const command =
    program.commands.find((c) => c.name() === 'import') ??
    program.command('import').description('bring data from other formats (MISP, STIX) into products');
  command
    .command('misp <file>')
    .description(
      `import MISP event JSON ({"Event": …}, an array of them, or {"response": […]}) as draft products, all or nothing; signed with the node key ($${KEY_PASSPHRASE_ENV})`,
    )
    .requiredOption('--as <user>', 'analyst the drafts are written by')
    .option('--dir <dir>', 'data directory')
    .option('--marking <marking>', 'the least restrictive label any portion gets (default: UNCLASSIFIED)')
    .option('--discipline <discipline>', `discipline of the products (${DISCIPLINES.join(', ')})`, 'CYBINT')
    .option(
      '--category <category>',
      'a category of the products, repeatable (default: cyber)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '--taxonomies <dir>',
      'a MISP/misp-taxonomies checkout to validate tags against (default: bundled)',
    )
    .option('--json', 'print the results as JSON')
    .action(async (file: string, options: MispOptions) => {
      // The file is read, checked and mapped before anything is written, and stored in one
      // transaction (importDrafts), so a bad file changes nothing.
      const events = await readDocument(file, io.cwd, 'MISP event', parseMispEvents);
      const discipline = disciplineOf(options.discipline);
      const taxonomies = await loadTaxonomies(
        options.taxonomies === undefined ? undefined : resolve(io.cwd, options.taxonomies),
      );
      const results = await withLocalNode(
        io,
        options.dir,
        async (node) => {
          const registry = node.services.registry;
          const floor =
            options.marking === undefined
              ? undefined
              : naming('--marking', () => parseMarking(options.marking!, registry).label);
          const mapped: MappedEvent[] = events.map((event) =>
            naming(file, () =>
              mapMispEvent(event, {
                taxonomies,
                registry,
                partner: node.config.partner,
                discipline,
                categories: options.category ?? ['cyber'],
                ...(floor === undefined ? {} : { floor }),
              }),
            ),
          );
          const actor = await actorFor(node, options.as);
          const bar =
            mapped.length >= PROGRESS_THRESHOLD
              ? new SingleBar({
                  format: 'importing MISP events [{bar}] {value}/{total}',
                  stream: io.stderr as NodeJS.WritableStream,
                  noTTYOutput: true,
                  notTTYSchedule: 1000,
                })
              : undefined;
          bar?.start(mapped.length, 0);
          try {
            return await namingAsync(file, () =>
              node.services.products.importDrafts(
                actor,
                mapped.map((m) => ({ id: m.productId, draft: m.draft })),
                (done) => bar?.update(done),
              ),
            );
          } finally {
            bar?.stop();
          }
        },
        { keys: true },
      );
      const counts = { created: 0, updated: 0, unchanged: 0, skipped: 0 };
      for (const r of results) counts[r.outcome]++;
      if (options.json === true) {
        writeJson(io.stdout, {
          events: results.map((r, i) => ({ uuid: events[i]!.uuid, ...r })),
          ...counts,
        });
        return;
      }
      for (const [i, r] of results.entries()) {
        const detail = r.banner ?? r.reason ?? '';
        writeLine(
          io.stdout,
          `${LINE_VERB[r.outcome]} ${r.id} v${r.version}${detail === '' ? '' : `  ${printable(detail)}`}  ${printable(events[i]!.info).slice(0, 80)}`,
        );
      }
      writeLine(
        io.stdout,
        `${results.length} event(s): ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.skipped} skipped`,
      );
    });
}
