import { type GeoPermissibleObjects, geoEqualEarth, geoPath } from 'd3-geo';
import type { MouseEvent } from 'react';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import world from 'world-atlas/countries-110m.json';
import { useOnScreen } from '../classification.js';
import { Link, navigate, useLocation } from '../router.js';
import { type FeedItem, useFeed } from './feed-page.js';

const WIDTH = 960;
const HEIGHT = 500;

// Natural Earth 1:110m countries, bundled with the console: the map needs no tile server.
const topology = world as unknown as Topology<{ countries: GeometryCollection }>;
const land = feature(topology, topology.objects.countries);
const projection = geoEqualEarth().fitSize([WIDTH, HEIGHT], land);
const path = geoPath(projection).pointRadius(7);
const LAND_PATHS = land.features.map((f, i) => ({ key: String(f.id ?? i), d: path(f) ?? '' }));

/** A footprint the map can draw: GeoJSON with a type it knows; anything else is skipped. */
function drawable(geo: Readonly<Record<string, unknown>> | null): GeoPermissibleObjects | null {
  if (geo === null || typeof geo.type !== 'string') return null;
  return geo as unknown as GeoPermissibleObjects;
}

function hrefOf(item: FeedItem): string {
  return `/${item.source === 'own' ? 'products' : 'received'}/${encodeURIComponent(item.product.id)}`;
}

/** Products' geo footprints on an offline world map; each footprint links to its product. */
export function MapPage() {
  const { query } = useLocation();
  const focus = query.get('focus');
  const { items, error } = useFeed({ text: '', discipline: '', originator: '' });
  const placed = items
    .map((item) => ({ item, geo: drawable(item.product.geo) }))
    .filter((x): x is { item: FeedItem; geo: GeoPermissibleObjects } => x.geo !== null);
  useOnScreen(
    'map',
    placed.map((x) => x.item.product.banner),
  );

  return (
    <section aria-labelledby="map-title" className="map">
      <h1 id="map-title">Map of product footprints</h1>
      {error !== null && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby="map-desc" data-testid="world-map">
        <desc id="map-desc">
          World map with {placed.length} product footprint{placed.length === 1 ? '' : 's'}; each links to its
          product. The same products are listed below the map.
        </desc>
        <g>
          {LAND_PATHS.map((c) => (
            <path key={c.key} className="land" d={c.d} />
          ))}
        </g>
        <g>
          {placed.map(({ item, geo }) => {
            const href = hrefOf(item);
            const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
              event.preventDefault();
              navigate(href);
            };
            return (
              <a
                key={`${item.source}:${item.product.id}`}
                href={href}
                onClick={onClick}
                data-testid="footprint"
              >
                <title>{item.product.titleWithheld ? item.product.id : item.product.title}</title>
                <path
                  className={`footprint${item.product.id === focus ? ' focused' : ''}`}
                  d={path(geo) ?? ''}
                  data-product={item.product.id}
                />
              </a>
            );
          })}
        </g>
      </svg>
      <h2>Products on the map</h2>
      <ul>
        {placed.map(({ item }) => (
          <li key={`${item.source}:${item.product.id}`}>
            <Link to={hrefOf(item)}>{item.product.titleWithheld ? item.product.id : item.product.title}</Link>{' '}
            <span className="muted">
              ({item.product.originator}, {item.source === 'own' ? item.product.state : 'received'})
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
