/** A classification on a named scheme: the common scale (`COMMON`) or a national/organisational one (`NATO`, `UK`). */
export interface Classification {
  readonly scheme: string;
  /** Canonical full level name within the scheme, e.g. `SECRET`, `NATO SECRET`, `UK OFFICIAL-SENSITIVE`. */
  readonly level: string;
}

/** Dissemination controls, in CAPCO rendering order. */
export const CONTROLS = ['ORCON', 'IMCON', 'NOFORN', 'PROPIN', 'RELIDO'] as const;
export type Control = (typeof CONTROLS)[number];

/** TLP 2.0 levels, least to most restrictive. */
export const TLP_LEVELS = ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'] as const;
export type Tlp = (typeof TLP_LEVELS)[number];

/** Permissible Actions Protocol levels, least to most restrictive. */
export const PAP_LEVELS = ['CLEAR', 'GREEN', 'AMBER', 'RED'] as const;
export type Pap = (typeof PAP_LEVELS)[number];

/**
 * The security marking of one portion (or, joined, of a whole product).
 * Lists are kept sorted and free of duplicates so that equal labels are equal values.
 */
export interface Label {
  readonly classification: Classification;
  /** The REL TO list (trigraphs, then community codes, each alphabetical), or null when the label has none. */
  readonly relTo: readonly string[] | null;
  /** Caveats and compartments (`SI`, `TK`, `HCS`, `SI-G`), alphabetical. */
  readonly caveats: readonly string[];
  /** Dissemination controls in CAPCO order. */
  readonly controls: readonly Control[];
  readonly tlp: Tlp | null;
  readonly pap: Pap | null;
}

/** Whether a marking was written as a banner line or as a parenthesised portion mark. */
export type MarkingForm = 'banner' | 'portion';

/** Calendar-dated membership of one partner in a community. Dates are ISO 8601 days, `until` exclusive. */
export interface Membership {
  readonly partner: string;
  readonly from: string;
  readonly until?: string;
}

/** A named group of partners (`FVEY`, `NATO`, `EU`) with dated membership. */
export interface Community {
  readonly code: string;
  readonly name: string;
  readonly members: readonly Membership[];
}
