import { AccordError } from '../errors/index.js';
import {
  type Classification,
  CONTROLS,
  type Control,
  type Label,
  type MarkingForm,
  PAP_LEVELS,
  type Pap,
  TLP_LEVELS,
  type Tlp,
} from './model.js';
import { DEFAULT_REGISTRY, isCommunityCode, isCountryCode, type MarkingRegistry } from './registry.js';

/** A parsed marking and the form it was written in. */
export interface ParsedMarking {
  readonly label: Label;
  readonly form: MarkingForm;
}

const MAX_MARKING_LENGTH = 2048;

const CONTROL_TOKENS: ReadonlyMap<string, Control> = new Map<string, Control>([
  ['ORCON', 'ORCON'],
  ['OC', 'ORCON'],
  ['IMCON', 'IMCON'],
  ['IMC', 'IMCON'],
  ['NOFORN', 'NOFORN'],
  ['NF', 'NOFORN'],
  ['PROPIN', 'PROPIN'],
  ['PR', 'PROPIN'],
  ['RELIDO', 'RELIDO'],
]);

// TLP 1.0 WHITE and PAP 1.0 WHITE were renamed CLEAR; accept the old word and normalise.
const TLP_ALIASES: ReadonlyMap<string, Tlp> = new Map<string, Tlp>([
  ...TLP_LEVELS.map((t) => [t, t] as const),
  ['WHITE', 'CLEAR'],
]);
const PAP_ALIASES: ReadonlyMap<string, Pap> = new Map<string, Pap>([
  ...PAP_LEVELS.map((p) => [p, p] as const),
  ['WHITE', 'CLEAR'],
]);

const CAVEAT_SHAPE = /^([A-Z]+)(-[A-Z0-9]+)*$/;
const REL_TO_PREFIX = /^REL\s+TO(?=\s|$|,)/;

interface Piece {
  /** Upper-cased text with runs of spaces collapsed. */
  readonly text: string;
  /** 1-based position of the first character in the original input. */
  readonly position: number;
  /** Index just past the last non-space character in the original input. */
  readonly end: number;
}

function fail(
  code:
    | 'MARKING_SYNTAX'
    | 'MARKING_UNKNOWN_TOKEN'
    | 'MARKING_CONTRADICTION'
    | 'MARKING_DUPLICATE'
    | 'MARKING_EMPTY_REL_TO',
  message: string,
  token: string,
  position: number,
): never {
  throw new AccordError(code, `${message} at position ${position}`, { token, position });
}

/** Splits `input[start, end)` on `separator`, trimming each piece and remembering where it began. */
function split(input: string, start: number, end: number, separator: string): Piece[] {
  const pieces: Piece[] = [];
  let from = start;
  while (from <= end) {
    let to = input.indexOf(separator, from);
    if (to === -1 || to > end) to = end;
    let a = from;
    let b = to;
    while (a < b && input[a] === ' ') a++;
    while (b > a && input[b - 1] === ' ') b--;
    pieces.push({ text: input.slice(a, b).replace(/ +/g, ' ').toUpperCase(), position: a + 1, end: b });
    if (to === end) break;
    from = to + separator.length;
  }
  return pieces;
}

function requireNonEmpty(piece: Piece, what: string): void {
  if (piece.text === '') fail('MARKING_SYNTAX', `empty ${what}`, '', piece.position);
}

const TRIGRAPH_FIRST = (a: string, b: string): number =>
  a.length === 3 && b.length !== 3 ? -1 : b.length === 3 && a.length !== 3 ? 1 : a < b ? -1 : a > b ? 1 : 0;

/** Sorts REL TO codes into canonical storage order: trigraphs alphabetically, then communities alphabetically. */
export function sortRelTo(codes: Iterable<string>): string[] {
  return [...new Set(codes)].sort(TRIGRAPH_FIRST);
}

/** Sorts controls into CAPCO order. */
export function sortControls(controls: Iterable<Control>): Control[] {
  const set = new Set(controls);
  return CONTROLS.filter((c) => set.has(c));
}

/**
 * Parses a CAPCO-style banner line (`SECRET//REL TO USA, GBR`) or portion mark (`(S//NF)`).
 * Case, extra spaces and REL TO order are tolerated; unknown, duplicated or contradictory
 * tokens throw an AccordError naming the token and its 1-based position.
 */
export function parseMarking(input: string, registry: MarkingRegistry = DEFAULT_REGISTRY): ParsedMarking {
  // attacker-controlled: markings arrive from files, requests and peers.
  if (input.length > MAX_MARKING_LENGTH) {
    fail(
      'MARKING_SYNTAX',
      `marking is longer than ${MAX_MARKING_LENGTH} characters`,
      '',
      MAX_MARKING_LENGTH + 1,
    );
  }
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    // Only printable ASCII: upper-casing other scripts can turn a confusable into a valid code (e.g. 'ı' -> 'I').
    if (c < 0x20 || c > 0x7e)
      fail(
        'MARKING_SYNTAX',
        `character U+${c.toString(16).toUpperCase().padStart(4, '0')} is not allowed`,
        input[i] ?? '',
        i + 1,
      );
  }
  let start = 0;
  let end = input.length;
  while (start < end && input[start] === ' ') start++;
  while (end > start && input[end - 1] === ' ') end--;
  if (start === end) fail('MARKING_SYNTAX', 'empty marking', '', 1);

  let form: MarkingForm = 'banner';
  if (input[start] === '(' || input[end - 1] === ')') {
    if (input[start] !== '(') fail('MARKING_SYNTAX', "portion mark has ')' without '('", ')', end);
    if (input[end - 1] !== ')') fail('MARKING_SYNTAX', "portion mark has '(' without ')'", '(', start + 1);
    form = 'portion';
    start++;
    end--;
  }
  for (let i = start; i < end; i++) {
    if (input[i] === '(' || input[i] === ')')
      fail('MARKING_SYNTAX', `unexpected '${input[i]}'`, input[i] ?? '', i + 1);
  }

  const segments = split(input, start, end, '//');
  const head = segments[0]!;
  requireNonEmpty(head, 'classification');
  const level = registry.levels.get(head.text);
  if (level === undefined)
    fail('MARKING_UNKNOWN_TOKEN', `unknown classification level '${head.text}'`, head.text, head.position);
  const classification: Classification = level.classification;

  let relTo: string[] | null = null;
  let relToPosition = 0;
  const caveats = new Set<string>();
  const controls = new Map<Control, number>();
  let tlp: Tlp | null = null;
  let pap: Pap | null = null;

  for (const segment of segments.slice(1)) {
    requireNonEmpty(segment, 'marking segment');
    for (const token of split(input, segment.position - 1, segment.end, '/')) {
      requireNonEmpty(token, 'marking token');
      const t = token.text;
      if (REL_TO_PREFIX.test(t)) {
        if (relTo !== null) fail('MARKING_DUPLICATE', 'REL TO given twice', 'REL TO', token.position);
        relTo = parseRelTo(input, token, registry);
        relToPosition = token.position;
      } else if (t.startsWith('TLP:')) {
        if (tlp !== null) fail('MARKING_DUPLICATE', 'TLP given twice', t, token.position);
        const value = TLP_ALIASES.get(t.slice(4).trim());
        if (value === undefined)
          fail('MARKING_UNKNOWN_TOKEN', `unknown TLP level '${t.slice(4).trim()}'`, t, token.position);
        tlp = value;
      } else if (t.startsWith('PAP:')) {
        if (pap !== null) fail('MARKING_DUPLICATE', 'PAP given twice', t, token.position);
        const value = PAP_ALIASES.get(t.slice(4).trim());
        if (value === undefined)
          fail('MARKING_UNKNOWN_TOKEN', `unknown PAP level '${t.slice(4).trim()}'`, t, token.position);
        pap = value;
      } else if (CONTROL_TOKENS.has(t)) {
        const control = CONTROL_TOKENS.get(t)!;
        if (controls.has(control)) fail('MARKING_DUPLICATE', `${control} given twice`, t, token.position);
        controls.set(control, token.position);
      } else if (registry.levels.has(t)) {
        fail('MARKING_DUPLICATE', `classification level given twice ('${t}')`, t, token.position);
      } else {
        const base = CAVEAT_SHAPE.exec(t)?.[1];
        if (base === undefined || !registry.caveats.has(base)) {
          fail('MARKING_UNKNOWN_TOKEN', `unknown caveat or control '${t}'`, t, token.position);
        }
        if (caveats.has(t)) fail('MARKING_DUPLICATE', `caveat ${t} given twice`, t, token.position);
        caveats.add(t);
      }
    }
  }

  const noforn = controls.get('NOFORN');
  if (noforn !== undefined && relTo !== null) {
    const position = Math.max(noforn, relToPosition);
    fail(
      'MARKING_CONTRADICTION',
      'REL TO and NOFORN exclude each other',
      position === noforn ? 'NOFORN' : 'REL TO',
      position,
    );
  }
  const relido = controls.get('RELIDO');
  if (noforn !== undefined && relido !== undefined) {
    const position = Math.max(noforn, relido);
    fail(
      'MARKING_CONTRADICTION',
      'RELIDO and NOFORN exclude each other',
      position === noforn ? 'NOFORN' : 'RELIDO',
      position,
    );
  }

  return {
    form,
    label: {
      classification,
      relTo,
      caveats: [...caveats].sort(),
      controls: sortControls(controls.keys()),
      tlp,
      pap,
    },
  };
}

function parseRelTo(input: string, token: Piece, registry: MarkingRegistry): string[] {
  // Work on the raw text so positions stay exact; the token already passed the ASCII check.
  const raw = input.slice(token.position - 1, token.end).toUpperCase();
  const prefix = /^REL\s+TO/.exec(raw)![0];
  const codes: string[] = [];
  const item = /[^,\s]+|,/g;
  const list = raw.slice(prefix.length);
  let expectCode = true;
  for (let m = item.exec(list); m !== null; m = item.exec(list)) {
    const at = token.position + prefix.length + m.index;
    if (m[0] === ',') {
      if (expectCode) fail('MARKING_SYNTAX', 'empty entry in REL TO list', ',', at);
      expectCode = true;
      continue;
    }
    if (!isCountryCode(registry, m[0]) && !isCommunityCode(registry, m[0])) {
      fail('MARKING_UNKNOWN_TOKEN', `unknown country or community code '${m[0]}'`, m[0], at);
    }
    codes.push(m[0]);
    expectCode = false;
  }
  if (codes.length === 0) fail('MARKING_EMPTY_REL_TO', 'REL TO list is empty', 'REL TO', token.position);
  if (expectCode) fail('MARKING_SYNTAX', 'REL TO list ends with a comma', ',', token.end);
  return sortRelTo(codes);
}
