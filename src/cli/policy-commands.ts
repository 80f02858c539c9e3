import type { Command } from 'commander';
import { parseArrangement } from '../arrangements/index.js';
import { DEFAULT_REGISTRY, renderBanner, renderPortionMark } from '../markings/index.js';
import {
  type CompiledArrangement,
  compileArrangement,
  type Decision,
  decideRead,
  decideRelease,
  type RuleOutcome,
} from '../policy/index.js';
import { type Product, parseProduct } from '../products/index.js';
import { type CliIo, colorsFor, printable, writeJson, writeLine } from './cli-io.js';
import { parseInstantOption, parsePartnerOption } from './option-values.js';
import { parseReader } from './parse-reader.js';
import { readDocument } from './read-json-file.js';

const registry = DEFAULT_REGISTRY;

function loadProduct(file: string, io: CliIo): Promise<Product> {
  return readDocument(file, io.cwd, 'product', (input) => parseProduct(input, registry));
}

function loadArrangement(file: string, io: CliIo): Promise<CompiledArrangement> {
  return readDocument(file, io.cwd, 'arrangement', (input) =>
    compileArrangement(parseArrangement(input, registry), registry),
  );
}

function instant(at: string | undefined, io: CliIo): number {
  return at === undefined ? (io.now ?? Date.now)() : parseInstantOption(at, '--at');
}

const OUTCOME_TEXT: Readonly<Record<RuleOutcome, string>> = {
  pass: 'pass',
  fail: 'FAIL',
  withhold: 'withhold',
};

/**
 * A Decision as lines a person reads: the verdict, every rule with its reason, each withheld
 * portion with its reasons, then what is handed over (banner, title and kept portions).
 */
function formatDecision(decision: Decision, product: Product, io: CliIo): string[] {
  const c = colorsFor(io);
  const lines: string[] = [];
  lines.push(
    decision.effect === 'allow'
      ? c.bold(c.green('ALLOW'))
      : c.bold(c.red(`DENY (${decision.deniedBy.join(', ')})`)),
  );

  const ruleWidth = Math.max(...decision.rules.map((r) => r.rule.length));
  for (const r of decision.rules) {
    const outcome = OUTCOME_TEXT[r.outcome].padEnd(8);
    const tint = r.outcome === 'fail' ? c.red : r.outcome === 'withhold' ? c.yellow : c.dim;
    lines.push(`  ${tint(outcome)}  ${r.rule.padEnd(ruleWidth)}  ${printable(r.reason)}`);
  }

  if (decision.withheld.length > 0) {
    lines.push('withheld');
    const idWidth = Math.max(...decision.withheld.map((w) => w.portionId.length));
    const reasonRuleWidth = Math.max(
      ...decision.withheld.flatMap((w) => w.reasons.map((r) => r.rule.length)),
    );
    for (const w of decision.withheld) {
      for (const r of w.reasons) {
        lines.push(
          `  ${w.portionId.padEnd(idWidth)}  ${r.rule.padEnd(reasonRuleWidth)}  ${printable(r.reason)}`,
        );
      }
    }
  }

  const derived = decision.derived;
  if (derived !== null) {
    const options = { originator: product.originator, registry };
    lines.push(`banner  ${renderBanner(derived.banner, options)}`);
    const rows = [
      { id: 'title', mark: renderPortionMark(derived.titleLabel, options), text: derived.title },
      ...derived.portions.map((p) => ({ id: p.id, mark: renderPortionMark(p.label, options), text: p.text })),
    ];
    const idWidth = Math.max(...rows.map((r) => r.id.length));
    const markWidth = Math.max(...rows.map((r) => r.mark.length));
    for (const row of rows) {
      lines.push(`  ${row.id.padEnd(idWidth)}  ${row.mark.padEnd(markWidth)}  ${printable(row.text)}`);
    }
  }
  return lines;
}

/** The Decision for `--json`, with the derived banner, title and portion marks rendered as strings beside the labels. */
function decisionJson(decision: Decision, product: Product): Record<string, unknown> {
  const derived = decision.derived;
  const options = { originator: product.originator, registry };
  return {
    ...decision,
    derived:
      derived === null
        ? null
        : {
            ...derived,
            bannerMarking: renderBanner(derived.banner, options),
            titleMarking: renderPortionMark(derived.titleLabel, options),
            portions: derived.portions.map((p) => ({ ...p, marking: renderPortionMark(p.label, options) })),
          },
  };
}

interface ReleaseOptions {
  readonly product: string;
  readonly arrangement: string;
  readonly to: string;
  readonly from?: string;
  readonly at?: string;
  readonly json?: boolean;
}

interface ReadOptions {
  readonly product: string;
  readonly user: string;
  readonly arrangement?: string;
  readonly at?: string;
  readonly json?: boolean;
}

/** Registers `accord policy release|read`. Any decision exits 0; only bad input is an error. */
export function registerPolicyCommands(program: Command, io: CliIo): void {
  const policy = program
    .command('policy')
    .description('check a release or a read against policy and show why');

  policy
    .command('release')
    .description(
      'decide whether a product may be released to a partner under an arrangement, and show the tear line',
    )
    .requiredOption('--product <file>', 'product JSON document')
    .requiredOption('--arrangement <file>', 'arrangement JSON document')
    .requiredOption('--to <partner>', 'recipient partner (trigraph)')
    .option('--from <partner>', "releasing partner (default: the product's originator)")
    .option('--at <instant>', 'decide as of this ISO 8601 instant (default: now)')
    .option('--json', 'print the Decision as JSON')
    .action(async (options: ReleaseOptions) => {
      // Check the cheap flags before reading files, so a typo is reported first.
      const recipient = parsePartnerOption(options.to, '--to');
      const explicitSender =
        options.from === undefined ? undefined : parsePartnerOption(options.from, '--from');
      const at = instant(options.at, io);
      const product = await loadProduct(options.product, io);
      const arrangement = await loadArrangement(options.arrangement, io);
      const sender = explicitSender ?? product.originator;
      const decision = decideRelease(product, arrangement, recipient, { at, sender });
      if (options.json === true) {
        writeJson(io.stdout, {
          request: {
            product: { id: product.id, version: product.version },
            arrangement: { id: arrangement.id, version: arrangement.version },
            sender,
            recipient,
            at: new Date(at).toISOString(),
          },
          ...decisionJson(decision, product),
        });
      } else {
        for (const line of formatDecision(decision, product, io)) writeLine(io.stdout, line);
      }
    });

  policy
    .command('read')
    .description('decide what a user may read of a product, and show the tear line')
    .requiredOption('--product <file>', 'product JSON document')
    .requiredOption(
      '--user <file>',
      'user JSON document { id, nationality, clearance, caveats, communities }',
    )
    .option(
      '--arrangement <file>',
      'arrangement the product arrived under (its equivalence table maps national levels)',
    )
    .option('--at <instant>', 'decide as of this ISO 8601 instant (default: now)')
    .option('--json', 'print the Decision as JSON')
    .action(async (options: ReadOptions) => {
      const at = instant(options.at, io);
      const product = await loadProduct(options.product, io);
      const reader = await readDocument(options.user, io.cwd, 'user', (input) =>
        parseReader(input, registry),
      );
      const arrangement =
        options.arrangement === undefined ? undefined : await loadArrangement(options.arrangement, io);
      const decision = decideRead(product, reader, {
        at,
        registry,
        ...(arrangement === undefined ? {} : { arrangement }),
      });
      if (options.json === true) {
        writeJson(io.stdout, {
          request: {
            product: { id: product.id, version: product.version },
            reader: reader.id,
            ...(arrangement === undefined
              ? {}
              : { arrangement: { id: arrangement.id, version: arrangement.version } }),
            at: new Date(at).toISOString(),
          },
          ...decisionJson(decision, product),
        });
      } else {
        for (const line of formatDecision(decision, product, io)) writeLine(io.stdout, line);
      }
    });
}
