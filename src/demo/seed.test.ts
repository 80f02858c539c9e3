import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../app/node.js';
import { partnerKeysOf } from '../app/node-keys.js';
import { runCaptured } from '../cli/captured-run.js';
import { loadConfig } from '../config/index.js';
import {
  arrangementPins,
  type KeyOnRecord,
  openEnvelope,
  parseReleasePayload,
  verifyProductSignature,
} from '../federation/index.js';
import type { SealedRelease } from '../services/product-service.js';
import { type DemoAlliance, prepareAlliance, SEEDED_MARKER, seedMember, seedSteps } from './seed.js';
import { DEMO_PARTNERS, DEMO_SIGNATORIES, demoProducts, demoUsers } from './seed-data.js';

const dirs: string[] = [];
const nodes: AccordNode[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'accord-seed-'));
  dirs.push(dir);
  return dir;
}

// Making six identities runs scrypt twelve times: one alliance serves the seeding tests.
let alliance: DemoAlliance;
beforeAll(async () => {
  alliance = await prepareAlliance(join(tempDir(), 'demo'));
});

/** A fresh node of `partner` in its own temp directory, with the alliance member's keys. */
async function freshNode(partner: string): Promise<AccordNode> {
  const config = loadConfig({ flags: { dataDir: tempDir(), partner, log: { level: 'silent' } } });
  const member = alliance.members.find((m) => m.code === partner);
  const node = await buildNode(config, member === undefined ? {} : { keys: member.keys });
  nodes.push(node);
  return node;
}

function recordsOf(code: string): readonly KeyOnRecord[] {
  const member = alliance.members.find((m) => m.code === code);
  return member === undefined ? [] : partnerKeysOf(member.keys.public);
}

afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
});

describe('prepareAlliance', () => {
  it('gives each member keys of its own and arrangements every party signed with them', () => {
    expect(alliance.members.map((m) => m.code)).toEqual([
      ...DEMO_PARTNERS.map((p) => p.code),
      ...DEMO_SIGNATORIES.map((p) => p.code),
    ]);
    const fingerprints = alliance.members.map((m) => m.keys.public.signing.fingerprint);
    expect(new Set(fingerprints).size).toBe(fingerprints.length);
    expect(alliance.arrangements.map((a) => a.id)).toEqual([
      'ct-task-force',
      'fvey-multilateral',
      'usa-gbr-sigint',
    ]);
    for (const arrangement of alliance.arrangements) {
      const pins = arrangementPins(arrangement, recordsOf);
      expect(pins.unverified).toEqual([]);
      for (const party of arrangement.parties) {
        const member = alliance.members.find((m) => m.code === party.partner);
        expect(pins.keyFor(party.partner, member?.keys.public.signing.fingerprint ?? '')).toBeDefined();
      }
    }
  });

  it('reads the same keys back on the next run', async () => {
    const again = await prepareAlliance(alliance.root);
    expect(again.members.map((m) => m.keys.public)).toEqual(alliance.members.map((m) => m.keys.public));
    expect(again.arrangements.map((a) => a.parties)).toEqual(alliance.arrangements.map((a) => a.parties));
  });

  it('refuses a directory holding files it did not make, and writes nothing there', async () => {
    const root = tempDir();
    // What `accord init` or the older one-node demo leaves.
    writeFileSync(join(root, 'accord.json'), '{}');
    await expect(prepareAlliance(root)).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      message: expect.stringMatching(/holds files the five-node demo did not make \(accord\.json\)/),
    });
    expect(readdirSync(root)).toEqual(['accord.json']);
  });
});

describe('seedMember', () => {
  it('seeds users, the alliance, its arrangements and products released sealed to the real peers', async () => {
    const node = await freshNode('USA');
    const steps: string[] = [];
    const result = await seedMember(node, alliance, { productCount: 12, onTick: (s) => steps.push(s) });

    expect(result).toMatchObject({ seeded: true, products: 12 });
    expect(result.releases).toBeGreaterThan(0);
    expect(steps).toHaveLength(seedSteps(alliance, 'USA', 12));
    expect(await node.store.counts()).toMatchObject({
      users: demoUsers('USA').length,
      partners: alliance.members.length,
      arrangements: 3,
      products: 12,
      // Denied releases are stored too, each with the rule that denied it.
      releases: result.releases + result.denied,
      outbox: result.releases,
    });
    for (const member of alliance.members) {
      expect((await node.store.partners.get(member.code))?.keys).toEqual(partnerKeysOf(member.keys.public));
    }

    // Every version verifies under the key the arrangements pin for USA.
    const usa = alliance.members[0]!;
    const pins = arrangementPins(alliance.arrangements[1]!, recordsOf);
    for (const product of await node.store.products.list({ limit: 100 })) {
      const version = await node.store.products.getVersion(product.id);
      expect(() =>
        verifyProductSignature(version?.document ?? {}, (f) => pins.keyFor('USA', f)),
      ).not.toThrow();
    }
    // Every queued release opens at its recipient, under a key the arrangement pins for USA.
    const rows = await node.store.outbox.listPending({ limit: 100 });
    expect(new Set(rows.map((r) => r.recipient))).toEqual(new Set(['GBR', 'CAN', 'AUS', 'NZL']));
    for (const row of rows) {
      const { envelope } = row.payload as SealedRelease;
      const recipient = alliance.members.find((m) => m.code === row.recipient);
      const arrangement = alliance.arrangements.find((a) => a.id === envelope.header.arrangement.id);
      if (recipient === undefined || arrangement === undefined) throw new Error(`no ${row.recipient}`);
      const opened = openEnvelope(envelope, {
        self: row.recipient,
        recipientPrivateKey: recipient.keys.identity.encryption.privateKey,
        resolveSenderKey: (from, fingerprint) =>
          arrangementPins(arrangement, recordsOf).keyFor(from, fingerprint),
        now: Date.now(),
        hasSeen: () => false,
      });
      expect(opened.header.senderKey).toBe(usa.keys.public.signing.fingerprint);
      expect(parseReleasePayload(opened.payload, opened.header).originator).toBe('USA');
    }
  });

  it('holds only the arrangements the node is party to, and writes its products as its own', async () => {
    const node = await freshNode('NZL');
    await seedMember(node, alliance, { productCount: 8 });
    expect((await node.store.arrangements.list()).map((a) => a.id)).toEqual(['fvey-multilateral']);
    const titles = new Set(demoProducts(8, 'NZL').map((d) => d.title));
    for (const product of await node.store.products.list({ limit: 100 })) {
      const version = await node.store.products.getVersion(product.id);
      expect(version?.document).toMatchObject({ originator: 'NZL' });
      expect(titles.has(String(version?.document.title))).toBe(true);
    }
  });

  it('gives logins that work with the passwords the demo prints', async () => {
    const node = await freshNode('GBR');
    await seedMember(node, alliance, { productCount: 1 });
    for (const user of demoUsers('GBR')) {
      const session = await node.services.auth.login(user.username, user.password, '127.0.0.1');
      expect(session.user).toMatchObject({ username: user.username, roles: user.roles });
    }
  });

  it('does nothing on a node it has seeded already', async () => {
    const node = await freshNode('CAN');
    await seedMember(node, alliance, { productCount: 4 });
    const before = await node.store.counts();
    const steps: string[] = [];
    const again = await seedMember(node, alliance, { productCount: 4, onTick: (s) => steps.push(s) });
    expect(again).toEqual({ seeded: false, products: 0, releases: 0, denied: 0 });
    expect(steps).toEqual([]);
    expect(await node.store.counts()).toEqual(before);
  });

  it('refuses a node that has its own users instead of seeding it half-way', async () => {
    const node = await freshNode('USA');
    // What `accord init` leaves: an administrator with its own password.
    await node.services.directory.createUser(null, {
      username: 'admin',
      displayName: 'USA node administrator',
      nationality: 'USA',
      clearance: 'SECRET',
      caveats: [],
      communities: [],
      roles: ['administrator'],
      password: 'an operator password',
    });
    const before = await node.store.counts();
    for (let run = 0; run < 2; run++) {
      await expect(seedMember(node, alliance, { productCount: 3 })).rejects.toMatchObject({
        code: 'INPUT_INVALID',
        message: expect.stringMatching(/holds a node with its own users/),
      });
    }
    expect(await node.store.counts()).toEqual(before);
  });

  it('refuses a seeding that was cut short rather than reporting it as seeded', async () => {
    const node = await freshNode('AUS');
    let ticks = 0;
    const interrupted = seedMember(node, alliance, {
      productCount: 6,
      onTick: () => {
        // Stands in for Ctrl-C half-way.
        if (++ticks === 16) throw new Error('interrupted');
      },
    });
    await expect(interrupted).rejects.toThrow('interrupted');
    expect(existsSync(join(node.config.dataDir, SEEDED_MARKER))).toBe(false);
    await expect(seedMember(node, alliance, { productCount: 6 })).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      message: expect.stringMatching(/was interrupted; delete .* and run the demo again/),
    });
  });
});

describe('accord demo', () => {
  it('runs five nodes that deliver every release to each other; a second run reuses the data', async () => {
    const dir = join(tempDir(), 'alliance');
    const first = await runCaptured(['demo', '--dir', dir, '--port', '0', '--no-wait']);
    expect(first.code, first.stderr).toBe(0);
    const seeded = /^seeded (\d+) products, (\d+) releases \((\d+) denied by policy/m.exec(first.stderr);
    expect(seeded).not.toBeNull();
    const releases = Number(seeded?.[2]);
    expect(first.stderr).not.toMatch(/still pending/);

    // One line per node: every release it made delivered, none refused, and something received.
    const lines = [
      ...first.stdout.matchAll(
        /^ {2}([A-Z]{3}) {2}(http:\/\/127\.0\.0\.1:\d+) +(\d+) products +(\d+) delivered +(\d+) refused +(\d+) received$/gm,
      ),
    ];
    expect(lines.map((l) => l[1])).toEqual(DEMO_PARTNERS.map((p) => p.code));
    const delivered = lines.reduce((n, l) => n + Number(l[4]), 0);
    const received = lines.reduce((n, l) => n + Number(l[6]), 0);
    // Besides the releases, each node delivered the breach protocol's notices and recalls.
    expect(delivered).toBeGreaterThan(releases);
    expect(received).toBe(releases);
    // The breach protocol ran as the FVEY arrangement says: every party told, USA and GBR recalled
    // the product each originated, the oversight auditor confirmed, and NZL is suspended everywhere else.
    expect(first.stdout).toMatch(
      /^ {2}incident {2}[0-9a-f-]{36}: NZL suspected under fvey-multilateral \(high\), confirmed$/m,
    );
    expect(first.stdout).toMatch(
      /notified by .*: GBR delivered, CAN delivered, AUS delivered, NZL delivered$/m,
    );
    expect(first.stdout).toMatch(
      /^ {4}USA: confirmed; recalled USA-\S+; suspended NZL under fvey-multilateral$/m,
    );
    expect(first.stdout).toMatch(
      /^ {4}GBR: confirmed; recalled GBR-\S+; suspended NZL under fvey-multilateral$/m,
    );
    for (const code of ['CAN', 'AUS']) {
      expect(first.stdout).toMatch(
        new RegExp(`^ {4}${code}: confirmed; suspended NZL under fvey-multilateral$`, 'm'),
      );
    }
    expect(first.stdout).toMatch(/^ {4}NZL: confirmed$/m);
    // Issue 9: GBR's analyst's rule (one indicator from two partners within 24 h) fired live once
    // the reports naming the shared relay reached GBR.
    expect(first.stdout).toMatch(
      /^ {2}alerts {4}GBR analyst: \d+ raised live; first: ipv4 203\.0\.113\.77 reported by (\w{3}, )+\w{3} /m,
    );
    for (const line of lines) {
      expect(Number(line[5])).toBe(0);
      expect(Number(line[6])).toBeGreaterThan(0);
    }
    for (const user of demoUsers('USA')) {
      expect(first.stdout).toMatch(new RegExp(`^ {4}${user.username} +${user.password} `, 'm'));
    }
    expect(first.stderrLines.at(-1)).toBe('accord demo stopped');
    // --no-wait stops the servers before returning.
    await expect(fetch(`${lines[0]?.[2]}/healthz`)).rejects.toThrow();

    const second = await runCaptured(['demo', '--dir', dir, '--port', '0', '--no-wait']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('already seeded; reusing the existing data');
    expect(second.stdout).toMatch(/^ {2}GBR .* 12 products/m);
    // The incident is found again, not reported twice.
    const incidents = [...second.stdout.matchAll(/^ {2}incident {2}([0-9a-f-]{36})/gm)].map((m) => m[1]);
    expect(incidents).toEqual(
      [...first.stdout.matchAll(/^ {2}incident {2}([0-9a-f-]{36})/gm)].map((m) => m[1]),
    );
  }, 60_000);

  it('refuses a directory made by accord init, leaving it as it was', async () => {
    const dir = tempDir();
    const init = await runCaptured(['init', '--dir', dir], {
      env: { ACCORD_KEY_PASSPHRASE: 'an operator passphrase' },
    });
    expect(init.code).toBe(0);
    const before = readdirSync(dir).sort();
    const demo = await runCaptured(['demo', '--dir', dir, '--port', '0', '--no-wait']);
    expect(demo.code).toBe(2);
    expect(demo.stdout).toBe('');
    expect(demo.stderrLines.at(-1)).toMatch(
      /^accord: .* holds files the five-node demo did not make .*\[INPUT_INVALID\]$/,
    );
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('refuses a port that leaves no room for five nodes', async () => {
    const dir = join(tempDir(), 'alliance');
    const demo = await runCaptured(['demo', '--dir', dir, '--port', '65534', '--no-wait']);
    expect(demo.code).toBe(2);
    expect(existsSync(dir)).toBe(false);
    expect(demo.stderrLines.at(-1)).toMatch(/--port: '65534' is not a port number from 1 to 65531/);
  });
});

afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
