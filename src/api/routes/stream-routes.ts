import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import {
  type EventBus,
  STREAM_EVENT_KINDS,
  type StreamEvent,
  type StreamEventKind,
} from '../../bus/index.js';
import { AccordError } from '../../errors/index.js';
import { DISCIPLINES, RELIABILITY } from '../../products/index.js';
import type { StreamFilter, StreamMessage, StreamService } from '../../services/stream-service.js';
import { actorOf } from '../authenticate.js';
import { parseBbox } from './product-routes.js';

const List = (description: string) => Type.Optional(Type.String({ maxLength: 1000, description }));
const StreamQuery = Type.Object(
  {
    kinds: List(`comma-separated: ${STREAM_EVENT_KINDS.join(', ')}`),
    disciplines: List(`comma-separated: ${DISCIPLINES.join(', ')}`),
    categories: List('comma-separated; any of them'),
    originators: List('comma-separated partner codes'),
    minReliability: Type.Optional(Type.Enum(RELIABILITY, { description: 'at least this reliable (A best)' })),
    minCredibility: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 6, description: 'at least this credible (1 best)' }),
    ),
    bbox: Type.Optional(Type.String({ description: 'minLon,minLat,maxLon,maxLat', maxLength: 100 })),
    keywords: List('comma-separated; any of them in the readable title or text'),
    lastEventId: Type.Optional(
      Type.String({
        pattern: '^[0-9]{1,15}$',
        description: 'as the Last-Event-ID header, for clients that cannot set it',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Settings of the stream route. */
export interface StreamRouteOptions {
  readonly heartbeatMs: number;
}

// A client that reads slower than events come is cut off past this many undelivered messages; it
// reconnects with Last-Event-ID and is sent the rest from the log.
const MAX_PENDING = 1000;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

function listOf(raw: string | undefined, path: string, pattern: RegExp): readonly string[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const bad = items.find((s) => !pattern.test(s));
  if (items.length === 0 || items.length > 50 || bad !== undefined) {
    throw new AccordError(
      'INPUT_INVALID',
      `querystring/${path} must be a comma-separated list of 1 to 50 items${bad === undefined ? '' : `; '${bad}' is not one`}`,
      { path: `querystring/${path}` },
    );
  }
  return items;
}

function isKind(value: string): value is StreamEventKind {
  return STREAM_EVENT_KINDS.some((k) => k === value);
}

function oneOf<T extends string>(values: readonly T[]): RegExp {
  return new RegExp(`^(${values.map((v) => v.replace('.', '\\.')).join('|')})$`);
}

/** Parses the filter from the query string; INPUT_INVALID (400) names the first bad field. */
export function parseStreamFilter(query: {
  readonly kinds?: string;
  readonly disciplines?: string;
  readonly categories?: string;
  readonly originators?: string;
  readonly minReliability?: (typeof RELIABILITY)[number];
  readonly minCredibility?: number;
  readonly bbox?: string;
  readonly keywords?: string;
}): StreamFilter {
  const kinds = listOf(query.kinds, 'kinds', oneOf(STREAM_EVENT_KINDS))?.filter(isKind);
  const disciplines = listOf(query.disciplines, 'disciplines', oneOf(DISCIPLINES));
  const categories = listOf(query.categories, 'categories', /^[a-z][a-z0-9-]{1,63}$/);
  const originators = listOf(query.originators, 'originators', /^[A-Z]{3}$/);
  const keywords = listOf(query.keywords, 'keywords', /^[\p{L}\p{N}\p{P}\p{Zs}]{1,100}$/u);
  return {
    ...(kinds === undefined ? {} : { kinds }),
    ...(disciplines === undefined ? {} : { disciplines }),
    ...(categories === undefined ? {} : { categories }),
    ...(originators === undefined ? {} : { originators }),
    ...(keywords === undefined ? {} : { keywords }),
    ...(query.minReliability === undefined ? {} : { minReliability: query.minReliability }),
    ...(query.minCredibility === undefined ? {} : { minCredibility: query.minCredibility }),
    ...(query.bbox === undefined ? {} : { bbox: parseBbox(query.bbox) }),
  };
}

function lastEventIdOf(header: string | string[] | undefined, query: string | undefined): number | undefined {
  // attacker-controlled: a header that is not a plain sequence number is refused, not guessed at.
  const raw = typeof header === 'string' ? header.trim() : query;
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9]{1,15}$/.test(raw)) {
    throw new AccordError('INPUT_INVALID', 'Last-Event-ID must be the id of an event this stream sent', {
      path: 'headers/last-event-id',
    });
  }
  return Number(raw);
}

/** One SSE frame (WHATWG HTML §9.2): JSON has no raw newlines, so `data` is one line. */
function frameOf(message: StreamMessage): string {
  return `id: ${message.seq}\nevent: ${message.kind}\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * GET /api/v1/stream: Server-Sent Events of new products, versions, received products, recalls
 * and alerts the caller may read and their filter selects, with heartbeats and Last-Event-ID
 * resume. Streams still open when the server closes are ended so it can.
 */
export function registerStreamRoutes(
  root: FastifyInstance,
  bus: EventBus,
  stream: StreamService,
  options: StreamRouteOptions,
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get(
    '/api/v1/stream',
    {
      // HEAD of an endless stream would never end either.
      exposeHeadRoute: false,
      config: { access: { permission: 'product:read' } },
      schema: {
        tags: ['stream'],
        summary:
          'Live stream (text/event-stream) of what the caller may read, filtered; resumes after Last-Event-ID',
        querystring: StreamQuery,
      },
    },
    async (request, reply) => {
      const signedIn = actorOf(request);
      const filter = parseStreamFilter(request.query);
      const after = lastEventIdOf(request.headers['last-event-id'], request.query.lastEventId);
      const res = reply.raw;
      let ended = false;
      let pending = 0;
      // Each event is judged and written in order: the SSE ids must rise.
      let chain: Promise<void> = Promise.resolve();
      let subscription: { close(): Promise<void> } | undefined;
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        open.delete(end);
        void subscription?.close();
        res.end();
      };
      const deliver = async (event: StreamEvent): Promise<void> => {
        pending -= 1;
        if (ended) return;
        const actor = await stream.currentActor(signedIn);
        if (actor === undefined) {
          end();
          return;
        }
        const message = await stream.messageFor(actor, event, filter);
        if (message === undefined || ended) return;
        res.write(frameOf(message));
        // A client not reading its socket is cut off rather than buffered without bound; it
        // reconnects with Last-Event-ID and is sent the rest from the log.
        if (res.writableLength > MAX_BUFFERED_BYTES) end();
      };
      const onEvent = (event: StreamEvent): void => {
        if (ended) return;
        if (++pending > MAX_PENDING) {
          end();
          return;
        }
        chain = chain.then(() =>
          deliver(event).catch((error: unknown) => {
            request.log.error({ err: error }, 'stream delivery failed');
            end();
          }),
        );
      };
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(': accord stream\n\n');
      const heartbeat = setInterval(() => {
        if (!ended) res.write(': heartbeat\n\n');
      }, options.heartbeatMs);
      open.add(end);
      request.raw.on('close', end);
      res.on('close', end);
      res.on('error', end);
      try {
        subscription = await bus.subscribe(onEvent, after);
        if (ended) void subscription.close();
      } catch (error) {
        request.log.error({ err: error }, 'stream subscription failed');
        end();
      }
    },
  );
}
