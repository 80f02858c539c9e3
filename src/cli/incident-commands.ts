import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import { INCIDENT_SEVERITIES } from '../federation/index.js';
import type { IncidentDecision, IncidentView } from '../services/incident-service.js';
import type { IncidentRecord } from '../store/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';

// Issue 5's breach protocol from the command line: report an incident, list and show incidents,
// and take the oversight body's steps (review, confirm, resolve) or an administrator's suspension.
// Reporting and every step seal notices to the other parties, so those commands unlock the node
// keys (ACCORD_KEY_PASSPHRASE); list and show read only.

const STEP_COMMANDS: readonly {
  readonly name: string;
  readonly action: IncidentDecision;
  readonly help: string;
}[] = [
  {
    name: 'review',
    action: 'review-opened',
    help: 'open the oversight review of an incident (oversight auditor)',
  },
  {
    name: 'confirm',
    action: 'confirmed',
    help: 'confirm the breach (oversight auditor); suspends when the protocol says so',
  },
  {
    name: 'resolve',
    action: 'resolved',
    help: 'resolve the incident: no breach, or dealt with (oversight auditor)',
  },
  {
    name: 'suspend',
    action: 'party-suspended',
    help: 'suspend the suspected party at every node (administrator)',
  },
];

function line(incident: IncidentRecord): string {
  const under = incident.arrangement === null ? '' : ` under ${incident.arrangement.id}`;
  const severity = incident.severity === null ? '' : ` ${incident.severity}`;
  const origin = incident.origin === null ? '' : ` (reported at ${incident.origin})`;
  return `${incident.id}  ${incident.kind}${severity}  ${incident.state}  suspect ${incident.partner}${under}${origin}`;
}

function printIncident(io: CliIo, incident: IncidentView): void {
  writeLine(io.stdout, line(incident));
  if (incident.description !== null) writeLine(io.stdout, `  ${printable(incident.description)}`);
  if (incident.products.length > 0) writeLine(io.stdout, `  products: ${incident.products.join(', ')}`);
  if (incident.notifyBy !== null) writeLine(io.stdout, `  parties to be notified by ${incident.notifyBy}`);
  for (const s of incident.steps) {
    const who = `${s.byPartner}${s.byUser === null ? '' : `/${s.byUser}`}`;
    const effects = [
      ...(s.effects.recalled ?? []).map((p) => `recalled ${p}`),
      ...(s.effects.suspended === undefined
        ? []
        : [
            `suspended ${s.effects.suspended.partner} under ${s.effects.suspended.arrangementId} v${s.effects.suspended.version}`,
          ]),
      ...(s.effects.notSent ?? []).map((n) => `not sent to ${n.partner}`),
    ];
    const note = s.note === null ? '' : `: ${printable(s.note)}`;
    writeLine(io.stdout, `  ${s.seq}. ${s.at} ${s.action} by ${who} -> ${s.state}${note}`);
    if (effects.length > 0) writeLine(io.stdout, `     ${effects.join('; ')}`);
  }
  for (const n of incident.notifications) {
    const when = n.reportDeliveredAt === null ? '' : ` (report delivered ${n.reportDeliveredAt})`;
    const overdue = n.overdue ? '  OVERDUE' : '';
    writeLine(
      io.stdout,
      `  notify ${n.partner}: ${n.status}, ${n.delivered}/${n.steps} step(s)${when}${overdue}`,
    );
  }
}

function productsOf(value: unknown): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** Registers `accord incident list|show|report|review|confirm|resolve|suspend`. */
export function registerIncidentCommands(program: Command, io: CliIo): void {
  const incident = program.command('incident').description('breach incidents and audit forks (issue 5)');

  incident
    .command('list')
    .description('list incidents (reported breaches and audit forks found by gossip)')
    .requiredOption('--as <user>', 'user acting (incident:read)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print JSON')
    .action(async (options: { as: string; dir?: string; json?: boolean }) => {
      const list = await withLocalNode(io, options.dir, async (node) =>
        node.services.incidents.list(await actorFor(node, options.as)),
      );
      if (options.json === true) writeJson(io.stdout, list);
      else if (list.length === 0) writeLine(io.stdout, 'no incidents');
      else for (const i of list) writeLine(io.stdout, line(i));
    });

  incident
    .command('show <id>')
    .description('one incident: its steps, their effects here, and who has been notified')
    .requiredOption('--as <user>', 'user acting (incident:read)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { as: string; dir?: string; json?: boolean }) => {
      const view = await withLocalNode(io, options.dir, async (node) =>
        node.services.incidents.get(await actorFor(node, options.as), id),
      );
      if (options.json === true) writeJson(io.stdout, view);
      else printIncident(io, view);
    });

  incident
    .command('report')
    .description('report a breach under an arrangement: its breach protocol runs (notify, recall, review)')
    .requiredOption('--as <user>', 'user reporting (incident:report)')
    .requiredOption('--arrangement <id>', 'the arrangement the breach falls under')
    .requiredOption('--suspect <partner>', 'the suspected party (a trigraph)')
    .requiredOption('--severity <level>', INCIDENT_SEVERITIES.join(' | '))
    .requiredOption('--description <text>', 'what happened')
    .option('--product <ids...>', 'products involved (repeat or comma-separate)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print JSON')
    .action(async (options: Record<string, unknown>) => {
      const severity = String(options.severity).toLowerCase();
      if (!(INCIDENT_SEVERITIES as readonly string[]).includes(severity)) {
        throw new AccordError(
          'INPUT_INVALID',
          `--severity: '${printable(String(options.severity)).slice(0, 40)}' is not one of ${INCIDENT_SEVERITIES.join(', ')}`,
          { path: '/severity' },
        );
      }
      const view = await withLocalNode(
        io,
        options.dir as string | undefined,
        async (node) =>
          node.services.incidents.report(await actorFor(node, String(options.as)), {
            arrangement: String(options.arrangement),
            suspectedParty: String(options.suspect).toUpperCase(),
            products: productsOf(options.product),
            severity: severity as (typeof INCIDENT_SEVERITIES)[number],
            description: String(options.description),
          }),
        { keys: true },
      );
      if (options.json === true) writeJson(io.stdout, view);
      else printIncident(io, view);
    });

  for (const step of STEP_COMMANDS) {
    incident
      .command(`${step.name} <id>`)
      .description(step.help)
      .requiredOption('--as <user>', 'user acting')
      .option('--note <text>', 'a note every party sees with the step')
      .option('--dir <dir>', 'data directory')
      .option('--json', 'print JSON')
      .action(async (id: string, options: { as: string; note?: string; dir?: string; json?: boolean }) => {
        const view = await withLocalNode(
          io,
          options.dir,
          async (node) =>
            node.services.incidents.decide(
              await actorFor(node, options.as),
              id,
              step.action,
              options.note === undefined ? {} : { note: options.note },
            ),
          { keys: true },
        );
        if (options.json === true) writeJson(io.stdout, view);
        else printIncident(io, view);
      });
  }
}
