import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccordNode, buildNode } from '../../src/app/node.js';
import { loadNodeKeys, type NodeKeys, partnerKeysOf } from '../../src/app/node-keys.js';
import {
  AUDIT_ACTIONS,
  type AuditEntry,
  auditEntryBytes,
  hashesEqual,
  leafHash,
  parseAuditEntry,
  parseSignedTreeHead,
  verifyConsistency,
  verifyInclusion,
  verifyTreeHeadSignature,
} from '../../src/audit/index.js';
import { type CapturedRun, REPO_ROOT, runCaptured } from '../../src/cli/captured-run.js';
import type { CliIo } from '../../src/cli/cli-io.js';
import { loadNodeConfig } from '../../src/cli/local-node.js';
import { createNodeIdentity, publicIdentity } from '../../src/crypto/index.js';
import { treeHeadSignatureCheck } from '../../src/services/audit-log.js';
import { type AuthHeaders, jsonOf, makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// Issue 5's audit log end to end: the events the services log, the API's heads, entries and
// proofs (checked here with the pure verifier functions, not trusted), and `accord audit verify`
// over a data directory and over a URL, catching a tampered SQLite row, a removed, reordered or
// inserted one, and a fork against a head saved earlier.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the audit test node keys' } as const;

const quietIo: CliIo = {
  stdout: { write: () => true },
  stderr: { write: () => true },
  env: {},
  cwd: REPO_ROOT,
};

/** Text of portion p3 of the example product: product content that must never reach the log. */
const PORTION_TEXT = 'Collection was enabled by a sensitive access';

function keysFor(t: TestNode): NodeKeys {
  const keys = t.node.services.keys;
  if (keys === undefined) throw new Error('the test node has no keys');
  return keys;
}

describe('the audit log of a running node (API)', () => {
  let t: TestNode;
  let admin: AuthHeaders;
  let auditor: AuthHeaders;
  let productId: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-audit-keys-'));
    try {
      const init = await runCaptured(['init', '--dir', dir, '--partner', 'USA', '--json'], { env: KEY_ENV });
      expect(init.code, init.stderr).toBe(0);
      t = await startTestNode({ keys: await loadNodeKeys(dir, KEY_ENV.ACCORD_KEY_PASSPHRASE) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // GBR's encryption key, so a release to it can be sealed.
    const gbr = createNodeIdentity();
    await t.store.partners.upsert({
      code: 'GBR',
      name: 'United Kingdom',
      endpoint: null,
      keys: partnerKeysOf(publicIdentity(gbr)),
    });
    admin = await t.tokenFor(USERS.admin.username);
    auditor = await t.tokenFor(USERS.auditor.username);
    const analyst = await t.tokenFor(USERS.analyst.username);
    const officer = await t.tokenFor(USERS.officer.username);
    const created = await t.server.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: analyst,
      payload: makeDraft(),
    });
    expect(created.statusCode, created.body).toBe(201);
    productId = String(jsonOf(created).id);
    for (const [headers, path, payload] of [
      [analyst, 'submit', undefined],
      [officer, 'approve', { comment: 'fine' }],
      [officer, 'releases', { to: 'GBR', arrangement: 'fvey-multilateral' }],
      [officer, 'releases', { to: 'FRA', arrangement: 'fvey-multilateral' }],
    ] as const) {
      await t.server.inject({
        method: 'POST',
        url: `/api/v1/products/${productId}/${path}`,
        headers,
        ...(payload === undefined ? {} : { payload }),
      });
    }
    expect(
      (await t.server.inject({ method: 'GET', url: `/api/v1/products/${productId}`, headers: officer }))
        .statusCode,
    ).toBe(200);
    await t.server.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: USERS.analyst.username, password: 'wrong' },
    });
  });
  afterAll(() => t?.close());

  async function entries(): Promise<AuditEntry[]> {
    const signed = await t.server.inject({ method: 'POST', url: '/api/v1/audit/tree-head', headers: admin });
    expect(signed.statusCode, signed.body).toBe(201);
    const size = Number(jsonOf(signed).treeSize);
    const all: AuditEntry[] = [];
    for (let start = 0; start < size; start += 1000) {
      const page = await t.server.inject({
        method: 'GET',
        url: `/api/v1/audit/entries?start=${start}&end=${start + 1000}`,
        headers: auditor,
      });
      expect(page.statusCode, page.body).toBe(200);
      all.push(...(jsonOf(page).entries as { entry: AuditEntry }[]).map((e) => e.entry));
    }
    return all;
  }

  it('logs logins, product changes, reads, release decisions and arrangement changes, metadata only', async () => {
    const logged = await entries();
    const actions = new Set(logged.map((e) => e.action));
    for (const action of [
      'auth.login',
      'auth.login-failed',
      'arrangement.created',
      'product.created',
      'product.submitted',
      'product.approved',
      'product.read',
      'release.decided',
    ] as const) {
      expect(actions, action).toContain(action);
    }
    const releases = logged.filter((e) => e.action === 'release.decided');
    expect(releases.map((e) => [e.partner, e.outcome])).toEqual([
      ['GBR', 'allow'],
      ['FRA', 'deny'],
    ]);
    expect(releases[0]).toMatchObject({
      product: { id: productId, version: 1 },
      arrangement: { id: 'fvey-multilateral', version: 1 },
      banner: 'SECRET//REL TO USA, GBR',
      actor: { kind: 'user', username: USERS.officer.username, via: 'token' },
    });
    expect(releases[1]?.rules).toContainEqual({ rule: 'arrangement.parties', outcome: 'fail' });
    expect(logged.find((e) => e.action === 'auth.login-failed')).toMatchObject({
      actor: { kind: 'anonymous' },
      user: USERS.analyst.username,
      code: 'AUTH_INVALID',
    });
    // Every entry fits the closed schema, and no product content is anywhere in the log.
    const text = JSON.stringify(logged);
    expect(text).not.toContain(PORTION_TEXT);
    expect(text).not.toContain(makeDraft().title);
    for (const entry of logged) expect(AUDIT_ACTIONS).toContain(entry.action);
  });

  it('serves a head signed by the node key, and entries, inclusion and consistency proofs that verify against it', async () => {
    await entries();
    const response = await t.server.inject({
      method: 'GET',
      url: '/api/v1/audit/tree-head',
      headers: auditor,
    });
    expect(response.statusCode, response.body).toBe(200);
    const head = parseSignedTreeHead(jsonOf(response));
    expect(head.nodeId).toBe('USA');
    verifyTreeHeadSignature(head, treeHeadSignatureCheck(keysFor(t).public.signing));
    const root = Buffer.from(head.rootHash, 'hex');

    const page = jsonOf(
      await t.server.inject({
        method: 'GET',
        url: `/api/v1/audit/entries?start=0&end=${head.treeSize}`,
        headers: auditor,
      }),
    );
    const served = page.entries as { index: number; leafHash: string; entry: AuditEntry }[];
    expect(served).toHaveLength(head.treeSize);
    for (const index of [0, Math.floor(head.treeSize / 2), head.treeSize - 1]) {
      const item = served[index]!;
      const leaf = leafHash(auditEntryBytes(parseAuditEntry(item.entry)));
      expect(hashesEqual(leaf, Buffer.from(item.leafHash, 'hex'))).toBe(true);
      const proof = jsonOf(
        await t.server.inject({
          method: 'GET',
          url: `/api/v1/audit/proofs/inclusion?index=${index}&treeSize=${head.treeSize}`,
          headers: auditor,
        }),
      );
      verifyInclusion(
        leaf,
        index,
        head.treeSize,
        (proof.proof as string[]).map((h) => Buffer.from(h, 'hex')),
        root,
      );
    }
    const first = Math.max(1, head.treeSize - 3);
    const earlier = jsonOf(
      await t.server.inject({
        method: 'GET',
        url: `/api/v1/audit/entries?start=0&end=${first}`,
        headers: auditor,
      }),
    );
    expect((earlier.entries as unknown[]).length).toBe(first);
    const consistency = jsonOf(
      await t.server.inject({
        method: 'GET',
        url: `/api/v1/audit/proofs/consistency?first=${first}&second=${head.treeSize}`,
        headers: auditor,
      }),
    );
    expect(consistency).toMatchObject({ first, second: head.treeSize });
    const { Frontier } = await import('../../src/audit/index.js');
    const prefix = Frontier.empty();
    for (const item of served.slice(0, first)) prefix.append(Buffer.from(item.leafHash, 'hex'));
    verifyConsistency(
      first,
      head.treeSize,
      prefix.root(),
      root,
      (consistency.proof as string[]).map((h) => Buffer.from(h, 'hex')),
    );
  });

  it.each([
    ['a range that ends before it starts', '/api/v1/audit/entries?start=5&end=2'],
    ['a page larger than 1000 entries', '/api/v1/audit/entries?start=0&end=1001'],
    ['entries beyond the log', '/api/v1/audit/entries?start=999999'],
    ['an entry outside the tree', '/api/v1/audit/proofs/inclusion?index=999999'],
    ['a tree larger than the log', '/api/v1/audit/proofs/inclusion?index=0&treeSize=999999'],
    ['a first tree larger than the second', '/api/v1/audit/proofs/consistency?first=5&second=2'],
  ])('refuses %s with 400 problem+json', async (_what, url) => {
    const response = await t.server.inject({ method: 'GET', url, headers: auditor });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(jsonOf(response).code).toBe('AUDIT_INPUT_INVALID');
  });

  it('refuses a malformed query with 400 and the reading to an analyst with 403', async () => {
    const bad = await t.server.inject({
      method: 'GET',
      url: '/api/v1/audit/entries?start=-1',
      headers: auditor,
    });
    expect(bad.statusCode).toBe(400);
    expect(jsonOf(bad).code).toBe('INPUT_INVALID');
    const analyst = await t.tokenFor(USERS.analyst.username);
    const denied = await t.server.inject({ method: 'GET', url: '/api/v1/audit/tree-head', headers: analyst });
    expect(denied.statusCode).toBe(403);
    const signing = await t.server.inject({
      method: 'POST',
      url: '/api/v1/audit/tree-head',
      headers: auditor,
    });
    expect(signing.statusCode).toBe(403);
  });

  it('serves the node identity publicly', async () => {
    const response = await t.server.inject({ method: 'GET', url: '/federation/v1/identity' });
    expect(response.statusCode).toBe(200);
    expect(jsonOf(response)).toMatchObject({ partner: 'USA', keys: { signing: keysFor(t).public.signing } });
  });
});

// ---------------------------------------------------------------- accord audit verify

/** A node made with `accord init`, some activity, closed (which signs a last head). */
async function makeNodeDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'accord-audit-'));
  const init = await runCaptured(['init', '--dir', dir, '--partner', 'USA', '--json'], { env: KEY_ENV });
  expect(init.code, init.stderr).toBe(0);
  const node = await openNode(dir);
  try {
    await activity(node, 12);
  } finally {
    await node.close();
  }
  return dir;
}

async function openNode(dir: string): Promise<AccordNode> {
  const config = await loadNodeConfig(quietIo, dir, { log: { level: 'silent' } });
  return buildNode(config, { keys: await loadNodeKeys(dir, KEY_ENV.ACCORD_KEY_PASSPHRASE) });
}

/**
 * `count` logged events (failed logins, each by another name from another address so none is
 * throttled), each under a tree head of its own when `signEach`.
 */
async function activity(node: AccordNode, count: number, tag = 'a', signEach = true): Promise<void> {
  for (let i = 0; i < count; i++) {
    await node.services.auth.login(`${tag}-user${i}`, 'wrong', `10.0.${i}.1`).catch(() => undefined);
    if (signEach) await node.services.audit.signIfGrown();
  }
}

function verify(target: string, ...args: string[]): Promise<CapturedRun> {
  return runCaptured(['audit', 'verify', target, ...args], { env: KEY_ENV });
}

function sqlite(dir: string): BetterSqlite3.Database {
  return new BetterSqlite3(join(dir, 'accord.sqlite'));
}

function expectTampered(run: CapturedRun, index: number): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderrLines).toHaveLength(1);
  expect(run.stderrLines[0]).toMatch(
    new RegExp(`^accord: audit entry ${index} does not verify: .*\\[AUDIT_LOG_TAMPERED\\]$`),
  );
}

describe('accord audit verify DATA-DIR', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  async function fresh(): Promise<string> {
    const dir = await makeNodeDir();
    dirs.push(dir);
    return dir;
  }

  it('prints OK with the tree size and root of an untouched log', async () => {
    const dir = await fresh();
    const run = await verify(dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^OK tree size \d+ root [0-9a-f]{64}\n/);
  });

  it('names the entry whose row was changed in SQLite, and exits 1', async () => {
    const dir = await fresh();
    const db = sqlite(dir);
    const row = db.prepare('select entry_json from audit_entries where idx = 5').get() as {
      entry_json: string;
    };
    db.prepare('update audit_entries set entry_json = ? where idx = 5').run(
      row.entry_json.replace('"ip":"10.', '"ip":"11.'),
    );
    db.close();
    expectTampered(await verify(dir), 5);
  });

  it('names the entry whose content and recorded leaf hash were both rewritten', async () => {
    const dir = await fresh();
    const db = sqlite(dir);
    const row = db.prepare('select entry_json from audit_entries where idx = 6').get() as {
      entry_json: string;
    };
    const forged = row.entry_json.replace('"ip":"10.', '"ip":"11.');
    db.prepare('update audit_entries set entry_json = ?, leaf_hash = ? where idx = 6').run(
      forged,
      Buffer.from(leafHash(new TextEncoder().encode(forged))),
    );
    db.close();
    const run = await verify(dir);
    // The sibling's proof runs through the forged leaf hash, so either of the pair may be named.
    expect(run.code).toBe(1);
    expect(run.stderrLines[0]).toMatch(/^accord: audit entry [56] does not verify/);
  });

  it('catches a removed, a reordered and an inserted row', async () => {
    const removed = await fresh();
    let db = sqlite(removed);
    db.prepare('delete from audit_entries where idx = 4').run();
    db.close();
    expectTampered(await verify(removed), 4);

    const reordered = await fresh();
    db = sqlite(reordered);
    const a = db.prepare('select entry_json, leaf_hash from audit_entries where idx = 7').get() as Record<
      string,
      unknown
    >;
    const b = db.prepare('select entry_json, leaf_hash from audit_entries where idx = 8').get() as Record<
      string,
      unknown
    >;
    const put = db.prepare('update audit_entries set entry_json = ?, leaf_hash = ? where idx = ?');
    put.run(b.entry_json, b.leaf_hash, 7);
    put.run(a.entry_json, a.leaf_hash, 8);
    db.close();
    expectTampered(await verify(reordered), 7);

    const inserted = await fresh();
    db = sqlite(inserted);
    const rows = db
      .prepare('select idx, entry_json, leaf_hash, recorded_at from audit_entries order by idx desc')
      .all() as {
      idx: number;
      entry_json: string;
      leaf_hash: Buffer;
      recorded_at: string;
    }[];
    for (const row of rows) {
      if (row.idx < 3) continue;
      db.prepare('update audit_entries set idx = ? where idx = ?').run(row.idx + 1, row.idx);
    }
    const planted = rows.find((r) => r.idx === 0)!;
    db.prepare('insert into audit_entries (idx, leaf_hash, entry_json, recorded_at) values (3, ?, ?, ?)').run(
      planted.leaf_hash,
      planted.entry_json,
      planted.recorded_at,
    );
    db.close();
    expectTampered(await verify(inserted), 3);
  });

  it('catches a truncated log', async () => {
    const dir = await fresh();
    const db = sqlite(dir);
    const { n } = db.prepare('select count(*) as n from audit_entries').get() as { n: number };
    db.prepare('delete from audit_entries where idx >= ?').run(n - 2);
    db.close();
    expectTampered(await verify(dir), n - 2);
  });

  it('checks the log extends a head saved earlier, and catches a fork the node signed itself', async () => {
    const dir = await fresh();
    const saved = await runCaptured(['audit', 'head', '--dir', dir], { env: KEY_ENV });
    expect(saved.code, saved.stderr).toBe(0);
    const headFile = join(dir, 'head.json');
    writeFileSync(headFile, saved.stdout);
    const before = parseSignedTreeHead(JSON.parse(saved.stdout));

    // The node logs more, then verify --since the saved head.
    let node = await openNode(dir);
    await activity(node, 3);
    await node.close();
    const grown = await verify(dir, '--since', headFile);
    expect(grown.code, grown.stderr).toBe(0);
    expect(grown.stdout).toContain(`extends the --since head of size ${before.treeSize}`);

    // The operator, holding the keys, rewrites history: drops the log from entry 2 on, logs anew
    // and signs fresh heads. Every head in the store verifies; the saved one does not.
    const db = sqlite(dir);
    db.prepare('delete from audit_entries where idx >= 2').run();
    db.prepare('delete from audit_nodes').run();
    db.prepare('delete from audit_tree_heads').run();
    db.close();
    node = await openNode(dir);
    // Rebuild the stored subtree hashes of the kept prefix, then log a different history.
    await rebuildNodes(node);
    await activity(node, before.treeSize + 2, 'fork', false);
    await node.services.audit.signIfGrown();
    await node.close();
    const alone = await verify(dir);
    expect(alone.code, alone.stderr).toBe(0);
    const forked = await verify(dir, '--since', headFile);
    expect(forked.code).toBe(1);
    expect(forked.stderrLines[0]).toMatch(/\[AUDIT_FORK_DETECTED\]$/);
  });

  it('refuses a head file that is not a tree head with exit 2', async () => {
    const dir = await fresh();
    const file = join(dir, 'not-a-head.json');
    writeFileSync(file, '{"treeSize": -1}');
    const run = await verify(dir, '--since', file);
    expect(run.code).toBe(2);
    expect(run.stderrLines).toHaveLength(1);
    expect(run.stderrLines[0]).toMatch(/\[AUDIT_TREE_HEAD_INVALID\]$/);
  });
});

/** Writes the subtree hashes of the entries kept in the store (a forger's tidy-up after a rewrite). */
async function rebuildNodes(node: AccordNode): Promise<void> {
  const { Frontier } = await import('../../src/audit/index.js');
  const repo = node.store.audit;
  const rows = await repo.entries(0, await repo.size());
  const nodes: { level: number; index: number; hash: Uint8Array }[] = [];
  const frontier = Frontier.empty();
  for (const row of rows) {
    frontier.append(row.leafHash, {
      put: (level, index, hash) => {
        if (level > 0) nodes.push({ level, index, hash });
      },
    });
  }
  await repo.append([], nodes);
}

describe('accord audit verify URL', () => {
  let t: TestNode;
  let url: string;
  let token: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'accord-audit-keys-'));
    try {
      const init = await runCaptured(['init', '--dir', dir, '--partner', 'USA', '--json'], { env: KEY_ENV });
      expect(init.code).toBe(0);
      t = await startTestNode({ keys: await loadNodeKeys(dir, KEY_ENV.ACCORD_KEY_PASSPHRASE) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await t.server.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(t.server.server.address() as AddressInfo).port}`;
    token = (await t.tokenFor(USERS.auditor.username)).authorization!.replace('Bearer ', '');
    await activity(t.node, 5);
  });
  afterAll(() => t?.close());

  it('verifies a node over its API with a bearer token', async () => {
    const run = await runCaptured(['audit', 'verify', url, '--json'], { env: { ACCORD_TOKEN: token } });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ ok: true, signingKey: t.node.services.keys?.public.signing.fingerprint });
  });

  it('names a row changed behind the node, and refuses without a token', async () => {
    const db = sqlite(t.node.config.dataDir);
    const row = db.prepare('select entry_json from audit_entries where idx = 2').get() as {
      entry_json: string;
    };
    db.prepare('update audit_entries set entry_json = ? where idx = 2').run(
      row.entry_json.replace('"time":"2', '"time":"1'),
    );
    db.close();
    expectTampered(await runCaptured(['audit', 'verify', url], { env: { ACCORD_TOKEN: token } }), 2);
    const anonymous = await runCaptured(['audit', 'verify', url], { env: {} });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderrLines[0]).toMatch(/\[AUTH_REQUIRED\]$/);
  });
});
