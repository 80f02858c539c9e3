import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadNodeKeys, NEXT_KEYS_FILE, readPublicIdentity, signerOf } from '../app/node-keys.js';
import { type ArrangementDocument, parseArrangement, signatureStatus } from '../arrangements/index.js';
import { AccordError } from '../errors/index.js';
import { signArrangementAs, withPinnedKeys } from '../federation/index.js';
import { type CliIo, writeJson, writeLine } from './cli-io.js';
import { keyPassphraseOf, loadNodeConfig } from './local-node.js';
import { readDocument } from './read-json-file.js';

// How partners make an arrangement their nodes trust (DESIGN.md §3 trust root): every party
// first pins its node's keys in the terms (`pin`, which changes the version hash and so drops any
// signature), and once all have, every party's node signs the same hash (`sign`). The document
// travels between partners by whatever channel they agree; these commands only read and write it.

/** Writes the document to --out, or to stdout when there is none. */
async function output(io: CliIo, doc: ArrangementDocument, out: string | undefined): Promise<void> {
  if (out === undefined) {
    writeJson(io.stdout, doc);
    return;
  }
  await writeFile(resolve(io.cwd, out), `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o644 });
}

function partyCheck(doc: ArrangementDocument, partner: string): void {
  if (!doc.parties.some((p) => p.partner === partner)) {
    throw new AccordError(
      'INPUT_INVALID',
      `this node belongs to ${partner}, which is not a party to arrangement ${doc.id}`,
      { arrangementId: doc.id, partner },
    );
  }
}

/** The --effective instant: an RFC 3339 UTC time, written back as the document writes times. */
function parseEffective(value: string): string {
  const millis = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(value)
    ? Date.parse(value)
    : Number.NaN;
  if (Number.isNaN(millis)) {
    throw new AccordError(
      'INPUT_INVALID',
      `--effective: '${value.slice(0, 40)}' is not a UTC time such as 2026-12-01T00:00:00Z`,
      { token: value },
    );
  }
  return new Date(millis).toISOString().replace('.000Z', 'Z');
}

/**
 * The rotation version (issue 10): the next version of `doc`, a draft, effective at `effective`
 * (the rotation time), with the party's next keys pinned and no signature. The terms change, so
 * every party signs again; until then, and until `effective`, the version in force pins the old key.
 */
function rotationVersion(doc: ArrangementDocument, effective: string): ArrangementDocument {
  if (!(Date.parse(effective) < Date.parse(doc.expires))) {
    throw new AccordError(
      'INPUT_INVALID',
      `--effective ${effective} is not before the arrangement's expiry ${doc.expires}`,
      { token: effective },
    );
  }
  const review = Date.parse(doc.review) < Date.parse(effective) ? effective : doc.review;
  return { ...doc, version: doc.version + 1, status: 'draft', effective, review, signatures: [] };
}

/** Adds `arrangement pin` and `arrangement sign` to the `arrangement` command group. */
export function registerArrangementSigningCommands(program: Command, io: CliIo): void {
  const group =
    program.commands.find((c) => c.name() === 'arrangement') ??
    program.command('arrangement').description('manage arrangements on a node');
  group
    .command('pin <file>')
    .description(
      "write this node's signing and encryption key fingerprints into its party entry (drops every signature: the terms change)",
    )
    .option('--dir <dir>', 'data directory')
    .option('--out <file>', 'write the document here instead of to stdout')
    .option(
      '--next',
      "a key rotation: pin the keys of 'accord keys rotate' in a new version (the document's version + 1, a draft)",
    )
    .option('--effective <time>', 'with --next: the rotation time, when the new version takes effect (UTC)')
    .action(
      async (file: string, options: { dir?: string; out?: string; next?: boolean; effective?: string }) => {
        if (options.effective !== undefined && options.next !== true) {
          throw new AccordError('INPUT_INVALID', '--effective goes with --next (a key rotation)', {
            token: '--effective',
          });
        }
        const config = await loadNodeConfig(io, options.dir);
        const doc = await readDocument(file, io.cwd, 'arrangement', parseArrangement);
        partyCheck(doc, config.partner);
        const rotating = options.next === true;
        const identity = await readPublicIdentity(config.dataDir, rotating ? NEXT_KEYS_FILE : undefined);
        const terms = rotating
          ? rotationVersion(
              doc,
              parseEffective(options.effective ?? new Date(io.now?.() ?? Date.now()).toISOString()),
            )
          : doc;
        const pinned = withPinnedKeys(terms, new Map([[config.partner, identity]]));
        await output(io, pinned, options.out);
        const dropped = doc.signatures.length;
        writeLine(
          io.stderr,
          rotating
            ? `pinned ${config.partner}'s next keys in ${doc.id} v${pinned.version}, effective ${pinned.effective}; every party signs it again`
            : `pinned ${config.partner}'s keys in ${doc.id} v${doc.version}${dropped === 0 ? '' : `; ${dropped} signature(s) over the old terms dropped`}`,
        );
      },
    );
  group
    .command('sign <file>')
    .description(`sign the arrangement's version hash as this node (needs $ACCORD_KEY_PASSPHRASE)`)
    .option('--dir <dir>', 'data directory')
    .option('--out <file>', 'write the document here instead of to stdout')
    .option('--next', "sign with the keys of 'accord keys rotate' (a rotation version pins those)")
    .action(async (file: string, options: { dir?: string; out?: string; next?: boolean }) => {
      const config = await loadNodeConfig(io, options.dir);
      const doc = await readDocument(file, io.cwd, 'arrangement', parseArrangement);
      partyCheck(doc, config.partner);
      const keys = await loadNodeKeys(config.dataDir, keyPassphraseOf(io));
      if (options.next === true && keys.next === undefined) {
        throw new AccordError(
          'INPUT_INVALID',
          `--next: ${config.partner} has no keys to rotate to ('accord keys rotate' makes them)`,
          { token: '--next' },
        );
      }
      const signed = signArrangementAs(
        doc,
        config.partner,
        signerOf(options.next === true && keys.next !== undefined ? keys.next : keys),
        new Date(io.now?.() ?? Date.now()).toISOString(),
      );
      await output(io, signed, options.out);
      const { missing } = signatureStatus(signed);
      writeLine(
        io.stderr,
        `${config.partner} signed ${doc.id} v${doc.version}; ${missing.length === 0 ? 'every party has signed' : `still to sign: ${missing.join(', ')}`}`,
      );
    });
}
