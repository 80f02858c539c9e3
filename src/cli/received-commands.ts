import { type Command, Option } from 'commander';
import { AccordError } from '../errors/index.js';
import { type InboxSummary, inboxSummaryOf } from '../services/inbox-log-service.js';
import type { ReceivedService, ReceivedView } from '../services/received-service.js';
import { INBOX_OUTCOMES, type InboxOutcome } from '../store/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { actorFor, withLocalNode } from './local-node.js';
import { parsePartnerOption } from './option-values.js';

// The store's largest page, and the received list's (the API's limit).
const INBOX_PAGE = 500;
const RECEIVED_PAGE = 200;

function parseVersionOption(value: string): number {
  if (!/^[1-9]\d{0,5}$/.test(value)) {
    throw new AccordError(
      'INPUT_INVALID',
      `--version: '${printable(value).slice(0, 40)}' is not a version number`,
      {
        token: value,
      },
    );
  }
  return Number(value);
}

function printReceived(io: CliIo, view: ReceivedView): void {
  const { provenance: from } = view;
  writeLine(io.stdout, view.banner);
  writeLine(
    io.stdout,
    `${view.id} v${view.version}  ${view.discipline}  ${view.categories.join(', ')}  originator ${view.originator}`,
  );
  writeLine(
    io.stdout,
    `received ${from.receivedAt} from ${from.sender} under ${from.arrangement.id} v${from.arrangement.version} (envelope ${from.envelopeId})`,
  );
  const signature = from.signature;
  writeLine(
    io.stdout,
    signature.verified
      ? `signature by ${signature.by} verifies`
      : `signature by ${signature.by} does NOT verify: ${printable(signature.reason ?? '')} [${signature.code ?? ''}]`,
  );
  writeLine(io.stdout, `${view.titleMarking} ${printable(view.title)}`);
  for (const portion of view.portions)
    writeLine(io.stdout, `  ${portion.marking} ${printable(portion.text)}`);
  if (view.withheldCount > 0) writeLine(io.stdout, `  [${view.withheldCount} portion(s) withheld from you]`);
  writeLine(io.stdout, view.banner);
}

function printInboxEntry(io: CliIo, e: InboxSummary): void {
  writeLine(
    io.stdout,
    `${e.receivedAt}  ${e.envelopeId}  ${e.sender}  ${e.kind}  ${e.product.id} v${e.product.version}  ${e.outcome}`,
  );
  if (e.outcome === 'refused') writeLine(io.stdout, `  ${e.code ?? '-'}: ${printable(e.reason ?? '')}`);
}

/** Every received version `list` finds, page by page. */
async function allReceived(
  received: ReceivedService,
  ...[actor, filter]: Parameters<ReceivedService['list']>
): Promise<{ readonly items: readonly ReceivedView[]; readonly total: number }> {
  const items: ReceivedView[] = [];
  for (let offset = 0; ; offset += RECEIVED_PAGE) {
    const page = await received.list(actor, { ...filter, limit: RECEIVED_PAGE, offset });
    items.push(...page.items);
    if (page.items.length < RECEIVED_PAGE) return { items, total: page.total };
  }
}

/**
 * Registers `inbox list` (envelopes from partners and what this node did with them, as its
 * operator sees them) and `received list|show` (received products, as one user may read them).
 */
export function registerReceivedCommands(program: Command, io: CliIo): void {
  const inbox = program.command('inbox').description("the node's envelopes from partners");
  inbox
    .command('list')
    .description('list envelopes received, oldest first: sender, product, stored or refused and why')
    .addOption(new Option('--status <outcome>', 'only envelopes with this outcome').choices(INBOX_OUTCOMES))
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: { status?: InboxOutcome; dir?: string; json?: boolean }) => {
      // The operator of the data directory reads its store directly, as `outbox list` does.
      const entries = await withLocalNode(io, options.dir, async (node) => {
        const all: InboxSummary[] = [];
        for (let offset = 0; ; offset += INBOX_PAGE) {
          const page = await node.store.inbox.list({
            limit: INBOX_PAGE,
            offset,
            ...(options.status === undefined ? {} : { outcome: options.status }),
          });
          all.push(...page.map(inboxSummaryOf));
          if (page.length < INBOX_PAGE) return all;
        }
      });
      if (options.json === true) {
        writeJson(io.stdout, entries);
        return;
      }
      for (const e of entries) printInboxEntry(io, e);
      const refused = entries.filter((e) => e.outcome === 'refused').length;
      writeLine(io.stdout, `${entries.length} envelope(s), ${refused} refused`);
    });

  const received = program
    .command('received')
    .description('products received from partners, as a user may read them');
  received
    .command('list')
    .description('list received versions a user may read, most recently received first')
    .requiredOption('--as <user>', 'reader')
    .option('--originator <partner>', 'only products this partner originated')
    .option('--sender <partner>', 'only products this partner sent')
    .option('--arrangement <id>', 'only products received under this arrangement')
    .option('--text <text>', 'only products whose readable text contains this')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(
      async (options: {
        as: string;
        originator?: string;
        sender?: string;
        arrangement?: string;
        text?: string;
        dir?: string;
        json?: boolean;
      }) => {
        const filter = {
          ...(options.originator === undefined
            ? {}
            : { originator: parsePartnerOption(options.originator, '--originator') }),
          ...(options.sender === undefined ? {} : { sender: parsePartnerOption(options.sender, '--sender') }),
          ...(options.arrangement === undefined ? {} : { arrangement: options.arrangement }),
          ...(options.text === undefined ? {} : { text: options.text }),
        };
        // The public identity: the signatures shown are checked against keys this node pins.
        const result = await withLocalNode(
          io,
          options.dir,
          async (node) => allReceived(node.services.received, await actorFor(node, options.as), filter),
          { identity: true },
        );
        if (options.json === true) {
          writeJson(io.stdout, result);
          return;
        }
        for (const p of result.items) {
          writeLine(
            io.stdout,
            `${p.id} v${p.version}  from ${p.provenance.sender}  ${p.banner}  ${printable(p.title)}`,
          );
        }
        writeLine(io.stdout, `${result.total} received product(s)`);
      },
    );

  received
    .command('show <productId>')
    .description(
      'show a received product as a user may read it, with its provenance (withheld portions are counted, never shown)',
    )
    .requiredOption('--as <user>', 'reader')
    .option('--version <n>', 'this version rather than the latest received')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(
      async (productId: string, options: { as: string; version?: string; dir?: string; json?: boolean }) => {
        const version = options.version === undefined ? undefined : parseVersionOption(options.version);
        const view = await withLocalNode(
          io,
          options.dir,
          async (node) => node.services.received.read(await actorFor(node, options.as), productId, version),
          { identity: true },
        );
        if (options.json === true) writeJson(io.stdout, view);
        else printReceived(io, view);
      },
    );
}
