import type { ArrangementDocument } from '../arrangements/index.js';
import type { ArrangementPins } from './arrangement-pins.js';

// Issue 10 key compromise drill. A party rotates its node keys through a new arrangement version
// that lists the new fingerprints and that every party signs (DESIGN.md §3 trust root). That
// version takes effect at its `effective` instant: the rotation time. From then on the version in
// force is the one that speaks for the party's keys, and a signing key an earlier signed version
// pinned for it but the version in force no longer lists is retired: whatever it signs is refused,
// whichever version the envelope names, however old the envelope claims to be (its createdAt is
// the key holder's word, and the key may be the attacker's now).

/** One stored version of an arrangement and the keys it pins (arrangementPins over this node's directory). */
export interface PinnedVersion {
  readonly document: ArrangementDocument;
  readonly pins: ArrangementPins;
}

/** A signing key of a party that a later, signed and effective version of the arrangement no longer lists. */
export interface KeyRetirement {
  readonly arrangementId: string;
  readonly partner: string;
  readonly fingerprint: string;
  /** The public key the earlier version pinned: a signature by it still verifies, and is then refused. */
  readonly key: Uint8Array;
  /** The latest version that pinned the key. */
  readonly pinnedBy: number;
  /** The version in force, which does not list the key. */
  readonly retiredBy: number;
  /** Its `effective` instant: the rotation time. */
  readonly since: string;
}

function listsSigningKey(doc: ArrangementDocument, partner: string, fingerprint: string): boolean {
  return doc.parties.some(
    (p) =>
      p.partner === partner && p.nodeKeys.some((k) => k.use === 'signing' && k.fingerprint === fingerprint),
  );
}

/**
 * The version of an arrangement in force at `now`: of the versions every party has signed (every
 * signature verifies), the highest whose `effective` instant is not after `now`; undefined when none.
 */
export function versionInForce(versions: readonly PinnedVersion[], now: number): PinnedVersion | undefined {
  let best: PinnedVersion | undefined;
  for (const candidate of versions) {
    if (candidate.pins.unverified.length > 0) continue;
    const effective = Date.parse(candidate.document.effective);
    // An unreadable instant never takes effect (deny by default: it retires nothing either).
    if (!(effective <= now)) continue;
    if (best === undefined || candidate.document.version > best.document.version) best = candidate;
  }
  return best;
}

/**
 * Whether `partner`'s signing key `fingerprint` is retired under the arrangement at `now`: the
 * version in force does not list it, and an earlier signed version pinned it. Undefined when the
 * key is in force, or was never pinned by a signed version (then it is merely unpinned).
 */
export function keyRetirement(
  versions: readonly PinnedVersion[],
  partner: string,
  fingerprint: string,
  now: number,
): KeyRetirement | undefined {
  const inForce = versionInForce(versions, now);
  if (inForce === undefined || listsSigningKey(inForce.document, partner, fingerprint)) return undefined;
  let pinned: { readonly version: number; readonly key: Uint8Array } | undefined;
  for (const { document, pins } of versions) {
    if (document.version >= inForce.document.version) continue;
    const key = pins.keyFor(partner, fingerprint);
    if (key !== undefined && (pinned === undefined || document.version > pinned.version)) {
      pinned = { version: document.version, key };
    }
  }
  if (pinned === undefined) return undefined;
  return {
    arrangementId: inForce.document.id,
    partner,
    fingerprint,
    key: pinned.key,
    pinnedBy: pinned.version,
    retiredBy: inForce.document.version,
    since: inForce.document.effective,
  };
}
