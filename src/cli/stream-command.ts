import type { Command } from 'commander';
import { AccordError } from '../errors/index.js';
import { type CliIo, writeLine } from './cli-io.js';

interface StreamOptions {
  readonly url: string;
  readonly tokenEnv: string;
  readonly kinds?: string;
  readonly disciplines?: string;
  readonly categories?: string;
  readonly originators?: string;
  readonly minReliability?: string;
  readonly minCredibility?: string;
  readonly bbox?: string;
  readonly keywords?: string;
  readonly lastEventId?: string;
  readonly count?: string;
}

const FILTERS = [
  'kinds',
  'disciplines',
  'categories',
  'originators',
  'minReliability',
  'minCredibility',
  'bbox',
  'keywords',
] as const;

// How long to wait before reconnecting after the node ended the stream (a restart, a slow reader cut off).
const RECONNECT_MS = 1000;

/** JSON on one line with C1 controls and bidi overrides escaped too, so an event cannot repaint a terminal. */
function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function positiveInteger(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < 1) {
    throw new AccordError('INPUT_INVALID', `${flag} must be a whole number from 1`, { path: flag });
  }
  return Number(raw);
}

/**
 * Reads one stream connection, writing each event's data as a line; resolves with the last event
 * id seen and whether `count` events have been written.
 */
async function follow(
  url: URL,
  token: string,
  lastEventId: string | undefined,
  io: CliIo,
  remaining: { n: number },
): Promise<string | undefined> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
        ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
      },
    });
  } catch (error) {
    throw new AccordError('SERVICE_UNAVAILABLE', `cannot reach ${url.origin}: ${(error as Error).message}`, {
      url: url.origin,
    });
  }
  if (response.status !== 200 || response.body === null) {
    // attacker-controlled: the node's problem body is shown by its code and detail only.
    const problem = (await response.json().catch(() => ({}))) as { code?: unknown; detail?: unknown };
    throw new AccordError(
      'INPUT_INVALID',
      `the node answered ${response.status}: ${typeof problem.detail === 'string' ? problem.detail : 'no detail'}${typeof problem.code === 'string' ? ` (${problem.code})` : ''}`,
      { status: response.status },
    );
  }
  const decoder = new TextDecoder();
  let buffer = '';
  let last = lastEventId;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return last;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let data: string | undefined;
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) last = line.slice(4);
          else if (line.startsWith('data: ')) data = line.slice(6);
        }
        if (data === undefined) continue;
        writeLine(io.stdout, jsonLine(JSON.parse(data)));
        remaining.n -= 1;
        if (remaining.n <= 0) return last;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** `accord stream`: follows GET /api/v1/stream of a running node and prints each event as one JSON line. */
export function registerStreamCommand(program: Command, io: CliIo): void {
  program
    .command('stream')
    .description(
      'follow the live stream of a running node (GET /api/v1/stream): one JSON line per event, reconnecting with Last-Event-ID',
    )
    .requiredOption('--url <url>', 'base URL of the node, e.g. http://127.0.0.1:7401')
    .option('--token-env <var>', 'environment variable holding a bearer token', 'ACCORD_TOKEN')
    .option('--kinds <list>', 'comma-separated event kinds')
    .option('--disciplines <list>', 'comma-separated disciplines')
    .option('--categories <list>', 'comma-separated categories (any)')
    .option('--originators <list>', 'comma-separated partner codes')
    .option('--min-reliability <A-F>', 'at least this reliable')
    .option('--min-credibility <1-6>', 'at least this credible')
    .option('--bbox <minLon,minLat,maxLon,maxLat>', 'readable geo footprint overlaps this box')
    .option('--keywords <list>', 'comma-separated words (any) in the readable title or text')
    .option('--last-event-id <id>', 'resume after this event')
    .option('--count <n>', 'stop after n events')
    .action(async (options: StreamOptions) => {
      let base: URL;
      try {
        base = new URL('/api/v1/stream', options.url);
      } catch {
        throw new AccordError('INPUT_INVALID', `--url '${options.url}' is not a URL`, { path: '--url' });
      }
      if (base.protocol !== 'http:' && base.protocol !== 'https:') {
        throw new AccordError('INPUT_INVALID', '--url must be http:// or https://', { path: '--url' });
      }
      const token = io.env[options.tokenEnv];
      if (token === undefined || token === '') {
        throw new AccordError(
          'INPUT_INVALID',
          `set ${options.tokenEnv} to a bearer token (accord: POST /api/v1/auth/tokens)`,
          {
            path: '--token-env',
          },
        );
      }
      for (const key of FILTERS) {
        const value = options[key];
        if (value !== undefined) base.searchParams.set(key, value);
      }
      const remaining = { n: positiveInteger(options.count, '--count') ?? Number.POSITIVE_INFINITY };
      let last = options.lastEventId;
      for (;;) {
        last = await follow(base, token, last, io, remaining);
        if (remaining.n <= 0) return;
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    });
}
