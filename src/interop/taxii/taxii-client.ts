import { AccordError } from '../../errors/index.js';

/** The HTTP a client needs: the platform `fetch`, or a test double. */
export type Fetch = (url: string, init: { readonly headers: Record<string, string> }) => Promise<Response>;

/** One page a remote collection served. */
export interface PulledPage {
  readonly objects: readonly unknown[];
  /** X-TAXII-Date-Added-Last: where a later pull resumes (`added_after`). */
  readonly dateAddedLast: string | undefined;
  readonly more: boolean;
}

export interface PullOptions {
  /** The API root, e.g. `https://node.example/taxii2/accord/`. */
  readonly apiRoot: string;
  readonly collection: string;
  /** Only versions added after this instant (`added_after`). */
  readonly addedAfter?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly limit?: number;
  readonly fetch: Fetch;
  /** Called once per page, in order; the pull waits for it (the caller imports the page there). */
  readonly onPage: (page: PulledPage) => Promise<void>;
}

const ACCEPT = 'application/taxii+json;version=2.1';
const COLLECTION_ID = /^[A-Za-z0-9._~-]{1,128}$/;
// A remote that never says "no more" must not hold the client for ever.
const MAX_PAGES = 100_000;

function unavailable(message: string, cause?: unknown): AccordError {
  return new AccordError('SERVICE_UNAVAILABLE', message, {}, cause === undefined ? undefined : { cause });
}

/** The objects URL of a collection under an API root, checked (the collection id goes into a path). */
export function objectsUrl(apiRoot: string, collection: string): URL {
  let root: URL;
  try {
    root = new URL(apiRoot.endsWith('/') ? apiRoot : `${apiRoot}/`);
  } catch {
    throw new AccordError('INPUT_INVALID', `URL: '${apiRoot.slice(0, 100)}' is not a URL`, {
      token: apiRoot,
    });
  }
  if (root.protocol !== 'http:' && root.protocol !== 'https:') {
    throw new AccordError('INPUT_INVALID', 'URL: only http and https TAXII servers', { token: apiRoot });
  }
  if (!COLLECTION_ID.test(collection)) {
    throw new AccordError(
      'INPUT_INVALID',
      `--collection: '${collection.slice(0, 60)}' is not a collection id`,
      {
        token: collection,
      },
    );
  }
  return new URL(`collections/${collection}/objects/`, root);
}

/**
 * Pulls a TAXII 2.1 collection page by page (TAXII 2.1 §5.3): `added_after` on the first request,
 * then `next` while the server says `more`. Each page is handed to `onPage` before the next is
 * asked for, with its X-TAXII-Date-Added-Last, so a caller that records it can resume.
 */
export async function pullCollection(options: PullOptions): Promise<{ pages: number; objects: number }> {
  const base = objectsUrl(options.apiRoot, options.collection);
  let next: string | undefined;
  let objects = 0;
  for (let pages = 0; pages < MAX_PAGES; ) {
    const url = new URL(base);
    url.searchParams.set('limit', String(options.limit ?? 1000));
    // Every version: a pull copies the collection, older versions included.
    url.searchParams.set('match[version]', 'all');
    // STIX 2.1 only: the import reads no other (a server may hold 2.0 objects beside them).
    url.searchParams.set('match[spec_version]', '2.1');
    if (next !== undefined) url.searchParams.set('next', next);
    else if (options.addedAfter !== undefined) url.searchParams.set('added_after', options.addedAfter);
    let response: Response;
    try {
      response = await options.fetch(url.toString(), { headers: { accept: ACCEPT, ...options.headers } });
    } catch (error) {
      throw unavailable(`TAXII server ${base.origin} cannot be reached: ${(error as Error).message}`, error);
    }
    // attacker-controlled from here: the remote's answer
    const text = await response.text();
    if (!response.ok) {
      let detail = '';
      try {
        const body = JSON.parse(text) as { title?: unknown; description?: unknown };
        detail = typeof body.description === 'string' ? `: ${body.description.slice(0, 200)}` : '';
      } catch {
        // not a TAXII error body
      }
      throw unavailable(`TAXII server answered ${response.status} for ${url.pathname}${detail}`);
    }
    let body: { more?: unknown; next?: unknown; objects?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (error) {
      throw unavailable(`TAXII server sent a page that is not JSON (${url.pathname})`, error);
    }
    if (
      typeof body !== 'object' ||
      body === null ||
      (body.objects !== undefined && !Array.isArray(body.objects))
    ) {
      throw unavailable(`TAXII server sent a page that is not a TAXII envelope (${url.pathname})`);
    }
    const page = (body.objects ?? []) as unknown[];
    const last = response.headers.get('x-taxii-date-added-last') ?? undefined;
    const more = body.more === true && typeof body.next === 'string' && page.length > 0;
    pages++;
    objects += page.length;
    await options.onPage({ objects: page, dateAddedLast: last, more });
    if (!more) return { pages, objects };
    next = body.next as string;
  }
  throw unavailable(`TAXII server kept saying "more" for ${MAX_PAGES} pages`);
}
