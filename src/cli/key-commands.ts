import type { Command } from 'commander';
import {
  createNodeKeys,
  finishKeyRotation,
  loadNodeKeys,
  NEXT_KEYS_FILE,
  partnerKeysOf,
  readPublicIdentity,
} from '../app/node-keys.js';
import { type PublicIdentity, parsePublicIdentity } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import { PartnerInputSchema } from '../services/directory-service.js';
import type { PartnerInput, PartnerKey } from '../store/index.js';
import { createValidator } from '../validation/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { keyPassphraseOf, loadNodeConfig, withLocalNode } from './local-node.js';
import { parsePartnerOption } from './option-values.js';
import { readDocument } from './read-json-file.js';

const validatePartner = createValidator<Omit<PartnerInput, 'keys'>>(
  PartnerInputSchema,
  'INPUT_INVALID',
  'partner',
);

/** What `accord keys show --json` prints and `accord partner add --identity` reads. */
interface IdentityDocument extends PublicIdentity {
  readonly partner: string;
}

function clip(text: string): string {
  const flat = printable(text);
  return flat.length > 40 ? `${flat.slice(0, 40)}…` : flat;
}

function parseIdentityDocument(value: unknown): IdentityDocument {
  // attacker-controlled: a file a partner sent, or something in its place
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AccordError(
      'INPUT_INVALID',
      "an identity is a JSON object, as 'accord keys show --json' prints",
      {},
    );
  }
  const { partner, ...keys } = value as Record<string, unknown>;
  if (typeof partner !== 'string') {
    throw new AccordError('INPUT_INVALID', '/partner: must name the partner the keys belong to', {
      path: '/partner',
    });
  }
  // Every public key must match the fingerprint beside it: a swapped key is refused here.
  return { partner, ...parsePublicIdentity(keys) };
}

function parseEndpoint(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const usable =
    url !== undefined &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.username === '' &&
    url.password === '' &&
    url.search === '' &&
    url.hash === '';
  if (!usable) {
    throw new AccordError(
      'INPUT_INVALID',
      `--endpoint: '${clip(value)}' is not an http(s) base URL (no credentials, query or fragment)`,
      { token: value },
    );
  }
  return value;
}

function sameKeys(a: readonly PartnerKey[], b: readonly PartnerKey[]): boolean {
  const text = (keys: readonly PartnerKey[]) => keys.map((k) => `${k.use} ${k.fingerprint}`).sort();
  return JSON.stringify(text(a)) === JSON.stringify(text(b));
}

/**
 * The keys to record for a partner: its identity's, and with `keepSigning` every signing key
 * recorded before too, so the arrangement versions that pinned them still verify and what a retired
 * key signs is recognised, and refused as KEY_RETIRED, once the rotation is in force.
 */
function keysToRecord(
  identity: PublicIdentity,
  before: readonly PartnerKey[] | undefined,
  keepSigning: boolean,
): PartnerKey[] {
  const fresh = partnerKeysOf(identity);
  if (!keepSigning) return fresh;
  const kept = (before ?? []).filter(
    (k) => k.use === 'signing' && !fresh.some((f) => f.fingerprint === k.fingerprint),
  );
  return [...kept, ...fresh];
}

function writeIdentityLines(io: CliIo, identity: PublicIdentity): void {
  writeLine(
    io.stdout,
    `signing     ${identity.signing.fingerprint}  Ed25519 public key ${identity.signing.publicKey}`,
  );
  writeLine(
    io.stdout,
    `encryption  ${identity.encryption.fingerprint}  X25519 public key ${identity.encryption.publicKey}`,
  );
}

function writeKeyLines(io: CliIo, keys: readonly PartnerKey[]): void {
  if (keys.length === 0) writeLine(io.stdout, '  no keys recorded');
  for (const key of keys) writeLine(io.stdout, `  ${key.use.padEnd(10)}  ${key.fingerprint}`);
}

/** Registers `keys show` and `partner add|list`: a node's own identity and the partners it knows. */
export function registerKeyCommands(program: Command, io: CliIo): void {
  const keys = program.command('keys').description("the node's signing and encryption keys");
  keys
    .command('show')
    .description(
      "print the node's public keys and fingerprints (no passphrase needed); --json gives the file partners import",
    )
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the identity as JSON, for `accord partner add --identity` on other nodes')
    .option('--next', "the keys the node rotates to ('accord keys rotate'), not the ones in use")
    .action(async (options: { dir?: string; json?: boolean; next?: boolean }) => {
      const config = await loadNodeConfig(io, options.dir);
      const identity = await readPublicIdentity(
        config.dataDir,
        options.next === true ? NEXT_KEYS_FILE : undefined,
      );
      const document: IdentityDocument = { partner: config.partner, ...identity };
      if (options.json === true) {
        writeJson(io.stdout, document);
        return;
      }
      writeLine(io.stdout, `partner     ${document.partner}`);
      writeIdentityLines(io, identity);
    });

  keys
    .command('rotate')
    .description(
      `start a key rotation: make new key pairs in ${NEXT_KEYS_FILE}, keeping the old ones in use until --finish (needs $ACCORD_KEY_PASSPHRASE)`,
    )
    .option('--dir <dir>', 'data directory')
    .option(
      '--finish',
      `at the rotation time: make ${NEXT_KEYS_FILE} the node's keys and retire the old ones`,
    )
    .action(async (options: { dir?: string; finish?: boolean }) => {
      const config = await loadNodeConfig(io, options.dir);
      const passphrase = keyPassphraseOf(io);
      if (options.finish === true) {
        const done = await finishKeyRotation(config.dataDir, passphrase, new Date(io.now?.() ?? Date.now()));
        writeLine(io.stdout, `rotated ${config.partner}'s keys; the node now signs and opens with:`);
        writeIdentityLines(io, done.current);
        writeLine(
          io.stdout,
          `retired signing ${done.retired.signing.fingerprint} (kept in ${done.retiredFile})`,
        );
        return;
      }
      // The next keys are sealed under the same passphrase, so it must unlock the current ones first.
      await loadNodeKeys(config.dataDir, passphrase);
      const next = await createNodeKeys(config.dataDir, passphrase, NEXT_KEYS_FILE);
      writeLine(
        io.stdout,
        `new keys for ${config.partner} in ${NEXT_KEYS_FILE}; the old ones stay in use until --finish`,
      );
      writeIdentityLines(io, next.public);
      writeLine(
        io.stdout,
        "next: 'accord keys show --next --json' for partners, 'accord arrangement pin FILE --next --effective TIME', then every party signs",
      );
    });

  const partner = program.command('partner').description('the partners a node knows, and their keys');
  partner
    .command('add <code>')
    .description(
      "record a partner's node: its public keys (what 'accord keys show --json' prints there) and its endpoint",
    )
    .requiredOption('--identity <file>', "the partner's identity JSON; each key must match its fingerprint")
    .requiredOption('--endpoint <url>', "base URL of the partner's node")
    .option('--name <name>', 'display name (default: the name it has, or the code)')
    .option(
      '--keep-signing-keys',
      'keep the signing keys recorded before (a partner rotating its keys): what they signed before the rotation still verifies, and after it is refused as retired',
    )
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the stored partner as JSON')
    .action(
      async (
        codeArgument: string,
        options: {
          identity: string;
          endpoint: string;
          name?: string;
          keepSigningKeys?: boolean;
          dir?: string;
          json?: boolean;
        },
      ) => {
        const endpoint = parseEndpoint(options.endpoint);
        const document = await readDocument(options.identity, io.cwd, 'identity', parseIdentityDocument);
        const { saved, existing } = await withLocalNode(io, options.dir, async (node) => {
          // The node's registry: its config may add partner codes to the ISO ones.
          const code = parsePartnerOption(codeArgument, 'partner code', node.services.registry);
          if (document.partner !== code) {
            throw new AccordError(
              'INPUT_INVALID',
              `${options.identity}: the identity is for '${clip(document.partner)}', not ${code}`,
              { path: '/partner' },
            );
          }
          if (node.config.partner === code) {
            throw new AccordError(
              'INPUT_INVALID',
              `${code} is this node's own partner: its keys are the ones in keys.json`,
              { token: code },
            );
          }
          const before = await node.store.partners.get(code);
          const input = validatePartner({ code, name: options.name ?? before?.name ?? code, endpoint });
          const stored = await node.services.directory.upsertPartner(null, {
            ...input,
            keys: keysToRecord(document, before?.keys, options.keepSigningKeys === true),
          });
          return { saved: stored, existing: before };
        });
        if (options.json === true) {
          writeJson(io.stdout, saved);
          return;
        }
        writeLine(
          io.stdout,
          `${existing === undefined ? 'added' : 'updated'} partner ${saved.code} (${printable(saved.name)}) at ${printable(endpoint)}`,
        );
        writeKeyLines(io, saved.keys);
        if (existing !== undefined && existing.keys.length > 0 && !sameKeys(existing.keys, saved.keys)) {
          writeLine(io.stdout, '  these keys replace the ones recorded before');
        }
      },
    );

  partner
    .command('list')
    .description('list the partners this node knows, with their endpoints and key fingerprints')
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print as JSON')
    .action(async (options: { dir?: string; json?: boolean }) => {
      const { self, partners } = await withLocalNode(io, options.dir, async (node) => ({
        self: node.config.partner,
        partners: await node.store.partners.list(),
      }));
      if (options.json === true) {
        writeJson(io.stdout, partners);
        return;
      }
      for (const p of partners) {
        const where = p.endpoint === null ? 'no endpoint' : printable(p.endpoint);
        writeLine(
          io.stdout,
          `${p.code}  ${printable(p.name)}  ${where}${p.code === self ? '  (this node)' : ''}`,
        );
        writeKeyLines(io, p.keys);
      }
      writeLine(io.stdout, `${partners.length} partner(s)`);
    });
}
