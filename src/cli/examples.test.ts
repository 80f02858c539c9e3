import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArrangement } from '../arrangements/index.js';
import { renderBanner } from '../markings/index.js';
import { parseProduct } from '../products/index.js';
import { REPO_ROOT } from './captured-run.js';
import { parseReader } from './parse-reader.js';

const EXAMPLES = join(REPO_ROOT, 'examples');

/** Each folder under examples/ and the parser its documents must pass. */
const PARSERS: Readonly<Record<string, (input: unknown) => unknown>> = {
  arrangements: (input) => parseArrangement(input),
  products: (input) => {
    const product = parseProduct(input);
    // The banner must render too: it is what a person sees first.
    renderBanner(product.banner, { originator: product.originator });
    return product;
  },
  users: (input) => parseReader(input),
};

const files = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.json'))
  .map((f) => relative(EXAMPLES, join(EXAMPLES, f)))
  .sort();

describe('examples/', () => {
  it('holds the documents the README and tests use', () => {
    const count = (folder: string) => files.filter((f) => f.startsWith(`${folder}/`)).length;
    expect(count('arrangements')).toBeGreaterThanOrEqual(3);
    expect(count('products')).toBeGreaterThanOrEqual(5);
    expect(count('users')).toBeGreaterThanOrEqual(1);
  });

  it.each(files)('%s parses', (file) => {
    const folder = file.split('/')[0] ?? '';
    const parse = PARSERS[folder];
    if (parse === undefined) return expect.fail(`no parser for examples/${folder}/: add one to PARSERS`);
    expect(() => parse(JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')))).not.toThrow();
  });
});
