import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AccordError } from '../../errors/index.js';
import { parseTaxonomy, type Taxonomy, type TaxonomySet, taxonomySetOf } from './taxonomy.js';

/** The taxonomies shipped with Accord (data/misp-taxonomies, copied from MISP/misp-taxonomies). */
export const BUNDLED_TAXONOMY_DIR = resolve(import.meta.dirname, '../../../data/misp-taxonomies');

/**
 * Reads every `<namespace>/machinetag.json` under `dir` (the layout of a MISP/misp-taxonomies
 * checkout). A directory with none, or a file that is not a taxonomy, is INPUT_INVALID.
 */
export async function loadTaxonomies(dir: string = BUNDLED_TAXONOMY_DIR): Promise<TaxonomySet> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (error) {
    throw new AccordError(
      'INPUT_INVALID',
      `cannot read taxonomy directory '${dir}'`,
      { file: dir },
      { cause: error },
    );
  }
  const taxonomies: Taxonomy[] = [];
  for (const name of entries.sort()) {
    const file = join(dir, name, 'machinetag.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new AccordError(
        'INPUT_INVALID',
        `taxonomy ${file} is not valid JSON`,
        { file },
        { cause: error },
      );
    }
    taxonomies.push(parseTaxonomy(document, file));
  }
  if (taxonomies.length === 0)
    throw new AccordError('INPUT_INVALID', `no taxonomy (*/machinetag.json) in '${dir}'`, { file: dir });
  return taxonomySetOf(taxonomies);
}
