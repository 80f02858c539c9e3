import { AccordError } from '../errors/index.js';

/**
 * What the live stream announces (issue 7). A product becomes visible to readers other than its
 * author when it is submitted, so that is an event of its own beside creation and new versions.
 */
export const STREAM_EVENT_KINDS = [
  'product.created',
  'product.version',
  'product.submitted',
  'product.received',
  'product.recalled',
  'alert',
] as const;
export type StreamEventKind = (typeof STREAM_EVENT_KINDS)[number];

/** Whether the product is this node's own or one received from a partner (a different table). */
export type ProductSource = 'own' | 'received';

/**
 * An event as published: ids only, never content or labels, so the bus (and NATS, shared by
 * replicas) carries nothing a reader could be refused; each subscriber loads and checks the
 * product itself (decideRead) before anything leaves the node.
 */
export interface StreamEventInput {
  readonly kind: StreamEventKind;
  readonly product: { readonly id: string; readonly version: number; readonly source: ProductSource };
  /** For `alert` only: what the alert is about, a short code chosen by whoever raises it (analytics). */
  readonly topic?: string;
}

/** An event as delivered: its position in the log (SSE `id`, `Last-Event-ID`) and when it was published. */
export interface StreamEvent extends StreamEventInput {
  readonly seq: number;
  readonly at: string;
}

const TOPIC = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Parses an event read back from the log or from NATS. Malformed input throws INPUT_INVALID; the
 * bus drops such a message rather than pass something it cannot check.
 */
export function parseStreamEventInput(value: unknown): StreamEventInput {
  const fail = (why: string): never => {
    throw new AccordError('INPUT_INVALID', `stream event: ${why}`, { path: '/event' });
  };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const v = value as Record<string, unknown>;
  const kind = STREAM_EVENT_KINDS.find((k) => k === v.kind) ?? fail('unknown kind');
  const p = v.product;
  if (typeof p !== 'object' || p === null) return fail('no product');
  const { id, version, source } = p as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) return fail('bad product id');
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return fail('bad version');
  if (source !== 'own' && source !== 'received') return fail('bad source');
  if (v.topic !== undefined && (typeof v.topic !== 'string' || !TOPIC.test(v.topic)))
    return fail('bad topic');
  if (kind === 'alert' && v.topic === undefined) return fail('an alert needs a topic');
  return {
    kind,
    product: { id, version, source },
    ...(typeof v.topic === 'string' ? { topic: v.topic } : {}),
  };
}
