import type { Command } from 'commander';
import {
  DEFAULT_REGISTRY,
  type Label,
  orderRelTo,
  type ParsedMarking,
  parseMarking,
  type RenderOptions,
  renderBanner,
  renderPortionMark,
} from '../markings/index.js';
import { type CliIo, writeJson, writeLine } from './cli-io.js';
import { parsePartnerOption } from './option-values.js';

interface MarkingOptions {
  readonly originator?: string;
  readonly json?: boolean;
}

function renderOptions(options: MarkingOptions): RenderOptions {
  return options.originator === undefined
    ? { registry: DEFAULT_REGISTRY }
    : { registry: DEFAULT_REGISTRY, originator: parsePartnerOption(options.originator, '--originator') };
}

/** The canonical marking in the form it was written: a banner stays a banner, a portion mark a portion mark. */
function canonical(parsed: ParsedMarking, options: RenderOptions): string {
  switch (parsed.form) {
    case 'banner':
      return renderBanner(parsed.label, options);
    case 'portion':
      return renderPortionMark(parsed.label, options);
  }
}

function list(values: readonly string[] | null): string {
  return values === null || values.length === 0 ? '-' : values.join(', ');
}

function summary(parsed: ParsedMarking, options: RenderOptions): string[] {
  const label: Label = parsed.label;
  const rows: [string, string][] = [
    ['form', parsed.form],
    ['classification', `${label.classification.level} (${label.classification.scheme} scheme)`],
    ['rel to', label.relTo === null ? '-' : orderRelTo(label.relTo, options.originator).join(', ')],
    ['caveats', list(label.caveats)],
    ['controls', list(label.controls)],
    ['tlp', label.tlp ?? '-'],
    ['pap', label.pap ?? '-'],
    ['banner', renderBanner(label, options)],
    ['portion mark', renderPortionMark(label, options)],
  ];
  return rows.map(([key, value]) => `${key.padEnd(14)}  ${value}`);
}

/** Registers `accord marking normalize|parse`. */
export function registerMarkingCommands(program: Command, io: CliIo): void {
  const marking = program
    .command('marking')
    .description('parse and normalise CAPCO-style security markings (banners and portion marks)');

  marking
    .command('normalize')
    .description('print the canonical form of a banner or portion mark, in the form it was given')
    .argument('<marking>', "a banner such as 'SECRET//REL TO USA, GBR' or a portion mark such as '(S//NF)'")
    .option('--originator <partner>', 'originating partner, listed first in REL TO')
    .option('--json', 'print { form, canonical } as JSON')
    .action((input: string, options: MarkingOptions) => {
      const render = renderOptions(options);
      const parsed = parseMarking(input, DEFAULT_REGISTRY);
      const text = canonical(parsed, render);
      if (options.json === true) writeJson(io.stdout, { form: parsed.form, canonical: text });
      else writeLine(io.stdout, text);
    });

  marking
    .command('parse')
    .description('parse a banner or portion mark and show its label')
    .argument('<marking>', 'a banner or portion mark')
    .option('--originator <partner>', 'originating partner, listed first in REL TO')
    .option('--json', 'print { form, label, banner, portion } as JSON')
    .action((input: string, options: MarkingOptions) => {
      const render = renderOptions(options);
      const parsed = parseMarking(input, DEFAULT_REGISTRY);
      if (options.json === true) {
        writeJson(io.stdout, {
          form: parsed.form,
          label: parsed.label,
          banner: renderBanner(parsed.label, render),
          portion: renderPortionMark(parsed.label, render),
        });
      } else {
        for (const line of summary(parsed, render)) writeLine(io.stdout, line);
      }
    });
}
