/** A point on the Earth in decimal degrees (WGS-84 latitude and longitude). */
export interface LatLon {
  lat: number;
  lon: number;
}

/**
 * Mean Earth radius in km: the IUGG mean radius R1 = (2a + b) / 3 of the
 * WGS-84 ellipsoid (Moritz 2000, "Geodetic Reference System 1980"). A sphere
 * of this radius puts great-circle distances within about 0.5% of the
 * ellipsoidal ones, plenty to tell a flight from a taxi ride.
 */
export const EARTH_RADIUS_KM = 6371.0088;

/** Half the circumference of that sphere: no two points are farther apart along its surface. */
export const MAX_SURFACE_DISTANCE_KM = Math.PI * EARTH_RADIUS_KM;

const RADIANS_PER_DEGREE = Math.PI / 180;

/**
 * Great-circle distance in km between two points, by the haversine formula
 * (well conditioned for the short distances where the law of cosines loses
 * precision).
 */
export function haversineKm(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * RADIANS_PER_DEGREE;
  const dLon = (b.lon - a.lon) * RADIANS_PER_DEGREE;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RADIANS_PER_DEGREE) * Math.cos(b.lat * RADIANS_PER_DEGREE) * Math.sin(dLon / 2) ** 2;
  // Rounding can push h a hair above 1 for antipodal points, where asin would give NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, h)));
}
