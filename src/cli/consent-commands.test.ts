import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArrangement } from '../../test/fixtures/builders.js';
import { expectOneLineFailure } from '../../test/fixtures/cli.js';
import { type AccordNode, buildNode } from '../app/node.js';
import { loadNodeKeys, type NodeKeys, partnerKeysOf, signerOf } from '../app/node-keys.js';
import { createNodeIdentity, type PublicIdentity, publicIdentity } from '../crypto/index.js';
import { signArrangementAs, withPinnedKeys } from '../federation/index.js';
import type { ConsentRequestView } from '../services/consent-service.js';
import { type CapturedRun, REPO_ROOT, runCaptured } from './captured-run.js';
import type { CliIo } from './cli-io.js';
import { loadNodeConfig } from './local-node.js';

// `accord consent` on two real data directories, USA (the originator) and GBR (the holder), each
// made by `accord init` with its own keys; CAN is a third party with keys but no node. What one
// node queues is handed to the other's inbox directly, as the outbox worker would over HTTP.

const KEY_ENV = { ACCORD_KEY_PASSPHRASE: 'a passphrase for the consent test nodes' } as const;
const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const ARRANGEMENT = 'usa-gbr-can-ct';

const root = mkdtempSync(join(tmpdir(), 'accord-cli-consent-'));
const usaDir = join(root, 'usa');
const gbrDir = join(root, 'gbr');
const can: NodeKeys = (() => {
  const identity = createNodeIdentity();
  return { identity, public: publicIdentity(identity) };
})();
let usaKeys: NodeKeys;
let gbrKeys: NodeKeys;

const quietIo: CliIo = {
  stdout: { write: () => true },
  stderr: { write: () => true },
  env: {},
  cwd: REPO_ROOT,
};

/** The node of a data directory with its keys, as `serve` runs it. */
async function onNode<T>(dir: string, keys: NodeKeys, work: (node: AccordNode) => Promise<T>): Promise<T> {
  const node = await buildNode(await loadNodeConfig(quietIo, dir, { log: { level: 'silent' } }), {
    keys,
    now: () => NOW,
  });
  try {
    return await work(node);
  } finally {
    await node.close();
  }
}

function cli(args: readonly string[], env: Record<string, string> = KEY_ENV): Promise<CapturedRun> {
  return runCaptured(args, { env, now: () => NOW });
}

/** Hands every pending outbox message of `from` to `to`'s inbox, and marks it delivered. */
async function deliver(from: [string, NodeKeys], to: [string, NodeKeys]): Promise<number> {
  const pending = await onNode(from[0], from[1], (node) => node.store.outbox.listPending());
  for (const message of pending) {
    const { envelope } = message.payload as { envelope: unknown };
    const answer = await onNode(to[0], to[1], (node) => {
      if (node.services.inbox === undefined) throw new Error('no inbox');
      return node.services.inbox.receive(envelope, '127.0.0.1');
    });
    await onNode(from[0], from[1], (node) => node.store.outbox.markDelivered(message.id, answer.receipt));
  }
  return pending.length;
}

beforeAll(async () => {
  for (const [dir, partner] of [
    [usaDir, 'USA'],
    [gbrDir, 'GBR'],
  ] as const) {
    const run = await cli(['init', '--dir', dir, '--partner', partner, '--json']);
    expect(run.code, run.stderr).toBe(0);
  }
  usaKeys = await loadNodeKeys(usaDir, KEY_ENV.ACCORD_KEY_PASSPHRASE);
  gbrKeys = await loadNodeKeys(gbrDir, KEY_ENV.ACCORD_KEY_PASSPHRASE);
  const identities = new Map<string, PublicIdentity>([
    ['USA', usaKeys.public],
    ['GBR', gbrKeys.public],
    ['CAN', can.public],
  ]);
  let arrangement = withPinnedKeys(
    makeArrangement({
      id: ARRANGEMENT,
      parties: ['USA', 'GBR', 'CAN'],
      scope: { disciplines: ['SIGINT'], categories: ['counterterrorism'], caveats: ['SI'] },
    }),
    identities,
  );
  for (const [partner, keys] of [
    ['USA', usaKeys],
    ['GBR', gbrKeys],
    ['CAN', can],
  ] as const) {
    arrangement = signArrangementAs(arrangement, partner, signerOf(keys), '2025-01-01T00:00:00Z');
  }
  for (const [dir, keys, partner] of [
    [usaDir, usaKeys, 'USA'],
    [gbrDir, gbrKeys, 'GBR'],
  ] as const) {
    await onNode(dir, keys, async (node) => {
      for (const [code, identity] of identities) {
        await node.store.partners.upsert({ code, name: code, endpoint: null, keys: partnerKeysOf(identity) });
      }
      await node.store.arrangements.putVersion(arrangement);
      for (const [username, roles] of [
        [`analyst.${partner.toLowerCase()}`, ['analyst']],
        [`officer.${partner.toLowerCase()}`, ['release-officer']],
      ] as const) {
        await node.services.directory.createUser(null, {
          username,
          displayName: username,
          nationality: partner,
          clearance: 'TOP SECRET',
          caveats: ['SI'],
          communities: [],
          roles: [...roles],
        });
      }
    });
  }
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('accord consent', () => {
  let productId: string;
  let requestId: string;

  it('asks from the holder, lists and grants at the originator, and passes the product on', async () => {
    // USA writes, approves and releases a product to GBR, which takes it in at its inbox.
    productId = await onNode(usaDir, usaKeys, async (node) => {
      const actor = async (u: string) => ({
        user: (await node.store.users.getByUsername(u))!,
        via: 'local' as const,
      });
      const products = node.services.products;
      const analyst = await actor('analyst.usa');
      const draft = await products.createDraft(analyst, {
        title: 'Facilitation network',
        titleMarking: '(U)',
        discipline: 'SIGINT',
        categories: ['counterterrorism'],
        portions: [{ marking: '(S//REL TO USA, GBR, CAN)', text: 'Three transfers this week.' }],
        reliability: 'B',
        credibility: 2,
      });
      await products.submit(analyst, draft.id);
      await products.release(await actor('officer.usa'), draft.id, 'GBR', ARRANGEMENT);
      return draft.id;
    });
    expect(await deliver([usaDir, usaKeys], [gbrDir, gbrKeys])).toBe(1);

    const asked = await cli([
      'consent',
      'request',
      productId,
      '--to',
      'can',
      '--under',
      ARRANGEMENT,
      '--reason',
      'CAN leads the joint investigation',
      '--as',
      'officer.gbr',
      '--dir',
      gbrDir,
      '--json',
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    const request = JSON.parse(asked.stdout) as ConsentRequestView;
    expect(request).toMatchObject({
      direction: 'outgoing',
      status: 'pending',
      recipient: 'CAN',
      originator: 'USA',
    });
    requestId = request.id;
    expect(await deliver([gbrDir, gbrKeys], [usaDir, usaKeys])).toBe(1);

    const listed = await cli([
      'consent',
      'list',
      '--as',
      'officer.usa',
      '--direction',
      'incoming',
      '--dir',
      usaDir,
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${requestId}  incoming  pending  ${productId} v1  USA -> GBR -> CAN`);
    expect(listed.stdout).toContain('reason: CAN leads the joint investigation');
    expect(listed.stdout.trimEnd().split('\n').at(-1)).toBe('1 consent request(s), 1 pending');

    const granted = await cli([
      'consent',
      'grant',
      requestId,
      '--expires',
      '2026-12-31',
      '--as',
      'officer.usa',
      '--dir',
      usaDir,
    ]);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toBe(
      `granted: GBR may pass ${productId} v1 on to CAN; the signed consent is queued for delivery\n`,
    );
    expect(await deliver([usaDir, usaKeys], [gbrDir, gbrKeys])).toBe(1);

    const outgoing = await cli([
      'consent',
      'list',
      '--as',
      'officer.gbr',
      '--status',
      'granted',
      '--dir',
      gbrDir,
      '--json',
    ]);
    const [answered] = JSON.parse(outgoing.stdout) as ConsentRequestView[];
    expect(answered).toMatchObject({ id: requestId, status: 'granted' });
    expect(answered?.consent?.consent.expiresAt).toBe('2026-12-31T00:00:00.000Z');

    const passed = await cli([
      'consent',
      'release',
      productId,
      '--to',
      'CAN',
      '--under',
      ARRANGEMENT,
      '--as',
      'officer.gbr',
      '--dir',
      gbrDir,
    ]);
    expect(passed.code, passed.stderr).toBe(0);
    expect(passed.stdout).toMatch(
      new RegExp(
        `^passed ${productId} v1 \\(originated by USA\\) on to CAN: onward release [0-9a-f-]+ queued for delivery\n$`,
      ),
    );
    const queued = await onNode(gbrDir, gbrKeys, (node) => node.store.outbox.listPending());
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ recipient: 'CAN', onwardReleaseId: expect.any(String) });
  });

  it('refuses a second decision on the same request with one line', async () => {
    const run = await cli([
      'consent',
      'deny',
      requestId,
      '--reason',
      'too late',
      '--as',
      'officer.usa',
      '--dir',
      usaDir,
    ]);
    expectOneLineFailure(run, /was granted .*\[CONSENT_REQUEST_DECIDED\]$/);
  });

  it('refuses an onward release to a partner without consent, naming the third-party rule', async () => {
    const run = await cli([
      'consent',
      'release',
      productId,
      '--to',
      'AUS',
      '--under',
      ARRANGEMENT,
      '--as',
      'officer.gbr',
      '--dir',
      gbrDir,
    ]);
    expectOneLineFailure(run, /third-party-rule .*\[POLICY_DENIED\]$/);
  });

  it.each<[string, readonly string[], RegExp]>([
    ['an unknown request', ['consent', 'grant', 'no-such-request', '--as', 'officer.usa'], /\[NOT_FOUND\]$/],
    [
      'an empty reason',
      ['consent', 'deny', 'x', '--reason', '  ', '--as', 'officer.usa'],
      /--reason: .*\[INPUT_INVALID\]$/,
    ],
    [
      'an unknown status',
      ['consent', 'list', '--status', 'maybe', '--as', 'officer.usa'],
      /--status: .*\[INPUT_INVALID\]$/,
    ],
    [
      'a bad expiry',
      ['consent', 'grant', 'x', '--expires', 'soon', '--as', 'officer.usa'],
      /--expires: .*\[INPUT_INVALID\]$/,
    ],
    ['an analyst acting', ['consent', 'list', '--as', 'analyst.usa'], /product:release .*\[FORBIDDEN\]$/],
  ])('refuses %s with one line and exit 2', async (_what, args, pattern) => {
    expectOneLineFailure(await cli([...args, '--dir', usaDir]), pattern);
  });

  it('refuses to sign without the key passphrase, naming the variable', async () => {
    const run = await cli(['consent', 'grant', requestId, '--as', 'officer.usa', '--dir', usaDir], {});
    expectOneLineFailure(run, /ACCORD_KEY_PASSPHRASE.*\[KEY_PASSPHRASE_MISSING\]$/);
  });
});
