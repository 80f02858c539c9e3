import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import { renderComplianceHtml } from '../oversight/compliance-html.js';
import { parseComplianceQuery } from '../services/compliance-service.js';
import { type CliIo, printable, writeJson } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';

interface ComplianceOptions {
  readonly arrangement: string;
  readonly from: string;
  readonly to: string;
  readonly format?: string;
  readonly as?: string;
  readonly dir?: string;
}

function formatOf(value: string | undefined): 'json' | 'html' {
  if (value === undefined || value === 'json' || value === 'html') return value ?? 'json';
  throw new AccordError('INPUT_INVALID', `--format: '${printable(value).slice(0, 20)}' is not json or html`, {
    token: value,
  });
}

/** Registers `report compliance`. */
export function registerReportCommands(program: Command, io: CliIo): void {
  const report = program.command('report').description('oversight reports from a node (metadata only)');

  report
    .command('compliance')
    .description(
      'compliance report of one arrangement over [--from, --to): releases by partner pair, classification ' +
        'and discipline, denials by rule, approvals, recalls, incidents and anomalies, as JSON or a printable HTML page',
    )
    .requiredOption('--arrangement <id>', 'the arrangement')
    .requiredOption('--from <date>', 'start of the period, included (2026-01-01 or an instant with a zone)')
    .requiredOption('--to <date>', 'end of the period, excluded')
    .option('--format <format>', 'json (default) or html')
    .option('--as <user>', 'the user asking (needs report:read); without it, the node operator')
    .option('--dir <dir>', 'data directory')
    .action(async (options: ComplianceOptions) => {
      // Checked before the node is opened: bad input fails without touching the data directory.
      const format = formatOf(options.format);
      const query = parseComplianceQuery({
        arrangement: options.arrangement,
        from: options.from,
        to: options.to,
      });
      const built = await withLocalNode(io, options.dir, async (node) =>
        options.as === undefined
          ? node.services.compliance.build(query)
          : node.services.compliance.report(await actorFor(node, options.as), query),
      );
      if (format === 'html') io.stdout.write(renderComplianceHtml(built));
      else writeJson(io.stdout, built);
    });
}
