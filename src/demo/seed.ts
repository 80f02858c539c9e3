import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AccordNode } from '../app/node.js';
import {
  createNodeKeys,
  keysFileOf,
  loadNodeKeys,
  type NodeKeys,
  partnerKeysOf,
  signerOf,
} from '../app/node-keys.js';
import { createNodeIdentity, publicIdentity } from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import type { Actor } from '../services/actor.js';
import { ProductService } from '../services/product-service.js';
import type { Store } from '../store/index.js';
import { DEMO_KEY_PASSPHRASE, DEMO_PARTNERS, demoProducts, demoUsers } from './seed-data.js';

/** How far seeding has got, for a progress bar. */
export interface SeedProgress {
  readonly done: number;
  readonly total: number;
  readonly step: string;
}

export interface SeedResult {
  readonly seeded: boolean;
  readonly products: number;
  readonly releases: number;
  readonly denied: number;
}

/** File in the data directory that records a completed seeding. */
export const SEEDED_MARKER = 'demo-seeded';

const EXAMPLES = fileURLToPath(new URL('../../examples/arrangements/', import.meta.url));

// Releases the demo makes: recipient and arrangement per discipline, round-robin over partners.
const RECIPIENTS = ['GBR', 'CAN', 'AUS', 'NZL'] as const;

async function actor(node: AccordNode, username: string): Promise<Actor> {
  const user = await node.store.users.getByUsername(username);
  if (user === undefined)
    throw new AccordError('STORE_NOT_FOUND', `demo user ${username} is missing`, { username });
  return { user, via: 'local' };
}

/**
 * The demo node's identity: keys.json unlocked with the demo passphrase, or new keys under it when
 * there are none. Only called once seedDemo has ruled out a node with its own users, so an
 * operator's keys are never opened with the demo passphrase.
 */
async function demoIdentity(node: AccordNode): Promise<NodeKeys> {
  const { dataDir } = node.config;
  if (existsSync(keysFileOf(dataDir))) return loadNodeKeys(dataDir, DEMO_KEY_PASSPHRASE);
  return createNodeKeys(dataDir, DEMO_KEY_PASSPHRASE);
}

/**
 * Public keys for a demo partner other than this node, so that releases to it are sealed (a release
 * needs the recipient's encryption key on record). They are fresh and their private halves are
 * dropped: until the five-node demo runs a node per partner, nothing opens what is sealed to them.
 * That demo's nodes make their own keys and replace these entries with them.
 */
function placeholderKeys() {
  return partnerKeysOf(publicIdentity(createNodeIdentity()));
}

/** Gives every other demo partner that has no encryption key on record placeholder keys. */
async function fillPartnerKeys(store: Store, self: string): Promise<void> {
  for (const partner of await store.partners.list()) {
    if (partner.code === self || !DEMO_PARTNERS.some((p) => p.code === partner.code)) continue;
    if (partner.keys.some((k) => k.use === 'encryption')) continue;
    const { code, name, endpoint } = partner;
    await store.partners.upsert({ code, name, endpoint, keys: placeholderKeys() });
  }
}

/**
 * Seeds a node with the demo alliance: the five FVEY partners (the others with placeholder keys),
 * the three example arrangements, one login per role and `productCount` products through the whole
 * workflow (draft, submitted, approved, released: signed and sealed), and creates the node's keys
 * under DEMO_KEY_PASSPHRASE if it has none. On a node already seeded it only fills in keys a
 * directory seeded by an older demo lacks, so re-running is safe.
 */
export async function seedDemo(
  node: AccordNode,
  options: { readonly productCount: number; readonly onProgress?: (p: SeedProgress) => void },
): Promise<SeedResult> {
  const { services, store, config } = node;
  // Written last: a seed cut short (Ctrl-C, a crash) leaves users but no marker.
  const marker = join(config.dataDir, SEEDED_MARKER);
  if ((await store.users.getByUsername('analyst')) !== undefined) {
    if (existsSync(marker)) {
      // A demo directory seeded before releases were sealed: its other partners need keys.
      await fillPartnerKeys(store, config.partner);
      // A demo directory seeded before nodes had keys: give it keys and record them on its own entry.
      if (!existsSync(keysFileOf(config.dataDir))) {
        const identity = (await createNodeKeys(config.dataDir, DEMO_KEY_PASSPHRASE)).public;
        const own = await store.partners.get(config.partner);
        if (own !== undefined) {
          const { code, name, endpoint } = own;
          await store.partners.upsert({ code, name, endpoint, keys: partnerKeysOf(identity) });
        }
      }
      return { seeded: false, products: 0, releases: 0, denied: 0 };
    }
    throw new AccordError(
      'INPUT_INVALID',
      `an earlier demo seeding of ${config.dataDir} was interrupted; delete that directory and run the demo again`,
      { dataDir: config.dataDir },
    );
  }
  // A node made by `accord init` already has an admin: seeding it would stop half-way on that
  // username, and the half-seeded node would then count as seeded on every later run.
  if ((await store.users.list()).length > 0) {
    throw new AccordError(
      'INPUT_INVALID',
      `${config.dataDir} holds a node with its own users; the demo seeds only a new data directory`,
      { dataDir: config.dataDir },
    );
  }
  // Keys first: should keys.json be some other node's, the demo stops before it has written a row.
  const keys = await demoIdentity(node);
  // The node seeding may have been built before its keys existed: products are written and
  // released through a product service that has them, so versions are signed and releases sealed.
  const products =
    services.keys === undefined
      ? new ProductService({
          store,
          partner: config.partner,
          registry: services.registry,
          now: Date.now,
          signer: signerOf(keys),
        })
      : services.products;
  const users = demoUsers(config.partner);
  const files = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const drafts = demoProducts(options.productCount);
  const total = DEMO_PARTNERS.length + users.length + files.length + drafts.length;
  let done = 0;
  const tick = (step: string) => options.onProgress?.({ done: ++done, total, step });

  for (const user of users) {
    await services.directory.createUser(null, user);
    tick(`user ${user.username}`);
  }
  for (const partner of DEMO_PARTNERS) {
    await services.directory.upsertPartner(null, {
      code: partner.code,
      name: partner.name,
      endpoint: `http://127.0.0.1:${partner.port}`,
      keys: partner.code === config.partner ? partnerKeysOf(keys.public) : placeholderKeys(),
    });
    tick(`partner ${partner.code}`);
  }
  const admin = await actor(node, 'admin');
  for (const file of files) {
    await services.arrangements.create(admin, JSON.parse(readFileSync(`${EXAMPLES}${file}`, 'utf8')));
    tick(`arrangement ${file}`);
  }

  const analyst = await actor(node, 'analyst');
  const officer = await actor(node, 'officer');
  let releases = 0;
  let denied = 0;
  for (const [i, draft] of drafts.entries()) {
    const view = await products.createDraft(analyst, draft);
    // Most products go through the workflow; every eighth stays a draft, every seventh awaits approval.
    if (i % 8 !== 7) await products.submit(analyst, view.id);
    if (i % 8 !== 7 && i % 7 !== 6) {
      await products.decide(officer, view.id, 'approved', 'demo: approved for release');
      const recipient = RECIPIENTS[i % RECIPIENTS.length]!;
      const under =
        draft.discipline === 'SIGINT' && recipient === 'GBR' ? 'usa-gbr-sigint' : 'fvey-multilateral';
      const attempts: [string, string][] = [[recipient, under]];
      // Some products are also offered to the counter-terrorism task force, whose scope is narrower.
      if (i % 5 === 2) attempts.push(['AUS', 'ct-task-force']);
      for (const [to, arrangement] of attempts) {
        try {
          await products.release(officer, view.id, to, arrangement);
          releases++;
        } catch (error) {
          // A denied release is part of the demo: its decision is stored with the rule that denied it.
          if (!isAccordError(error) || error.code !== 'POLICY_DENIED') throw error;
          denied++;
        }
      }
    }
    tick(`product ${i + 1}/${drafts.length}`);
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return { seeded: true, products: drafts.length, releases, denied };
}
