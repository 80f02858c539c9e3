import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash, rootOf } from '../../src/audit/index.js';
import {
  type Holdings,
  judgeDelivery,
  judgeGossip,
  type NodeGossip,
} from '../../tools/multinode/chaos-checks.js';

// The chaos run's judgements must fail when what they guard is broken: each made-up store below
// breaks one property (a release lost, stored twice, stored without a release, a head of another
// history) and the judgement names it; the honest store passes.

/** USA released p1 to GBR and p2 to CAN; both stored once, outbox delivered. */
function honest(): Holdings {
  return {
    releases: [
      { origin: 'USA', id: 'r1', productId: 'p1', recipient: 'GBR' },
      { origin: 'USA', id: 'r2', productId: 'p2', recipient: 'CAN' },
    ],
    outbox: [
      { origin: 'USA', releaseId: 'r1', status: 'delivered', lastError: null },
      { origin: 'USA', releaseId: 'r2', status: 'delivered', lastError: null },
    ],
    received: [
      { at: 'GBR', sender: 'USA', productId: 'p1', envelopeId: 'e1' },
      { at: 'CAN', sender: 'USA', productId: 'p2', envelopeId: 'e2' },
    ],
    inbox: [
      { at: 'GBR', sender: 'USA', productId: 'p1', outcome: 'stored' },
      { at: 'CAN', sender: 'USA', productId: 'p2', outcome: 'stored' },
    ],
  };
}

const answered = new Map([
  ['r1', 'USA'],
  ['r2', 'USA'],
]);

describe('judgeDelivery', () => {
  it('finds nothing wrong with an honest store', () => {
    expect(judgeDelivery(honest(), answered)).toEqual({ answered: [], exactlyOnce: [], noDuplicate: [] });
  });

  it('names a release answered 201 that its originator does not hold', () => {
    const h = honest();
    const found = judgeDelivery({ ...h, releases: h.releases.slice(0, 1) }, answered);
    expect(found.answered).toEqual(['USA answered 201 for release r2, which its store does not hold']);
  });

  it('names a committed release its recipient never stored', () => {
    const h = honest();
    const found = judgeDelivery({ ...h, received: h.received.slice(0, 1) }, answered);
    expect(found.exactlyOnce).toEqual(['USA→CAN p2 not stored']);
  });

  it('names a product stored twice (two envelopes for one release)', () => {
    const h = honest();
    const twice = [...h.received, { at: 'GBR', sender: 'USA', productId: 'p1', envelopeId: 'e1-again' }];
    expect(judgeDelivery({ ...h, received: twice }, answered).exactlyOnce).toEqual([
      'USA→GBR p1 stored 2 times',
    ]);
  });

  it('names a product stored at the wrong node, an extra outbox row, a pending row and a refusal', () => {
    const h = honest();
    const found = judgeDelivery(
      {
        ...h,
        received: [...h.received, { at: 'AUS', sender: 'USA', productId: 'p1', envelopeId: 'e9' }],
        outbox: [...h.outbox, { origin: 'USA', releaseId: 'r1', status: 'pending', lastError: 'reset' }],
        inbox: [...h.inbox, { at: 'AUS', sender: 'USA', productId: 'p1', outcome: 'refused' }],
      },
      answered,
    );
    expect(found.noDuplicate).toEqual([
      'AUS holds p1 from USA, which committed no such release',
      'release r1 has 2 outbox rows',
      'USA release r1 pending: reset',
      'AUS refused p1 from USA',
    ]);
  });
});

/** A log of `size` distinct entries of `node`. */
function log(node: string, size: number, variant = ''): Uint8Array[] {
  return Array.from({ length: size }, (_, i) => leafHash(new TextEncoder().encode(`${node} ${i}${variant}`)));
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function gossiping(sizes: readonly number[], logs: Readonly<Record<string, Uint8Array[]>>): NodeGossip[] {
  return Object.entries(logs).map(([partner, leaves]) => ({
    partner,
    leaves,
    forkIncidents: 0,
    // Every node kept every other's head at each size the other's log has reached.
    kept: Object.entries(logs)
      .filter(([other]) => other !== partner)
      .flatMap(([other, theirs]) =>
        sizes
          .filter((n) => n <= theirs.length)
          .map((n) => ({ partner: other, treeSize: n, rootHash: hex(rootOf(theirs.slice(0, n))) })),
      ),
  }));
}

describe('judgeGossip', () => {
  it('accepts heads that are roots of each node’s log at their size, whatever the sizes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        (sizes) => {
          const nodes = gossiping(sizes, { USA: log('USA', 40), GBR: log('GBR', 40), CAN: log('CAN', 40) });
          const judged = judgeGossip(nodes);
          expect(judged.offenders).toEqual([]);
          expect(judged.heads).toBe(3 * 2 * sizes.length);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('names a head of another history: one entry of the log rewritten below the head', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 29 }), (rewritten) => {
        const nodes = gossiping([30], { USA: log('USA', 30), GBR: log('GBR', 30) });
        const usa = nodes[0] as NodeGossip;
        const leaves = [...usa.leaves];
        leaves[rewritten] = leafHash(new TextEncoder().encode('USA rewritten'));
        const forked = [{ ...usa, leaves }, nodes[1] as NodeGossip];
        expect(judgeGossip(forked).offenders).toEqual([
          expect.stringMatching(/^GBR kept root [0-9a-f]{12}… for USA at size 30; its log has /),
        ]);
      }),
      { numRuns: 30 },
    );
  });

  it('names a head beyond the log (a rollback), a fork incident, and a partner never reached', () => {
    const nodes = gossiping([20], { USA: log('USA', 20), GBR: log('GBR', 20), CAN: log('CAN', 20) });
    const [usa, gbr, can] = nodes as [NodeGossip, NodeGossip, NodeGossip];
    const judged = judgeGossip([
      { ...usa, leaves: usa.leaves.slice(0, 10) },
      { ...gbr, forkIncidents: 1 },
      { ...can, kept: can.kept.filter((k) => k.partner !== 'GBR') },
    ]);
    expect(judged.offenders).toEqual([
      'GBR opened 1 audit-fork incidents',
      'CAN kept no head of GBR: gossip never reached it',
      'GBR kept a head of USA at size 20, beyond its log (10)',
      'CAN kept a head of USA at size 20, beyond its log (10)',
    ]);
  });
});
