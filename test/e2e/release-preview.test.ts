import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, makeDraft, startTestNode, type TestNode, USERS } from './harness.js';

// GET /api/v1/products/:id/release-preview (issue 8's compose page): for each party of each
// arrangement, which portions would go and the rules that hold the others back; nothing released.

interface Preview {
  readonly arrangement: { readonly id: string };
  readonly recipient: string;
  readonly effect: string;
  readonly released: readonly string[];
  readonly withheld: readonly { portionId: string; reasons: { rule: string; reason: string }[] }[];
  readonly rules: readonly { rule: string; outcome: string }[];
}

describe('the release preview', () => {
  let t: TestNode;
  let id: string;
  beforeAll(async () => {
    t = await startTestNode();
    const created = await t.server.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: await t.login(USERS.analyst.username),
      payload: makeDraft(),
    });
    expect(created.statusCode).toBe(201);
    id = jsonOf(created).id as string;
  });
  afterAll(async () => t.close());

  it('shows GBR the two portions it may have and names the rule that holds back the third', async () => {
    const before = await t.counts();
    const response = await t.server.inject({
      method: 'GET',
      url: `/api/v1/products/${id}/release-preview`,
      headers: await t.login(USERS.analyst.username),
    });
    expect(response.statusCode, response.body).toBe(200);
    const previews = jsonOf(response).previews as Preview[];
    const gbr = previews.find((p) => p.recipient === 'GBR' && p.arrangement.id === 'usa-gbr-sigint');
    expect(gbr).toBeDefined();
    expect(gbr!.released).toEqual(['p1', 'p2']);
    expect(gbr!.withheld.map((w) => w.portionId)).toEqual(['p3']);
    expect(gbr!.withheld[0]!.reasons.map((r) => r.rule)).toContain('portion.releasability');
    // Every party other than this node, under every arrangement it is party to.
    expect(previews.every((p) => p.recipient !== 'USA')).toBe(true);
    expect(new Set(previews.map((p) => p.arrangement.id)).size).toBeGreaterThan(1);
    // A dry run: no release decision, outbox row or product change is written.
    const after = await t.counts();
    expect(after.releases).toBe(before.releases);
    expect(after.outbox).toBe(before.outbox);
  });

  it('is not found for someone else’s draft and forbidden to a reader who cannot see every portion', async () => {
    const other = await t.server.inject({
      method: 'GET',
      url: `/api/v1/products/${id}/release-preview`,
      headers: await t.login(USERS.analyst2.username),
    });
    expect(other.statusCode).toBe(404);
    expect(jsonOf(other).code).toBe('NOT_FOUND');

    const submitted = await t.server.inject({
      method: 'POST',
      url: `/api/v1/products/${id}/submit`,
      headers: await t.login(USERS.analyst.username),
    });
    expect(submitted.statusCode).toBe(200);
    const gbr = await t.server.inject({
      method: 'GET',
      url: `/api/v1/products/${id}/release-preview`,
      headers: await t.login(USERS.gbrAnalyst.username),
    });
    expect(gbr.statusCode).toBe(403);
    expect(jsonOf(gbr).code).toBe('FORBIDDEN');
    expect(gbr.body).not.toContain('NOFORN');
  });

  it('previews an unsaved draft the same way, storing nothing', async () => {
    const headers = await t.login(USERS.analyst.username);
    const before = await t.counts();
    const response = await t.server.inject({
      method: 'POST',
      url: '/api/v1/products/release-preview',
      headers,
      payload: makeDraft(),
    });
    expect(response.statusCode, response.body).toBe(200);
    const gbr = (jsonOf(response).previews as Preview[]).find(
      (p) => p.recipient === 'GBR' && p.arrangement.id === 'usa-gbr-sigint',
    );
    expect(gbr?.released).toEqual(['p1', 'p2']);
    expect(gbr?.withheld[0]?.reasons.map((r) => r.rule)).toContain('portion.releasability');
    expect(await t.counts()).toEqual(before);
  });

  it('refuses a draft its author could not read, and bad input, with a problem', async () => {
    const gbr = await t.server.inject({
      method: 'POST',
      url: '/api/v1/products/release-preview',
      headers: await t.login(USERS.gbrAnalyst.username),
      payload: makeDraft(),
    });
    expect(gbr.statusCode).toBe(400);
    expect(jsonOf(gbr).code).toBe('PRODUCT_INVALID');
    const bad = await t.server.inject({
      method: 'POST',
      url: '/api/v1/products/release-preview',
      headers: await t.login(USERS.analyst.username),
      payload: { ...makeDraft(), portions: [{ id: 'p1', marking: '(S//REL TO USA/NF)', text: 'x' }] },
    });
    expect(bad.statusCode).toBe(400);
    expect(['MARKING_CONTRADICTION', 'PRODUCT_INVALID']).toContain(jsonOf(bad).code);
  });
});
