import { AccordError } from '../errors/index.js';
import { DEFAULT_REGISTRY, isCountryCode, type MarkingRegistry } from '../markings/index.js';
import { createValidator } from '../validation/index.js';
import { arrangementVersionHash } from './hash.js';
import { type ArrangementDocument, ArrangementDocumentSchema, type ArrangementStatus } from './model.js';

const validateDocument = createValidator<ArrangementDocument>(
  ArrangementDocumentSchema,
  'ARRANGEMENT_INVALID',
  'arrangement',
);

function invalid(path: string, message: string): never {
  throw new AccordError('ARRANGEMENT_INVALID', `arrangement ${path}: ${message}`, { path });
}

/**
 * Validates an arrangement document (attacker-controlled JSON) against the schema and its own
 * rules: known partners, one entry per party, dates in order, equivalences for parties only,
 * signatures from pinned keys of parties. Throws ARRANGEMENT_INVALID naming the field.
 */
export function parseArrangement(
  input: unknown,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
): ArrangementDocument {
  const validated = validateDocument(input);
  // The third-party rule is on unless the parties wrote otherwise; the default is part of what they sign.
  const doc: ArrangementDocument = { ...validated, thirdPartyRule: validated.thirdPartyRule ?? true };
  const parties = new Set<string>();
  doc.parties.forEach((party, i) => {
    if (!isCountryCode(registry, party.partner))
      invalid(`/parties/${i}/partner`, `unknown partner '${party.partner}'`);
    if (parties.has(party.partner))
      invalid(`/parties/${i}/partner`, `party '${party.partner}' is listed twice`);
    parties.add(party.partner);
  });
  if (doc.type === 'bilateral' && parties.size !== 2)
    invalid('/parties', 'a bilateral arrangement has exactly two parties');
  const effective = Date.parse(doc.effective);
  const expires = Date.parse(doc.expires);
  const review = Date.parse(doc.review);
  if (!(effective < expires)) invalid('/expires', 'expiry must be after the effective date');
  if (!(review >= effective && review <= expires))
    invalid('/review', 'review date must fall between effective and expiry');
  doc.scope.caveats.forEach((caveat, i) => {
    if (!registry.caveats.has(caveat.split('-')[0] ?? caveat))
      invalid(`/scope/caveats/${i}`, `unknown caveat '${caveat}'`);
  });
  for (const [partner, table] of Object.entries(doc.equivalences)) {
    if (!parties.has(partner)) invalid(`/equivalences/${partner}`, `'${partner}' is not a party`);
    for (const level of Object.keys(table)) {
      if (!registry.levels.has(level))
        invalid(`/equivalences/${partner}/${level}`, `unknown national level '${level}'`);
    }
  }
  (doc.suspendedParties ?? []).forEach((partner, i) => {
    if (!parties.has(partner)) invalid(`/suspendedParties/${i}`, `'${partner}' is not a party`);
  });
  doc.signatures.forEach((sig, i) => {
    const party = doc.parties.find((p) => p.partner === sig.partner);
    if (party === undefined) invalid(`/signatures/${i}/partner`, `'${sig.partner}' is not a party`);
    if (!party.nodeKeys.some((k) => k.use === 'signing' && k.fingerprint === sig.fingerprint)) {
      invalid(
        `/signatures/${i}/fingerprint`,
        `key ${sig.fingerprint} is not a signing key pinned for ${sig.partner}`,
      );
    }
  });
  return doc;
}

/** Which parties have signed the current version's hash, and which have not. */
export interface SignatureStatus {
  readonly versionHash: string;
  readonly signed: readonly string[];
  readonly missing: readonly string[];
}

/**
 * Signature slots against the current version. A slot counts only when it names the current
 * hash and a signing key pinned for that party; the cryptographic check of the signature bytes
 * is the federation layer's (keys travel with node identities).
 */
export function signatureStatus(doc: ArrangementDocument): SignatureStatus {
  const versionHash = arrangementVersionHash(doc);
  const signed: string[] = [];
  const missing: string[] = [];
  for (const party of doc.parties) {
    const ok = doc.signatures.some(
      (s) =>
        s.partner === party.partner &&
        s.versionHash === versionHash &&
        party.nodeKeys.some((k) => k.use === 'signing' && k.fingerprint === s.fingerprint),
    );
    (ok ? signed : missing).push(party.partner);
  }
  return { versionHash, signed, missing };
}

const TRANSITIONS: Readonly<Record<ArrangementStatus, readonly ArrangementStatus[]>> = {
  draft: ['active', 'terminated'],
  active: ['suspended', 'terminated'],
  suspended: ['active', 'terminated'],
  terminated: [],
};

/** The statuses an arrangement may move to from `from`. */
export function allowedTransitions(from: ArrangementStatus): readonly ArrangementStatus[] {
  return TRANSITIONS[from];
}

/**
 * Moves an arrangement to a new status when the transition is allowed. Becoming active needs
 * every party's signature on the current version.
 */
export function transitionArrangement(doc: ArrangementDocument, to: ArrangementStatus): ArrangementDocument {
  if (!TRANSITIONS[doc.status].includes(to)) {
    throw new AccordError(
      'ARRANGEMENT_TRANSITION_INVALID',
      `arrangement ${doc.id} v${doc.version} cannot go from ${doc.status} to ${to}`,
      { from: doc.status, to, allowed: TRANSITIONS[doc.status] },
    );
  }
  if (to === 'active') {
    const { missing } = signatureStatus(doc);
    if (missing.length > 0) {
      throw new AccordError(
        'ARRANGEMENT_NOT_SIGNED',
        `arrangement ${doc.id} v${doc.version} lacks signatures from ${missing.join(', ')}`,
        { missing },
      );
    }
  }
  return { ...doc, status: to };
}

/** Terms that a new version may change; identity, version, state and signatures are managed here. */
export type ArrangementTerms = Omit<
  ArrangementDocument,
  'id' | 'version' | 'status' | 'signatures' | 'suspendedParties'
>;

/**
 * A new version of an arrangement with changed terms. It starts as a draft with no signatures:
 * every party must sign again before it can become active.
 */
export function amendArrangement(
  doc: ArrangementDocument,
  changes: Partial<ArrangementTerms>,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
): ArrangementDocument {
  if (doc.status === 'terminated') {
    throw new AccordError(
      'ARRANGEMENT_TRANSITION_INVALID',
      `arrangement ${doc.id} is terminated and cannot be amended`,
      {
        from: doc.status,
      },
    );
  }
  return parseArrangement(
    { ...doc, ...changes, version: doc.version + 1, status: 'draft', signatures: [] },
    registry,
  );
}

/** Suspends releases to and from one party (breach protocol), or lifts that suspension. */
export function setPartySuspended(
  doc: ArrangementDocument,
  partner: string,
  suspended: boolean,
): ArrangementDocument {
  if (!doc.parties.some((p) => p.partner === partner)) {
    throw new AccordError('ARRANGEMENT_INVALID', `arrangement ${doc.id}: '${partner}' is not a party`, {
      path: '/suspendedParties',
    });
  }
  const current = new Set(doc.suspendedParties ?? []);
  if (suspended) current.add(partner);
  else current.delete(partner);
  return { ...doc, suspendedParties: [...current].sort() };
}
