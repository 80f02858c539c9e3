import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadNodeKeys, readPublicIdentity, signerOf } from '../app/node-keys.js';
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
    .action(async (file: string, options: { dir?: string; out?: string }) => {
      const config = await loadNodeConfig(io, options.dir);
      const doc = await readDocument(file, io.cwd, 'arrangement', parseArrangement);
      partyCheck(doc, config.partner);
      const identity = await readPublicIdentity(config.dataDir);
      const pinned = withPinnedKeys(doc, new Map([[config.partner, identity]]));
      await output(io, pinned, options.out);
      const dropped = doc.signatures.length;
      writeLine(
        io.stderr,
        `pinned ${config.partner}'s keys in ${doc.id} v${doc.version}${dropped === 0 ? '' : `; ${dropped} signature(s) over the old terms dropped`}`,
      );
    });
  group
    .command('sign <file>')
    .description(`sign the arrangement's version hash as this node (needs $ACCORD_KEY_PASSPHRASE)`)
    .option('--dir <dir>', 'data directory')
    .option('--out <file>', 'write the document here instead of to stdout')
    .action(async (file: string, options: { dir?: string; out?: string }) => {
      const config = await loadNodeConfig(io, options.dir);
      const doc = await readDocument(file, io.cwd, 'arrangement', parseArrangement);
      partyCheck(doc, config.partner);
      const keys = await loadNodeKeys(config.dataDir, keyPassphraseOf(io));
      const signed = signArrangementAs(
        doc,
        config.partner,
        signerOf(keys),
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
