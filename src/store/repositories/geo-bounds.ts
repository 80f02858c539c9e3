import type { BoundingBox } from '../store.js';

// GeoJSON (RFC 7946 §3) nests positions at most four arrays deep (MultiPolygon); objects nest
// through Feature/FeatureCollection/GeometryCollection. Bound both so hostile input cannot
// exhaust the stack.
const MAX_OBJECT_DEPTH = 8;
const MAX_ARRAY_DEPTH = 6;

/**
 * The longitude/latitude box around every position in a GeoJSON value, or null when it has none.
 * Boxes crossing the antimeridian come out as the wide box (-180..180 side), which over-matches
 * rather than misses.
 */
export function boundingBoxOf(geo: unknown): BoundingBox | null {
  let minLon = Number.POSITIVE_INFINITY;
  let minLat = Number.POSITIVE_INFINITY;
  let maxLon = Number.NEGATIVE_INFINITY;
  let maxLat = Number.NEGATIVE_INFINITY;

  const visitPositions = (value: unknown, depth: number): void => {
    if (!Array.isArray(value) || depth > MAX_ARRAY_DEPTH) return;
    const [lon, lat] = value;
    if (typeof lon === 'number' && typeof lat === 'number') {
      if (!Number.isFinite(lon) || !Number.isFinite(lat)) return;
      minLon = Math.min(minLon, lon);
      minLat = Math.min(minLat, lat);
      maxLon = Math.max(maxLon, lon);
      maxLat = Math.max(maxLat, lat);
      return;
    }
    for (const item of value) visitPositions(item, depth + 1);
  };

  const visit = (node: unknown, depth: number): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || depth > MAX_OBJECT_DEPTH) return;
    const object = node as Readonly<Record<string, unknown>>;
    switch (object.type) {
      case 'FeatureCollection':
        if (Array.isArray(object.features)) for (const feature of object.features) visit(feature, depth + 1);
        return;
      case 'Feature':
        visit(object.geometry, depth + 1);
        return;
      case 'GeometryCollection':
        if (Array.isArray(object.geometries))
          for (const geometry of object.geometries) visit(geometry, depth + 1);
        return;
      default:
        visitPositions(object.coordinates, 0);
    }
  };

  visit(geo, 0);
  return Number.isFinite(minLon) ? { minLon, minLat, maxLon, maxLat } : null;
}
