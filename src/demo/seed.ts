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
import { type ArrangementDocument, parseArrangement } from '../arrangements/index.js';
import type { PublicIdentity } from '../crypto/index.js';
import { AccordError, isAccordError } from '../errors/index.js';
import { signArrangementAs, withPinnedKeys } from '../federation/index.js';
import type { Actor } from '../services/actor.js';
import {
  DEMO_ALERT_RULE,
  DEMO_KEY_PASSPHRASE,
  DEMO_PARTNERS,
  DEMO_SIGNATORIES,
  demoProducts,
  demoUsers,
} from './seed-data.js';

// The demo alliance: one node per FVEY partner, each with its own keys and SQLite file, holding
// the example arrangements with every party's real keys pinned and signed by every party, so
// what the nodes release to each other is verified, opened and stored on arrival (DESIGN.md §3).

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

/** A partner of the demo alliance: a node the demo runs, or a signatory that runs none (FRA). */
export interface DemoMember {
  readonly code: string;
  readonly name: string;
  /** The member's directory under the demo root: its keys, and for a node its config and SQLite file. */
  readonly dataDir: string;
  readonly keys: NodeKeys;
  readonly runsNode: boolean;
}

/** Everything the demo nodes share: who they are and the arrangements all parties signed. */
export interface DemoAlliance {
  readonly root: string;
  /** The nodes first, in DEMO_PARTNERS order, then the signatories. */
  readonly members: readonly DemoMember[];
  /** The example arrangements with each party's demo keys pinned, signed by every party. */
  readonly arrangements: readonly ArrangementDocument[];
}

/** File in a member's data directory that records a completed seeding. */
export const SEEDED_MARKER = 'demo-seeded';

const EXAMPLES = fileURLToPath(new URL('../../examples/arrangements/', import.meta.url));

const MEMBERS = [
  ...DEMO_PARTNERS.map((p) => ({ code: p.code, name: p.name, runsNode: true })),
  ...DEMO_SIGNATORIES.map((p) => ({ code: p.code, name: p.name, runsNode: false })),
];

/** The directory of a member under the demo root: its code in lower case. */
export function memberDirOf(root: string, code: string): string {
  return join(root, code.toLowerCase());
}

/**
 * Refuses a demo root holding anything the demo did not make: an `accord init` node, an older
 * one-node demo, someone's files. Member keys are opened with the fixed demo passphrase, so the
 * demo must be sure the directories are its own.
 */
function checkRoot(root: string): void {
  if (!existsSync(root)) return;
  const ours = new Set(MEMBERS.map((m) => m.code.toLowerCase()));
  const foreign = readdirSync(root).filter((entry) => !ours.has(entry));
  if (foreign.length === 0) return;
  throw new AccordError(
    'INPUT_INVALID',
    `${root} holds files the five-node demo did not make (${foreign.slice(0, 5).join(', ')}); the demo runs only in a directory of its own: delete it or choose another --dir`,
    { dataDir: root },
  );
}

/** The examples, each party's keys pinned, then signed by every party (signedAt: its effective date). */
function signedExamples(members: readonly DemoMember[]): ArrangementDocument[] {
  const identities = new Map<string, PublicIdentity>(members.map((m) => [m.code, m.keys.public]));
  const files = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((file) => {
    const example = parseArrangement(JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')));
    let doc = withPinnedKeys(example, identities);
    for (const party of doc.parties) {
      const member = members.find((m) => m.code === party.partner);
      if (member === undefined) {
        throw new AccordError(
          'INPUT_INVALID',
          `examples/arrangements/${file}: party ${party.partner} is no member of the demo alliance`,
          { partner: party.partner },
        );
      }
      doc = signArrangementAs(doc, party.partner, signerOf(member.keys), doc.effective);
    }
    return doc;
  });
}

/**
 * The demo alliance under `root`: every member's keys (made under DEMO_KEY_PASSPHRASE the first
 * time, read back after) and the signed arrangements. Refuses a root with files of its own.
 */
export async function prepareAlliance(root: string): Promise<DemoAlliance> {
  checkRoot(root);
  const members: DemoMember[] = [];
  for (const member of MEMBERS) {
    const dataDir = memberDirOf(root, member.code);
    const keys = existsSync(keysFileOf(dataDir))
      ? await loadNodeKeys(dataDir, DEMO_KEY_PASSPHRASE)
      : await createNodeKeys(dataDir, DEMO_KEY_PASSPHRASE);
    members.push({ ...member, dataDir, keys });
  }
  return { root, members, arrangements: signedExamples(members) };
}

async function actor(node: AccordNode, username: string): Promise<Actor> {
  const user = await node.store.users.getByUsername(username);
  if (user === undefined)
    throw new AccordError('STORE_NOT_FOUND', `demo user ${username} is missing`, { username });
  return { user, via: 'local' };
}

/** The arrangement a release from `from` to `to` travels under, for a product of `discipline`. */
export function arrangementFor(from: string, to: string, discipline: string): string {
  const pair = new Set([from, to]);
  const sigint = discipline === 'SIGINT' || discipline === 'CYBINT';
  return sigint && pair.has('USA') && pair.has('GBR') ? 'usa-gbr-sigint' : 'fvey-multilateral';
}

/** How many progress ticks seeding one member takes: users, partners, its arrangements, products. */
export function seedSteps(alliance: DemoAlliance, code: string, productCount: number): number {
  const arrangements = alliance.arrangements.filter((a) => a.parties.some((p) => p.partner === code));
  return demoUsers(code).length + alliance.members.length + arrangements.length + productCount;
}

/**
 * Seeds the node of `code` with its part of the demo alliance: one login per role, every member
 * in the partner directory with its real public keys (endpoints come once the nodes listen:
 * setDemoEndpoints), the arrangements it is party to, and `productCount` products of its own
 * through the whole workflow (draft, submitted, approved, released to the other nodes: signed and
 * sealed). On a node seeded before it does nothing; a seeding cut short, or a node with users
 * the demo did not make, is refused.
 */
export async function seedMember(
  node: AccordNode,
  alliance: DemoAlliance,
  options: { readonly productCount: number; readonly onTick?: (step: string) => void },
): Promise<SeedResult> {
  const { services, store, config } = node;
  const code = config.partner;
  // Written last: a seed cut short (Ctrl-C, a crash) leaves users but no marker.
  const marker = join(config.dataDir, SEEDED_MARKER);
  if ((await store.users.getByUsername('analyst')) !== undefined) {
    if (existsSync(marker)) return { seeded: false, products: 0, releases: 0, denied: 0 };
    throw new AccordError(
      'INPUT_INVALID',
      `an earlier demo seeding of ${config.dataDir} was interrupted; delete ${alliance.root} and run the demo again`,
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
  const tick = options.onTick ?? (() => undefined);
  for (const user of demoUsers(code)) {
    await services.directory.createUser(null, user);
    tick(`${code} user ${user.username}`);
  }
  for (const member of alliance.members) {
    await services.directory.upsertPartner(null, {
      code: member.code,
      name: member.name,
      endpoint: null,
      keys: partnerKeysOf(member.keys.public),
    });
    tick(`${code} partner ${member.code}`);
  }
  const admin = await actor(node, 'admin');
  const mine = alliance.arrangements.filter((a) => a.parties.some((p) => p.partner === code));
  for (const arrangement of mine) {
    await services.arrangements.create(admin, arrangement);
    tick(`${code} arrangement ${arrangement.id}`);
  }

  const peers = alliance.members.filter((m) => m.runsNode && m.code !== code).map((m) => m.code);
  const taskForce = mine.find((a) => a.id === 'ct-task-force');
  // A node in the task force also offers some counter-terrorism reports to a fellow member of it.
  const taskForcePeer = taskForce?.parties.map((p) => p.partner).find((p) => p !== code && peers.includes(p));
  const analyst = await actor(node, 'analyst');
  const officer = await actor(node, 'officer');
  // Issue 9: GBR's analyst watches for one indicator reported by two partners within a day.
  if (code === 'GBR') await services.alerts.addRule(analyst, DEMO_ALERT_RULE);
  const drafts = demoProducts(options.productCount, code);
  let releases = 0;
  let denied = 0;
  for (const [i, draft] of drafts.entries()) {
    const view = await services.products.createDraft(analyst, draft);
    // Most products go through the workflow; every eighth stays a draft, every seventh awaits approval.
    if (i % 8 !== 7) await services.products.submit(analyst, view.id);
    if (i % 8 !== 7 && i % 7 !== 6) {
      await services.products.decide(officer, view.id, 'approved', 'demo: approved for release');
      const recipient = peers[i % peers.length]!;
      const attempts: [string, string][] = [[recipient, arrangementFor(code, recipient, draft.discipline)]];
      if (i % 5 === 2 && taskForcePeer !== undefined) attempts.push([taskForcePeer, 'ct-task-force']);
      for (const [to, arrangement] of attempts) {
        try {
          await services.products.release(officer, view.id, to, arrangement);
          releases++;
        } catch (error) {
          // A denied release is part of the demo: its decision is stored with the rule that denied it.
          if (!isAccordError(error) || error.code !== 'POLICY_DENIED') throw error;
          denied++;
        }
      }
    }
    tick(`${code} product ${i + 1}/${drafts.length}`);
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return { seeded: true, products: drafts.length, releases, denied };
}

/**
 * Records where each demo node listens in every node's partner directory (the keys stay as
 * seeded). Run on every start: the ports may differ from the last run's.
 */
export async function setDemoEndpoints(
  nodes: readonly AccordNode[],
  alliance: DemoAlliance,
  addresses: ReadonlyMap<string, string>,
): Promise<void> {
  for (const node of nodes) {
    for (const member of alliance.members) {
      await node.services.directory.upsertPartner(null, {
        code: member.code,
        name: member.name,
        endpoint: addresses.get(member.code) ?? null,
        keys: partnerKeysOf(member.keys.public),
      });
    }
  }
}
