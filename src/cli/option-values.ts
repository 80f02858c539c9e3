import { AccordError } from '../errors/index.js';
import { DEFAULT_REGISTRY, isCountryCode, type MarkingRegistry } from '../markings/index.js';

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}

/**
 * A partner trigraph given on the command line (`--to gbr` reads as `GBR`). An unknown code is
 * bad input, not a deny: the user mistyped, and saying so is clearer than a policy result.
 */
export function parsePartnerOption(
  value: string,
  flag: string,
  registry: MarkingRegistry = DEFAULT_REGISTRY,
): string {
  const code = value.trim().toUpperCase();
  if (!isCountryCode(registry, code)) {
    throw new AccordError(
      'INPUT_INVALID',
      `${flag}: '${oneLine(value)}' is not a known partner code (ISO 3166-1 alpha-3)`,
      {
        token: value,
      },
    );
  }
  return code;
}

// RFC 3339 date-time, or a bare date read as midnight UTC. A time without an offset is refused:
// Date.parse would read it in the machine's zone and the decision would depend on where it ran.
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?([Zz]|[+-](\d{2}):(\d{2})))?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** An instant given as `--at`: epoch milliseconds. Throws INPUT_INVALID naming the value. */
export function parseInstantOption(value: string, flag: string): number {
  const m = INSTANT.exec(value.trim());
  const bad = (): never => {
    throw new AccordError(
      'INPUT_INVALID',
      `${flag}: '${oneLine(value)}' is not an ISO 8601 instant (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z or ±HH:MM)`,
      { token: value },
    );
  };
  if (m === null) return bad();
  const [year, month, day, hour, minute, second, , offH, offM] = m.slice(1).map((part) => Number(part ?? 0));
  // V8's Date.parse rolls 2026-02-30 over to March; check each field instead.
  const ok =
    month !== undefined &&
    month >= 1 &&
    month <= 12 &&
    day !== undefined &&
    day >= 1 &&
    day <= daysInMonth(year ?? 0, month) &&
    (hour ?? 0) <= 23 &&
    (minute ?? 0) <= 59 &&
    (second ?? 0) <= 59 &&
    (offH ?? 0) <= 23 &&
    (offM ?? 0) <= 59;
  const ms = ok
    ? Date.parse(m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : value.trim())
    : Number.NaN;
  return Number.isNaN(ms) ? bad() : ms;
}
