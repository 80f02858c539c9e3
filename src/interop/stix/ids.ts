import { createHash } from 'node:crypto';

/** A STIX 2.1 object as JSON: a `type`, an `id` and any other properties, custom ones included. */
export type StixObject = { readonly type: string; readonly id: string } & Readonly<Record<string, unknown>>;

/**
 * Namespace of Accord's deterministic STIX ids (UUIDv5, RFC 9562 §5.5). Fixed for good: changing
 * it changes every exported id.
 */
export const ACCORD_STIX_NAMESPACE = '5f0c7a8e-3d1b-4c52-9a47-2b6e8d1f0c93';

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** RFC 9562 §5.5: SHA-1 over namespace || name, version 5, variant 10. */
export function uuidV5(name: string, namespace: string = ACCORD_STIX_NAMESPACE): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A deterministic STIX id of `type` for an Accord name (`product:USA-2026-…`). */
export function stixIdOf(type: string, name: string): string {
  return `${type}--${uuidV5(`${type}:${name}`)}`;
}

/** STIX 2.1 §3.2 timestamps: RFC 3339 UTC with `Z`; we always write milliseconds. */
export function stixTimestamp(instant: string | number): string {
  return new Date(instant).toISOString();
}
