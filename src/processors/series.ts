/** A reading as processors see it: times are epoch ms; cursor is the stream cursor as a decimal string. */
export interface Point {
  sourceId: string;
  metric: string;
  time: number;
  value: number;
  cursor: string;
}

/** A trade as processors see it. */
export interface Trade {
  symbol: string;
  time: number;
  price: number;
  size: number;
  cursor: string;
}

/** Alignment origin of every window and candle: TimescaleDB time_bucket's default origin, Monday 2000-01-03 UTC. */
export const WINDOW_ORIGIN = Date.UTC(2000, 0, 3);

/** Start of the bucket of size `sizeMs` holding `time`, aligned to WINDOW_ORIGIN (floor, also correct for times before the origin). */
export function bucketStart(time: number, sizeMs: number): number {
  // `%` is exact on doubles, unlike floor(offset / size) * size, whose
  // rounded quotient can land on the next integer for large offsets.
  const offset = (time - WINDOW_ORIGIN) % sizeMs;
  return offset < 0 ? time - offset - sizeMs : time - offset;
}
