import { isIPv4, isIPv6 } from 'node:net';
import mgrs from 'mgrs';
import { parse as parseDomain } from 'tldts';
import type { Label } from '../markings/index.js';

// Issue 9, extraction: the entities in a portion's text, each inheriting the label of its portion
// (a portion marked SECRET//REL TO USA, GBR yields entities marked the same: an entity says no less
// than the text it came from). Defanged forms analysts write to keep indicators inert (`hxxp`,
// `[.]`, `(.)`, `[dot]`, `[:]`, `[@]`, `[at]`) are recognised and given back in their live form as
// the entity's value, with the text as written kept beside it.

export const ENTITY_TYPES = [
  'url',
  'email',
  'ipv4',
  'ipv6',
  'domain',
  'md5',
  'sha1',
  'sha256',
  'cve',
  'coordinates',
  'mgrs',
  'phone',
  'date',
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** One entity found in a portion: its normal form, the text as written, where, and the portion's label. */
export interface Entity {
  readonly type: EntityType;
  /** The normal form two reports of the same thing share (refanged, lower-cased where case means nothing). */
  readonly value: string;
  /** The text as written in the portion. */
  readonly raw: string;
  readonly portionId: string;
  /** UTF-16 offsets of `raw` in the portion's text. */
  readonly start: number;
  readonly end: number;
  readonly label: Label;
}

/** A portion to read: its id, text and label. */
export interface PortionText {
  readonly id: string;
  readonly text: string;
  readonly label: Label;
}

// A dot as analysts defang it: `.`, `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)`.
const DOT = String.raw`(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\))`;
const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';

interface Pattern {
  readonly type: EntityType;
  readonly regex: RegExp;
  /** The normal form, or undefined when the match is not really one (a bad date, a file name). */
  readonly normalise: (raw: string) => string | undefined;
}

/** Undoes the usual defanging: hxxp(s), [.] and its kin, [:], [@] / [at]. */
export function refang(text: string): string {
  return text
    .replace(/\bhxxp(s?)\b/gi, 'http$1')
    .replace(/\bfxp\b/gi, 'ftp')
    .replace(/\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)/gi, '.')
    .replace(/\[:\]/g, ':')
    .replace(/\[@\]|\[at\]|\(at\)/gi, '@')
    .replace(/\[\/\]/g, '/');
}

function domainOf(candidate: string): string | undefined {
  const host = candidate.toLowerCase().replace(/\.$/, '');
  const parsed = parseDomain(host);
  // A known public suffix (ICANN section), and something under it: `report.pdf` is not a domain.
  if (parsed.isIcann !== true || parsed.domain === null || parsed.isIp === true) return undefined;
  return host;
}

function validDate(year: number, month: number, day: number): string | undefined {
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  return date.toISOString().slice(0, 10);
}

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const MONTH =
  '(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)';

function monthNumber(name: string): number {
  const lower = name.toLowerCase();
  return MONTHS.findIndex((m) => m.startsWith(lower.slice(0, 3))) + 1;
}

// Order matters: a URL holds a domain and maybe an address, an e-mail address holds a domain; the
// first pattern to claim a stretch of text keeps it.
const PATTERNS: readonly Pattern[] = [
  {
    type: 'url',
    regex: /\b(?:https?|hxxps?|ftp|fxp)(?::|\[:\])\/\/[^\s<>"'`]+/gi,
    normalise: (raw) => {
      const live = refang(raw).replace(/[.,;:!?)\]]+$/, '');
      try {
        const url = new URL(live);
        return url.hostname === '' ? undefined : url.href;
      } catch {
        return undefined;
      }
    },
  },
  {
    type: 'email',
    regex: new RegExp(
      String.raw`\b[a-z0-9._%+-]{1,64}(?:@|\[@\]|\[at\]|\(at\))${LABEL}(?:${DOT}${LABEL})+\b`,
      'gi',
    ),
    normalise: (raw) => {
      const live = refang(raw).toLowerCase();
      const [local, domain] = live.split('@');
      if (local === undefined || domain === undefined) return undefined;
      return domainOf(domain) === undefined ? undefined : live;
    },
  },
  {
    type: 'ipv4',
    regex: new RegExp(String.raw`(?<![\d.])${OCTET}(?:${DOT}${OCTET}){3}(?![\d]|\.\d)`, 'g'),
    normalise: (raw) => {
      const live = refang(raw);
      return isIPv4(live) ? live : undefined;
    },
  },
  {
    type: 'ipv6',
    regex: /(?<![0-9a-f:])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{0,4}|\d{1,3}(?:\.\d{1,3}){3})(?![0-9a-f:])/gi,
    normalise: (raw) => (isIPv6(raw) && raw.length >= 3 ? raw.toLowerCase() : undefined),
  },
  {
    type: 'cve',
    regex: /\bCVE-\d{4}-\d{4,7}\b/gi,
    normalise: (raw) => raw.toUpperCase(),
  },
  { type: 'sha256', regex: /\b[a-f0-9]{64}\b/gi, normalise: (raw) => raw.toLowerCase() },
  { type: 'sha1', regex: /\b[a-f0-9]{40}\b/gi, normalise: (raw) => raw.toLowerCase() },
  { type: 'md5', regex: /\b[a-f0-9]{32}\b/gi, normalise: (raw) => raw.toLowerCase() },
  {
    type: 'domain',
    regex: new RegExp(String.raw`\b${LABEL}(?:${DOT}${LABEL})+\b`, 'gi'),
    normalise: (raw) => {
      const live = refang(raw);
      // Bare numbers with dots (versions, section numbers) are not domains.
      if (/^[\d.]+$/.test(live)) return undefined;
      return domainOf(live);
    },
  },
  {
    type: 'date',
    regex: new RegExp(
      String.raw`\b(?:(\d{4})-(\d{2})-(\d{2})|(\d{1,2})\s+(${MONTH})\.?\s+(\d{4})|(${MONTH})\.?\s+(\d{1,2}),?\s+(\d{4}))\b`,
      'gi',
    ),
    normalise: (raw) => {
      const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
      if (iso) return validDate(Number(iso[1]), Number(iso[2]), Number(iso[3]));
      const dayFirst = /^(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})$/i.exec(raw);
      if (dayFirst)
        return validDate(Number(dayFirst[3]), monthNumber(dayFirst[2] ?? ''), Number(dayFirst[1]));
      const monthFirst = /^([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$/i.exec(raw);
      if (monthFirst)
        return validDate(Number(monthFirst[3]), monthNumber(monthFirst[1] ?? ''), Number(monthFirst[2]));
      return undefined;
    },
  },
  {
    type: 'coordinates',
    // 24.8615, 67.0099 | 24.8615N 67.0099E | -33.86, 151.21
    regex:
      /(?<![\d.])(-?\d{1,2}\.\d{2,8})\s*°?\s*([NS])?\s*[,;\s]\s*(-?\d{1,3}\.\d{2,8})\s*°?\s*([EW])?(?![\d.])/gi,
    normalise: (raw) => {
      const m = /^(-?\d{1,2}\.\d+)\s*°?\s*([NS])?\s*[,;\s]\s*(-?\d{1,3}\.\d+)\s*°?\s*([EW])?$/i.exec(
        raw.trim(),
      );
      if (!m) return undefined;
      let lat = Number(m[1]);
      let lon = Number(m[3]);
      if (m[2]?.toUpperCase() === 'S') lat = -Math.abs(lat);
      if (m[4]?.toUpperCase() === 'W') lon = -Math.abs(lon);
      if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
      return `${lat.toFixed(5)},${lon.toFixed(5)}`;
    },
  },
  {
    type: 'mgrs',
    // Grid zone (1-60 and a latitude band), 100 km square, then an even count of digits (2-10).
    regex:
      /\b(?:[1-9]|[1-5]\d|60)[C-HJ-NP-X]\s?[A-HJ-NP-Z]{2}\s?(?:\d{2}\s?\d{2}|\d{4}\s?\d{4}|\d{6}|\d{3}\s?\d{3}|\d{8}|\d{10}|\d{5}\s?\d{5}|\d{1}\s?\d{1})\b/g,
    normalise: (raw) => {
      const compact = raw.replace(/\s+/g, '').toUpperCase();
      const digits = compact.replace(/^\d{1,2}[A-Z]{3}/, '');
      if (digits.length % 2 !== 0) return undefined;
      try {
        const [lon, lat] = mgrs.toPoint(compact);
        return Number.isFinite(lon) && Number.isFinite(lat) ? compact : undefined;
      } catch {
        return undefined;
      }
    },
  },
  {
    type: 'phone',
    // International form: + country code and 7 to 14 more digits, with spaces, dots, dashes or a bracketed area code.
    regex: /(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,6}(?!\d)/g,
    normalise: (raw) => {
      const digits = raw.replace(/\D/g, '');
      return digits.length >= 8 && digits.length <= 15 ? `+${digits}` : undefined;
    },
  },
];

/**
 * Every entity in the portions' text, in order of position within each portion. A stretch of text
 * belongs to the first pattern that claims it (a URL's host is not also a domain entity), and each
 * entity carries its portion's label.
 */
export function extractEntities(portions: readonly PortionText[]): Entity[] {
  return portions.flatMap((portion) =>
    findEntities([portion]).map((found) => ({ ...found, label: portion.label })),
  );
}

/** An entity without its label: what the store's entity index keeps (the label stays with the portion). */
export type FoundEntity = Omit<Entity, 'label'>;

/** extractEntities over text alone, for callers holding no parsed labels (the store's entity index). */
export function findEntities(
  portions: readonly { readonly id: string; readonly text: string }[],
): FoundEntity[] {
  const found: FoundEntity[] = [];
  for (const portion of portions) {
    const taken: [number, number][] = [];
    const overlaps = (start: number, end: number) => taken.some(([s, e]) => start < e && s < end);
    const mine: FoundEntity[] = [];
    for (const pattern of PATTERNS) {
      pattern.regex.lastIndex = 0;
      for (const match of portion.text.matchAll(pattern.regex)) {
        const raw = match[0];
        const start = match.index ?? 0;
        const end = start + raw.length;
        if (overlaps(start, end)) continue;
        const value = pattern.normalise(raw);
        if (value === undefined) continue;
        taken.push([start, end]);
        mine.push({
          type: pattern.type,
          value,
          raw,
          portionId: portion.id,
          start,
          end,
        });
      }
    }
    found.push(...mine.sort((a, b) => a.start - b.start));
  }
  return found;
}
