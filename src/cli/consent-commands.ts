import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import { MAX_CONSENT_REASON } from '../federation/index.js';
import { DEFAULT_REGISTRY } from '../markings/index.js';
import type { ConsentRequestView } from '../services/consent-service.js';
import {
  CONSENT_REQUEST_DIRECTIONS,
  CONSENT_REQUEST_STATUSES,
  type ConsentRequestDirection,
  type ConsentRequestStatus,
} from '../store/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';
import { parseInstantOption, parsePartnerOption } from './option-values.js';

// The store's largest page.
const PAGE = 500;

function reasonOf(value: string, flag: string): string {
  const reason = value.trim();
  if (reason === '' || Array.from(reason).length > MAX_CONSENT_REASON) {
    throw new AccordError(
      'INPUT_INVALID',
      `${flag}: give a reason of 1 to ${MAX_CONSENT_REASON} characters`,
      {
        path: flag,
      },
    );
  }
  return reason;
}

function versionOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const version = Number(value);
  if (!/^[1-9][0-9]{0,15}$/.test(value) || !Number.isSafeInteger(version)) {
    throw new AccordError(
      'INPUT_INVALID',
      `--version: '${printable(value).slice(0, 40)}' is not a version number`,
      {
        token: value,
      },
    );
  }
  return version;
}

function choiceOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  flag: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new AccordError(
      'INPUT_INVALID',
      `${flag}: '${printable(value).slice(0, 40)}' is not one of ${allowed.join(', ')}`,
      {
        token: value,
      },
    );
  }
  return value as T;
}

function printRequest(io: CliIo, r: ConsentRequestView): void {
  const decided = r.decidedAt === null ? '' : `  ${r.status} ${r.decidedAt}`;
  writeLine(
    io.stdout,
    `${r.id}  ${r.direction.padEnd(8)}  ${r.status.padEnd(7)}  ${r.product.id} v${r.product.version}  ${r.originator} -> ${r.holder} -> ${r.recipient}  under ${r.arrangement.id} v${r.arrangement.version}${decided}`,
  );
  writeLine(io.stdout, `  reason: ${printable(r.reason)}`);
  if (r.decisionReason !== null) writeLine(io.stdout, `  denied: ${printable(r.decisionReason)}`);
  if (r.consent?.consent.expiresAt !== undefined)
    writeLine(io.stdout, `  expires: ${r.consent.consent.expiresAt}`);
}

/**
 * Registers `consent request|list|grant|deny|release`: the third-party rule by federation, from
 * the holder's side (ask, pass on) and the originator's (decide). All but `list` sign and seal what
 * they queue, so they unlock the node keys (ACCORD_KEY_PASSPHRASE); a running `serve` of the same
 * data directory delivers it.
 */
export function registerConsentCommands(program: Command, io: CliIo): void {
  const consent = program
    .command('consent')
    .description('consent to pass on a product another partner originated (the third-party rule)');

  consent
    .command('request <productId>')
    .description("ask a received product's originator for consent to pass it on to another partner")
    .requiredOption('--to <partner>', 'the new recipient')
    .requiredOption('--under <arrangement>', 'arrangement id the onward release would travel under')
    .requiredOption('--reason <text>', 'why, for the originator to judge')
    .requiredOption('--as <user>', 'release officer acting')
    .option('--version <n>', 'the received version (the latest when omitted)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(
      async (
        productId: string,
        options: {
          to: string;
          under: string;
          reason: string;
          as: string;
          version?: string;
          dir?: string;
          json?: boolean;
        },
      ) => {
        const recipient = parsePartnerOption(options.to, '--to', DEFAULT_REGISTRY);
        const reason = reasonOf(options.reason, '--reason');
        const version = versionOf(options.version);
        const request = await withLocalNode(
          io,
          options.dir,
          async (node) =>
            node.services.consents.request(await actorFor(node, options.as), productId, {
              recipient,
              arrangementId: options.under,
              reason,
              ...(version === undefined ? {} : { version }),
            }),
          { keys: true },
        );
        if (options.json === true) writeJson(io.stdout, request);
        else
          writeLine(
            io.stdout,
            `asked ${request.originator} for consent: request ${request.id} queued for delivery`,
          );
      },
    );

  consent
    .command('list')
    .description('list consent requests, newest first: incoming to decide, outgoing asked')
    .requiredOption('--as <user>', 'release officer acting')
    .option('--direction <direction>', `${CONSENT_REQUEST_DIRECTIONS.join(' or ')}`)
    .option('--status <status>', `${CONSENT_REQUEST_STATUSES.join(', ')}`)
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(
      async (options: { as: string; direction?: string; status?: string; dir?: string; json?: boolean }) => {
        const direction = choiceOf<ConsentRequestDirection>(
          options.direction,
          CONSENT_REQUEST_DIRECTIONS,
          '--direction',
        );
        const status = choiceOf<ConsentRequestStatus>(options.status, CONSENT_REQUEST_STATUSES, '--status');
        const requests = await withLocalNode(io, options.dir, async (node) => {
          const actor = await actorFor(node, options.as);
          const all: ConsentRequestView[] = [];
          for (let offset = 0; ; offset += PAGE) {
            const page = await node.services.consents.list(actor, {
              ...(direction === undefined ? {} : { direction }),
              ...(status === undefined ? {} : { status }),
              limit: PAGE,
              offset,
            });
            all.push(...page);
            if (page.length < PAGE) return all;
          }
        });
        if (options.json === true) {
          writeJson(io.stdout, requests);
          return;
        }
        for (const r of requests) printRequest(io, r);
        const pending = requests.filter((r) => r.status === 'pending').length;
        writeLine(io.stdout, `${requests.length} consent request(s), ${pending} pending`);
      },
    );

  consent
    .command('grant <id>')
    .description("grant an incoming request (only when this node's own release policy allows it)")
    .requiredOption('--as <user>', 'release officer acting')
    .option('--expires <instant>', 'when the consent ends (ISO 8601)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { as: string; expires?: string; dir?: string; json?: boolean }) => {
      const expires =
        options.expires === undefined
          ? undefined
          : new Date(parseInstantOption(options.expires, '--expires')).toISOString();
      const granted = await withLocalNode(
        io,
        options.dir,
        async (node) =>
          node.services.consents.grant(await actorFor(node, options.as), id, {
            ...(expires === undefined ? {} : { expiresAt: expires }),
          }),
        { keys: true },
      );
      if (options.json === true) writeJson(io.stdout, granted);
      else
        writeLine(
          io.stdout,
          `granted: ${granted.holder} may pass ${granted.product.id} v${granted.product.version} on to ${granted.recipient}; the signed consent is queued for delivery`,
        );
    });

  consent
    .command('deny <id>')
    .description('deny an incoming request; the reason travels to the holder')
    .requiredOption('--reason <text>', 'why')
    .requiredOption('--as <user>', 'release officer acting')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { reason: string; as: string; dir?: string; json?: boolean }) => {
      const reason = reasonOf(options.reason, '--reason');
      const denied = await withLocalNode(
        io,
        options.dir,
        async (node) => node.services.consents.deny(await actorFor(node, options.as), id, { reason }),
        { keys: true },
      );
      if (options.json === true) writeJson(io.stdout, denied);
      else
        writeLine(
          io.stdout,
          `denied request ${denied.id}; the denial is queued for delivery to ${denied.holder}`,
        );
    });

  consent
    .command('release <productId>')
    .description(
      "pass a received product on, as it arrived, with its originator's signed consent (a deny exits 2 naming the rules)",
    )
    .requiredOption('--to <partner>', 'the new recipient')
    .requiredOption('--under <arrangement>', 'arrangement id')
    .requiredOption('--as <user>', 'release officer acting')
    .option('--version <n>', 'the received version (the latest when omitted)')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the outcome as JSON')
    .action(
      async (
        productId: string,
        options: { to: string; under: string; as: string; version?: string; dir?: string; json?: boolean },
      ) => {
        const recipient = parsePartnerOption(options.to, '--to', DEFAULT_REGISTRY);
        const version = versionOf(options.version);
        const outcome = await withLocalNode(
          io,
          options.dir,
          async (node) =>
            node.services.consents.releaseOnward(await actorFor(node, options.as), productId, {
              recipient,
              arrangementId: options.under,
              ...(version === undefined ? {} : { version }),
            }),
          { keys: true },
        );
        if (options.json === true) writeJson(io.stdout, outcome);
        else
          writeLine(
            io.stdout,
            `passed ${productId} v${outcome.version} (originated by ${outcome.originator}) on to ${recipient}: onward release ${outcome.onwardReleaseId} queued for delivery`,
          );
      },
    );
}
