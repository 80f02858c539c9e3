import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { DEFAULT_REGISTRY, nominalRank } from '../../../src/markings/index.js';
import type { Page, ProductView } from '../api.js';
import { labelOf, Marking, useOnScreen } from '../classification.js';
import { Link } from '../router.js';
import { useApi, useLiveUpdates } from '../use-api.js';

const LEVELS = ['UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'] as const;

/** The common rank of a banner; unknown levels rank highest, so a ceiling filter never lets them by. */
function rankOf(banner: string): number {
  const label = labelOf(banner);
  return (label === null ? undefined : nominalRank(DEFAULT_REGISTRY, label.classification)) ?? LEVELS.length;
}

export const DISCIPLINES = ['SIGINT', 'IMINT', 'GEOINT', 'HUMINT', 'OSINT', 'MASINT', 'CYBINT'] as const;

/** One row of the feed: an own product or one received from a partner. */
export interface FeedItem {
  readonly source: 'own' | 'received';
  readonly product: ProductView;
}

function queryOf(params: Readonly<Record<string, string>>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== '');
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
}

/** Own and received products the reader may read, newest first, refreshed live. */
export function useFeed(filters: {
  readonly text: string;
  readonly discipline: string;
  readonly originator: string;
}): { readonly items: readonly FeedItem[]; readonly error: string | null; readonly mode: string } {
  const own = useApi<Page<ProductView>>(
    `/api/v1/products${queryOf({ limit: '200', text: filters.text, discipline: filters.discipline, originator: filters.originator })}`,
  );
  const received = useApi<ProductView[] | Page<ProductView>>(
    `/api/v1/received${queryOf({ limit: '200', q: filters.text, originator: filters.originator })}`,
  );
  const reloadOwn = own.reload;
  const reloadReceived = received.reload;
  const refresh = useCallback(() => {
    reloadOwn();
    reloadReceived();
  }, [reloadOwn, reloadReceived]);
  const mode = useLiveUpdates(refresh);

  const items = useMemo(() => {
    const receivedItems =
      received.data === undefined ? [] : 'items' in received.data ? received.data.items : received.data;
    const all: FeedItem[] = [
      ...(own.data?.items ?? []).map((product) => ({ source: 'own' as const, product })),
      ...receivedItems
        .filter((p) => filters.discipline === '' || p.discipline === filters.discipline)
        .map((product) => ({ source: 'received' as const, product })),
    ];
    const when = (item: FeedItem) => item.product.provenance?.receivedAt ?? item.product.createdAt;
    return all.sort((a, b) => when(b).localeCompare(when(a)));
  }, [own.data, received.data, filters.discipline]);

  return { items, error: own.error ?? received.error, mode };
}

export function FeedPage() {
  const [text, setText] = useState('');
  const [discipline, setDiscipline] = useState('');
  const [originator, setOriginator] = useState('');
  const [source, setSource] = useState<'' | 'own' | 'received'>('');
  const [ceiling, setCeiling] = useState('');
  const { items, error, mode } = useFeed({ text, discipline, originator });
  const shown = items.filter(
    (item) =>
      (source === '' || item.source === source) &&
      (ceiling === '' || rankOf(item.product.banner) <= LEVELS.indexOf(ceiling as (typeof LEVELS)[number])),
  );
  // Announce arrivals to screen readers: the count of rows that were not there before.
  const seen = useRef<Set<string> | null>(null);
  const [arrivals, setArrivals] = useState('');
  useEffect(() => {
    const keys = new Set(items.map((i) => `${i.source}:${i.product.id}:${i.product.version}`));
    if (seen.current !== null) {
      const fresh = [...keys].filter((k) => !seen.current?.has(k)).length;
      if (fresh > 0) setArrivals(`${fresh} new or updated product${fresh === 1 ? '' : 's'}.`);
    }
    seen.current = keys;
  }, [items]);
  useOnScreen(
    'feed',
    shown.map((item) => item.product.banner),
  );

  return (
    <section aria-labelledby="feed-title">
      <h1 id="feed-title">Products I may read</h1>
      <p className="live" aria-live="polite">
        {arrivals}{' '}
        {mode === 'stream'
          ? 'Live: updates as they arrive.'
          : mode === 'polling'
            ? 'Refreshing every 2 seconds.'
            : 'Connecting…'}
      </p>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <div>
          <label htmlFor="f-text">Text</label>
          <input id="f-text" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </div>
        <div>
          <label htmlFor="f-discipline">Discipline</label>
          <select id="f-discipline" value={discipline} onChange={(e) => setDiscipline(e.target.value)}>
            <option value="">Any</option>
            {DISCIPLINES.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-originator">Originator</label>
          <input
            id="f-originator"
            value={originator}
            maxLength={3}
            placeholder="e.g. USA"
            onChange={(e) => {
              const value = e.target.value.toUpperCase();
              if (value === '' || /^[A-Z]{3}$/.test(value)) setOriginator(value);
              else if (value.length < 3) setOriginator('');
            }}
          />
        </div>
        <div>
          <label htmlFor="f-ceiling">Classification at most</label>
          <select id="f-ceiling" value={ceiling} onChange={(e) => setCeiling(e.target.value)}>
            <option value="">Any</option>
            {LEVELS.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-source">Source</label>
          <select
            id="f-source"
            value={source}
            onChange={(e) => setSource(e.target.value as '' | 'own' | 'received')}
          >
            <option value="">Own and received</option>
            <option value="own">Written here</option>
            <option value="received">Received from partners</option>
          </select>
        </div>
      </form>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table className="feed">
        <caption className="visually-hidden">Products, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Classification</th>
            <th scope="col">Title</th>
            <th scope="col">Discipline</th>
            <th scope="col">Originator</th>
            <th scope="col">State</th>
            <th scope="col">Reliability · credibility</th>
            <th scope="col">Withheld</th>
          </tr>
        </thead>
        <tbody>
          {shown.map(({ source: from, product }) => (
            <tr key={`${from}:${product.id}`} data-testid="feed-row">
              <td>
                <Marking value={product.banner} />
              </td>
              <td>
                <Link to={`/${from === 'own' ? 'products' : 'received'}/${encodeURIComponent(product.id)}`}>
                  {product.titleWithheld ? '(title withheld)' : product.title}
                </Link>
              </td>
              <td>{product.discipline}</td>
              <td>{product.originator}</td>
              <td>{from === 'own' ? product.state : `received from ${product.provenance?.sender ?? '?'}`}</td>
              <td>
                {product.reliability}
                {product.credibility}
              </td>
              <td>{product.withheldCount > 0 ? `${product.withheldCount} withheld` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && error === null && <p>No products match.</p>}
    </section>
  );
}
