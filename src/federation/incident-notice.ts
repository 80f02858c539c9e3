import Type, { type Static } from 'typebox';
import { digestOf } from '../crypto/index.js';
import { Identifier, PartnerCode } from '../products/index.js';
import { createValidator } from '../validation/index.js';
import { EnvelopeArrangementSchema, type EnvelopeHeader } from './envelope.js';
import { checkPayloadArrangement, payloadInconsistent, validatedPayload } from './payload-checks.js';
import { Instant, instantMillis, Uuid, Version } from './wire-format.js';

// Issue 5, the breach protocol: "notify every party by federation within its deadline … each step
// is logged and visible to the parties". The node that took an incident's report owns it; every
// step it takes (the report, the review opened, the confirmation or resolution, a suspension)
// travels to every other party of the arrangement in an `incident` envelope. The header's product
// slot names the incident and the step's number, so the inbox's replay and retry rules (one
// answer per sender, kind, id and version) hold for steps as they do for product versions. Like a
// recall, the notice carries no signature of its own: the envelope's, under a key the arrangement
// pins, makes it the origin's word, and only the origin may send steps of its incident.

export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const INCIDENT_STEP_ACTIONS = [
  'reported',
  'review-opened',
  'confirmed',
  'resolved',
  'party-suspended',
] as const;
export const INCIDENT_STATES = ['reported', 'under-review', 'confirmed', 'resolved'] as const;
export type IncidentStepActionName = (typeof INCIDENT_STEP_ACTIONS)[number];
export type IncidentStateName = (typeof INCIDENT_STATES)[number];

/** The longest description of an incident, and of a note on a step, in characters. */
export const MAX_INCIDENT_DESCRIPTION = 4000;
export const MAX_INCIDENT_NOTE = 2000;
/** The most products one incident may name. */
export const MAX_INCIDENT_PRODUCTS = 100;

/** The state each step action leaves an incident in; a suspension leaves it as it was. */
export const STATE_AFTER: Readonly<Record<IncidentStepActionName, IncidentStateName | undefined>> = {
  reported: 'reported',
  'review-opened': 'under-review',
  confirmed: 'confirmed',
  resolved: 'resolved',
  'party-suspended': undefined,
};

const strict = { additionalProperties: false } as const;
const Username = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,63}$' });

/** An incident as its origin reported it. */
export const IncidentReportSchema = Type.Object(
  {
    id: Uuid,
    origin: PartnerCode,
    reportedAt: Instant,
    reporter: Username,
    suspectedParty: PartnerCode,
    products: Type.Array(Identifier, { maxItems: MAX_INCIDENT_PRODUCTS, uniqueItems: true }),
    severity: Type.Enum(INCIDENT_SEVERITIES),
    description: Type.String({ minLength: 1, maxLength: MAX_INCIDENT_DESCRIPTION }),
    notifyBy: Instant,
  },
  strict,
);
export type IncidentReport = Static<typeof IncidentReportSchema>;

/** One step, numbered from 1 (the report) at the origin. */
export const IncidentStepSchema = Type.Object(
  {
    seq: Version,
    action: Type.Enum(INCIDENT_STEP_ACTIONS),
    state: Type.Enum(INCIDENT_STATES),
    at: Instant,
    by: Username,
    note: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_INCIDENT_NOTE })),
  },
  strict,
);
export type IncidentStepNotice = Static<typeof IncidentStepSchema>;

/** What an `incident` envelope seals: the incident as reported, and the step it tells of. */
export const IncidentNoticeSchema = Type.Object(
  {
    kind: Type.Literal('incident'),
    arrangement: EnvelopeArrangementSchema,
    incident: IncidentReportSchema,
    step: IncidentStepSchema,
  },
  strict,
);
export type IncidentNotice = Static<typeof IncidentNoticeSchema>;

const validateNotice = createValidator<IncidentNotice>(
  IncidentNoticeSchema,
  'ENVELOPE_MALFORMED',
  'incident notice',
);

/**
 * The notice of an opened `incident` envelope. Throws ENVELOPE_MALFORMED (naming the field) for a
 * payload of another shape or one that contradicts its header: the sender is the incident's
 * origin, the header's product slot names the incident and the step number, the arrangement is the
 * header's, the first step is the report, and the state is the one the step's action leaves.
 */
export function parseIncidentNotice(payload: unknown, header: EnvelopeHeader): IncidentNotice {
  const notice = validatedPayload(validateNotice, payload, header);
  if (header.kind !== 'incident') {
    throw payloadInconsistent(header, '/kind', `is incident but the header says ${header.kind}`);
  }
  checkPayloadArrangement(header, notice.arrangement);
  const { incident, step } = notice;
  if (incident.origin !== header.from) {
    throw payloadInconsistent(
      header,
      '/incident/origin',
      `is ${incident.origin} but the sender is ${header.from}: only an incident's origin sends its steps`,
    );
  }
  if (header.product.id !== incident.id || header.product.version !== step.seq) {
    throw payloadInconsistent(
      header,
      '/step/seq',
      `incident ${incident.id} step ${step.seq} but the header names ${header.product.id} v${header.product.version}`,
    );
  }
  if ((step.seq === 1) !== (step.action === 'reported')) {
    throw payloadInconsistent(header, '/step/action', 'the report is step 1, and only step 1');
  }
  const after = STATE_AFTER[step.action];
  if (after !== undefined && step.state !== after) {
    throw payloadInconsistent(
      header,
      '/step/state',
      `is ${step.state} but ${step.action} leaves it ${after}`,
    );
  }
  for (const [path, value] of [
    ['/incident/reportedAt', incident.reportedAt],
    ['/incident/notifyBy', incident.notifyBy],
    ['/step/at', step.at],
  ] as const) {
    if (instantMillis(value) === undefined)
      throw payloadInconsistent(header, path, 'is not a real UTC instant');
  }
  return notice;
}

/** The digest a notice's receipt names as its `product.digest`: digestOf the notice (RFC 8785). */
export function incidentNoticeDigest(notice: IncidentNotice): string {
  return digestOf(notice);
}
