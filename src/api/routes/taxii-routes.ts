import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccordError } from '../../errors/index.js';
import {
  normaliseTimestamp,
  parseLimit,
  parseMatchList,
  parseVersionMatch,
  STIX_MEDIA_TYPE,
  type TaxiiFilter,
  type TaxiiPage,
  type TaxiiService,
  type VersionMatch,
} from '../../interop/taxii/index.js';
import { actorOf, type RouteAccess } from '../authenticate.js';
import { setRetryAfter, toProblem } from '../problem.js';

/** TAXII 2.1 §1.6.8: the media type of every TAXII resource. */
export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';
export const TAXII_PREFIX = '/taxii2';
export const API_ROOT = 'accord';
const ROOT_PATH = `${TAXII_PREFIX}/${API_ROOT}/`;
const WWW_AUTHENTICATE = 'Basic realm="accord TAXII", Bearer realm="accord TAXII"';

export interface TaxiiRouteOptions {
  readonly nodeName: string;
  readonly partner: string;
  readonly maxContentLength: number;
}

type Query = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Sends a TAXII resource with exactly the TAXII media type: Fastify would rewrite a JSON type it
 * serialises (quoting `version`, adding a charset), which strict clients compare as a string.
 */
function sendTaxii(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.header('content-type', TAXII_MEDIA_TYPE).send(Buffer.from(JSON.stringify(body), 'utf8'));
}

/** Whether a request URL is under the TAXII prefix, so its errors are TAXII error bodies. */
export function isTaxiiPath(url: string): boolean {
  return url === TAXII_PREFIX || url.startsWith(`${TAXII_PREFIX}/`) || url.startsWith(`${TAXII_PREFIX}?`);
}

/** TAXII 2.1 §3.6.1: the error message body, with Accord's stable code beside it. */
export function sendTaxiiError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = toProblem(error);
  if (problem.status >= 500) request.log.error({ err: error }, 'TAXII request failed');
  if (problem.status === 401) void reply.header('www-authenticate', WWW_AUTHENTICATE);
  setRetryAfter(problem, reply);
  return sendTaxii(reply.code(problem.status), {
    title: problem.title,
    description: problem.detail,
    error_code: problem.code,
    http_status: String(problem.status),
  });
}

// §1.6.8.1: a client asks for TAXII 2.1; a missing Accept, */* and application/* are read as asking for it.
function acceptsTaxii(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (type === '*/*' || type === 'application/*') return true;
    if (type !== 'application/taxii+json') return false;
    const version = params.find((p) => p.startsWith('version='));
    return version === undefined || version === 'version=2.1';
  });
}

function one(query: Query, name: string): string | undefined {
  const value = query[name];
  // attacker-controlled: a repeated parameter is read as one comma-separated list
  return Array.isArray(value) ? value.join(',') : value;
}

function filterOf(query: Query, versions: VersionMatch, allowed: readonly string[]): TaxiiFilter {
  for (const key of Object.keys(query)) {
    if (!allowed.includes(key)) {
      throw new AccordError('INPUT_INVALID', `${key}: is not a parameter of this endpoint`, { path: key });
    }
  }
  const addedAfter = one(query, 'added_after');
  const ids = parseMatchList(one(query, 'match[id]'), 'match[id]');
  const types = parseMatchList(one(query, 'match[type]'), 'match[type]');
  const specVersions = parseMatchList(one(query, 'match[spec_version]'), 'match[spec_version]');
  return {
    versions: parseVersionMatch(one(query, 'match[version]'), versions),
    ...(addedAfter === undefined ? {} : { addedAfter: normaliseTimestamp(addedAfter) }),
    ...(ids === undefined ? {} : { ids }),
    ...(types === undefined ? {} : { types }),
    ...(specVersions === undefined ? {} : { specVersions }),
  };
}

function pagingOf(query: Query): { readonly limit: number; readonly next?: string } {
  const next = one(query, 'next');
  return { limit: parseLimit(one(query, 'limit')), ...(next === undefined ? {} : { next }) };
}

/** §3.3.1: the first and last `date_added` of the page, when it has any object. */
function withDateHeaders(reply: FastifyReply, page: TaxiiPage): FastifyReply {
  const first = page.items[0];
  const last = page.items.at(-1);
  if (first !== undefined && last !== undefined) {
    void reply.header('x-taxii-date-added-first', first.dateAdded);
    void reply.header('x-taxii-date-added-last', last.dateAdded);
  }
  return reply;
}

function envelope(page: TaxiiPage): Record<string, unknown> {
  return {
    more: page.more,
    ...(page.next === undefined ? {} : { next: page.next }),
    ...(page.items.length === 0 ? {} : { objects: page.items.map((e) => e.object) }),
  };
}

const OBJECT_PARAMS = [
  'added_after',
  'limit',
  'next',
  'match[id]',
  'match[type]',
  'match[version]',
  'match[spec_version]',
];
const ONE_OBJECT_PARAMS = ['added_after', 'limit', 'next', 'match[version]', 'match[spec_version]'];
const VERSION_PARAMS = ['added_after', 'limit', 'next', 'match[spec_version]'];
const ID_SHAPE = /^[a-z0-9-]{1,250}--[0-9a-f-]{36}$/;

/**
 * TAXII 2.1 under /taxii2/: discovery, one API root (`accord`), collections, objects (GET and
 * POST), an object by id, its versions, the manifest and status. Authentication is the node's:
 * bearer token, HTTP Basic or session; every answer is computed only over what the caller may
 * read, and an object they may not read answers as one that does not exist.
 */
export async function registerTaxiiRoutes(
  root: FastifyInstance,
  taxii: TaxiiService,
  options: TaxiiRouteOptions,
): Promise<void> {
  await root.register(
    async (app) => {
      app.setErrorHandler((error, request, reply) => sendTaxiiError(error, request, reply));
      app.setNotFoundHandler((request, reply) =>
        sendTaxiiError(
          new AccordError('NOT_FOUND', `no TAXII resource ${request.url.split('?')[0]}`, {}),
          request,
          reply,
        ),
      );
      // §1.6.8: POSTed envelopes come as TAXII (or STIX) JSON; parsed as JSON, within the body limit.
      app.addContentTypeParser(
        /^application\/(taxii|stix)\+json(\s*;.*)?$/i,
        { parseAs: 'string' },
        (_request, body, done) => {
          try {
            done(null, JSON.parse(body as string));
          } catch (error) {
            done(new AccordError('INPUT_INVALID', 'the body is not JSON', {}, { cause: error }), undefined);
          }
        },
      );
      // After authentication (the root hook): an anonymous caller learns 401 before anything else.
      app.addHook('preHandler', async (request, reply) => {
        if (acceptsTaxii(request.headers.accept)) return;
        return sendTaxii(reply.code(406), {
          title: 'Not acceptable',
          description: `Accept must allow ${TAXII_MEDIA_TYPE}`,
          error_code: 'NOT_ACCEPTABLE',
          http_status: '406',
        });
      });
      const get = (
        url: string,
        access: RouteAccess,
        handler: (r: FastifyRequest, p: FastifyReply) => unknown,
      ) =>
        app.get(
          url,
          { config: { access, basicAuth: true }, schema: { hide: true } },
          async (request, reply) => handler(request, reply),
        );
      const read: RouteAccess = { permission: 'product:read' };
      const params = (request: FastifyRequest) => request.params as Readonly<Record<string, string>>;
      const query = (request: FastifyRequest) => request.query as Query;

      get('/', { signedIn: true }, (_request, reply) =>
        sendTaxii(reply, {
          title: `Accord node ${options.nodeName}`,
          description: `TAXII 2.1 server of partner ${options.partner}: STIX 2.1 as the read policy lets you read it.`,
          default: ROOT_PATH,
          api_roots: [ROOT_PATH],
        }),
      );
      get(`/${API_ROOT}/`, { signedIn: true }, (_request, reply) =>
        sendTaxii(reply, {
          title: `Accord ${options.partner}`,
          description: 'Collections of STIX 2.1 objects this node holds.',
          versions: [TAXII_MEDIA_TYPE],
          max_content_length: options.maxContentLength,
        }),
      );
      get(`/${API_ROOT}/collections/`, read, async (request, reply) =>
        sendTaxii(reply, { collections: await taxii.collections(actorOf(request)) }),
      );
      get(`/${API_ROOT}/collections/:collectionId/`, read, async (request, reply) =>
        sendTaxii(reply, await taxii.collection(actorOf(request), params(request).collectionId!)),
      );
      get(`/${API_ROOT}/collections/:collectionId/objects/`, read, async (request, reply) => {
        const filter = filterOf(query(request), { kind: 'last' }, OBJECT_PARAMS);
        const page = await taxii.page(
          actorOf(request),
          params(request).collectionId!,
          filter,
          pagingOf(query(request)),
        );
        return sendTaxii(withDateHeaders(reply, page), envelope(page));
      });
      get(`/${API_ROOT}/collections/:collectionId/manifest/`, read, async (request, reply) => {
        const filter = filterOf(query(request), { kind: 'last' }, OBJECT_PARAMS);
        const page = await taxii.page(
          actorOf(request),
          params(request).collectionId!,
          filter,
          pagingOf(query(request)),
        );
        return sendTaxii(withDateHeaders(reply, page), {
          more: page.more,
          ...(page.next === undefined ? {} : { next: page.next }),
          ...(page.items.length === 0
            ? {}
            : {
                objects: page.items.map((e) => ({
                  id: e.id,
                  date_added: e.dateAdded,
                  version: e.version === '' ? e.dateAdded : e.version,
                  media_type: STIX_MEDIA_TYPE,
                })),
              }),
        });
      });
      // A page of one object's versions; an object the caller may not see answers as one that is not there.
      const objectPage = async (request: FastifyRequest, filter: TaxiiFilter): Promise<TaxiiPage> => {
        const id = params(request).objectId!;
        const collectionId = params(request).collectionId!;
        const actor = actorOf(request);
        const ids = new Set([id]);
        // attacker-controlled; a malformed id is simply not there
        const seen =
          ID_SHAPE.test(id) &&
          (await taxii.page(actor, collectionId, { ids, versions: { kind: 'all' } }, { limit: 1 })).items
            .length > 0;
        if (!seen) throw new AccordError('NOT_FOUND', `no object '${id.slice(0, 300)}'`, {});
        return taxii.page(actor, collectionId, { ...filter, ids }, pagingOf(query(request)));
      };
      get(`/${API_ROOT}/collections/:collectionId/objects/:objectId/`, read, async (request, reply) => {
        const page = await objectPage(request, filterOf(query(request), { kind: 'last' }, ONE_OBJECT_PARAMS));
        return sendTaxii(withDateHeaders(reply, page), envelope(page));
      });
      get(
        `/${API_ROOT}/collections/:collectionId/objects/:objectId/versions/`,
        read,
        async (request, reply) => {
          const page = await objectPage(request, filterOf(query(request), { kind: 'all' }, VERSION_PARAMS));
          return sendTaxii(withDateHeaders(reply, page), {
            more: page.more,
            ...(page.next === undefined ? {} : { next: page.next }),
            ...(page.items.length === 0
              ? {}
              : { versions: page.items.map((e) => (e.version === '' ? e.dateAdded : e.version)) }),
          });
        },
      );
      app.post(
        `/${API_ROOT}/collections/:collectionId/objects/`,
        { config: { access: { permission: 'product:create' }, basicAuth: true }, schema: { hide: true } },
        async (request, reply) => {
          const objects = objectsOfEnvelope(request.body);
          const status = await taxii.addObjects(actorOf(request), params(request).collectionId!, objects);
          return sendTaxii(reply.code(202), status);
        },
      );
      get(`/${API_ROOT}/status/:statusId/`, { permission: 'product:create' }, (request, reply) =>
        sendTaxii(reply, taxii.status(actorOf(request), params(request).statusId!)),
      );
    },
    { prefix: TAXII_PREFIX },
  );
}

/** §5.4: the body is an envelope `{objects: [...]}`; a STIX bundle is taken as well. */
function objectsOfEnvelope(body: unknown): readonly unknown[] {
  // attacker-controlled
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AccordError('INPUT_INVALID', 'the body must be a TAXII envelope {"objects": [...]}', {
      path: 'body',
    });
  }
  const objects = (body as { objects?: unknown }).objects;
  if (!Array.isArray(objects)) {
    throw new AccordError('INPUT_INVALID', 'body/objects must be an array of STIX objects', {
      path: 'body/objects',
    });
  }
  return objects;
}
