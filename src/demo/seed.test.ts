import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../app/node.js';
import { keysFileOf, loadNodeKeys, partnerKeysOf, readPublicIdentity } from '../app/node-keys.js';
import { runCaptured } from '../cli/captured-run.js';
import { loadConfig } from '../config/index.js';
import { verifyProductSignature } from '../federation/index.js';
import type { SealedRelease } from '../services/product-service.js';
import { type SeedProgress, seedDemo } from './seed.js';
import { DEMO_KEY_PASSPHRASE, DEMO_PARTNERS, demoUsers } from './seed-data.js';

const dirs: string[] = [];
const nodes: AccordNode[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'accord-seed-'));
  dirs.push(dir);
  return dir;
}

/** A fresh USA node on SQLite in its own temp directory, closed after the test. */
async function freshNode(): Promise<AccordNode> {
  const config = loadConfig({ flags: { dataDir: tempDir(), partner: 'USA', log: { level: 'silent' } } });
  const node = await buildNode(config);
  nodes.push(node);
  return node;
}

afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('seedDemo', () => {
  it('seeds users, the five partners, three arrangements, the products and some releases', async () => {
    const node = await freshNode();
    const progress: SeedProgress[] = [];
    const result = await seedDemo(node, { productCount: 12, onProgress: (p) => progress.push(p) });

    expect(result).toMatchObject({ seeded: true, products: 12 });
    expect(result.releases).toBeGreaterThan(0);
    const counts = await node.store.counts();
    expect(counts).toMatchObject({
      users: demoUsers('USA').length,
      partners: DEMO_PARTNERS.length,
      arrangements: 3,
      products: 12,
      // Denied releases are stored too, each with the rule that denied it.
      releases: result.releases + result.denied,
      outbox: result.releases,
    });
    expect((await node.store.partners.list()).map((p) => p.code).sort()).toEqual(
      ['AUS', 'CAN', 'GBR', 'NZL', 'USA'].sort(),
    );
    expect((await node.store.arrangements.list()).map((a) => a.id).sort()).toEqual([
      'ct-task-force',
      'fvey-multilateral',
      'usa-gbr-sigint',
    ]);

    // The node's keys, under the demo passphrase, on its own entry; the other partners have
    // placeholder keys of their own, so releases to them are sealed.
    const keys = await loadNodeKeys(node.config.dataDir, DEMO_KEY_PASSPHRASE);
    const partners = await node.store.partners.list();
    expect(partners.find((p) => p.code === 'USA')?.keys).toEqual(partnerKeysOf(keys.public));
    const others = partners.filter((p) => p.code !== 'USA');
    for (const partner of others) {
      expect(partner.keys.map((k) => k.use)).toEqual(['signing', 'encryption']);
    }
    const fingerprints = partners.flatMap((p) => p.keys.map((k) => k.fingerprint));
    expect(new Set(fingerprints).size).toBe(fingerprints.length);

    // Every version is signed by the node; every queued release is an envelope to its recipient.
    const pinned = (fingerprint: string) =>
      fingerprint === keys.public.signing.fingerprint ? keys.identity.signing.publicKey : undefined;
    for (const product of await node.store.products.list({ limit: 100 })) {
      const version = await node.store.products.getVersion(product.id);
      expect(() => verifyProductSignature(version?.document ?? {}, pinned)).not.toThrow();
    }
    const rows = await node.store.outbox.listPending({ limit: 100 });
    expect(rows).toHaveLength(result.releases);
    for (const row of rows) {
      const { envelope } = row.payload as SealedRelease;
      expect(envelope.header).toMatchObject({
        kind: 'release',
        envelopeId: row.id,
        from: 'USA',
        to: row.recipient,
        senderKey: keys.public.signing.fingerprint,
      });
      expect(Object.keys(envelope).sort()).toEqual(['ciphertext', 'enc', 'header', 'signature']);
    }

    // One tick per user, partner, arrangement and product: 1, 2, … up to the same total.
    const total = demoUsers('USA').length + DEMO_PARTNERS.length + 3 + 12;
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(progress.map((p) => p.total))).toEqual(new Set([total]));
    expect(progress.at(-1)?.step).toBe('product 12/12');
  });

  it('gives logins that work with the passwords the demo prints', async () => {
    const node = await freshNode();
    await seedDemo(node, { productCount: 1 });
    for (const user of demoUsers('USA')) {
      const session = await node.services.auth.login(user.username, user.password, '127.0.0.1');
      expect(session.user).toMatchObject({ username: user.username, roles: user.roles });
    }
  });

  it('does nothing on a node it has seeded already', async () => {
    const node = await freshNode();
    await seedDemo(node, { productCount: 12 });
    const before = await node.store.counts();

    const progress: SeedProgress[] = [];
    const again = await seedDemo(node, { productCount: 12, onProgress: (p) => progress.push(p) });
    expect(again).toEqual({ seeded: false, products: 0, releases: 0, denied: 0 });
    expect(progress).toEqual([]);
    expect(await node.store.counts()).toEqual(before);
  });

  it('gives the other partners of a node seeded before releases were sealed keys, and keeps any they have', async () => {
    const node = await freshNode();
    await seedDemo(node, { productCount: 1 });
    const gbr = await node.store.partners.get('GBR');
    if (gbr === undefined) throw new Error('no GBR entry');
    const { code, name, endpoint } = gbr;
    await node.store.partners.upsert({ code, name, endpoint, keys: [] });
    const can = await node.store.partners.get('CAN');

    expect(await seedDemo(node, { productCount: 1 })).toMatchObject({ seeded: false });
    expect((await node.store.partners.get('GBR'))?.keys.map((k) => k.use)).toEqual(['signing', 'encryption']);
    expect((await node.store.partners.get('CAN'))?.keys).toEqual(can?.keys);
  });

  it('gives a node seeded before nodes had keys its keys, on its own entry', async () => {
    const node = await freshNode();
    await seedDemo(node, { productCount: 1 });
    unlinkSync(keysFileOf(node.config.dataDir));

    expect(await seedDemo(node, { productCount: 1 })).toMatchObject({ seeded: false });
    const keys = await loadNodeKeys(node.config.dataDir, DEMO_KEY_PASSPHRASE);
    expect((await node.store.partners.get('USA'))?.keys).toEqual(partnerKeysOf(keys.public));
  });

  it('refuses a node that has its own users instead of seeding it half-way', async () => {
    const node = await freshNode();
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

    await expect(seedDemo(node, { productCount: 3 })).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      message: expect.stringMatching(/holds a node with its own users/),
    });
    expect(await node.store.counts()).toEqual(before);
    // A second attempt refuses again rather than reporting the node as seeded.
    await expect(seedDemo(node, { productCount: 3 })).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    // Nor does it make keys: an operator's node gets its keys from accord init, never the demo passphrase.
    expect(existsSync(keysFileOf(node.config.dataDir))).toBe(false);
  });

  it('refuses a seeding that was cut short rather than reporting it as seeded', async () => {
    const node = await freshNode();
    let ticks = 0;
    const interrupted = seedDemo(node, {
      productCount: 6,
      onProgress: () => {
        // Stands in for Ctrl-C half-way through the products.
        if (++ticks === 16) throw new Error('interrupted');
      },
    });
    await expect(interrupted).rejects.toThrow('interrupted');
    await expect(seedDemo(node, { productCount: 6 })).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      message: expect.stringMatching(/was interrupted; delete that directory/),
    });
  });
});

describe('accord demo', () => {
  it('seeds a new directory, prints the logins and stops with --no-wait; a second run reuses the data', async () => {
    const dir = join(tempDir(), 'demo');
    const first = await runCaptured(['demo', '--dir', dir, '--port', '0', '--no-wait']);
    expect(first.code).toBe(0);
    const address = /^Accord demo running at (http:\/\/127\.0\.0\.1:\d+)$/m.exec(first.stdout)?.[1];
    expect(address).toBeDefined();
    for (const user of demoUsers('USA')) {
      expect(first.stdout).toMatch(new RegExp(`^ {4}${user.username} +${user.password} `, 'm'));
    }
    expect(first.stderr).toMatch(/^seeded \d+ products, \d+ releases \(\d+ denied by policy/m);
    expect(first.stdout).toContain(
      `  node keys: encrypted under the fixed demo passphrase '${DEMO_KEY_PASSPHRASE}' (demo only; a real node takes ACCORD_KEY_PASSPHRASE)`,
    );
    expect(await readPublicIdentity(dir)).toEqual((await loadNodeKeys(dir, DEMO_KEY_PASSPHRASE)).public);
    expect(first.stderrLines.at(-1)).toBe('accord demo stopped');
    // --no-wait stops the server before returning.
    await expect(fetch(`${address}/healthz`)).rejects.toThrow();

    const second = await runCaptured(['demo', '--dir', dir, '--port', '0', '--no-wait']);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('already seeded; reusing the existing data');
    expect(second.stderr).not.toMatch(/^seeded /m);
    expect(second.stdout).toContain('analyst   analyst-usa-demo');
  });

  it('refuses a directory made by accord init, leaving it unseeded', async () => {
    const dir = tempDir();
    const init = await runCaptured(['init', '--dir', dir], {
      env: { ACCORD_KEY_PASSPHRASE: 'an operator passphrase' },
    });
    expect(init.code).toBe(0);
    const keys = readFileSync(keysFileOf(dir), 'utf8');
    for (let run = 0; run < 2; run++) {
      const demo = await runCaptured(['demo', '--dir', dir, '--port', '0', '--no-wait']);
      expect(demo.code).toBe(2);
      expect(demo.stdout).toBe('');
      expect(demo.stderrLines.at(-1)).toMatch(
        /^accord: .* holds a node with its own users; the demo seeds only a new data directory \[INPUT_INVALID\]$/,
      );
    }
    // The operator's keys are left as they were.
    expect(readFileSync(keysFileOf(dir), 'utf8')).toBe(keys);
  });
});
