import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import type { AlertRuleInput, AlertView } from '../services/alert-service.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';

const KINDS = ['entity-by-partners', 'watched-area', 'reliable-source'] as const;

function integerOption(value: string, flag: string): number {
  if (!/^\d{1,6}$/.test(value)) {
    throw new AccordError(
      'INPUT_INVALID',
      `${flag}: '${printable(value).slice(0, 40)}' is not a whole number`,
      {
        token: value,
      },
    );
  }
  return Number(value);
}

function bboxOption(value: string): { minLon: number; minLat: number; maxLon: number; maxLat: number } {
  const parts = value.split(',').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) {
    throw new AccordError('INPUT_INVALID', '--bbox: expected minLon,minLat,maxLon,maxLat', { token: value });
  }
  const [minLon, minLat, maxLon, maxLat] = parts as [number, number, number, number];
  return { minLon, minLat, maxLon, maxLat };
}

interface RuleOptions {
  readonly as: string;
  readonly kind: string;
  readonly minPartners?: string;
  readonly windowHours?: string;
  readonly entityTypes?: string;
  readonly bbox?: string;
  readonly categories?: string;
  readonly partner?: string;
  readonly minReliability?: string;
  readonly team?: string;
  readonly dir?: string;
  readonly json?: boolean;
}

/** The rule the options describe; the alert service validates it like a request body. */
function ruleOf(options: RuleOptions): Record<string, unknown> {
  const rule = kindOf(options);
  return options.team === undefined ? rule : { ...rule, team: options.team };
}

function kindOf(options: RuleOptions): Record<string, unknown> {
  const list = (value: string | undefined) => value?.split(',').map((s) => s.trim());
  switch (options.kind) {
    case 'entity-by-partners':
      return {
        kind: options.kind,
        minPartners: integerOption(options.minPartners ?? '2', '--min-partners'),
        windowHours: integerOption(options.windowHours ?? '24', '--window-hours'),
        ...(options.entityTypes === undefined ? {} : { entityTypes: list(options.entityTypes) }),
      };
    case 'watched-area':
      if (options.bbox === undefined) {
        throw new AccordError('INPUT_INVALID', 'watched-area needs --bbox minLon,minLat,maxLon,maxLat', {
          path: '--bbox',
        });
      }
      return {
        kind: options.kind,
        bbox: bboxOption(options.bbox),
        ...(options.categories === undefined ? {} : { categories: list(options.categories) }),
      };
    case 'reliable-source':
      return { kind: options.kind, partner: options.partner, minReliability: options.minReliability };
    default:
      throw new AccordError('INPUT_INVALID', `--kind: one of ${KINDS.join(', ')}`, { token: options.kind });
  }
}

function printAlert(io: CliIo, alert: AlertView): void {
  writeLine(io.stdout, `${alert.firedAt}  ${alert.id}  ${alert.kind}  ${printable(alert.summary)}`);
  for (const p of alert.products) {
    writeLine(io.stdout, `  ${p.source} ${p.id} v${p.version}  ${p.originator}  ${printable(p.title)}`);
  }
}

/**
 * Registers `alerts` (a user's alerts) and `alert-rule add|list|remove` (issue 9, early warning):
 * a user's own rules, or with `--team` their team's.
 */
export function registerAlertCommands(program: Command, io: CliIo): void {
  program
    .command('alerts')
    .description("list a user's alerts, newest first, naming only products they may read")
    .requiredOption('--as <user>', 'the rules’ owner')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: { as: string; dir?: string; json?: boolean }) => {
      const alerts = await withLocalNode(io, options.dir, async (node) =>
        node.services.alerts.list(await actorFor(node, options.as), { limit: 500 }),
      );
      if (options.json === true) {
        writeJson(io.stdout, alerts);
        return;
      }
      for (const alert of alerts) printAlert(io, alert);
      writeLine(io.stdout, `${alerts.length} alert(s)`);
    });

  const rule = program.command('alert-rule').description("a user's or their team's early-warning rules");
  rule
    .command('add')
    .description('add a rule: entity-by-partners, watched-area or reliable-source')
    .requiredOption('--as <user>', 'owner')
    .requiredOption('--kind <kind>', KINDS.join(' | '))
    .option('--min-partners <n>', 'entity-by-partners: distinct partners (default 2)')
    .option('--window-hours <n>', 'entity-by-partners: within this many hours (default 24)')
    .option('--entity-types <list>', 'entity-by-partners: only these types (ipv4,domain,…)')
    .option('--bbox <minLon,minLat,maxLon,maxLat>', 'watched-area: the box')
    .option('--categories <list>', 'watched-area: any of these categories')
    .option('--partner <code>', 'reliable-source: originator')
    .option('--min-reliability <A-F>', 'reliable-source: at least this reliable')
    .option('--team <community>', "the team's rule (one of the user's communities), judged for each member")
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: RuleOptions) => {
      const input = ruleOf(options);
      const added = await withLocalNode(io, options.dir, async (node) =>
        node.services.alerts.addRule(await actorFor(node, options.as), input),
      );
      if (options.json === true) {
        writeJson(io.stdout, added);
        return;
      }
      writeLine(io.stdout, `rule ${added.id} added: ${describeRule(added.rule)}${teamOf(added.rule)}`);
    });

  rule
    .command('list')
    .description("list a user's rules")
    .requiredOption('--as <user>', 'owner')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: { as: string; dir?: string; json?: boolean }) => {
      const rules = await withLocalNode(io, options.dir, async (node) =>
        node.services.alerts.rules(await actorFor(node, options.as)),
      );
      if (options.json === true) {
        writeJson(io.stdout, rules);
        return;
      }
      for (const r of rules) writeLine(io.stdout, `${r.id}  ${describeRule(r.rule)}${teamOf(r.rule)}`);
      writeLine(io.stdout, `${rules.length} rule(s)`);
    });

  rule
    .command('remove <id>')
    .description('remove one of a user’s rules')
    .requiredOption('--as <user>', 'owner')
    .option('--dir <dir>', 'data directory')
    .action(async (id: string, options: { as: string; dir?: string }) => {
      await withLocalNode(io, options.dir, async (node) =>
        node.services.alerts.deleteRule(await actorFor(node, options.as), id),
      );
      writeLine(io.stdout, `rule ${id} removed`);
    });
}

function teamOf(rule: AlertRuleInput): string {
  return rule.team === undefined ? '' : ` (team ${rule.team})`;
}

function describeRule(rule: AlertRuleInput): string {
  switch (rule.kind) {
    case 'entity-by-partners':
      return `the same entity${rule.entityTypes === undefined ? '' : ` (${rule.entityTypes.join(', ')})`} from ${rule.minPartners} partners within ${rule.windowHours} h`;
    case 'watched-area':
      return `a product in ${rule.bbox.minLon},${rule.bbox.minLat},${rule.bbox.maxLon},${rule.bbox.maxLat}${rule.categories === undefined ? '' : ` in ${rule.categories.join(', ')}`}`;
    case 'reliable-source':
      return `a product from ${rule.partner} at reliability ${rule.minReliability} or better`;
  }
}
