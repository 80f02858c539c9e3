import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../../src/cli/captured-run.js';
import { makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// `accord stream` follows a running node's GET /api/v1/stream and prints one JSON line per event.

let t: TestNode;
let base: string;
let token: string;

beforeAll(async () => {
  t = await startTestNode();
  base = await t.server.listen({ host: '127.0.0.1', port: 0 });
  token = (await t.tokenFor(USERS.gbrAnalyst.username)).authorization?.replace('Bearer ', '') ?? '';
});

afterAll(async () => {
  await t?.close();
});

describe('accord stream', () => {
  it('prints each event the user may read as one JSON line, filtered, and stops after --count', async () => {
    const running = runCaptured(['stream', '--url', base, '--kinds', 'product.submitted', '--count', '2'], {
      env: { ACCORD_TOKEN: token },
    });
    // Give the command time to connect: events published before it subscribes are not replayed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const user = await t.store.users.getByUsername(USERS.analyst.username);
    if (user === undefined) throw new Error('no analyst');
    const actor = { user, via: 'local' as const };
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const draft = await t.node.services.products.createDraft(actor, makeDraft({ title: `cli ${i}` }));
      await t.node.services.products.submit(actor, draft.id);
      ids.push(draft.id);
    }
    const run = await running;
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const events = lines.map(
      (l) => JSON.parse(l) as { kind: string; product: { id: string; banner: string } },
    );
    expect(events.map((e) => e.product.id)).toEqual(ids);
    expect(events.every((e) => e.kind === 'product.submitted')).toBe(true);
    // The GBR analyst is cleared CONFIDENTIAL: the SECRET portions are torn out.
    expect(events[0]?.product.banner).toBe('CONFIDENTIAL//REL TO USA, FVEY');
  });

  it('exits 2 with one line on stderr without a token, with a bad filter, or with a bad URL', async () => {
    for (const [argv, env] of [
      [['stream', '--url', base], {}],
      [['stream', '--url', base, '--min-credibility', '9'], { ACCORD_TOKEN: token }],
      [['stream', '--url', 'ftp://x'], { ACCORD_TOKEN: token }],
      [['stream', '--url', base, '--count', '0'], { ACCORD_TOKEN: token }],
    ] as const) {
      const run = await runCaptured(argv, { env });
      expect(run.code, run.stdout).toBe(2);
      expect(run.stderrLines).toHaveLength(1);
      expect(run.stdout).toBe('');
    }
  });
});
