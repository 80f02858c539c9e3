import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';

function limitOption(value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new AccordError('INPUT_INVALID', `--limit: a whole number from 1 to ${max}`, { token: value });
  }
  return Number(value);
}

function thresholdOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d(\.\d{1,6})?$/.test(value)) {
    throw new AccordError(
      'INPUT_INVALID',
      `--threshold: '${printable(value).slice(0, 20)}' is not a number`,
      {
        token: value,
      },
    );
  }
  return Number(value);
}

/**
 * Registers `similar` (products related by text) and `duplicates` (near-duplicates across
 * partners) of issue 9, each answered as the named user may read.
 */
export function registerAnalyticsCommands(program: Command, io: CliIo): void {
  program
    .command('similar <id>')
    .description('products most similar to this one by TF-IDF over the text the user may read')
    .requiredOption('--as <user>', 'the reader')
    .option('--received', 'the id is a received product')
    .option('--limit <n>', 'at most this many (default 20, at most 100)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(
      async (
        id: string,
        options: { as: string; received?: boolean; limit?: string; dir?: string; json?: boolean },
      ) => {
        const limit = limitOption(options.limit, 100);
        const items = await withLocalNode(io, options.dir, async (node) =>
          node.services.similarity.similar(
            await actorFor(node, options.as),
            options.received === true ? 'received' : 'own',
            id,
            limit === undefined ? {} : { limit },
          ),
        );
        if (options.json === true) {
          writeJson(io.stdout, items);
          return;
        }
        for (const p of items) {
          writeLine(
            io.stdout,
            `${p.score.toFixed(4)}  ${p.source} ${p.id} v${p.version}  ${p.originator}  ${printable(p.title)}  [${p.terms.map(printable).join(', ')}]`,
          );
        }
        writeLine(io.stdout, `${items.length} similar product(s)`);
      },
    );

  program
    .command('duplicates')
    .description('near-duplicate products from different partners, judged on the text the user may read')
    .requiredOption('--as <user>', 'the reader')
    .option('--threshold <j>', 'word-shingle Jaccard from 0.5 to 1 (default 0.8)')
    .option('--limit <n>', 'at most this many clusters (default 100, at most 500)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(
      async (options: { as: string; threshold?: string; limit?: string; dir?: string; json?: boolean }) => {
        const threshold = thresholdOption(options.threshold);
        const limit = limitOption(options.limit, 500);
        const clusters = await withLocalNode(io, options.dir, async (node) =>
          node.services.similarity.duplicates(await actorFor(node, options.as), {
            ...(threshold === undefined ? {} : { threshold }),
            ...(limit === undefined ? {} : { limit }),
          }),
        );
        if (options.json === true) {
          writeJson(io.stdout, clusters);
          return;
        }
        for (const c of clusters) {
          writeLine(io.stdout, `${c.similarity.toFixed(4)}  ${c.partners.join(', ')}`);
          for (const p of c.products) {
            writeLine(
              io.stdout,
              `  ${p.source} ${p.id} v${p.version}  ${p.originator}  ${printable(p.title)}`,
            );
          }
        }
        writeLine(io.stdout, `${clusters.length} cluster(s)`);
      },
    );
}
