import type { Command } from 'commander';
import { partnerKeysOf, readPublicIdentity } from '../app/node-keys.js';
import { type PublicIdentity, parsePublicIdentity } from '../crypto/index.js';
import { AccordError } from '../errors/index.js';
import { PartnerInputSchema } from '../services/directory-service.js';
import type { PartnerInput, PartnerKey } from '../store/index.js';
import { createValidator } from '../validation/index.js';
import { type CliIo, printable, writeJson, writeLine } from './cli-io.js';
import { loadNodeConfig, withLocalNode } from './local-node.js';
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
    .action(async (options: { dir?: string; json?: boolean }) => {
      const config = await loadNodeConfig(io, options.dir);
      const identity = await readPublicIdentity(config.dataDir);
      const document: IdentityDocument = { partner: config.partner, ...identity };
      if (options.json === true) {
        writeJson(io.stdout, document);
        return;
      }
      writeLine(io.stdout, `partner     ${document.partner}`);
      writeLine(
        io.stdout,
        `signing     ${identity.signing.fingerprint}  Ed25519 public key ${identity.signing.publicKey}`,
      );
      writeLine(
        io.stdout,
        `encryption  ${identity.encryption.fingerprint}  X25519 public key ${identity.encryption.publicKey}`,
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
    .option('--dir <dir>', 'data directory')
    .option('--json', 'print the stored partner as JSON')
    .action(
      async (
        codeArgument: string,
        options: { identity: string; endpoint: string; name?: string; dir?: string; json?: boolean },
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
            keys: partnerKeysOf(document),
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
