import { useCallback, useEffect, useState } from 'react';
import { api, messageOf } from './api.js';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | null;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** GETs `path` (null: nothing yet) and re-GETs it on reload or when the path changes. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: tick asks for a fresh load
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setLoading(true);
    api<T>('GET', path)
      .then((body) => {
        if (!live) return;
        setData(body);
        setError(null);
      })
      .catch((e: unknown) => {
        if (live) setError(messageOf(e));
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
  }, [path, tick]);

  return { data, error, loading, reload };
}

let streamAvailable: Promise<boolean> | undefined;

/**
 * Whether this node serves the live stream (GET /api/v1/stream). Asked once, from the public
 * OpenAPI document, so a node without it is polled instead of answering 404s into the console.
 */
export function hasLiveStream(): Promise<boolean> {
  streamAvailable ??= api<{ paths?: Record<string, unknown> }>('GET', '/api/v1/openapi.json')
    .then((doc) => doc.paths?.['/api/v1/stream'] !== undefined)
    .catch(() => false);
  return streamAvailable;
}

const STREAM_KINDS = [
  'product.created',
  'product.version',
  'product.submitted',
  'product.received',
  'product.recalled',
  'alert',
] as const;

/**
 * Calls `onChange` whenever something the feed shows may have changed: on each event of the
 * node's live stream (Server-Sent Events), or every `pollMs` where the node has no stream.
 */
export function useLiveUpdates(onChange: () => void, pollMs = 2000): 'stream' | 'polling' | 'connecting' {
  const [mode, setMode] = useState<'stream' | 'polling' | 'connecting'>('connecting');
  useEffect(() => {
    let closed = false;
    let source: EventSource | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    const poll = () => {
      setMode('polling');
      timer = setInterval(onChange, pollMs);
    };
    void hasLiveStream().then((available) => {
      if (closed) return;
      if (!available) {
        poll();
        return;
      }
      source = new EventSource('/api/v1/stream', { withCredentials: true });
      source.onopen = () => setMode('stream');
      for (const kind of STREAM_KINDS) source.addEventListener(kind, () => onChange());
      // EventSource reconnects by itself (with Last-Event-ID); refresh once it is back.
      source.onerror = () => setMode('connecting');
    });
    return () => {
      closed = true;
      source?.close();
      if (timer !== undefined) clearInterval(timer);
    };
  }, [onChange, pollMs]);
  return mode;
}
